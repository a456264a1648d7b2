"""Model-clock cells in parallel: local worker processes (``run --jobs N``) or a Dask cluster
(``run --scheduler ADDRESS``).

A model-clock cell depends only on its inputs (workload, mm kind, mode, tasks, profile,
modeled CPUs, interval), never on the machine that computes it, so cells can run anywhere and
their rows are gathered into the run folder in cell order (the same samples.csv as a serial
run). Wall-clock and host cells measure the machine they run on: they always run here, one
at a time, while the model cells compute elsewhere.

* ``--jobs N``: a ``concurrent.futures.ProcessPoolExecutor`` of N forked workers. Forked
  workers inherit this runner (its mm factory and workload instances included).
* ``--scheduler ADDRESS``: ``dask.distributed.Client(ADDRESS)`` (``pip install
  'maplebench[dask]'``). Each task rebuilds a runner from the pickled ``RunConfig`` on the
  worker, so workers need maplebench installed at the same version; cells use the
  registry's workloads and the run's layout (custom ``mm_factory``/``workloads`` given to
  ``Runner`` do not travel). ``--jobs`` is ignored with ``--scheduler``.
"""

from __future__ import annotations

import dataclasses
from typing import Any, Sequence

from maple.errors import InputError

__all__ = ["run_parallel", "is_remote_cell", "check_scheduler"]

_RUNNER: Any = None  # the runner forked workers inherit


def is_remote_cell(runner: Any, cell: Any) -> bool:
    """A cell that may run elsewhere: model clock, simulated mm."""
    from maple.bench.runner import HOST

    return runner.config.clock == "model" and cell.mm != HOST


def _forked_cell(cell: Any) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = []
    _RUNNER.run_cell(cell, rows)
    return rows


def cell_rows(config: Any, layout: str | None, cell: Any) -> list[dict[str, Any]]:
    """Run one cell from scratch (a Dask worker): a fresh ``Runner`` on ``config``."""
    from maple.bench.runner import Runner

    config = dataclasses.replace(config, jobs=1, scheduler=None, layout=layout)
    runner = Runner(config, writer=None)
    rows: list[dict[str, Any]] = []
    runner.run_cell(cell, rows)
    return rows


def _dask_client(address: str) -> Any:
    try:
        from dask.distributed import Client
    except ImportError:
        raise InputError(f"--scheduler '{address}': dask is not installed "
                         "(pip install 'maplebench[dask]')") from None
    try:
        return Client(address, timeout="10s")
    except (OSError, TimeoutError, ValueError) as exc:
        raise InputError(f"--scheduler '{address}': cannot connect ({exc})") from None


def check_scheduler(address: str) -> None:
    """Connect to the Dask scheduler at ``address`` once and disconnect: ``InputError`` (one
    line naming the address) if dask is missing or nobody answers there."""
    _dask_client(address).close()


def run_parallel(runner: Any, cells: Sequence[Any]) -> None:
    """Run ``cells``: model cells on workers, the others here; write rows in cell order.

    Raises what a cell raised (``WorkerError``, ``TaskError``, ...); ``KeyboardInterrupt``
    cancels the cells not started.
    """
    global _RUNNER
    c = runner.config
    remote = [cell for cell in cells if is_remote_cell(runner, cell)]
    futures: dict[Any, Any] = {}
    pool: Any = None
    client: Any = None
    try:
        if remote:
            if c.scheduler:
                client = _dask_client(c.scheduler)
                for cell in remote:
                    futures[cell] = client.submit(cell_rows, c, runner.layout, cell, pure=False)
            else:
                import multiprocessing
                from concurrent.futures import ProcessPoolExecutor

                _RUNNER = runner
                pool = ProcessPoolExecutor(max_workers=c.jobs, mp_context=multiprocessing.get_context("fork"))
                for cell in remote:
                    futures[cell] = pool.submit(_forked_cell, cell)
        for index, cell in enumerate(cells):
            runner.progress.cell(index, len(cells), cell)
            if cell in futures:
                rows = futures[cell].result()
                for k in range(runner.cell_ticks(cell)):
                    runner.progress.tick(False)
                if rows:
                    runner.writer.add_rows(rows)
                continue
            rows = []
            try:
                runner.run_cell(cell, rows)
            finally:
                if rows:
                    runner.writer.add_rows(rows)
    finally:
        if pool is not None:
            pool.shutdown(wait=True, cancel_futures=True)
        if client is not None:
            for f in futures.values():
                f.cancel()
            client.close()
        _RUNNER = None

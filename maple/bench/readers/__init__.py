"""Results from elsewhere, loaded into the same :class:`~maple.bench.results.Run` as a maplebench run.

:func:`load_result` accepts, in this order of detection:

1. a maplebench run folder (``meta.json`` + ``samples.csv``), via ``results.load_run``;
2. an mmtests run (``<results>/<run>`` holding ``iter-N/``) or results folder (a folder of
   runs): will-it-scale ``wis-*`` and ``kernbench`` logs (``maple.bench.readers.mmtests``);
   each run is one compared column, named as the run;
3. will-it-scale output: runtest.py's CSV or a testcase's raw output, a file or a folder of
   them (``maple.bench.readers.willitscale``).

Foreign runs carry ``meta["source"]`` (``mmtests`` or ``will-it-scale``), ``meta["columns"]``
(the run names, in column order; each is an ``mm`` value of the samples) and
for mmtests ``meta["order"] = "source"`` (operations keep the order compare-mmtests.pl
reports them in: model, workload, tasks).
Throughput is ``ops`` in operations per second, will-it-scale's unit. docs/formats.md lists
every file read.
"""

from __future__ import annotations

import os
from pathlib import Path

from maple.bench.readers import mmtests, willitscale
from maple.bench.results import META, Run, load_run
from maple.errors import InputError

LOOKED_FOR = (
    "a maplebench run (meta.json), an mmtests results directory (<run>/iter-N/<benchmark>/logs) "
    "or will-it-scale output (runtest.py CSV, or min:/max:/total: lines)"
)


def _frame(rows: list[dict]):
    import pandas as pd

    return pd.DataFrame(rows)


def load_result(path: str | os.PathLike[str], *, allow_incomplete: bool = False) -> Run:
    """Load any supported result into a :class:`Run`.

    Raises ``InputError`` (one line naming the path and what was looked for) when ``path`` is
    none of the supported kinds, and the readers' ``InputError`` for malformed files.
    """
    p = Path(path)
    if not p.exists():
        raise InputError(f"result '{p}' does not exist")
    if p.is_dir() and (p / META).exists():
        return load_run(p, allow_incomplete=allow_incomplete)
    if p.is_dir() and (mmtests.is_run_dir(p) or mmtests.is_results_dir(p)):
        names, rows, benches = mmtests.read_results(p)
        meta = {"name": p.name, "status": "complete", "source": "mmtests", "columns": names,
                "benchmarks": benches, "order": "source"}
        return Run(path=p, meta=meta, samples=_frame(rows))
    run, rows = willitscale.read(p)
    if rows:
        meta = {"name": run, "status": "complete", "source": "will-it-scale", "columns": [run]}
        return Run(path=p, meta=meta, samples=_frame(rows))
    raise InputError(f"result '{p}' is not {LOOKED_FOR}")

"""Progress on stderr for ``maplebench run``: a rich bar with the current cell and an ETA.

Quiet (draws nothing) when stderr is not a terminal or with ``--quiet``.
"""

from __future__ import annotations

import sys
from typing import Any

from maple.bench.runner import Cell


class QuietProgress:
    """Reports nothing."""

    def __enter__(self) -> "QuietProgress":
        return self

    def __exit__(self, *exc: Any) -> None:
        pass

    def cell(self, index: int, total: int, cell: Cell) -> None:
        pass

    def tick(self, warmup: bool) -> None:
        pass


class BarProgress:
    """A rich progress bar: ``[cell i/N] workload mm mode tasks (warmup)``, bar, ETA."""

    def __init__(self, ticks: int) -> None:
        from rich.console import Console
        from rich.progress import (
            BarColumn,
            MofNCompleteColumn,
            Progress,
            TextColumn,
            TimeElapsedColumn,
            TimeRemainingColumn,
        )

        self._progress = Progress(
            TextColumn("{task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            TimeElapsedColumn(),
            TextColumn("ETA"),
            TimeRemainingColumn(),
            console=Console(file=sys.stderr),
            transient=False,
        )
        self._task = self._progress.add_task("starting", total=max(1, ticks))
        self._label = ""

    def __enter__(self) -> "BarProgress":
        self._progress.start()
        return self

    def __exit__(self, *exc: Any) -> None:
        self._progress.stop()

    def cell(self, index: int, total: int, cell: Cell) -> None:
        self._label = f"[{index + 1}/{total}] {cell.label()}"
        # until the first sample, the cell is in its deterministic (counting) pass
        self._progress.update(self._task, description=f"{self._label} (counting)")

    def tick(self, warmup: bool) -> None:
        desc = f"{self._label} (warmup)" if warmup else self._label
        self._progress.update(self._task, advance=1, description=desc)


def make_progress(ticks: int, quiet: bool) -> Any:
    """A bar on an interactive stderr, else nothing."""
    if quiet or not sys.stderr.isatty():
        return QuietProgress()
    return BarProgress(ticks)

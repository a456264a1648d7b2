"""Progress on stderr for ``maplebench run``: a rich bar with the current cell and an ETA on a
terminal; outside a terminal (a log, CI, a pipe) one plain line per cell with the elapsed time
and an estimate of what is left; nothing with ``--quiet``.
"""

from __future__ import annotations

import sys
import time
from typing import Any, TextIO

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


def duration(seconds: float) -> str:
    """``1 min 29 s``, ``47 s``, ``2 h 05 min``."""
    s = int(round(seconds))
    if s < 60:
        return f"{s} s"
    if s < 3600:
        return f"{s // 60} min {s % 60:02d} s"
    return f"{s // 3600} h {s % 3600 // 60:02d} min"


class LineProgress:
    """One line per cell on a stream that is not a terminal:
    ``maplebench: [2/8] brk1 legacy processes 2 (12 s elapsed, about 35 s left)``."""

    def __init__(self, ticks: int, stream: TextIO | None = None) -> None:
        self.total = max(1, ticks)
        self.done = 0
        self.stream = stream or sys.stderr
        self.start = time.monotonic()

    def __enter__(self) -> "LineProgress":
        self.start = time.monotonic()
        return self

    def __exit__(self, *exc: Any) -> None:
        pass

    def cell(self, index: int, total: int, cell: Cell) -> None:
        elapsed = time.monotonic() - self.start
        left = ""
        if self.done:
            left = f", about {duration(elapsed * (self.total - self.done) / self.done)} left"
        print(f"maplebench: [{index + 1}/{total}] {cell.label()} ({duration(elapsed)} elapsed{left})",
              file=self.stream, flush=True)

    def tick(self, warmup: bool) -> None:
        self.done += 1


def make_progress(ticks: int, quiet: bool) -> Any:
    """A bar on an interactive stderr, plain lines on any other stderr, nothing if quiet."""
    if quiet:
        return QuietProgress()
    if not sys.stderr.isatty():
        return LineProgress(ticks)
    return BarProgress(ticks)

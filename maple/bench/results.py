"""Results folders: one per run, written so that a crash never leaves a file that looks complete.

Layout of ``results/<name>/`` (documented in docs/runner.md, "Results"):

* ``meta.json``   what ran, where, versions and ``status`` (running, complete, interrupted, failed)
* ``samples.csv`` tidy per-sample data, one row per (workload, mm, mode, tasks, sample)

Every file is written to a temporary name in the same folder and renamed into place, so a
reader sees either the previous complete version or the new one. ``meta.json`` says
``running`` until the run ends; only ``complete`` runs are accepted by ``compare`` and ``gate``
unless the caller allows incomplete ones.
"""

from __future__ import annotations

import csv
import io
import json
import math
import os
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterable

from maple.errors import InputError

FORMAT_VERSION = 1
META = "meta.json"
SAMPLES = "samples.csv"

#: Key columns, then will-it-scale columns, then kernbench columns; counters follow as
#: ``<counter>_per_op`` columns.
KEY_COLUMNS = ["workload", "mm", "mode", "tasks", "sample"]
WIS_COLUMNS = ["ops", "min", "max"]
TIME_COLUMNS = ["user", "syst", "elsp"]
COUNTER_SUFFIX = "_per_op"
STATUSES = ("running", "complete", "interrupted", "failed")


def _file_mode() -> int:
    """The mode ``open()`` would give a new file (0666 less the umask); mkstemp uses 0600."""
    umask = os.umask(0o022)
    os.umask(umask)
    return 0o666 & ~umask


def atomic_write_text(path: Path, text: str) -> None:
    """Write ``text`` to ``path`` through a temporary file and a rename (atomic on POSIX)."""
    path = Path(path)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        os.fchmod(fd, _file_mode())
        with os.fdopen(fd, "w", encoding="utf-8", newline="") as fh:
            fh.write(text)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except FileNotFoundError:
            pass
        raise


def _csv_cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, float):
        if math.isnan(value):
            return ""
        return repr(value)
    return str(value)


def rows_to_csv(rows: list[dict[str, Any]]) -> str:
    """Render sample rows as CSV with the canonical column order."""
    seen: dict[str, None] = {}
    for row in rows:
        for key in row:
            seen.setdefault(key, None)
    base = [c for c in KEY_COLUMNS + WIS_COLUMNS + TIME_COLUMNS if c in seen or c in KEY_COLUMNS]
    extra = [c for c in seen if c not in base]
    columns = base + extra
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerow(columns)
    for row in rows:
        writer.writerow([_csv_cell(row.get(c)) for c in columns])
    return buf.getvalue()


def has_complete_run(folder: Path) -> bool:
    """True if ``folder`` holds a run whose meta.json says complete."""
    meta = Path(folder) / META
    try:
        return json.loads(meta.read_text()).get("status") == "complete"
    except (OSError, ValueError):
        return False


@dataclass
class RunWriter:
    """Writes one run folder incrementally; every write is atomic.

    ``meta`` is written at once with status ``running``; ``add_rows`` rewrites samples.csv
    (small: one row per sample); ``finish(status)`` stamps the final status last, so a
    crashed run is recognisable as not complete.
    """

    folder: Path
    meta: dict[str, Any]
    force: bool = False
    rows: list[dict[str, Any]] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.folder = Path(self.folder)
        if self.folder.exists() and not self.folder.is_dir():
            raise InputError(f"output folder '{self.folder}' exists and is not a folder")
        if has_complete_run(self.folder) and not self.force:
            raise InputError(
                f"output folder '{self.folder}' already holds a complete run (use --force to overwrite)"
            )
        try:
            self.folder.mkdir(parents=True, exist_ok=True)
            probe = self.folder / ".write-probe"
            probe.write_text("")
            probe.unlink()
        except OSError as exc:
            raise InputError(f"output folder '{self.folder}' is not writable: {exc.strerror}") from None
        self.meta = {"format": FORMAT_VERSION, **self.meta, "status": "running"}
        old_samples = self.folder / SAMPLES
        if old_samples.exists():
            old_samples.unlink()
        self._write_meta()

    def _write_meta(self) -> None:
        atomic_write_text(self.folder / META, json.dumps(self.meta, indent=2, sort_keys=False) + "\n")

    def add_rows(self, rows: Iterable[dict[str, Any]]) -> None:
        self.rows.extend(rows)
        atomic_write_text(self.folder / SAMPLES, rows_to_csv(self.rows))

    def update_meta(self, **fields: Any) -> None:
        self.meta.update(fields)
        self._write_meta()

    def finish(self, status: str, **fields: Any) -> None:
        if status not in STATUSES:
            raise ValueError(f"bad status {status!r}")
        if not (self.folder / SAMPLES).exists():
            atomic_write_text(self.folder / SAMPLES, rows_to_csv(self.rows))
        self.meta.update(fields)
        self.meta["status"] = status
        self._write_meta()


@dataclass
class Run:
    """A loaded run: its folder, metadata and samples (a pandas DataFrame)."""

    path: Path
    meta: dict[str, Any]
    samples: Any  # pandas.DataFrame; typed loosely to keep pandas a lazy import

    @property
    def name(self) -> str:
        return str(self.meta.get("name") or self.path.name)

    @property
    def status(self) -> str:
        return str(self.meta.get("status"))

    def counter_columns(self) -> list[str]:
        return [c for c in self.samples.columns if c.endswith(COUNTER_SUFFIX)]


def load_run(path: str | os.PathLike[str], *, allow_incomplete: bool = False) -> Run:
    """Load a run folder; raise ``InputError`` (one line naming the path) if it is not usable."""
    import pandas as pd

    folder = Path(path)
    if not folder.exists():
        raise InputError(f"result '{folder}' does not exist")
    if not folder.is_dir():
        raise InputError(f"result '{folder}' is not a folder")
    try:
        meta = json.loads((folder / META).read_text())
    except FileNotFoundError:
        raise InputError(f"result '{folder}' is not a maplebench run (no {META})") from None
    except (OSError, ValueError) as exc:
        raise InputError(f"result '{folder}' has an unreadable {META}: {exc}") from None
    if not isinstance(meta, dict) or "status" not in meta:
        raise InputError(f"result '{folder}' is not a maplebench run ({META} has no status)")
    status = meta.get("status")
    if status != "complete" and not allow_incomplete:
        raise InputError(
            f"result '{folder}' is {status}, not complete (use --allow-incomplete to use it anyway)"
        )
    try:
        samples = pd.read_csv(folder / SAMPLES)
    except FileNotFoundError:
        raise InputError(f"result '{folder}' has no {SAMPLES}") from None
    except (OSError, ValueError) as exc:
        raise InputError(f"result '{folder}' has an unreadable {SAMPLES}: {exc}") from None
    missing = [c for c in KEY_COLUMNS if c not in samples.columns]
    if missing:
        raise InputError(f"result '{folder}': {SAMPLES} lacks columns {', '.join(missing)}")
    return Run(path=folder, meta=meta, samples=samples)

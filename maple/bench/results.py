"""Results folders: one per run, written so that a crash loses at most the sample in flight.

Layout of ``results/<name>/`` (documented in docs/runner.md, "Results"):

* ``meta.json``   what ran, where (``host``, ``pid``), versions, ``units``, ``expect`` (the cells
  and rows per cell a complete run holds) and ``status`` (running, complete, interrupted, failed)
* ``samples.csv`` tidy per-sample data, one row per (workload, mm, mode, tasks, sample);
  will-it-scale throughput ``ops``, ``min``, ``max`` in operations per second, with the raw
  ``count`` and the window in ``seconds``

Rows are appended as they arrive and fsynced one by one (a kill loses at most the row being
written, and a failed write is cut back off); ``meta.json`` is written to a temporary name and
renamed into place. ``meta.json`` says ``running`` until the run ends; a ``running`` run whose
process is gone loads as ``interrupted``. The run folder is locked (``flock``) while a writer
owns it, so two runs cannot write one folder. A run that replaces another (``force``) is
written beside it and swapped in only once it is complete. ``load_run`` checks a run against
its ``expect`` record and refuses a cut file, missing cells or rows, and negative or
non-finite values, naming what is wrong.
"""

from __future__ import annotations

import csv
import errno
import fcntl
import io
import json
import math
import os
import shutil
import socket
import tempfile
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterable

from maple.errors import InputError

#: 1: ``ops``/``min``/``max`` per sampling interval; 2: per second, plus ``count`` and ``seconds``.
FORMAT_VERSION = 2
META = "meta.json"
SAMPLES = "samples.csv"

#: Key columns, then will-it-scale columns, then kernbench columns; counters follow as
#: ``<counter>_per_op`` columns.
KEY_COLUMNS = ["workload", "mm", "mode", "tasks", "sample"]
WIS_COLUMNS = ["ops", "min", "max", "count", "seconds"]
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


def csv_columns(rows: Iterable[dict[str, Any]]) -> list[str]:
    """The canonical column order for ``rows``: keys, will-it-scale, kernbench, then the rest."""
    seen: dict[str, None] = {}
    for row in rows:
        for key in row:
            seen.setdefault(key, None)
    base = [c for c in KEY_COLUMNS + WIS_COLUMNS + TIME_COLUMNS if c in seen or c in KEY_COLUMNS]
    return base + [c for c in seen if c not in base]


def rows_to_csv(rows: list[dict[str, Any]], columns: list[str] | None = None, *, header: bool = True) -> str:
    """Render sample rows as CSV with the canonical column order (or ``columns``)."""
    columns = csv_columns(rows) if columns is None else columns
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    if header:
        writer.writerow(columns)
    for row in rows:
        writer.writerow([_csv_cell(row.get(c)) for c in columns])
    return buf.getvalue()


def _append_durably(path: Path, text: str) -> None:
    """Append ``text`` to ``path`` and fsync it; on any failure cut the file back to its old
    length, so a reader never sees half a row (OSError names the file)."""
    data = text.encode("utf-8")
    try:
        fd = os.open(path, os.O_WRONLY | os.O_APPEND)
    except OSError as exc:
        raise OSError(exc.errno, exc.strerror, str(path)) from None
    try:
        size = os.fstat(fd).st_size
        try:
            view = memoryview(data)
            while view:
                view = view[os.write(fd, view):]
            os.fsync(fd)
        except BaseException as exc:
            try:
                os.ftruncate(fd, size)
            except OSError:
                pass
            if isinstance(exc, OSError):
                raise OSError(exc.errno, exc.strerror, str(path)) from None
            raise
    finally:
        os.close(fd)


def _write_text(path: Path, text: str) -> None:
    """``atomic_write_text`` whose OSError names ``path``."""
    try:
        atomic_write_text(path, text)
    except OSError as exc:
        raise OSError(exc.errno, exc.strerror, str(path)) from None


# --------------------------------------------------------------------------- locks


class _Lock:
    """An exclusive ``flock`` on a run folder (its directory inode), held while a writer owns it."""

    def __init__(self, folder: Path, *, wait: float = 1.0) -> None:
        self.fd = os.open(folder, os.O_RDONLY | os.O_DIRECTORY)
        deadline = time.monotonic() + wait  # a reader probing the lock holds it for microseconds
        while True:
            try:
                fcntl.flock(self.fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                return
            except BlockingIOError:
                if time.monotonic() >= deadline:
                    os.close(self.fd)
                    self.fd = -1
                    raise
                time.sleep(0.02)

    def release(self) -> None:
        if self.fd >= 0:
            os.close(self.fd)  # closing the only descriptor drops the flock
            self.fd = -1


def _lock_is_free(folder: Path) -> bool | None:
    """True if no process holds ``folder``'s writer lock; None if it cannot be probed."""
    try:
        fd = os.open(folder, os.O_RDONLY | os.O_DIRECTORY)
    except OSError:
        return None
    try:
        fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
        return True
    except BlockingIOError:
        return False
    except OSError:
        return None
    finally:
        os.close(fd)


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def stale_reason(folder: Path, meta: dict[str, Any]) -> str | None:
    """Why a ``running`` run is in fact interrupted (its process is gone), or None.

    A run is stale when it was written on this host by a pid that no longer exists, or when
    no process holds its folder's writer lock (a live writer always does)."""
    if meta.get("status") != "running":
        return None
    pid, host = meta.get("pid"), meta.get("hostname")
    if isinstance(pid, int) and host == socket.gethostname() and not _pid_alive(pid):
        return f"its process {pid} on {host} is gone"
    if _lock_is_free(Path(folder)):
        return "no process is writing it" + (f" (it was pid {pid} on {host})" if pid else "")
    return None


def read_meta(folder: Path) -> dict[str, Any] | None:
    """The run's meta.json in ``folder``, or None when the folder holds no run (no readable
    meta.json with a ``status``)."""
    try:
        meta = json.loads((Path(folder) / META).read_text())
    except (OSError, ValueError):
        return None
    return meta if isinstance(meta, dict) and "status" in meta else None


def existing_status(folder: Path) -> str | None:
    """The status of the run in ``folder`` (``interrupted`` for a stale ``running`` one), or
    None if it holds no run."""
    meta = read_meta(folder)
    if meta is None:
        return None
    if stale_reason(folder, meta):
        return "interrupted"
    return str(meta.get("status"))


def has_complete_run(folder: Path) -> bool:
    """True if ``folder`` holds a run whose meta.json says complete."""
    return existing_status(Path(folder)) == "complete"


def _exchange(a: Path, b: Path) -> None:
    """Swap two directory entries atomically (Linux renameat2 RENAME_EXCHANGE), else by three
    renames (the old entry is set aside first and put back if the second rename fails)."""
    try:
        import ctypes

        renameat2 = ctypes.CDLL(None, use_errno=True).renameat2
    except (OSError, AttributeError):
        renameat2 = None
    if renameat2 is not None:
        if renameat2(-100, os.fsencode(a), -100, os.fsencode(b), 2) == 0:  # AT_FDCWD, RENAME_EXCHANGE
            return
        err = ctypes.get_errno()
        if err not in (errno.ENOSYS, errno.EINVAL, errno.ENOTSUP):
            raise OSError(err, os.strerror(err), str(b))
    aside = b.parent / f".{b.name}.old-{uuid.uuid4().hex[:8]}"
    os.rename(b, aside)
    try:
        os.rename(a, b)
    except BaseException:
        os.rename(aside, b)
        raise
    os.rename(aside, a)


def replace_folder(new: Path, dst: Path) -> None:
    """Put the complete folder ``new`` at ``dst`` in one step: swapped with what ``dst`` holds
    (``_exchange``), which is then removed; a plain rename when ``dst`` does not exist."""
    if not dst.exists():
        os.rename(new, dst)
        return
    _exchange(new, dst)
    shutil.rmtree(new, ignore_errors=True)  # now the previous content of dst


# --------------------------------------------------------------------------- writing


class RunWriter:
    """Writes one run folder as the run goes; see the module docstring for the guarantees.

    ``RunWriter(folder, meta, force=False)`` takes the folder's lock and writes ``meta`` with
    status ``running`` (plus ``format``, ``pid``, ``hostname``). Raises ``InputError`` (before
    writing anything) if the folder is a file, is locked by another run, holds a run of any
    status and ``force`` is false, or is not empty and not a run; and if it cannot be written.
    With ``force`` over an existing run, the new run is written to a hidden sibling folder;
    ``finish("complete")`` swaps it in and removes the old one, any other status leaves the old
    run in place and the new one beside it as ``<name>-<status>-<time>``.

    ``add_rows`` appends rows durably (a new column rewrites the file atomically once);
    ``finish(status)`` stamps the status last and returns the run's final folder. Write
    failures raise ``OSError`` naming the file.
    """

    def __init__(self, folder: str | os.PathLike[str], meta: dict[str, Any], force: bool = False) -> None:
        self.folder = Path(folder)
        self.force = force
        self.rows: list[dict[str, Any]] = []
        self.columns: list[str] | None = None
        self._locks: list[_Lock] = []
        self._replacing = False
        self.finished = False
        if self.folder.exists() and not self.folder.is_dir():
            raise InputError(f"output folder '{self.folder}' exists and is not a folder")
        created = not self.folder.exists()
        try:
            self.folder.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise InputError(f"output folder '{self.folder}' is not writable: {exc.strerror}") from None
        try:
            self._locks.append(_Lock(self.folder))
        except BlockingIOError:
            other = read_meta(self.folder) or {}
            who = f" (pid {other.get('pid')} on {other.get('hostname')})" if other.get("pid") else ""
            raise InputError(f"output folder '{self.folder}' is in use by another maplebench run{who}") from None
        except OSError as exc:
            raise InputError(f"output folder '{self.folder}' cannot be locked: {exc.strerror}") from None
        try:
            self._claim(created, meta)
        except BaseException:
            self.close()
            if created:
                shutil.rmtree(self.folder, ignore_errors=True)
            raise

    def _claim(self, created: bool, meta: dict[str, Any]) -> None:
        status = existing_status(self.folder)
        self.path = self.folder
        if status is not None:
            old = read_meta(self.folder) or {}
            what = ", ".join(old.get("options", {}).get("workloads", []) or old.get("workloads", []) or [])
            if not self.force:
                raise InputError(
                    f"output folder '{self.folder}' already holds {'an' if status[0] in 'aeiou' else 'a'} "
                    f"{status} run{' of ' + what if what else ''} (use --force to replace it)"
                )
            self._replacing = True
            base = self._absolute()
            self.path = base.parent / f".{base.name}.new-{uuid.uuid4().hex[:8]}"
        elif not created and any(not p.name.startswith(".") for p in self.folder.iterdir()):
            raise InputError(f"output folder '{self.folder}' is not empty and holds no maplebench run")
        try:
            if self._replacing:
                self.path.mkdir(mode=0o755)
                self._locks.append(_Lock(self.path))
            self.meta = {"format": FORMAT_VERSION, **meta, "status": "running"}
            self.meta.setdefault("pid", os.getpid())
            self.meta.setdefault("hostname", socket.gethostname())
            self._write_meta()
        except OSError as exc:
            if self._replacing:
                shutil.rmtree(self.path, ignore_errors=True)
            raise InputError(f"output folder '{self.path}' is not writable: {exc.strerror}") from None

    def _write_meta(self) -> None:
        _write_text(self.path / META, json.dumps(self.meta, indent=2, sort_keys=False) + "\n")

    def add_rows(self, rows: Iterable[dict[str, Any]]) -> None:
        """Append ``rows`` to samples.csv, fsynced (raises OSError naming the file)."""
        rows = list(rows)
        if not rows:
            return
        self.rows.extend(rows)
        known = set(self.columns or ())
        if self.columns is None or any(k not in known for r in rows for k in r):
            columns = csv_columns(self.rows)
            _write_text(self.path / SAMPLES, rows_to_csv(self.rows, columns))
            self.columns = columns
        else:
            _append_durably(self.path / SAMPLES, rows_to_csv(rows, self.columns, header=False))

    def update_meta(self, **fields: Any) -> None:
        self.meta.update(fields)
        self._write_meta()

    def finish(self, status: str, **fields: Any) -> Path:
        """Stamp the final ``status`` (and ``fields``); return the folder that holds the run."""
        if status not in STATUSES:
            raise ValueError(f"bad status {status!r}")
        try:
            if not (self.path / SAMPLES).exists():
                _write_text(self.path / SAMPLES, rows_to_csv(self.rows))
            self.meta.update(fields)
            self.meta["status"] = status
            self._write_meta()
            if self._replacing:
                self._place(status)
            self.finished = True
        finally:
            self.close()
        return self.path

    def _place(self, status: str) -> None:
        """Put a finished replacement run where it belongs (see the class docstring)."""
        base = self._absolute()
        if status == "complete":
            replace_folder(self.path, base)  # the replaced run goes
            self.path = self.folder
        else:
            stamp = time.strftime("%Y%m%d-%H%M%S", time.localtime())
            side = base.parent / f"{base.name}-{status}-{stamp}"
            n = 1
            while side.exists():
                n += 1
                side = base.parent / f"{base.name}-{status}-{stamp}-{n}"
            os.rename(self.path, side)
            self.path = side
        self._replacing = False

    def _absolute(self) -> Path:
        """The folder as an absolute path without ``.``/``..`` (``--out .`` has no usable name)."""
        return Path(os.path.abspath(self.folder))

    def close(self) -> None:
        """Release the folder locks (``finish`` does it; for a writer abandoned on an error)."""
        for lock in self._locks:
            lock.release()
        self._locks.clear()

    def __enter__(self) -> "RunWriter":
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()


# --------------------------------------------------------------------------- loading


@dataclass
class Run:
    """A loaded run: its folder, metadata, samples (a pandas DataFrame) and load notes.

    Throughput columns are always operations per second: a format 1 run (per interval) is
    converted on load, and ``notes`` says so."""

    path: Path
    meta: dict[str, Any]
    samples: Any  # pandas.DataFrame; typed loosely to keep pandas a lazy import
    notes: list[str] = field(default_factory=list)

    @property
    def name(self) -> str:
        return str(self.meta.get("name") or self.path.name)

    @property
    def status(self) -> str:
        return str(self.meta.get("status"))

    @property
    def clock(self) -> str:
        """What the throughput's seconds are: ``wall`` (real time) or ``model`` (simulated)."""
        return str(self.meta.get("clock") or self.meta.get("options", {}).get("clock") or "wall")

    def counter_columns(self) -> list[str]:
        return [c for c in self.samples.columns if c.endswith(COUNTER_SUFFIX)]


def _cell_name(key: tuple) -> str:
    return " ".join(str(k) for k in key)


def _expected(meta: dict[str, Any]) -> tuple[list[tuple], int] | None:
    """(cells, rows per cell) a complete run holds: meta's ``expect``, or for a format 1 run
    what its options imply (every workload x tasks x mode x mm)."""
    exp = meta.get("expect")
    if isinstance(exp, dict):
        cells = [tuple(c) for c in exp.get("cells", []) if isinstance(c, (list, tuple)) and len(c) == 4]
        rows = exp.get("rows_per_cell")
        if isinstance(rows, int):
            return [(str(w), str(m), str(p), int(t)) for w, m, p, t in cells], rows
        return None
    opts = meta.get("options")
    if meta.get("format", 1) < 2 and isinstance(opts, dict):
        try:
            cells = [(str(w), str(m), str(p), int(t)) for w in opts["workloads"] for t in opts["procs"]
                     for p in opts["mode"] for m in opts["mm"]]
            return cells, int(opts["samples"])
        except (KeyError, TypeError, ValueError):
            return None
    return None


def _check_text(folder: Path, text: str, complete: bool, notes: list[str]) -> str:
    """Refuse a samples.csv cut mid-row (a run that is not complete may lose its last row)."""
    if not text:
        raise InputError(f"result '{folder}': {SAMPLES} is empty (not even a header)")
    lines = text.split("\n")
    cut_tail = not text.endswith("\n")
    records = list(csv.reader(io.StringIO(text)))
    width = len(records[0])
    for n, rec in enumerate(records[1:], 2):
        if len(rec) != width:
            last = n == len(records)
            if last and not complete and cut_tail:
                notes.append(f"the last row of {SAMPLES}, cut by the interruption, was left out")
                return "\n".join(lines[:-1]) + "\n"
            raise InputError(
                f"result '{folder}': {SAMPLES} line {n} has {len(rec)} of {width} fields"
                + (" (the file ends mid-row)" if last and cut_tail else "")
            )
    if cut_tail:
        if not complete:
            return text + "\n"
        raise InputError(f"result '{folder}': {SAMPLES} ends mid-row (line {len(records)})")
    return text


def _check_values(folder: Path, df: Any) -> None:
    """Every sample value a finite number; ops, count and times never negative, seconds,
    tasks and sample numbers positive; every row with a measurement; ``InputError`` naming the row, the cell and the column."""
    import numpy as np
    import pandas as pd

    def where(i: int) -> str:
        row = df.iloc[i]
        return f"row {i + 1} ({_cell_name(tuple(row[c] for c in KEY_COLUMNS[:4]))} sample {row['sample']})"

    for c in KEY_COLUMNS:
        empty = df[c].isna().to_numpy()
        if empty.any():
            raise InputError(f"result '{folder}': {SAMPLES} row {int(np.argmax(empty)) + 1} has no '{c}'")
    numeric = [c for c in (*WIS_COLUMNS, *TIME_COLUMNS) if c in df.columns]
    numeric += [c for c in df.columns if c.endswith(COUNTER_SUFFIX)]
    for c in ["tasks", "sample", *numeric]:
        vals = pd.to_numeric(df[c], errors="coerce")
        bad = (vals.isna() & df[c].notna()).to_numpy()
        if bad.any():
            i = int(np.argmax(bad))
            raise InputError(f"result '{folder}': {where(i)}: column '{c}' holds a non-number ({df[c].iloc[i]!r})")
        arr = vals.to_numpy(dtype=float)
        present = ~np.isnan(arr)
        inf = present & ~np.isfinite(arr)
        if inf.any():
            i = int(np.argmax(inf))
            raise InputError(f"result '{folder}': {where(i)}: '{c}' is {arr[i]} (not finite)")
        if c.endswith(COUNTER_SUFFIX) or c in ("min", "max"):  # finite is all that is checked
            df[c] = vals
            continue
        low = (arr <= 0) if c in ("seconds", "tasks", "sample") else (arr < 0)
        low &= present
        if low.any():
            i = int(np.argmax(low))
            raise InputError(f"result '{folder}': {where(i)}: '{c}' is {arr[i]:g} (a negative or zero "
                             f"{'window' if c == 'seconds' else 'count' if c in ('tasks', 'sample') else 'value'})")
        df[c] = vals
    measured = [c for c in ("ops", *TIME_COLUMNS) if c in df.columns]
    if len(df):
        none = df[measured].isna().all(axis=1).to_numpy() if measured else np.ones(len(df), bool)
        if none.any():
            i = int(np.argmax(none))
            raise InputError(f"result '{folder}': {where(i)} has no measurement (no ops, user, syst or elsp)")


def _check_expected(folder: Path, meta: dict[str, Any], df: Any) -> None:
    """A complete run holds exactly the cells and rows its meta.json expects."""
    exp = _expected(meta)
    if exp is None:
        return
    cells, per_cell = exp
    counts: dict[tuple, int] = {}
    if len(df):
        keyed = df.assign(tasks=df["tasks"].astype(int))
        for key, n in keyed.groupby(KEY_COLUMNS[:4], sort=False).size().items():
            counts[(str(key[0]), str(key[1]), str(key[2]), int(key[3]))] = int(n)
    missing = [c for c in cells if c not in counts]
    extra = [c for c in counts if c not in set(cells)]
    short = [(c, counts[c]) for c in cells if c in counts and counts[c] != per_cell]

    def some(items: list[str]) -> str:
        return ", ".join(items[:4]) + (f" and {len(items) - 4} more" if len(items) > 4 else "")

    if missing:
        raise InputError(f"result '{folder}' says complete but lacks {len(missing)} of {len(cells)} cells: "
                         f"{some([_cell_name(c) for c in missing])}")
    if short:
        raise InputError(f"result '{folder}' says complete but has wrong row counts (expected {per_cell} "
                         f"per cell): {some([f'{_cell_name(c)} has {n}' for c, n in short])}")
    if extra:
        raise InputError(f"result '{folder}' holds cells its meta.json does not list: "
                         f"{some([_cell_name(c) for c in extra])}")


def _convert_format1(folder: Path, meta: dict[str, Any], df: Any, notes: list[str]) -> Any:
    """A format 1 run's ``ops``/``min``/``max`` are per sampling interval: divide by meta's
    interval (the run's sampling) to get ops/s; keep the raw counts as ``count``."""
    if "ops" not in df.columns or "seconds" in df.columns or meta.get("format", 1) >= 2:
        return df
    interval = meta.get("options", {}).get("interval") if isinstance(meta.get("options"), dict) else None
    if not isinstance(interval, (int, float)) or isinstance(interval, bool) or not (
            math.isfinite(interval) and interval > 0):
        raise InputError(f"result '{folder}': its ops are per sampling interval (format 1) and meta.json "
                         f"records no usable interval ({interval!r}) to turn them into ops/s")
    loop = df["ops"].notna()
    df = df.copy()
    df.insert(df.columns.get_loc("max") + 1 if "max" in df.columns else len(df.columns), "count", df["ops"])
    df.insert(df.columns.get_loc("count") + 1, "seconds", float(interval))
    df.loc[~loop, "seconds"] = math.nan
    for c in ("ops", "min", "max"):
        if c in df.columns:
            df[c] = df[c] / float(interval)
    notes.append(f"format 1 run: ops per {interval:g} s interval converted to ops/s")
    return df


def load_run(path: str | os.PathLike[str], *, allow_incomplete: bool = False) -> Run:
    """Load and check a run folder; raise ``InputError`` (one line naming the path and what is
    wrong) if it is not usable.

    Checks: meta.json readable with a status; the status ``complete`` unless
    ``allow_incomplete`` (a ``running`` run whose process is gone counts as ``interrupted``);
    samples.csv not cut mid-row (an incomplete run may lose its last row); every value a
    finite number, throughput and times never negative; a complete run holds the cells and
    rows per cell its meta.json ``expect`` lists. A format 1 run is converted to ops/s."""
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
    notes: list[str] = []
    stale = stale_reason(folder, meta)
    if stale:
        meta = {**meta, "status": "interrupted", "stale": stale}
        notes.append(f"run '{folder}' says running but {stale}: treated as interrupted")
    status = meta.get("status")
    if status != "complete" and not allow_incomplete:
        why = f" ({stale})" if stale else ""
        raise InputError(
            f"result '{folder}' is {status}{why}, not complete (use --allow-incomplete to use it anyway)"
        )
    try:
        text = (folder / SAMPLES).read_text(encoding="utf-8")
    except FileNotFoundError:
        raise InputError(f"result '{folder}' has no {SAMPLES}") from None
    except (OSError, ValueError) as exc:
        raise InputError(f"result '{folder}' has an unreadable {SAMPLES}: {exc}") from None
    text = _check_text(folder, text, status == "complete", notes)
    try:
        samples = pd.read_csv(io.StringIO(text))
    except (OSError, ValueError) as exc:
        raise InputError(f"result '{folder}' has an unreadable {SAMPLES}: {' '.join(str(exc).split())}") from None
    missing = [c for c in KEY_COLUMNS if c not in samples.columns]
    if missing:
        raise InputError(f"result '{folder}': {SAMPLES} lacks columns {', '.join(missing)}")
    _check_values(folder, samples)
    if status == "complete":
        _check_expected(folder, meta, samples)
    samples = _convert_format1(folder, meta, samples, notes)
    return Run(path=folder, meta=meta, samples=samples, notes=notes)


def sampling_notes(runs: Iterable[Any]) -> list[str]:
    """What differs in how ``runs`` were sampled, for a note beside a comparison.

    Throughput is ops/s in every run, so intervals may differ (only the noise does); but the
    seconds of the model clock are simulated, not real, which changes what a ratio means."""
    runs = [r for r in runs if isinstance(getattr(r, "meta", None), dict)]
    notes: list[str] = []
    clocks = {str(getattr(r, "clock", "wall")) for r in runs}
    if len(clocks) > 1:
        notes.append("throughput compared across clocks (" + ", ".join(f"{r.name}: {r.clock}" for r in runs)
                     + "): simulated seconds are not real seconds")
    intervals = []
    for r in runs:
        opts = r.meta.get("options")
        iv = opts.get("interval") if isinstance(opts, dict) else None
        if isinstance(iv, (int, float)):
            intervals.append((r.name, float(iv)))
    if len({iv for _, iv in intervals}) > 1:
        notes.append("runs sampled at different intervals (" + ", ".join(f"{n}: {iv:g} s" for n, iv in intervals)
                     + "); throughput is ops/s in each")
    return notes


def run_notes(runs: list[Any]) -> list[str]:
    """Every note a reader should see beside results drawn from ``runs``: each run's own
    (``Run.notes``), then what differs in how they were sampled (``sampling_notes``)."""
    return [n for r in runs for n in getattr(r, "notes", [])] + sampling_notes(runs)

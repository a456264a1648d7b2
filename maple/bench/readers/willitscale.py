"""Read will-it-scale's own output: runtest.py's CSV and a testcase's raw stdout.

Layouts (antonblanchard/will-it-scale ``runtest.py`` and ``main.c``, commit a34a85cc1e9b that
mmtests builds; unchanged at HEAD):

* **runtest.py CSV** (``./runtest.py <testcase> > <testcase>.csv``, as ``runalltests`` names
  it): header ``tasks,processes,processes_idle,threads,threads_idle,linear``, a row of zeros for
  0 tasks (skipped), then one row per task count with the ``average:`` of each mode (operations
  per second, the mean over ``-s 5`` one-second intervals) and the idle percentage. One sample
  per (mode, tasks) cell, so the spread rows are undefined.
* **raw output** of ``./<testcase>_<mode> -t N -s S``: ``testcase:<description>``, ``warmup``,
  six ``min:A max:B total:C`` lines, ``measurement``, S such lines, ``average:``. The samples are
  the lines after ``measurement`` (all of them if the file has neither marker, as in mmtests'
  trimmed logs); ``total`` is the all-task operations of one ~1 s interval, i.e. ops/s.
  The testcase is the one whose ``testcase:`` description the file prints (the eight testcases
  maplebench simulates), else the file name's; mode and task count come from the file name
  (``<testcase>_<mode>-<N>``, also mmtests' ``benchlog-`` and ``wis-<testcase>-<mode>-<N>.log``
  names), the task count failing that from ``-v`` per-task lines.
"""

from __future__ import annotations

import csv
import re
from pathlib import Path

from maple.errors import InputError

CSV_HEADER = ["tasks", "processes", "processes_idle", "threads", "threads_idle", "linear"]
SAMPLE = re.compile(r"^min:(\d+) max:(\d+) total:(\d+)")
TASK_LINE = re.compile(r"^\s*\d+ -> \d+\s*$")
MODES = ("processes", "threads")
#: ``testcase_description`` of the testcases maplebench simulates (will-it-scale tests/*.c).
DESCRIPTIONS = {
    "brk increase/decrease of one page": "brk1",
    "brk unshared increase/decrease of one page": "brk2",
    "malloc/free of 128MB": "malloc1",
    "Anonymous memory mmap/munmap of 128MB": "mmap1",
    "Separate file mmap/munmap of 128MB": "mmap2",
    "Anonymous memory page fault": "page_fault1",
    "Separate file private mapping page fault": "page_fault2",
    "Separate file shared mapping page fault": "page_fault3",
}
_NAME = re.compile(
    r"^(?:benchlog-|wis-)?(?P<wl>[A-Za-z0-9_]+?)[-_](?P<mode>processes|threads)(?:[-_.]t?(?P<tasks>\d+))?(?:\.\w+)?$"
)


def _head(path: Path, size: int = 4096) -> str:
    try:
        with open(path, encoding="utf-8", errors="replace") as fh:
            return fh.read(size)
    except OSError:
        return ""


def is_csv(path: Path) -> bool:
    """True if ``path`` is a file starting with runtest.py's CSV header."""
    return path.is_file() and _head(path, 200).splitlines()[:1] == [",".join(CSV_HEADER)]


def is_raw(path: Path) -> bool:
    """True if ``path`` is a file holding will-it-scale sample lines."""
    return path.is_file() and any(SAMPLE.match(line) for line in _head(path, 65536).splitlines())


def read_csv(path: Path, run: str) -> list[dict]:
    """Rows of a runtest.py CSV.

    The testcase is the file name's leading ``[A-Za-z0-9_]`` run (runalltests writes
    ``<testcase>.csv``; ``brk1-patched.csv`` is brk1 too).
    """
    wl = re.match(r"[A-Za-z0-9_]*", path.stem).group(0) or path.stem
    rows: list[dict] = []
    with open(path, newline="", encoding="utf-8", errors="replace") as fh:
        for i, rec in enumerate(csv.DictReader(fh), start=2):
            try:
                tasks = int(rec["tasks"])
                if tasks == 0:
                    continue  # runtest.py's leading 0,0,100,0,100,0 row
                for mode in MODES:
                    rows.append({"workload": wl, "mm": run, "mode": mode, "tasks": tasks, "sample": 1,
                                 "ops": float(rec[mode]), "idle": float(rec[f"{mode}_idle"])})
            except (TypeError, ValueError, KeyError):
                raise InputError(f"will-it-scale CSV '{path}' line {i} is not a runtest.py row") from None
    if not rows:
        raise InputError(f"will-it-scale CSV '{path}' has no task rows")
    return rows


def read_raw(path: Path, run: str) -> list[dict]:
    """Rows of one testcase's raw output (see the module docstring for what names it)."""
    text = path.read_text(encoding="utf-8", errors="replace")
    lines = text.splitlines()
    if "measurement" in lines:
        lines = lines[lines.index("measurement") + 1 :]
    elif "warmup" in lines:
        raise InputError(f"will-it-scale output '{path}' stops in its warm-up (no 'measurement' line)")
    m = _NAME.match(path.name)
    desc = next((ln[9:] for ln in text.splitlines() if ln.startswith("testcase:")), None)
    wl = DESCRIPTIONS.get(desc or "") or (m.group("wl") if m else None)
    mode = m.group("mode") if m else None
    tasks = int(m.group("tasks")) if m and m.group("tasks") else None
    if tasks is None:
        counts, cur = [], 0
        for ln in lines:
            if TASK_LINE.match(ln):
                cur += 1
            elif SAMPLE.match(ln):
                counts.append(cur)
                cur = 0
        tasks = max(counts) if counts and max(counts) else None
    if wl is None or mode is None or tasks is None:
        raise InputError(f"will-it-scale output '{path}': cannot tell its testcase, mode and task count "
                         f"(name it <testcase>_<processes|threads>-<tasks>, e.g. brk1_processes-2.txt)")
    rows = []
    for ln in lines:
        s = SAMPLE.match(ln)
        if s:
            rows.append({"workload": wl, "mm": run, "mode": mode, "tasks": tasks, "sample": len(rows) + 1,
                         "ops": float(s.group(3)), "min": float(s.group(1)), "max": float(s.group(2))})
    if not rows:
        raise InputError(f"will-it-scale output '{path}' has no min:/max:/total: sample after 'measurement'")
    return rows


def read(path: Path) -> tuple[str, list[dict]]:
    """(run name, rows) for a CSV, a raw output file, or a folder of them.

    A file's run is named after its stem; a folder's after the folder.
    """
    files = [path] if path.is_file() else sorted(p for p in path.iterdir() if p.is_file())
    run = path.stem if path.is_file() else path.name
    rows: list[dict] = []
    for f in files:
        if is_csv(f):
            rows.extend(read_csv(f, run))
        elif is_raw(f):
            rows.extend(read_raw(f, run))
    return run, rows

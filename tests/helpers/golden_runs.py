"""Fixed run folders for the statistics, compare, render, gate and plot tests (bench and CLI).

Built with the runner's own ``RunWriter`` so the tests read exactly what ``maplebench run``
writes. The will-it-scale samples of ``brk1-processes-2`` were chosen (integer per-second
totals, n = 15) so that mmtests' statistics reproduce the reference rows

    Hmean     brk1-processes-2         5264123.70 (   0.00%)      3488010.51 * -33.74%*
    HStddev   brk1-processes-2            5248.25 (   0.00%)         5810.57 ( -10.71%)

and the kernbench user times are the reference's 885.10/885.40/885.52 vs 886.00/886.12/886.09
(``Amean user-2 885.34 ... 886.07 *  -0.08%*``). The expected outputs these runs are checked
against are the golden files in ``tests/bench/golden``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Iterable

from maple.bench.results import RunWriter

BRK1_BASE = [5255180, 5254216, 5262494, 5267480, 5269448, 5262702, 5269027, 5271522,
             5261697, 5262092, 5259618, 5268378, 5262862, 5263283, 5271935]
BRK1_NEW = [3490992, 3484771, 3490745, 3491469, 3496471, 3490642, 3479919, 3485476,
            3480524, 3486895, 3485714, 3487408, 3502475, 3481991, 3484811]
MALLOC1_BASE = [182311, 181904, 183022, 182670, 181455, 182893, 183310, 182047,
                182561, 181799, 182950, 182236, 183101, 182404, 182688]
MALLOC1_NEW = [185127, 184630, 185902, 185311, 184377, 185694, 186040, 184908,
               185466, 184712, 185803, 185051, 185977, 185260, 185539]
USER_BASE = [885.10, 885.40, 885.52]
USER_NEW = [886.00, 886.12, 886.09]
SYST_BASE = [121.37, 121.85, 121.60]
SYST_NEW = [118.90, 119.42, 119.05]
ELSP_BASE = [470.31, 470.96, 470.52]
ELSP_NEW = [468.10, 468.77, 468.35]


def loop_rows(workload: str, mm: str, mode: str, tasks: int, totals: Iterable[int],
              counters: dict[str, float] | None = None) -> list[dict]:
    """Rows as the runner writes them for a loop workload: per-second all-task totals."""
    rows = []
    for i, total in enumerate(totals, 1):
        share = total // tasks
        row = {"workload": workload, "mm": mm, "mode": mode, "tasks": tasks, "sample": i,
               "ops": int(total), "min": share - 137 * i % 997, "max": share + 211 * i % 991}
        for name, value in (counters or {}).items():
            row[f"{name}_per_op"] = value
        rows.append(row)
    return rows


def timed_rows(workload: str, mm: str, mode: str, tasks: int, user: list[float], syst: list[float],
               elsp: list[float], counters: dict[str, float] | None = None) -> list[dict]:
    """Rows for a timed (kernbench) workload: one per iteration."""
    rows = []
    for i, (u, s, e) in enumerate(zip(user, syst, elsp), 1):
        row = {"workload": workload, "mm": mm, "mode": mode, "tasks": tasks, "sample": i,
               "user": u, "syst": s, "elsp": e}
        for name, value in (counters or {}).items():
            row[f"{name}_per_op"] = value
        rows.append(row)
    return rows


def write_run(folder: Path, name: str, rows: list[dict], status: str = "complete") -> Path:
    """A run folder holding ``rows``, finished with ``status``."""
    writer = RunWriter(Path(folder), {"name": name, "workloads": sorted({r["workload"] for r in rows})})
    writer.add_rows(rows)
    writer.finish(status)
    return Path(folder)


BASE_COUNTERS = {"nodes_visited": 41.5, "nodes_allocated": 3.0}
NEW_COUNTERS = {"nodes_visited": 12.25, "nodes_allocated": 1.5}
KB_BASE_COUNTERS = {"nodes_visited": 27.125, "nodes_allocated": 2.0}
KB_NEW_COUNTERS = {"nodes_visited": 9.75, "nodes_allocated": 1.0}


def reference_rows(mm: str, new: bool) -> list[dict]:
    """brk1 and malloc1 (processes, 2 tasks) plus kernbench -j2, baseline or patched numbers."""
    wc = NEW_COUNTERS if new else BASE_COUNTERS
    kc = KB_NEW_COUNTERS if new else KB_BASE_COUNTERS
    return (
        loop_rows("brk1", mm, "processes", 2, BRK1_NEW if new else BRK1_BASE, wc)
        + loop_rows("malloc1", mm, "processes", 2, MALLOC1_NEW if new else MALLOC1_BASE, wc)
        + timed_rows("kernbench", mm, "processes", 2, USER_NEW if new else USER_BASE,
                     SYST_NEW if new else SYST_BASE, ELSP_NEW if new else ELSP_BASE, kc)
    )


def reference_pair(tmp: Path) -> tuple[Path, Path]:
    """Two runs named like mmtests kernels (``6.8.0-base``, ``6.8.0-patched``), one mm each."""
    base = write_run(tmp / "6.8.0-base", "6.8.0-base", reference_rows("maple", new=False))
    new = write_run(tmp / "6.8.0-patched", "6.8.0-patched", reference_rows("maple", new=True))
    return base, new


def reference_single(tmp: Path, name: str = "seed") -> Path:
    """One run holding both mms: legacy has the baseline numbers, maple the patched ones."""
    rows = reference_rows("legacy", new=False) + reference_rows("maple", new=True)
    return write_run(tmp / name, name, rows)


def scaling_rows(mm: str, mode: str, tasks_series: Iterable[int], per_task: float, slope: float,
                 counters: dict[str, float], n: int = 5, workload: str = "brk1") -> list[dict]:
    """A will-it-scale sweep: totals grow sub-linearly with tasks, with a little fixed jitter."""
    rows: list[dict] = []
    for tasks in tasks_series:
        centre = per_task * tasks ** slope
        totals = [int(centre * (1 + 0.01 * ((7 * k + tasks) % 5 - 2) / 2)) for k in range(n)]
        rows += loop_rows(workload, mm, mode, tasks, totals, counters)
    return rows


def scaling_run(folder: Path, name: str = "sweep") -> Path:
    """brk1 and page_fault3 in both modes, maple and legacy, tasks 1..8, with counters."""
    rows: list[dict] = []
    tasks = [1, 2, 4, 8]
    for wl, base in (("brk1", 900_000.0), ("page_fault3", 400_000.0)):
        for mode in ("processes", "threads"):
            slope = 0.95 if mode == "processes" else 0.35
            rows += scaling_rows("legacy", mode, tasks, base, slope,
                                 {"nodes_visited": 31.0, "cache_misses": 2.5}, workload=wl)
            rows += scaling_rows("maple", mode, tasks, base * 1.08, slope,
                                 {"nodes_visited": 9.0, "cache_misses": 0.0}, workload=wl)
    rows += timed_rows("kernbench", "legacy", "processes", 2, USER_BASE, SYST_BASE, ELSP_BASE,
                       KB_BASE_COUNTERS) + timed_rows("kernbench", "legacy", "processes", 4,
                       [452.1, 452.6, 451.9], [62.0, 62.3, 61.8], [241.2, 241.9, 240.8], KB_BASE_COUNTERS)
    rows += timed_rows("kernbench", "maple", "processes", 2, USER_NEW, SYST_NEW, ELSP_NEW,
                       KB_NEW_COUNTERS) + timed_rows("kernbench", "maple", "processes", 4,
                       [452.9, 453.0, 452.7], [60.1, 60.4, 60.0], [239.0, 239.6, 239.2], KB_NEW_COUNTERS)
    return write_run(folder / name, name, rows)


def format1_run(folder: Path, interval: float, totals: list[int]) -> Path:
    """A brk1 run (maple, processes, 2 tasks) as maplebench wrote it before issue 12: ops per
    ``interval``, no count/seconds columns."""
    import json

    folder.mkdir()
    meta = {"format": 1, "name": folder.name, "status": "complete",
            "options": {"workloads": ["brk1"], "mm": ["maple"], "mode": ["processes"], "procs": [2],
                        "samples": len(totals), "interval": interval}}
    (folder / "meta.json").write_text(json.dumps(meta))
    rows = "".join(f"brk1,maple,processes,2,{i},{t},{t // 2},{t - t // 2}\n" for i, t in enumerate(totals, 1))
    (folder / "samples.csv").write_text("workload,mm,mode,tasks,sample,ops,min,max\n" + rows)
    return folder

"""Write the mmtests and will-it-scale inputs under tests/bench/data/ (run once; output committed).

The numbers are made up (seeded), in the exact file layouts the real tools write:

* ``mmtests-old/``: an mmtests results tree as mmtests wrote it before 2025-12-30 (688a7f58):
  ``<run>/iter-N/wis-malloc/logs/{workloads,models,wis-<wl>-<model>-<N>.log}`` (will-it-scale's
  stdout after wis-bench's ``sed -i '1,8d'``) and ``<run>/iter-N/kernbench/logs/
  kernbench-<N>-<iter>.time`` (GNU time output), plus ``iter-N/tests-activity``.
* ``mmtests-current/``: the same samples in the current layout: ``benchlog-<wl>_<model>-<N>``
  and kernbench's ``time-<N>-<iter>``.
* ``mmtests-ci/``: old layout, one iteration, no zero sample (for the CI-era golden files).
* ``wis/``: will-it-scale's own output: runtest.py's ``brk1.csv`` and raw testcase output.

Regenerate with ``python tests/bench/data/build_foreign.py`` (deterministic).
"""

from __future__ import annotations

import random
import shutil
from pathlib import Path

HERE = Path(__file__).resolve().parent
RUNS = {"6.8.0-base": (100, 1.00), "6.8.0-patched": (200, 0.97)}  # start time, speed factor
WORKLOADS = ["brk1", "malloc1"]
MODELS = ["processes", "threads"]
THREADS = [2, 5]
BASE_OPS = {"brk1": 5_000_000, "malloc1": 900_000}
SAMPLES = 5  # WIS_ITERATIONS before 688a7f58
ITERS = 2  # MMTEST_ITERATIONS


def wis_samples(rng: random.Random, run: str, wl: str, model: str, n: int, it: int) -> list[int]:
    speed = RUNS[run][1]
    if wl == "brk1" and model == "threads":
        speed = 1.0 + (speed - 1.0) * 0.1  # a difference too small to be significant
    mean = BASE_OPS[wl] * (n if model == "processes" else n * 0.6) * speed
    out = [int(rng.gauss(mean, mean * 0.01)) for _ in range(SAMPLES)]
    # A stalled interval (0 ops): base malloc1-threads-5 and patched malloc1-processes-2, iter-1.
    if it == 1 and (run, wl, model, n) in (("6.8.0-base", "malloc1", "threads", 5),
                                          ("6.8.0-patched", "malloc1", "processes", 2)):
        out[2] = 0
    return out


def wis_log(samples: list[int], n: int) -> str:
    lines = ["measurement"]
    for total in samples:
        lo = max(0, total // n - 1000)
        hi = total // n + 1000 if total else 0
        lines.append(f"min:{lo} max:{hi} total:{total}")
    lines.append(f"average:{sum(samples) // len(samples)}")
    return "\n".join(lines) + "\n"


def raw_output(samples: list[int], n: int) -> str:
    """will-it-scale's whole stdout: testcase, warmup, 6 samples, measurement, S, average."""
    warm = [s // 2 for s in samples[:1]] * 6
    lines = ["testcase:brk increase/decrease of one page", "warmup"]
    lines += [f"min:{t // n - 1000} max:{t // n + 1000} total:{t}" for t in warm]
    return "\n".join(lines) + "\n" + wis_log(samples, n)


def gnu_time(user: float, syst: float, elsp: float) -> str:
    m, s = divmod(elsp, 60)
    cpu = int((user + syst) * 100 / elsp)
    return (f"{user:.2f}user {syst:.2f}system {int(m)}:{s:05.2f}elapsed {cpu}%CPU "
            f"(0avgtext+0data 212344maxresident)k\n"
            f"0inputs+123456outputs (0major+9876543minor)pagefaults 0swaps\n")


def kernbench_times(rng: random.Random, run: str, jobs: int) -> list[tuple[float, float, float]]:
    speed = RUNS[run][1]
    out = []
    for _ in range(3):
        user = 885.3 / speed + rng.gauss(0, 0.2)
        syst = 60.0 / speed + rng.gauss(0, 0.5) + (3.0 if jobs == 4 else 0.0)
        elsp = (user + syst) / jobs * 1.05 + rng.gauss(0, 1.0)
        out.append((round(user, 2), round(syst, 2), round(elsp, 2)))
    return out


def write(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)


def write_tree(root: Path, layout: str, *, zeros: bool, iters: int, kernbench: bool, seed: int) -> None:
    """One mmtests results tree in the ``old`` or ``current`` file layout."""
    rng = random.Random(seed)
    for run, (start, _) in RUNS.items():
        for it in range(iters):
            write(root / run / f"iter-{it}" / "tests-activity",
                  f"{start + it * 50} run-mmtests: Start\n{start + it * 50 + 40} run-mmtests: End\n")
            logs = root / run / f"iter-{it}" / "wis-malloc" / "logs"
            write(logs / "workloads", ",".join(WORKLOADS) + "\n")
            write(logs / "models", ",".join(MODELS) + "\n")
            for wl in WORKLOADS:
                for n in THREADS:
                    for model in MODELS:
                        samples = wis_samples(rng, run, wl, model, n, it if zeros else 0)
                        name = f"wis-{wl}-{model}-{n}.log" if layout == "old" else f"benchlog-{wl}_{model}-{n}"
                        write(logs / name, wis_log(samples, n))
        if kernbench:
            for jobs in (2, 4):
                for i, (u, s, e) in enumerate(kernbench_times(rng, run, jobs), start=1):
                    name = f"kernbench-{jobs}-{i}.time" if layout == "old" else f"time-{jobs}-{i}"
                    write(root / run / "iter-0" / "kernbench" / "logs" / name, gnu_time(u, s, e))


def main() -> None:
    for sub in ("mmtests-old", "mmtests-current", "mmtests-ci", "wis"):
        shutil.rmtree(HERE / sub, ignore_errors=True)
    write_tree(HERE / "mmtests-old", "old", zeros=True, iters=ITERS, kernbench=True, seed=9)
    write_tree(HERE / "mmtests-current", "current", zeros=True, iters=ITERS, kernbench=True, seed=9)
    # mmtests of the CI era (a0369e62) dies on a zero sample, so its golden tree has none.
    write_tree(HERE / "mmtests-ci", "old", zeros=False, iters=1, kernbench=True, seed=11)
    # will-it-scale's own output: runtest.py's CSV (one average per cell) and raw stdout.
    rng = random.Random(10)
    rows = ["tasks,processes,processes_idle,threads,threads_idle,linear", "0,0,100,0,100,0"]
    linear = 0
    for n in (1, 2):
        p = int(rng.gauss(2_500_000 * n, 20_000))
        t = int(rng.gauss(1_500_000 * n, 20_000))
        linear = linear or max(p, t)
        rows.append(f"{n},{p},{100 - 50 * n:.2f},{t},{100 - 49.5 * n:.2f},{linear * n}")
    write(HERE / "wis" / "brk1.csv", "\n".join(rows) + "\n")
    write(HERE / "wis" / "brk1.title", "brk increase/decrease of one page\n")
    for n in (1, 2):
        samples = [int(rng.gauss(2_400_000 * n, 15_000)) for _ in range(5)]
        write(HERE / "wis" / "raw" / f"brk1_processes-{n}.txt", raw_output(samples, n))


if __name__ == "__main__":
    main()

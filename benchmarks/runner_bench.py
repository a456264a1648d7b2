"""Runner benchmarks: overhead per op, processes scaling, memory at 320 tasks, default wall time.

Run from the repository root:

    .venv/bin/python benchmarks/runner_bench.py            # everything (about 4 minutes)
    .venv/bin/python benchmarks/runner_bench.py --only overhead,scaling

Figures printed:

* overhead  the runner's cost per op (publishing the counter and checking the stop flag in the
            task loop, plus the parent's sampling) as a fraction of one brk1 op (target < 5 %).
            Measured in one process: the same brk1 steps are timed bare and inside the task
            loop the runner uses; the parent's cost is one sample of N counters per interval.
* scaling   processes mode, brk1 on the maple mm, 1 task vs 2 tasks: total ops per second
            (mean of the measured samples) and their ratio (target >= 1.8x on 2 cores).
* memory    peak PSS and RSS summed over the runner and all its tasks during
            ``maplebench run brk1 --procs 320 --mode processes --mm maple`` (target < 4 GiB).
* default   wall time of ``maplebench run brk1 --quiet`` with every default.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

from maple import workloads
from maple.bench import runner as R

ROOT = Path(__file__).resolve().parent.parent


def _start_mm(kind: str = "maple"):
    from maple.mm import make_mm

    return make_mm(kind, layout=R.default_layout())


def bench_overhead(seconds: float = 2.0) -> dict[str, float]:
    """Bare brk1 steps vs the runner's task loop (``runner._spin``) on the same forked mm."""
    wl = workloads.get("brk1")
    mm = _start_mm().fork()
    state = wl.setup(mm, 0)
    loop = wl.loop
    for _ in range(2000):
        loop(mm, state)

    def bare(n: int) -> float:
        t = time.perf_counter()
        for _ in range(n):
            loop(mm, state)
        return time.perf_counter() - t

    # calibrate n to ~seconds
    n = 1000
    while bare(n) < 0.2:
        n *= 2
    n = int(n * seconds / 0.2 / 2) or n
    area = R._Area(1)
    words = area.words
    slot = area.slot(0)
    calls = [0]

    def counted(m, s, _loop=loop):
        calls[0] += 1
        if calls[0] >= n:
            words[0] = 1
        return _loop(m, s)

    # the wrapper itself costs time: measure it bare too and subtract
    def bare_counted(k: int) -> float:
        calls[0] = -10**12
        t = time.perf_counter()
        for _ in range(k):
            counted(mm, state)
        return time.perf_counter() - t

    bare_t, spin_t, wrap_t = [], [], []
    for _ in range(5):
        bare_t.append(bare(n))
        wrap_t.append(bare_counted(n))
        calls[0] = 0
        words[0] = 0
        t = time.perf_counter()
        R._spin(counted, mm, state, words, slot)
        spin_t.append(time.perf_counter() - t)
    area.close()
    ops = 2 * n
    op_s = min(bare_t) / ops
    task_overhead = (min(spin_t) - min(wrap_t)) / ops
    # parent: one sample of 320 counters per interval, spread over the ops of that interval
    area = R._Area(320)
    t = time.perf_counter()
    for _ in range(1000):
        now = area.counts()
        diffs = [a - b for a, b in zip(now, now)]
        sum(diffs), min(diffs), max(diffs)
    sample_s = (time.perf_counter() - t) / 1000
    area.close()
    ops_per_second_per_cpu = 1 / op_s
    parent_per_op = sample_s / ops_per_second_per_cpu  # one sample per second
    return {
        "brk1_op_us": op_s * 1e6,
        "task_overhead_ns_per_op": task_overhead * 1e9,
        "sample_320_us": sample_s * 1e6,
        "parent_ns_per_op": parent_per_op * 1e9,
        "overhead_fraction": (task_overhead + parent_per_op) / op_s,
    }


def bench_scaling(samples: int = 5, interval: float = 1.0, warm: int = 2) -> dict[str, float]:
    wl = workloads.get("brk1")
    out = {}
    for tasks in (1, 2):
        with R.TimedPass(wl, _start_mm(), "processes", tasks, affinity=True) as tp:
            tp.start()
            totals = [s[0] for s in tp.samples(warm + samples, interval)][warm:]
        out[f"ops_per_s_{tasks}"] = statistics.mean(totals) / interval
    out["ratio"] = out["ops_per_s_2"] / out["ops_per_s_1"]
    return out


def _descendants(pid: int) -> list[int]:
    kids: dict[int, list[int]] = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as fh:
                fields = fh.read().rsplit(")", 1)[1].split()
            kids.setdefault(int(fields[1]), []).append(int(entry))
        except (OSError, IndexError, ValueError):
            continue
    out, todo = [], [pid]
    while todo:
        p = todo.pop()
        out.append(p)
        todo.extend(kids.get(p, []))
    return out


def _rollup(pid: int) -> tuple[int, int]:
    pss = rss = 0
    try:
        with open(f"/proc/{pid}/smaps_rollup") as fh:
            for line in fh:
                if line.startswith("Pss:"):
                    pss = int(line.split()[1]) * 1024
                elif line.startswith("Rss:"):
                    rss = int(line.split()[1]) * 1024
    except OSError:
        pass
    return pss, rss


def bench_memory(tasks: int = 320) -> dict[str, float]:
    with tempfile.TemporaryDirectory() as tmp:
        cmd = [sys.executable, "-m", "maplebench", "run", "brk1", "--procs", str(tasks), "--mode",
               "processes", "--mm", "maple", "--samples", "3", "--warmup", "2", "--out", tmp, "--quiet"]
        t = time.monotonic()
        proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, cwd=ROOT)
        peak = {"pss": 0, "rss": 0, "procs": 0}
        stop = threading.Event()

        def watch() -> None:
            while not stop.is_set():
                pids = _descendants(proc.pid)
                pss = rss = 0
                for p in pids:
                    a, b = _rollup(p)
                    pss += a
                    rss += b
                if pss > peak["pss"]:
                    peak.update(pss=pss, rss=rss, procs=len(pids))
                stop.wait(0.5)

        th = threading.Thread(target=watch, daemon=True)
        th.start()
        out, err = proc.communicate()
        stop.set()
        th.join()
        if proc.returncode != 0:
            raise SystemExit(f"memory run failed ({proc.returncode}): {err.decode()[-2000:]}")
        return {"peak_pss_gib": peak["pss"] / 2**30, "rss_sum_at_peak_gib": peak["rss"] / 2**30,
                "processes": peak["procs"], "wall_s": time.monotonic() - t}


def bench_default() -> dict[str, float]:
    with tempfile.TemporaryDirectory() as tmp:
        t = time.monotonic()
        proc = subprocess.run([sys.executable, "-m", "maplebench", "run", "brk1", "--out", tmp, "--quiet"],
                              capture_output=True, text=True, cwd=ROOT)
        wall = time.monotonic() - t
        if proc.returncode != 0:
            raise SystemExit(f"default run failed: {proc.stderr[-2000:]}")
        return {"wall_s": wall}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--only", default="overhead,scaling,memory,default")
    ap.add_argument("--tasks", type=int, default=320, help="tasks for the memory run")
    args = ap.parse_args()
    wanted = args.only.split(",")
    from maple.bench import sysinfo

    print(f"python {sys.version.split()[0]}, {sysinfo.cpu_count()} CPUs ({sysinfo.cpu_model()}), "
          f"GIL {'on' if sysinfo.gil_enabled() else 'off'}")
    if "overhead" in wanted:
        r = bench_overhead()
        print(f"overhead: brk1 op {r['brk1_op_us']:.2f} us; task loop +{r['task_overhead_ns_per_op']:.1f} ns/op; "
              f"parent sample of 320 counters {r['sample_320_us']:.1f} us/s = {r['parent_ns_per_op']:.3f} ns/op; "
              f"total {100 * r['overhead_fraction']:.2f}% of a brk1 op (target < 5%)")
    if "scaling" in wanted:
        r = bench_scaling()
        print(f"scaling: processes brk1 maple, 1 task {r['ops_per_s_1']:.0f} ops/s, 2 tasks "
              f"{r['ops_per_s_2']:.0f} ops/s, ratio {r['ratio']:.2f}x (target >= 1.8x)")
    if "memory" in wanted:
        r = bench_memory(args.tasks)
        print(f"memory: {args.tasks}-process run, peak PSS sum {r['peak_pss_gib']:.2f} GiB "
              f"(RSS sum then {r['rss_sum_at_peak_gib']:.2f} GiB over {r['processes']} processes; "
              f"target < 4 GiB); run wall {r['wall_s']:.0f} s")
    if "default" in wanted:
        r = bench_default()
        print(f"default: `maplebench run brk1` wall time {r['wall_s']:.0f} s (target about 120 s)")


if __name__ == "__main__":
    main()

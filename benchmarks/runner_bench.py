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
from maple.bench import sampling, wall

ROOT = Path(__file__).resolve().parent.parent


def _start_mm(kind: str = "maple"):
    from maple.mm import make_mm

    return make_mm(kind, layout=R.default_layout())


def bench_overhead(reps: int = 7) -> dict[str, float]:
    """The task loop's own cost (``wall._spin``: add, publish the counter, test the stop
    flag) and the parent's sampling cost, per op, against the time of one brk1 op.

    The task loop is timed around a trivial step (so brk1's noise does not swamp a cost of a
    few tens of nanoseconds): the same step function is called ``n`` times by a bare ``for``
    loop and by ``_spin``; the difference is the runner's. Minimum of ``reps`` runs each.
    """
    wl = workloads.get("brk1")
    mm = _start_mm().fork()
    state = wl.setup(mm, 0)
    loop = wl.loop
    for _ in range(2000):
        loop(mm, state)
    brk = []
    for _ in range(reps):
        t = time.perf_counter()
        for _ in range(5000):
            loop(mm, state)
        brk.append((time.perf_counter() - t) / 10000)
    op_s = min(brk)

    n = 1_000_000
    area = sampling._Area(1)
    words = area.words
    slot = area.slot(0)
    left = [0]

    def step(m, s):
        left[0] -= 1
        if not left[0]:
            words[0] = 1
        return 2

    bare, spin = [], []
    for _ in range(reps):
        left[0] = -1  # never reaches zero
        t = time.perf_counter()
        for _ in range(n):
            step(mm, state)
        bare.append(time.perf_counter() - t)
        left[0] = n
        words[0] = 0
        t = time.perf_counter()
        wall._spin(step, mm, state, words, slot)
        spin.append(time.perf_counter() - t)
    area.close()
    task_per_op = max(0.0, min(spin) - min(bare)) / (2 * n)
    # parent: one sample of 320 counters per interval (1 s), shared by that second's ops
    area = sampling._Area(320)
    t = time.perf_counter()
    prev = area.counts()
    for _ in range(1000):
        now = area.counts()
        diffs = [a - b for a, b in zip(now, prev)]
        sum(diffs), min(diffs), max(diffs)
        prev = now
    sample_s = (time.perf_counter() - t) / 1000
    area.close()
    parent_per_op = sample_s * op_s  # sample_s seconds per 1/op_s ops
    return {
        "brk1_op_us": op_s * 1e6,
        "task_overhead_ns_per_op": task_per_op * 1e9,
        "sample_320_us": sample_s * 1e6,
        "parent_ns_per_op": parent_per_op * 1e9,
        "overhead_fraction": (task_per_op + parent_per_op) / op_s,
    }


def _cpu_seconds(pid: int) -> float:
    with open(f"/proc/{pid}/stat") as fh:
        fields = fh.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def bench_scaling(samples: int = 5, interval: float = 1.0, warm: int = 2) -> dict[str, float]:
    """Processes mode, brk1 on the maple mm: 1 task vs 2 tasks.

    Besides ops per second (what will-it-scale reports, and what a busy shared machine
    depresses), it reports ops per CPU-second of the tasks (utime + stime from /proc): equal
    values at 1 and 2 tasks mean the tasks do not slow each other down, i.e. the runner scales
    linearly when the CPUs are free.
    """
    wl = workloads.get("brk1")
    out = {}
    for tasks in (1, 2):
        with R.TimedPass(wl, _start_mm(), "processes", tasks, affinity=True) as tp:
            tp.start()
            cpu0 = sum(_cpu_seconds(p) for p in tp.pids)
            got = list(tp.samples(warm + samples, interval))
            cpu = sum(_cpu_seconds(p) for p in tp.pids) - cpu0
        totals = [s[0] for s in got[warm:]]
        out[f"ops_per_s_{tasks}"] = statistics.mean(totals) / interval
        out[f"ops_per_cpu_s_{tasks}"] = sum(s[0] for s in got) / cpu if cpu > 0 else float("nan")
        out[f"cpu_share_{tasks}"] = cpu / ((warm + samples) * interval)
    out["ratio"] = out["ops_per_s_2"] / out["ops_per_s_1"]
    out["cpu_ratio"] = out["ops_per_cpu_s_2"] / out["ops_per_cpu_s_1"]
    with open("/proc/loadavg") as fh:
        out["loadavg"] = fh.read().split()[0]
    return out


def _descendants(pid: int) -> list[int]:
    try:  # fast path: the kernel's children list (CONFIG_PROC_CHILDREN)
        with open(f"/proc/{pid}/task/{pid}/children") as fh:
            return [pid] + [int(x) for x in fh.read().split()]
    except OSError:
        pass
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
               "processes", "--mm", "maple", "--samples", "10", "--warmup", "5", "--out", tmp, "--quiet"]
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
                peak["pss"] = max(peak["pss"], pss)
                peak["rss"] = max(peak["rss"], rss)
                peak["procs"] = max(peak["procs"], len(pids))
                stop.wait(0.5)

        th = threading.Thread(target=watch, daemon=True)
        th.start()
        out, err = proc.communicate()
        stop.set()
        th.join()
        if proc.returncode != 0:
            raise SystemExit(f"memory run failed ({proc.returncode}): {err.decode()[-2000:]}")
        return {"peak_pss_gib": peak["pss"] / 2**30, "peak_rss_sum_gib": peak["rss"] / 2**30,
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
              f"{r['ops_per_s_2']:.0f} ops/s, ratio {r['ratio']:.2f}x (target >= 1.8x); "
              f"tasks got {r['cpu_share_1']:.2f} and {r['cpu_share_2']:.2f} CPUs (load average "
              f"{r['loadavg']}); ops per task CPU-second 2 vs 1 task: {r['cpu_ratio']:.2f} "
              f"(=> {2 * r['cpu_ratio']:.2f}x on two free CPUs)")
    if "memory" in wanted:
        r = bench_memory(args.tasks)
        print(f"memory: {args.tasks}-task processes run, peak PSS sum {r['peak_pss_gib']:.2f} GiB "
              f"(target < 4 GiB); peak RSS sum {r['peak_rss_sum_gib']:.2f} GiB (counts shared pages "
              f"once per process); up to {r['processes']} processes; run wall {r['wall_s']:.0f} s")
    if "default" in wanted:
        r = bench_default()
        print(f"default: `maplebench run brk1` wall time {r['wall_s']:.0f} s (target about 120 s)")


if __name__ == "__main__":
    main()

"""Micro-benchmark of the two address-space kinds: where the maple tree wins and loses.

For both kinds (maple, legacy) at 30, 1,000 and 30,000 VMAs, side by side in one run:
ops/s and the deterministic cost counters per op of

* ``find_vma``       lookups of VMAs in a scattered order (defeats the legacy vmacache)
* ``fault``          write faults walking the pages of one 512-page VMA (vmacache-friendly)
* ``mmap+munmap``    a new one-page anonymous VMA placed top-down, then removed
* ``brk``            grow the heap by a page (in-place expansion) and shrink it back
* ``mprotect``       split a page out of a 3-page VMA and merge it back (two calls)
* ``fork+exit``      dup_mmap of the whole address space, then exit_mmap of the child

The address space is synthetic: ``N - 3`` one-page anonymous VMAs with alternating
permissions (so none merge) two pages apart from 4 GiB up, plus the heap, the fault region
and the mprotect region. Counters come from a separate fixed-length pass (exact and
repeatable); ops/s is the median of ``--repeat`` timed passes of at least ``--seconds`` each,
the two kinds' passes interleaved so that load on a shared machine affects both alike.

    python benchmarks/mm_bench.py                 # the full table (about a minute)
    python benchmarks/mm_bench.py --sizes 30,1000 --seconds 0.1 --json out.json
    python benchmarks/mm_bench.py --ops fork+exit,brk    # a subset
"""

from __future__ import annotations

import argparse
import gc
import json
import statistics
import sys
import time

from maple.mm import MAP_ANONYMOUS, MAP_FIXED, MAP_PRIVATE, PROT_EXEC, PROT_READ, PROT_WRITE, make_mm

P = 4096
RW = PROT_READ | PROT_WRITE
ANON = MAP_PRIVATE | MAP_ANONYMOUS
BASE = 0x100000000
FAULT_PAGES = 512
KINDS = ("maple", "legacy")
OPS = ("find_vma", "fault", "mmap+munmap", "brk", "mprotect", "fork+exit")
#: counters shown per op (the index's, then the mm's)
SHOWN = (
    "nodes_visited", "cache_lines", "vmas_visited", "nodes_allocated", "nodes_freed",
    "rb_rotations", "gap_updates", "list_updates", "vmacache_hits", "vmacache_misses",
)
COUNT_PASS = {"find_vma": 256, "fault": 256, "mmap+munmap": 64, "brk": 64, "mprotect": 64, "fork+exit": 2}


def build(kind: str, n: int):
    """An address space of ``kind`` holding exactly ``n`` VMAs (n >= 4)."""
    mm = make_mm(kind)
    start = mm.brk(0)
    mm.brk(start + 4 * P)
    mm.fault(start, write=True)  # the heap has an anon_vma, as a real heap does
    fault_region = mm.mmap(BASE - (FAULT_PAGES + 64) * P, FAULT_PAGES * P, RW, ANON | MAP_FIXED)
    mprot = mm.mmap(BASE - 32 * P, 3 * P, RW, ANON | MAP_FIXED)
    for i in range(n - 3):
        mm.mmap(BASE + 2 * i * P, P, PROT_READ if i % 2 else RW, ANON | MAP_FIXED)
    assert mm.map_count == n, (mm.map_count, n)
    targets = [v.start for v in mm.vmas()]
    order = [targets[(i * 7919) % len(targets)] for i in range(len(targets))]
    return mm, {"fault": fault_region, "mprotect": mprot, "order": order, "brk": mm.brk(0)}


def make_op(name: str, mm, ctx):
    """A zero-argument callable doing one op; returns extra counters (fork's child) or None."""
    if name == "find_vma":
        order = ctx["order"]
        state = [0]
        find_vma = mm.find_vma

        def op():
            i = state[0]
            find_vma(order[i % len(order)])
            state[0] = i + 1

    elif name == "fault":
        region, pt = ctx["fault"], mm.page_table
        state = [0]
        fault = mm.fault

        def op():
            i = state[0] % FAULT_PAGES
            if i == 0:
                pt.clear()  # start the walk over with no pages mapped
            fault(region + i * P, True)
            state[0] += 1

    elif name == "mmap+munmap":
        mmap, munmap = mm.mmap, mm.munmap
        prot = PROT_READ | PROT_EXEC  # matches no neighbour: always a new VMA

        def op():
            munmap(mmap(0, P, prot, ANON), P)

    elif name == "brk":
        b, brk = ctx["brk"], mm.brk

        def op():
            brk(b + P)
            brk(b)

    elif name == "mprotect":
        addr, mprotect = ctx["mprotect"], mm.mprotect

        def op():
            mprotect(addr + P, P, PROT_READ)
            mprotect(addr + P, P, RW)

    elif name == "fork+exit":

        def op():
            child = mm.fork()
            child.exit()
            return child.counters

    else:
        raise ValueError(name)
    return op


def count_pass(mm, op, iters: int) -> dict[str, float]:
    """Counters per op over a fixed number of ops (exact and repeatable)."""
    before = mm.counters
    extra: dict[str, int] = {}
    for _ in range(iters):
        child = op()
        if child:
            for k, v in child.items():
                extra[k] = extra.get(k, 0) + v
    after = mm.counters
    return {k: (after[k] - before[k] + extra.get(k, 0)) / iters for k in after}


def timed_pass(op, seconds: float) -> float:
    """ops/s of ``op`` run for at least ``seconds`` (and at least 3 ops)."""
    gc.collect()
    done = 0
    t0 = time.perf_counter()
    deadline = t0 + seconds
    while True:
        op()
        done += 1
        now = time.perf_counter()
        if now >= deadline and done >= 3:
            return done / (now - t0)


def measure(n: int, seconds: float, repeat: int, ops: tuple[str, ...] = OPS) -> dict:
    """{kind: {op: {...}}} at ``n`` VMAs; the kinds' timed passes are interleaved so that
    load on a shared machine hits both alike, and the median of ``repeat`` passes is kept."""
    out: dict = {kind: {} for kind in KINDS}
    for name in ops:
        setups = {}
        for kind in KINDS:
            mm, ctx = build(kind, n)
            op = make_op(name, mm, ctx)
            out[kind][name] = {"per_op": count_pass(mm, op, COUNT_PASS[name]), "rates": []}
            setups[kind] = (mm, op)
        for _ in range(repeat):
            for kind in KINDS:
                out[kind][name]["rates"].append(timed_pass(setups[kind][1], seconds))
        for kind in KINDS:
            mm = setups[kind][0]
            mm.validate()
            entry = out[kind][name]
            entry["ops_per_s"] = statistics.median(entry["rates"])
            entry["map_count"] = mm.map_count
    return out


def fmt_rate(x: float) -> str:
    return f"{x:,.0f}" if x >= 100 else f"{x:.1f}"


def fmt_count(x: float) -> str:
    return f"{x:.0f}" if x == int(x) else f"{x:.2f}"


def render(results: dict, sizes: list[int], ops: tuple[str, ...] = OPS) -> str:
    lines = []
    head = f"{'op':<12} {'VMAs':>6} | {'maple ops/s':>12} {'legacy ops/s':>12} {'maple/legacy':>12}"
    lines += [head, "-" * len(head)]
    for name in ops:
        for n in sizes:
            m = results["maple"][n][name]["ops_per_s"]
            g = results["legacy"][n][name]["ops_per_s"]
            lines.append(f"{name:<12} {n:>6} | {fmt_rate(m):>12} {fmt_rate(g):>12} {m / g:>11.2f}x")
    lines.append("")
    abbrev = {"nodes_visited": "nodes", "cache_lines": "lines", "vmas_visited": "vmas", "nodes_allocated": "n_alloc",
              "nodes_freed": "n_free", "rb_rotations": "rot", "gap_updates": "gap_upd", "list_updates": "list_upd",
              "vmacache_hits": "vc_hit", "vmacache_misses": "vc_miss"}
    head = f"{'op':<12} {'VMAs':>6} {'kind':<6} | " + " ".join(f"{abbrev[k]:>8}" for k in SHOWN)
    lines += ["counters per op", head, "-" * len(head)]
    for name in ops:
        for n in sizes:
            for kind in KINDS:
                c = results[kind][n][name]["per_op"]
                lines.append(f"{name:<12} {n:>6} {kind:<6} | " + " ".join(f"{fmt_count(c[k]):>8}" for k in SHOWN))
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--sizes", default="30,1000,30000", help="comma-separated VMA counts (default 30,1000,30000)")
    ap.add_argument("--seconds", type=float, default=0.2, help="minimum seconds of one timed pass (default 0.2)")
    ap.add_argument("--repeat", type=int, default=3, help="timed passes per op and kind; the median is shown (default 3)")
    ap.add_argument("--ops", default=",".join(OPS), help=f"comma-separated ops (default all: {','.join(OPS)})")
    ap.add_argument("--json", metavar="PATH", help="also write every figure as JSON")
    args = ap.parse_args(argv)
    try:
        sizes = [int(s) for s in args.sizes.split(",")]
    except ValueError:
        ap.error(f"--sizes {args.sizes!r}: expected comma-separated integers")
    if any(n < 4 for n in sizes):
        ap.error(f"--sizes {args.sizes!r}: each size must be at least 4")
    ops = tuple(args.ops.split(","))
    bad = [o for o in ops if o not in OPS]
    if bad:
        ap.error(f"--ops {bad[0]!r}: not one of {', '.join(OPS)}")
    if args.seconds <= 0 or args.repeat < 1:
        ap.error("--seconds must be positive and --repeat at least 1")
    by_size = {n: measure(n, args.seconds, args.repeat, ops) for n in sizes}
    results = {kind: {n: by_size[n][kind] for n in sizes} for kind in KINDS}
    print(f"# mm_bench: python {sys.version.split()[0]}, --seconds {args.seconds} --repeat {args.repeat} (median)")
    print(render(results, sizes, ops))
    if args.json:
        with open(args.json, "w") as f:
            json.dump({k: {str(n): r for n, r in v.items()} for k, v in results.items()}, f, indent=1)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

"""Why a row comes out as it does: the cost events of one op on two kinds, priced by a profile.

``python -m maple.reproduce.explain WORKLOAD MODE BASE NEW [PROFILE]`` prints, for one task's
steady cycle of ``WORKLOAD`` (the model clock's own recording, ``maple.clock.programs.
record_cycle``), each cost event's count per op on ``BASE`` and ``NEW``, its price in the
profile, and the ns per op it adds, then the ns per op in each lock context (``none``,
``read``, ``write``, ``vma``). This is the per-op CPU cost only: contention, hand-off, sleeping
and time-sharing come from the scheduler on top of it.

Threads mode records one task's own sequence on the shared mm with ``mm.users`` set to the task
count (so the v5 era's multi-user RCU mode is on); the no-op calls that other threads' calls
cause in a real interleaving do not appear.
"""

from __future__ import annotations

import sys
from typing import Sequence

from maple.errors import InputError


def events_per_op(workload: str, kind: str, mode: str = "processes", *, tasks: int = 2,
                  layout: str | None = None) -> tuple[dict[str, float], dict[str, dict[str, float]]]:
    """``(event -> count per op, context -> (event -> count per op))`` over one steady cycle.

    ``InputError`` for an unknown workload, kind or mode.
    """
    from maple import workloads
    from maple.bench.runner import default_layout
    from maple.clock.programs import record_cycle
    from maple.mm import make_mm
    from maple.reproduce.seed import check_kind

    check_kind(kind, "kind")
    if mode not in ("processes", "threads"):
        raise InputError(f"mode '{mode}': expected processes or threads")
    wl = workloads.get(workload)
    if wl.kind != "loop":
        raise InputError(f"workload '{workload}' is not a will-it-scale loop")
    start = make_mm(kind, layout=layout if layout is not None else default_layout())
    if mode == "processes":
        mm = start.fork()
    else:
        from maple.mm.history import start_task_threads

        mm = start
        start_task_threads(mm, tasks)  # the task threads' stacks, as glibc's pthread_create
        if hasattr(mm, "users"):
            mm.users = tasks
    cycle = record_cycle(wl, mm)
    ops = sum(c[2] for c in cycle.calls) or 1
    total: dict[str, float] = {}
    by_ctx: dict[str, dict[str, float]] = {}
    for _name, segs, _ops in cycle.calls:
        for seg in segs:
            ctx = by_ctx.setdefault(seg.ctx, {})
            for ev, n in seg.events.items():
                total[ev] = total.get(ev, 0.0) + n / ops
                ctx[ev] = ctx.get(ev, 0.0) + n / ops
    return total, by_ctx


def report(workload: str, mode: str, base: str, new: str, profile: str | None = None) -> str:
    """The text ``python -m maple.reproduce.explain`` prints (module docstring)."""
    from maple.clock.profile import load_profile

    prof = load_profile(profile)
    b, b_ctx = events_per_op(workload, base, mode)
    n, n_ctx = events_per_op(workload, new, mode)
    lines = [f"{workload}-{mode}: cost events per op, profile '{prof.name}'",
             f"{'event':<22}{base:>12}{new:>12}{'ns each':>10}{'ns ' + base:>14}{'ns ' + new:>14}"]
    for ev in sorted(set(b) | set(n), key=lambda e: -abs(n.get(e, 0) - b.get(e, 0)) * prof.costs[e]):
        cb, cn, price = b.get(ev, 0.0), n.get(ev, 0.0), prof.costs[ev]
        lines.append(f"{ev:<22}{cb:>12.3f}{cn:>12.3f}{price:>10.1f}{cb * price:>14.1f}{cn * price:>14.1f}")
    for ctx in ("none", "read", "write", "vma"):
        sb = prof.price(b_ctx.get(ctx, {}))
        sn = prof.price(n_ctx.get(ctx, {}))
        if sb or sn:
            lines.append(f"{'ns in ' + ctx:<56}{sb:>14.1f}{sn:>14.1f}")
    tb, tn = prof.price(b), prof.price(n)
    pct = (tb / tn - 1.0) * 100.0 if tn else float("nan")
    lines.append(f"{'ns per op':<56}{tb:>14.1f}{tn:>14.1f}")
    lines.append(f"one task's throughput, new vs base (CPU cost only): {pct:+.2f}%")
    return "\n".join(lines) + "\n"


def main(argv: Sequence[str] | None = None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    if len(args) not in (4, 5):
        print("usage: python -m maple.reproduce.explain WORKLOAD MODE BASE NEW [PROFILE]", file=sys.stderr)
        return 2
    try:
        sys.stdout.write(report(*args))
    except InputError as exc:
        print(f"explain: error: {exc}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

"""Text and CSV output of a :class:`~maple.reproduce.seed.Reproduction`.

CSV (``--format csv``): the header ``table,operation,published_pct,modeled_pct,agrees`` and one
line per published row. A percentage is a number (``-33.73``) or, for a range, ``low..high``
(``-44.16..-37.42``: the published range, or the lowest and highest modeled value over the
modeled task counts); ``nan`` when some modeled count has no defined mean. ``agrees`` is ``yes`` or ``no``
(:mod:`maple.reproduce.agreement`).
"""

from __future__ import annotations

import csv
import io

from maple.reproduce.seed import Reproduction, RowResult

CSV_HEADER = ("table", "operation", "published_pct", "modeled_pct", "agrees")


def _yes(r: RowResult) -> str:
    return "yes" if r.agrees else "no"


def _tasks(r: RowResult) -> str:
    if len(r.tasks) <= 1:
        return r.tasks_text()
    return f"{r.tasks[0]}..{r.tasks[-1]} ({len(r.tasks)})"


def machine_text(rep: Reproduction) -> str:
    s = rep.settings
    if s.clock != "model":
        return f"{s.clock} clock"
    cores = f"{s.cpus // s.smt} cores x {s.smt} SMT" if s.cpus and s.smt > 1 else "no SMT"
    return f"model clock, {s.cpus} CPUs ({cores})"


def to_csv(rep: Reproduction) -> str:
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(CSV_HEADER)
    for r in rep.results:
        w.writerow((r.row.table, r.row.operation, r.row.published_text(), r.modeled_text(), _yes(r)))
    return buf.getvalue()


def to_text(rep: Reproduction) -> str:
    s = rep.settings
    head = (
        f"seed thread rows: {rep.base} (base) vs {rep.new} (new); {machine_text(rep)}; "
        f"{s.samples} samples of {s.interval:g} s per cell\n"
        "percent: mmtests sign, positive is better; modeled lo..hi spans the modeled task counts\n"
    )
    cols = ("table", "operation", "tasks", "published", "modeled", "target", "agrees")
    body = [
        (r.row.table, r.row.operation, _tasks(r), r.row.published_text(), r.modeled_text(),
         r.target.describe(), _yes(r))
        for r in rep.results
    ]
    widths = [max(len(c), *(len(b[i]) for b in body)) if body else len(c) for i, c in enumerate(cols)]
    lines = ["  ".join(c.ljust(w) for c, w in zip(cols, widths)).rstrip()]
    lines += ["  ".join(v.ljust(w) for v, w in zip(b, widths)).rstrip() for b in body]
    tail = f"{rep.agreeing} of {len(rep.results)} rows agree\n"
    return head + "\n".join(lines) + "\n" + tail

"""Render a :class:`~maple.bench.compare.Comparison` as text, markdown, csv or json.

The text format reproduces ``compare-mmtests.pl``'s plain output byte for byte
(``Compare::_generateHeaderTable`` and ``PrintGeneric::printRow``), one table per benchmark
with no title line above it (compare-mmtests.pl prints none), tables separated by a blank line:

* two header rows: each column name split at its first ``-`` (``6.8.0-base`` -> ``6.8.0`` /
  ``base``; ``6.9-rc3-foo`` -> ``6.9-rc3`` / ``foo``; a name without ``-`` -> the name minus its
  last character / the whole name, a quirk of mmtests kept on purpose); the first cell is
  blank and ``L_stat + 1 + L_op`` wide, every column cell ``FL + 11`` wide, right-aligned;
* data rows ``%-{L_stat}s %-{L_op}s`` then, per column, ``%{FL}.2f`` and `` (%7.2f%%)``, or
  `` *%7.2f%%*`` when the headline-mean difference is significant. NaN prints as ``NaN``
  (Perl's spelling); an undefined value prints as ``0.00`` with ``0.00%``, as in mmtests.
"""

from __future__ import annotations

import csv
import io
import json
import math
import re

from maple.bench import stats
from maple.bench.compare import Comparison, Table

FORMATS = ("text", "markdown", "csv", "json")
PRECISION = 2


def split_name(name: str) -> tuple[str, str]:
    """mmtests' two header rows for a column name (see the module docstring)."""
    i = name.find("-")
    if i < 0:
        return name[:-1], name
    rc = re.match(r"-rc\d+(?=-|$)", name[i:])
    if rc:  # 6.9-rc3-foo: the release candidate stays on the top row, all its digits
        i += rc.end()
    return name[:i], name[i + 1 :]


def _perl_float(value: float, width: int, precision: int = PRECISION) -> str:
    """``%{width}.{precision}f`` as Perl prints it: ``NaN``, ``Inf`` and ``-Inf`` spelt out."""
    if math.isnan(value):
        return f"{'NaN':>{width}}"
    if math.isinf(value):
        return f"{'Inf' if value > 0 else '-Inf':>{width}}"
    return f"{value:{width}.{precision}f}"


def _shown(value: float) -> float:
    return 0.0 if math.isnan(value) else value


def text_table(table: Table, columns: list[str]) -> str:
    """One table in mmtests' plain-text layout (two header rows, then the data rows)."""
    fl = table.field_length
    l_stat = max(len(r.stat) for r in table.rows)
    l_op = max(len(r.operation.name) for r in table.rows)
    width = fl + 11
    heads = [split_name(c) for c in columns]
    lines = [
        f"{'':>{l_stat + 1 + l_op}}" + "".join(f"{h[0]:>{width}}" for h in heads),
        f"{'':>{l_stat + 1 + l_op}}" + "".join(f"{h[1]:>{width}}" for h in heads),
    ]
    for row in table.rows:
        parts = [f"{row.stat:<{l_stat}} {row.operation.name:<{l_op}}"]
        for cell in row.cells:
            parts.append(_perl_float(_shown(cell.value), fl))
            pct = _perl_float(cell.percent, 7)
            parts.append(f" *{pct}%*" if cell.significant else f" ({pct}%)")
        lines.append("".join(parts))
    return "\n".join(lines) + "\n"


def render_text(comparison: Comparison) -> str:
    """Every table as compare-mmtests.pl prints it (no title line), separated by blank lines."""
    names = comparison.column_names
    return "\n".join(text_table(t, names) for t in comparison.tables)


def _md_cell(value: float, percent: float, significant: bool | None) -> str:
    pct = "NaN" if math.isnan(percent) else f"{percent:.2f}"
    body = f"{_shown(value):.{PRECISION}f} ({pct}%)"
    return f"**{body}** \\*" if significant else body


def render_markdown(comparison: Comparison) -> str:
    """GitHub-flavoured tables for CI summaries; significant cells are bold and starred."""
    names = comparison.column_names
    out: list[str] = []
    for t in comparison.tables:
        out.append(f"### {t.title} ({t.unit})\n")
        out.append("| statistic | operation | " + " | ".join(names) + " |")
        out.append("|---|---|" + "---:|" * len(names))
        for row in t.rows:
            cells = [_md_cell(c.value, c.percent, c.significant) for c in row.cells]
            out.append(f"| {row.stat} | {row.operation.name} | " + " | ".join(cells) + " |")
        out.append("")
    why = stats.describe_rule(comparison.significance)
    out.append(
        f"Percentages are against `{names[0]}`; positive is better. "
        f"\\* significant headline mean ({comparison.significance}: {why})."
    )
    return "\n".join(out) + "\n"


def _json_num(v: float) -> float | None:
    return None if v is None or math.isnan(v) or math.isinf(v) else v


def _records(comparison: Comparison):
    names = comparison.column_names
    for t in comparison.tables:
        for row in t.rows:
            op = row.operation
            for name, cell in zip(names, row.cells):
                yield t, row, op, name, cell


CSV_COLUMNS = [
    "table", "statistic", "operation", "workload", "mode", "tasks", "metric",
    "column", "value", "percent", "significant", "score", "unit",
]


def render_csv(comparison: Comparison) -> str:
    """Tidy CSV, one line per (table, statistic, operation, column); NaN left empty."""
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(CSV_COLUMNS)

    def num(v: float) -> str:
        return "" if math.isnan(v) else repr(float(v))

    for t, row, op, name, cell in _records(comparison):
        sig = "" if cell.significant is None else str(bool(cell.significant)).lower()
        w.writerow([t.title, row.stat, op.name, op.workload, op.mode, op.tasks, op.metric,
                    name, num(cell.value), num(cell.percent), sig, num(cell.score), t.unit])
    return buf.getvalue()


def comparison_dict(comparison: Comparison) -> dict:
    """The comparison as plain data (NaN becomes None)."""
    return {
        "significance": comparison.significance,
        "significance_rule": stats.describe_rule(comparison.significance),
        "baseline": comparison.column_names[0],
        "columns": [
            {"name": c.name, "run": c.run.name, "path": str(c.run.path), "mm": c.mm}
            for c in comparison.columns
        ],
        "tables": [
            {
                "title": t.title,
                "kind": t.kind,
                "unit": t.unit,
                "higher_is_better": t.higher_is_better,
                "headline": t.headline,
                "rows": [
                    {
                        "statistic": row.stat,
                        "operation": row.operation.name,
                        "workload": row.operation.workload,
                        "mode": row.operation.mode,
                        "tasks": row.operation.tasks,
                        "metric": row.operation.metric,
                        "cells": [
                            {
                                "column": name,
                                "value": _json_num(cell.value),
                                "percent": _json_num(cell.percent),
                                "significant": cell.significant,
                                "score": _json_num(cell.score),
                            }
                            for name, cell in zip(comparison.column_names, row.cells)
                        ],
                    }
                    for row in t.rows
                ],
            }
            for t in comparison.tables
        ],
        "skipped": list(comparison.skipped),
    }


def render_json(comparison: Comparison) -> str:
    return json.dumps(comparison_dict(comparison), indent=2) + "\n"


def render(comparison: Comparison, fmt: str = "text") -> str:
    """Dispatch on ``fmt`` (one of :data:`FORMATS`)."""
    try:
        fn = {"text": render_text, "markdown": render_markdown, "csv": render_csv, "json": render_json}[fmt]
    except KeyError:
        raise ValueError(f"unknown format '{fmt}' (choose {', '.join(FORMATS)})") from None
    return fn(comparison)

"""A figure of published against modeled percentages, one line per published row.

Each row of the figure is one published row (labelled ``table: operation``): the published
figure in grey (a range as a bar from low to high, a single figure as a diamond), the
modeled value(s) as markers, green where the row agrees and red where it does not, and the
row's target interval as a light band. matplotlib is imported here only, on its Agg canvas;
the file is written under a temporary name and renamed into place.
"""

from __future__ import annotations

import math
import os
import tempfile
from pathlib import Path

from maple.reproduce.seed import Reproduction

_FINITE = 300.0  # where an open target interval is drawn to


def plot(rep: Reproduction, output: str | os.PathLike[str]) -> Path:
    """Write the figure to ``output`` (.png, .svg or .pdf; checked with
    :func:`maple.bench.plot.check_output`, ``InputError`` on a bad path) and return its path."""
    from maple.bench.plot import check_output

    out, fmt = check_output(output)
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    results = rep.results
    n = len(results)
    fig = Figure(figsize=(10, 1.6 + 0.24 * n))
    FigureCanvasAgg(fig)
    ax = fig.add_subplot(1, 1, 1)
    for y, r in enumerate(results):
        t = r.target
        lo = max(t.lo, -_FINITE) if not math.isinf(t.lo) else -_FINITE
        hi = min(t.hi, _FINITE) if not math.isinf(t.hi) else _FINITE
        if t.sign < 0:
            hi = min(hi, 0.0)
        elif t.sign > 0:
            lo = max(lo, 0.0)
        ax.barh(y, hi - lo, left=lo, height=0.8, color="#dde8f5", zorder=1)
        plo, phi = r.row.published_lo, r.row.published_hi
        if phi > plo:
            ax.barh(y, phi - plo, left=plo, height=0.45, color="#666666", zorder=2)
        else:
            ax.plot([plo], [y], "D", ms=5, color="#666666", zorder=2)
        vals = [v for v in r.modeled if not math.isnan(v)]
        colour = "#1a9641" if r.agrees else "#d7191c"
        if vals:
            ax.plot(vals, [y] * len(vals), "o", ms=4, color=colour, zorder=3)
        else:
            ax.text(0, y, "no modeled value", va="center", fontsize=7, color=colour)
    ax.axvline(0, color="black", lw=0.8)
    ax.set_yticks(range(n))
    ax.set_yticklabels([f"{r.row.table}: {r.row.operation}" for r in results], fontsize=7)
    ax.invert_yaxis()
    ax.set_xscale("symlog", linthresh=10)
    ax.set_xlabel("percent vs base (mmtests sign: positive is better; symlog axis)")
    ax.set_title(
        f"seed thread: published (grey) vs modeled ({rep.base} -> {rep.new}; green agrees, red misses;"
        f" blue band = target)", fontsize=9,
    )
    ax.grid(axis="x", alpha=0.3)
    fig.tight_layout()
    fd, tmp = tempfile.mkstemp(prefix=f".{out.name}.", suffix=f".{fmt}", dir=str(out.parent) or ".")
    os.fchmod(fd, 0o666 & ~_umask())  # what open() would give, not mkstemp's 0600
    os.close(fd)
    try:
        fig.savefig(tmp, format=fmt)
        os.replace(tmp, out)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise
    return out


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask

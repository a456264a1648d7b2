"""Figures for runs (``maplebench plot``): scaling curves and counters per op.

One figure, two parts:

* one panel per (workload, mode): will-it-scale throughput against tasks, one line per
  compared column (a run, or one mm of a run, named as in ``maplebench compare``), points at
  the Hmean with error bars of +- HStddev (mmtests' delta-method spread of the Hmean), task
  axis log-scaled (the task series are geometric-ish: 2, 5, 8, 12, 21, ...). Timed workloads
  (kernbench) get the same panel with elapsed time, Amean +- Stddev, lower is better.
* one bar panel per (workload, mode) with deterministic counters: each counter per op that is
  non-zero somewhere, one bar per column, averaged over the task counts of that workload
  and mode (processes-mode counters do not depend on the task count).

matplotlib is imported only here, lazily, on its Agg canvas (no display, no pyplot state).
The file is written through a temporary name and renamed, so a failed plot leaves nothing.
"""

from __future__ import annotations

import math
import os
import tempfile
from pathlib import Path
from typing import Iterable, Sequence

import numpy as np

from maple.bench import stats
from maple.bench.compare import Column, columns_for
from maple.bench.results import COUNTER_SUFFIX, Run
from maple.errors import InputError

FORMATS = ("png", "svg", "pdf")
NCOLS = 3


def check_output(path: str | os.PathLike[str]) -> tuple[Path, str]:
    """The output path and its format; ``InputError`` for an unknown extension or bad folder."""
    out = Path(path)
    fmt = out.suffix.lower().lstrip(".")
    if fmt not in FORMATS:
        raise InputError(f"plot output '{out}': unknown extension '{out.suffix}' (use .png, .svg or .pdf)")
    parent = out.parent if str(out.parent) else Path(".")
    if not parent.exists():
        raise InputError(f"plot output '{out}': folder '{parent}' does not exist")
    if not parent.is_dir():
        raise InputError(f"plot output '{out}': '{parent}' is not a folder")
    if out.exists() and out.is_dir():
        raise InputError(f"plot output '{out}' is a folder")
    try:  # a real probe: access() says yes to root on read-only and virtual file systems
        fd, probe = tempfile.mkstemp(prefix=f".{out.name}.", suffix=".probe", dir=parent)
        os.close(fd)
        os.unlink(probe)
    except OSError as exc:
        raise InputError(f"plot output '{out}': folder '{parent}' is not writable: {exc.strerror or exc}") from None
    return out, fmt


def _throughput_unit(columns: Sequence[Column]) -> str:
    """The throughput axis label: operations per second (of simulated time on the model clock)."""
    clocks = {col.run.clock for col in columns}
    if clocks == {"model"}:
        return "ops per simulated second (ops/s)"
    if "model" in clocks:
        return "ops/s (simulated and real seconds mixed)"
    return "operations per second (ops/s)"


def log_ticks(values: Iterable[int], most: int = 12) -> list[int]:
    """Task counts to label on a log axis: both ends, and no two closer than 1/(most-1) of it.

    mmtests' large-stride series (2, 5, 8, 12, 21, ..., 296, 320) crowds the top of a log axis,
    so labels are thinned by their log distance rather than by index.
    """
    vals = sorted({v for v in values if v > 0})
    if len(vals) <= 2:
        return vals
    gap = math.log(vals[-1] / vals[0]) / (most - 1) * 0.999
    out = [vals[0]]
    for v in vals[1:-1]:
        if math.log(v / out[-1]) >= gap and math.log(vals[-1] / v) >= gap:
            out.append(v)
    out.append(vals[-1])
    return out


def _panels(columns: Sequence[Column]):
    """(workload, mode, kind) in first-seen order over all columns."""
    seen: dict[tuple[str, str, str], None] = {}
    for col in columns:
        df = col.samples()
        for (wl, mode), cell in df.groupby(["workload", "mode"], sort=False):
            loop = "ops" in cell.columns and cell["ops"].notna().any()
            timed = "elsp" in cell.columns and cell["elsp"].notna().any()
            if loop or timed:
                seen.setdefault((str(wl), str(mode), "loop" if loop else "timed"), None)
    return list(seen)


def _curve(col: Column, workload: str, mode: str, kind: str):
    df = col.samples()
    df = df[(df["workload"] == workload) & (df["mode"] == mode)]
    xs, ys, es = [], [], []
    for tasks, cell in sorted(df.groupby("tasks"), key=lambda kv: int(kv[0])):
        if kind == "loop":
            y, e = stats.hmean(cell["ops"]), stats.hstddev(cell["ops"])
        else:
            y, e = stats.amean(cell["elsp"]), stats.stddev(cell["elsp"])
        if math.isnan(y):
            continue
        xs.append(int(tasks))
        ys.append(y)
        es.append(0.0 if math.isnan(e) else e)
    return xs, ys, es


def _counter_groups(columns: Sequence[Column]) -> list[tuple[str, str, list[str]]]:
    """(workload, mode, counters) with the counters that are non-zero in some column."""
    found: dict[tuple[str, str], dict[str, None]] = {}
    for col in columns:
        df = col.samples()
        names = [c for c in df.columns if c.endswith(COUNTER_SUFFIX)]
        if not names:
            continue
        for (wl, mode), cell in df.groupby(["workload", "mode"], sort=False):
            group = found.setdefault((str(wl), str(mode)), {})
            for c in names:
                vals = cell[c].dropna()
                if len(vals) and (vals != 0).any():
                    group.setdefault(c, None)
    return [(wl, mode, list(names)) for (wl, mode), names in found.items() if names]


def _counter_means(col: Column) -> dict[tuple[str, str], dict[str, float]]:
    """Per (workload, mode): each counter per op, averaged over the cell's task counts."""
    df = col.samples()
    names = [c for c in df.columns if c.endswith(COUNTER_SUFFIX)]
    if not names or df.empty:
        return {}
    per_cell = df.groupby(["workload", "mode", "tasks"], sort=False)[names].mean()
    per_group = per_cell.groupby(level=["workload", "mode"], sort=False).mean()
    return {(str(wl), str(mode)): row.to_dict() for (wl, mode), row in per_group.iterrows()}


def plot_runs(runs: Sequence[Run], output: str | os.PathLike[str]) -> Path:
    """Draw the figure for ``runs`` into ``output`` (.png, .svg or .pdf); return its path."""
    out, fmt = check_output(output)
    from matplotlib.figure import Figure
    from matplotlib.ticker import NullFormatter, ScalarFormatter

    columns = columns_for(runs)
    panels = _panels(columns)
    counter_groups = _counter_groups(columns)
    if not panels and not counter_groups:
        raise InputError("nothing to plot: the results hold no samples")
    ncols = max(1, min(NCOLS, max(len(panels), len(counter_groups))))
    rows_a = math.ceil(len(panels) / ncols)
    rows_b = math.ceil(len(counter_groups) / ncols)
    most = max((len(g[2]) for g in counter_groups), default=0)
    h_a, h_b = 3.9, max(3.0, 0.2 * most * max(1, len(columns)) + 1.2)
    fig = Figure(figsize=(5.4 * ncols, h_a * rows_a + h_b * rows_b), layout="constrained")
    grid = fig.add_gridspec(rows_a + rows_b, ncols, height_ratios=[h_a] * rows_a + [h_b] * rows_b)
    fig.suptitle("maplebench: " + ", ".join(r.name for r in runs), fontsize=13)

    for i, (wl, mode, kind) in enumerate(panels):
        ax = fig.add_subplot(grid[i // ncols, i % ncols])
        all_x: set[int] = set()
        for col in columns:
            xs, ys, es = _curve(col, wl, mode, kind)
            if xs:
                ax.errorbar(xs, ys, yerr=es, marker="o", markersize=4, capsize=3, label=col.name)
                all_x.update(xs)
        ax.set_xscale("log")
        if all_x:
            ax.set_xticks(log_ticks(all_x))
            ax.xaxis.set_major_formatter(ScalarFormatter())
            ax.xaxis.set_minor_formatter(NullFormatter())
        ax.set_xlabel("tasks")
        if kind == "loop":
            ax.set_title(f"{wl} ({mode}): throughput")
            ax.set_ylabel(f"{_throughput_unit(columns)}, higher is better\n(Hmean ± HStddev)")
        else:
            ax.set_title(f"{wl} ({mode}): elapsed time")
            ax.set_ylabel("elapsed seconds, lower is better\n(Amean ± Stddev)")
        ax.ticklabel_format(axis="y", style="sci", scilimits=(-3, 5))
        ax.grid(True, which="major", alpha=0.3)
        ax.legend(fontsize=8)

    height = 0.8 / max(1, len(columns))
    means = [_counter_means(col) for col in columns]
    for j, (wl, mode, names) in enumerate(counter_groups):
        ax = fig.add_subplot(grid[rows_a + j // ncols, j % ncols])
        y = np.arange(len(names))
        values = []
        for k, col in enumerate(columns):
            got = means[k].get((wl, mode), {})
            v = [float(got.get(c, math.nan)) for c in names]
            values.extend(val for val in v if not math.isnan(val))
            ax.barh(y + (k - (len(columns) - 1) / 2) * height, v, height, label=col.name)
        ax.set_yticks(y, [c[: -len(COUNTER_SUFFIX)] for c in names], fontsize=8)
        ax.invert_yaxis()  # first counter on top
        positive = [v for v in values if v > 0]
        if positive and max(positive) / min(positive) > 100:
            ax.set_xscale("log")
        ax.set_title(f"{wl} ({mode}): counters per op")
        ax.set_xlabel("count per op, lower is better (mean over task counts)")
        ax.grid(True, axis="x", alpha=0.3)
        ax.legend(fontsize=8)

    try:
        fd, tmp = tempfile.mkstemp(prefix=f".{out.name}.", suffix=f".{fmt}", dir=out.parent if str(out.parent) else ".")
    except OSError as exc:
        raise InputError(f"plot output '{out}' could not be written: {exc.strerror or exc}") from None
    os.close(fd)
    try:
        fig.savefig(tmp, format=fmt, dpi=110)
        os.chmod(tmp, 0o644)
        os.replace(tmp, out)
    except OSError as exc:
        raise InputError(f"plot output '{out}' could not be written: {exc.strerror or exc}") from None
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)
    return out

"""The regression gate: does a run fall behind a baseline run? (``maplebench gate``)

Two independent checks, each per mm present in both runs (maple against maple, legacy
against legacy), over the operations both runs hold:

* **headline means** (Hmean of will-it-scale throughput, Amean of kernbench times): a
  regression is a change worse than ``threshold`` percent *and* significant by the chosen
  rule (the same rule and verdict as the stars of ``maplebench compare``). Noise alone cannot
  fail the gate, and a significant but tiny change does not either. A current Hmean that is
  undefined (an interval with 0 ops: a stall) where the baseline's was defined regresses too.
* **deterministic counters per op** (``<counter>_per_op``): exact numbers, so no statistics;
  a regression is growth of more than ``threshold`` percent (any growth from 0 counts).

``--only counters`` keeps just the second check, for CI on noisy shared machines: the counters
do not depend on timing, so a change that makes the tree touch more nodes fails reliably.

**Coverage.** A gate checks every cell (workload, mm, mode, tasks) of both runs. A cell that is
in one run only cannot be gated: it is named (``GateResult.uncovered``) and fails the gate
unless ``allow_partial`` accepts it. Throughput is only gated between runs whose seconds mean
the same thing (both real time, or both the model clock): otherwise ``InputError``.
"""

from __future__ import annotations

import math
import os
import shutil
import uuid
from dataclasses import dataclass, field
from pathlib import Path

from maple.bench import stats
from maple.bench.compare import COUNTERS_TITLE, Column, NoCommonOperations, Table, compare_columns
from maple.bench.results import Run, load_run, read_meta, replace_folder
from maple.errors import InputError

DEFAULT_THRESHOLD = 5.0
ONLY = ("counters", "throughput")


def parse_threshold(text: str | float) -> float:
    """A threshold in percent: a finite number >= 0, optionally written with a ``%``."""
    raw = str(text).strip()
    try:
        value = float(raw[:-1] if raw.endswith("%") else raw)
    except ValueError:
        raise InputError(f"--threshold '{text}' is not a number of percent (e.g. 5 or 2.5%)") from None
    if not math.isfinite(value) or value < 0:
        raise InputError(f"--threshold '{text}' must be a finite percentage >= 0")
    return value


@dataclass(frozen=True, slots=True)
class Finding:
    """One compared quantity: where it is, both values, the change and the verdict."""

    mm: str
    table: str
    statistic: str
    operation: str
    baseline: float
    current: float
    change: float  # percent, positive is better (pdiff / pndiff), or counter growth negated
    significant: bool | None
    score: float
    regressed: bool


@dataclass(slots=True)
class GateResult:
    threshold: float
    significance: str
    findings: list[Finding] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)
    #: cells in one run only, e.g. ``brk1 legacy processes 2 (baseline only)``
    uncovered: list[str] = field(default_factory=list)
    allow_partial: bool = False

    @property
    def regressions(self) -> list[Finding]:
        return [f for f in self.findings if f.regressed]

    @property
    def partial(self) -> bool:
        """Some cells were not gated and that was not accepted."""
        return bool(self.uncovered) and not self.allow_partial

    @property
    def failed(self) -> bool:
        return bool(self.regressions) or self.partial


def counter_growth(base: float, cur: float) -> float:
    """Percent growth of a counter; ``inf`` from 0 to anything positive."""
    if cur == base:
        return 0.0
    if base == 0:
        return math.inf if cur > 0 else -math.inf
    return (cur - base) * 100.0 / abs(base)


def _mean_findings(mm: str, table: Table, threshold: float) -> list[Finding]:
    out = []
    for row in table.rows:
        base, cur = row.cells
        if math.isnan(cur.value) and not math.isnan(base.value):
            # The Hmean is undefined: a sample of 0 ops, a stalled interval. A table prints it
            # as 0.00 unstarred, as mmtests does; a gate must not let it pass.
            out.append(Finding(mm, table.title, row.stat, row.operation.name, base.value, cur.value,
                               stats.NAN, False, stats.NAN, True))
            continue
        regressed = bool(cur.significant) and cur.percent < -threshold
        out.append(Finding(mm, table.title, row.stat, row.operation.name, base.value, cur.value,
                           cur.percent, cur.significant, cur.score, regressed))
    return out


def _counter_findings(mm: str, table: Table, threshold: float) -> list[Finding]:
    out = []
    for row in table.rows:
        base, cur = row.cells
        growth = counter_growth(base.value, cur.value)
        out.append(Finding(mm, table.title, row.stat, row.operation.name, base.value, cur.value,
                           -growth, None, stats.NAN, growth > threshold))
    return out


def gate(
    baseline: Run,
    current: Run,
    *,
    threshold: float = DEFAULT_THRESHOLD,
    significance: str = "ttest",
    only: str | None = None,
    allow_partial: bool = False,
) -> GateResult:
    """Compare ``current`` against ``baseline``; see the module docstring for the rules.

    Raises ``InputError`` when the runs share no mm or no operation, or when throughput would
    be gated between runs on different clocks (model vs real seconds).
    """
    stats.check_rule(significance)
    if only is not None and only not in ONLY:
        raise InputError(f"--only '{only}' (choose {', '.join(ONLY)})")
    if only != "counters" and baseline.clock != current.clock:
        raise InputError(
            f"baseline '{baseline.path}' ({baseline.clock} clock) and current '{current.path}' "
            f"({current.clock} clock) measure throughput in different seconds; gate them with --only counters"
        )
    result = GateResult(threshold, significance, allow_partial=allow_partial)
    base_mms = list(dict.fromkeys(str(m) for m in baseline.samples["mm"].dropna()))
    cur_mms = {str(m) for m in current.samples["mm"].dropna()}
    pairs = [(m, m) for m in base_mms if m in cur_mms]
    one_b, one_c = baseline.meta.get("columns") or [], current.meta.get("columns") or []
    if not pairs and len(one_b) == 1 and len(one_c) == 1:
        pairs = [(str(one_b[0]), str(one_c[0]))]  # one mmtests / will-it-scale run against another
    if not pairs:
        raise InputError(f"baseline '{baseline.path}' and current '{current.path}' have no mm in common")
    result.uncovered = uncovered_cells(baseline, current, dict(pairs))
    compared = 0
    for bmm, mm in pairs:
        columns = [Column(f"baseline-{bmm}", baseline, bmm), Column(f"current-{mm}", current, mm)]
        try:
            comparison = compare_columns(columns, significance=significance, stat_names=["mean"],
                                         counters=only != "throughput")
        except NoCommonOperations:  # this mm has nothing to compare; others may
            continue
        compared += 1
        result.skipped.extend(f"{mm} {s}" for s in comparison.skipped)
        for table in comparison.tables:
            if table.kind == "counters":
                result.findings.extend(_counter_findings(mm, table, threshold))
            elif only != "counters":
                result.findings.extend(_mean_findings(mm, table, threshold))
    if not compared or not result.findings:
        what = "counter" if only == "counters" else "operation"
        raise InputError(f"baseline '{baseline.path}' and current '{current.path}' have no {what} in common")
    return result


def _cells(run: Run) -> list[tuple[str, str, str, int]]:
    df = run.samples
    if df.empty:
        return []
    keys = df[["workload", "mm", "mode", "tasks"]].drop_duplicates()
    return [(str(w), str(m), str(p), int(t)) for w, m, p, t in keys.itertuples(index=False)]


def uncovered_cells(baseline: Run, current: Run, pairs: dict[str, str] | None = None) -> list[str]:
    """Cells (``workload mm mode tasks``) that only one of the runs holds, so cannot be gated.

    ``pairs`` maps a baseline mm to the current mm it is gated against (default: the same
    name; one mmtests run against another pairs their run names)."""
    pairs = pairs or {}
    base, cur = _cells(baseline), _cells(current)
    base_keys = {(w, pairs.get(m, m), p, t) for w, m, p, t in base}  # in the current run's names
    cur_keys = set(cur)
    return ([f"{' '.join(map(str, k))} (baseline only)" for k in base
             if (k[0], pairs.get(k[1], k[1]), k[2], k[3]) not in cur_keys]
            + [f"{' '.join(map(str, k))} (current only)" for k in cur if k not in base_keys])


def _coverage_line(result: GateResult, most: int = 6) -> str:
    cells = result.uncovered
    shown = ", ".join(cells[:most]) + (f" and {len(cells) - most} more" if len(cells) > most else "")
    if result.allow_partial:
        return f"gate: note: {len(cells)} cell(s) not in both runs were not gated (--allow-partial): {shown}\n"
    return (f"gate: FAIL: {len(cells)} cell(s) not in both runs, so not gated: {shown} "
            f"(--allow-partial accepts a partial gate)\n")


def _num(v: float) -> str:
    if math.isnan(v):
        return "NaN"
    if math.isinf(v):
        return "Inf" if v > 0 else "-Inf"
    return f"{v:.2f}"


def format_findings(findings: list[Finding]) -> str:
    """An aligned text table of findings (what regressed, for the gate's report)."""
    head = ["mm", "table", "statistic", "operation", "baseline", "current", "change", "test"]
    rows = []
    for f in findings:
        if f.significant is None:
            test = "exact"
        elif math.isnan(f.current):
            test = "undefined mean (a sample <= 0)"
        else:
            test = "significant" if f.significant else "not significant"
        if f.significant is not None and not math.isnan(f.score):
            test += f" ({f.score:.3g})"
        rows.append([f.mm, f.table, f.statistic, f.operation, _num(f.baseline), _num(f.current),
                     f"{_num(f.change)}%", test])
    widths = [max(len(r[i]) for r in [head, *rows]) for i in range(len(head))]
    right = {4, 5, 6}
    lines = []
    for r in [head, *rows]:
        cells = [c.rjust(w) if i in right else c.ljust(w) for i, (c, w) in enumerate(zip(r, widths))]
        lines.append("  ".join(cells).rstrip())
    return "\n".join(lines) + "\n"


def report(result: GateResult) -> str:
    """The gate's printed verdict: the regressions as a table, or one OK line."""
    means = sum(1 for f in result.findings if f.table != COUNTERS_TITLE)
    counters = len(result.findings) - means
    checked = f"{means} headline mean(s) and {counters} counter(s) checked"
    cover = _coverage_line(result) if result.uncovered else ""
    regs = result.regressions
    if not result.failed:
        return (f"gate: OK: no regression beyond {result.threshold:g}% "
                f"({checked}; significance {result.significance})\n") + cover
    if not regs:  # only the coverage fails
        return cover + (f"no regression beyond {result.threshold:g}% in the cells gated "
                        f"({checked}; significance {result.significance})\n")
    return (f"gate: FAIL: {len(regs)} regression(s) beyond {result.threshold:g}% "
            f"({checked}; significance {result.significance}; change: positive is better)\n"
            + format_findings(regs) + cover)


def report_markdown(result: GateResult) -> str:
    """The verdict as markdown (for CI job summaries): a heading line and a table."""
    regs = result.regressions
    verdict = "FAIL" if result.failed else "OK"
    lines = [f"**gate: {verdict}**: {len(regs)} regression(s) beyond {result.threshold:g}% "
             f"({len(result.findings)} quantities checked; significance {result.significance})", ""]
    if result.uncovered:
        lines += [_coverage_line(result).rstrip("\n"), ""]
    if regs:
        lines.append("| mm | table | statistic | operation | baseline | current | change | test |")
        lines.append("|---|---|---|---|---:|---:|---:|---|")
        for f in regs:
            test = "exact" if f.significant is None else f"p/ratio {f.score:.3g}"
            lines.append(f"| {f.mm} | {f.table} | {f.statistic} | {f.operation} | {_num(f.baseline)} | "
                         f"{_num(f.current)} | {_num(f.change)}% | {test} |")
    return "\n".join(lines) + "\n"


# --------------------------------------------------------------------------- --update


def is_run_folder(path: Path) -> bool:
    """True if ``path`` holds a maplebench run (a meta.json with a status)."""
    return read_meta(Path(path)) is not None


def update_baseline(current: str | os.PathLike[str], baseline: str | os.PathLike[str]) -> Path:
    """Copy the complete run ``current`` into ``baseline``, replacing a run that is there.

    The copy is built in a hidden sibling folder and put in place by ``replace_folder`` (one
    swap with the old baseline, which is then removed), so an interruption never leaves a
    half-copied baseline. Refuses (InputError) to replace a file or a non-empty folder that is
    not a run.
    """
    cur = load_run(current)
    src, dst = Path(cur.path), Path(baseline)
    if dst.exists():
        if not dst.is_dir():
            raise InputError(f"--baseline '{dst}' is a file, not a run folder; refusing to overwrite it")
        if any(dst.iterdir()) and not is_run_folder(dst):
            raise InputError(f"--baseline '{dst}' is a folder that is not a maplebench run; refusing to overwrite it")
        if dst.resolve() == src.resolve():
            raise InputError(f"--baseline '{dst}' and --current are the same folder")
    parent = dst.parent
    try:
        parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise InputError(f"--baseline '{dst}': cannot create '{parent}': {exc.strerror}") from None
    tag = uuid.uuid4().hex[:8]
    tmp = parent / f".{dst.name}.new-{tag}"
    try:
        tmp.mkdir(mode=0o755)
        for item in sorted(src.iterdir()):
            if item.name.startswith("."):  # in-flight temporary files of a writer
                continue
            if item.is_dir():
                shutil.copytree(item, tmp / item.name)
            else:
                shutil.copy2(item, tmp / item.name)
        replace_folder(tmp, dst)
    except OSError as exc:
        shutil.rmtree(tmp, ignore_errors=True)
        raise InputError(f"--baseline '{dst}' could not be written: {exc.strerror or exc}") from None
    finally:
        if tmp.exists():
            shutil.rmtree(tmp, ignore_errors=True)
    return dst

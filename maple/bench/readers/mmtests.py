"""Read an mmtests results tree: will-it-scale (``wis-*``) and kernbench, old and current layouts.

What compare-mmtests.pl reads (gormanm/mmtests ``bin/compare-mmtests.pl``: for each run name,
``<results>/<run>/iter-*/<benchmark>/logs``, the samples of every ``iter-N`` pooled):

* **will-it-scale, before 2025-12-30** (``ExtractWiscommon.pm`` up to 688a7f58; written by
  ``shellpack_src/src/wis/wis-bench``): ``logs/workloads`` and ``logs/models`` (comma lists),
  and ``logs/wis-<workload>-<model>-<N>.log``, will-it-scale's stdout with its first 8 lines
  (testcase, warmup and 6 warm-up samples) deleted. Every ``min:A max:B total:C`` line is one
  sample, ``C`` the all-task operations of one ~1 s interval; ``average:`` is ignored.
  Operations ``<workload>-<model>-<N>``, ordered model, then workload, then N.
* **will-it-scale, current** (688a7f58 on): ``logs/benchlog-<workload>_<model>-<N>``, same
  content; the ``total:`` value of each line is a sample. Read under the old operation names.
* **kernbench, before 2025-12-22** (``ExtractKernbench.pm`` up to e6721e28):
  ``logs/kernbench-<N>-<iter>.time`` (optionally ``.gz`` / ``.xz``), GNU time output; each
  line holding ``elapsed`` gives ``user-N``, ``syst-N`` and ``elsp-N`` samples
  (``Extract::parse_time_all``, ``_time_to_user/_sys/_elapsed``: fields ``[[h:]m:]s`` with
  Perl's leading-number conversion).
* **kernbench, current**: ``logs/time-<N>-<iter>``, the same GNU time output.

Runs are ordered as ``compare-kernels.sh`` lists them (``run_results`` in
``shellpacks/common.sh``): by the time stamp of the ``run-mmtests: Start`` line of their
``tests-activity`` / ``mmtests-activity`` file, runs without one last by name.
"""

from __future__ import annotations

import gzip
import lzma
import re
from dataclasses import dataclass, field
from pathlib import Path

from maple.errors import InputError

#: One sample line of will-it-scale's main.c (the regex ExtractWiscommon.pm matches).
WIS_LINE = re.compile(r"^min:([0-9]+) max:([0-9]+) total:([0-9]+)")
KERNBENCH = "kernbench"
KNOWN = "will-it-scale (wis-*) or kernbench"
_PERL_NUM = re.compile(r"^\s*[-+]?(?:\d+\.?\d*(?:[eE][-+]?\d+)?|\.\d+(?:[eE][-+]?\d+)?)")


def perl_number(text: str) -> float:
    """The number Perl sees in ``text`` (its leading numeric part; 0 if none)."""
    m = _PERL_NUM.match(text)
    return float(m.group(0)) if m else 0.0


def _hms(field_text: str, elapsed: bool) -> float:
    """``Extract::_time_to_*``: ``s``, ``m:s`` or ``h:m:s``.

    The elapsed field is always read as ``m:s`` or ``h:m:s`` (a bare number there is taken as
    hours, as mmtests does); user and system accept a bare number of seconds.
    """
    parts = field_text.split(":")
    if len(parts) == 1 and not elapsed:
        h, m, s = 0.0, 0.0, perl_number(parts[0])
    elif len(parts) == 2:
        h, m, s = 0.0, perl_number(parts[0]), perl_number(parts[1])
    else:
        padded = parts + ["", ""]
        h, m, s = (perl_number(p) for p in padded[:3])
    return h * 3600 + m * 60 + s


def parse_time_line(line: str) -> tuple[float, float, float] | None:
    """(user, system, elapsed) seconds from a GNU time line, None unless it says ``elapsed``."""
    if "elapsed" not in line:
        return None
    fields = re.split(r"\s", line) + ["", "", ""]
    return _hms(fields[0], False), _hms(fields[1], False), _hms(fields[2], True)


def _read_log(path: Path) -> str:
    """A log file, or its ``.gz`` / ``.xz`` form (``Extract::open_log``)."""
    base = Path(re.sub(r"\.(gz|xz)$", "", str(path)))
    try:
        if Path(f"{base}.gz").exists():
            return gzip.decompress(Path(f"{base}.gz").read_bytes()).decode("utf-8", "replace")
        if Path(f"{base}.xz").exists():
            return lzma.decompress(Path(f"{base}.xz").read_bytes()).decode("utf-8", "replace")
        return base.read_text(encoding="utf-8", errors="replace")
    except (OSError, EOFError, lzma.LZMAError) as exc:
        raise InputError(f"mmtests log '{path}' is unreadable: {exc}") from None


@dataclass
class Rows:
    """Sample rows in first-seen order, the way mmtests' ``addData`` sees them."""

    rows: list[dict] = field(default_factory=list)

    def wis(self, run: str, bench: str, it: int, wl: str, model: str, n: int, text: str) -> int:
        count = 0
        for line in text.splitlines():
            m = WIS_LINE.match(line)
            if m:
                count += 1
                self.rows.append({"workload": wl, "mm": run, "mode": model, "tasks": n,
                                  "sample": count, "ops": float(m.group(3)), "min": float(m.group(1)),
                                  "max": float(m.group(2)), "benchmark": bench, "iteration": it})
        return count

    def times(self, run: str, it: int, jobs: int, sample: int, text: str) -> None:
        for line in text.splitlines():
            t = parse_time_line(line)
            if t is not None:
                self.rows.append({"workload": KERNBENCH, "mm": run, "mode": "processes", "tasks": jobs,
                                  "sample": sample, "user": t[0], "syst": t[1], "elsp": t[2],
                                  "benchmark": KERNBENCH, "iteration": it})


def _comma_list(path: Path) -> list[str] | None:
    try:
        text = path.read_text()
    except OSError:
        return None
    return [w.strip() for w in text.split(",") if w.strip()]


def _int_sorted(values) -> list[int]:
    return sorted({int(v) for v in values})


def _read_wis(rows: Rows, run: str, bench: str, it: int, logs: Path) -> bool:
    old = {}
    for p in logs.glob("wis-*.log"):
        m = re.match(r"^wis-(.+)-(\w+?)-(\d+)\.log$", p.name)
        if m:
            old[(m.group(1), m.group(2), int(m.group(3)))] = p
    new = {}
    for p in logs.glob("benchlog-*"):
        m = re.match(r"^benchlog-(.+)_([^_-]+)-(\d+)$", p.name)
        if m:
            new[(m.group(1), m.group(2), int(m.group(3)))] = p
    files = old or new
    if not files:
        return False
    workloads = _comma_list(logs / "workloads") or sorted({k[0] for k in files})
    models = _comma_list(logs / "models") or [m for m in ("processes", "threads") if any(k[1] == m for k in files)]
    if old:
        # ExtractWiscommon: thread counts are the union over every workload's files, and a
        # missing (model, workload, N) file makes the module fail.
        threads = _int_sorted(k[2] for k in files if k[0] in workloads)
        for model in models:
            for wl in workloads:
                for n in threads:
                    path = files.get((wl, model, n))
                    if path is None:
                        raise InputError(f"mmtests log '{logs / f'wis-{wl}-{model}-{n}.log'}' is missing "
                                         f"(its run has other thread counts for {wl})")
                    rows.wis(run, bench, it, wl, model, n, _read_log(path))
    else:
        for model in models:
            for wl in workloads:
                for n in _int_sorted(k[2] for k in files if k[:2] == (wl, model)):
                    rows.wis(run, bench, it, wl, model, n, _read_log(files[(wl, model, n)]))
    return True


def _read_kernbench(rows: Rows, run: str, it: int, logs: Path) -> bool:
    found: dict[int, list[tuple[str, Path]]] = {}
    for p in logs.iterdir():
        m = re.match(r"^kernbench-(\d+)-(\d+)\.time(?:\.gz|\.xz)?$", p.name) or re.match(
            r"^time-(\d+)-(\d+)(?:\.gz|\.xz)?$", p.name)
        if m:
            found.setdefault(int(m.group(1)), []).append((p.name, p))
    if not found:
        return False
    for jobs in sorted(found):
        # Perl's glob order (lexical); each file is one iteration
        for sample, (_, path) in enumerate(sorted(found[jobs]), start=1):
            rows.times(run, it, jobs, sample, _read_log(path))
    return True


def is_run_dir(path: Path) -> bool:
    """True for ``<results>/<run>``: a folder with ``iter-N`` folders."""
    return path.is_dir() and any(p.is_dir() and re.fullmatch(r"iter-\d+", p.name) for p in path.iterdir())


def is_results_dir(path: Path) -> bool:
    """True for ``<results>``: a folder whose sub-folders are mmtests runs."""
    return path.is_dir() and any(is_run_dir(p) for p in path.iterdir() if p.is_dir())


def _start_time(run: Path) -> float | None:
    for name in ("tests-activity", "mmtests-activity"):
        for f in sorted([run / name, *run.glob(f"iter-*/{name}")]):
            try:
                for line in f.read_text(errors="replace").splitlines():
                    if "run-mmtests: Start" in line:
                        return perl_number(line)
            except OSError:
                continue
    return None


def run_order(results: Path) -> list[Path]:
    """Run folders in compare-kernels.sh's order (start time stamp, then name)."""
    runs = [p for p in results.iterdir() if is_run_dir(p)]
    return sorted(runs, key=lambda p: (_start_time(p) is None, _start_time(p) or 0.0, p.name))


def read_run(run: Path, rows: Rows) -> list[str]:
    """Append one run's samples to ``rows``; return the benchmarks read."""
    benches: dict[str, None] = {}
    iters = sorted(p for p in run.iterdir() if p.is_dir() and re.fullmatch(r"iter-\d+", p.name))
    for it_dir in iters:  # Perl's glob order (lexical), as compare-mmtests.pl
        it = int(it_dir.name[5:])
        for bench_dir in sorted(p for p in it_dir.iterdir() if p.is_dir()):
            logs = bench_dir / "logs"
            if not logs.is_dir():
                continue
            name = bench_dir.name
            if name.startswith("wis-") and _read_wis(rows, run.name, name, it, logs):
                benches.setdefault(name, None)
            elif name == KERNBENCH and _read_kernbench(rows, run.name, it, logs):
                benches.setdefault(name, None)
    return list(benches)


def read_results(path: Path) -> tuple[list[str], list[dict], list[str]]:
    """(run names in column order, sample rows, benchmarks) for a run or a results folder.

    Raises ``InputError`` when no run holds will-it-scale or kernbench logs.
    """
    runs = [path] if is_run_dir(path) else run_order(path)
    rows = Rows()
    benches: dict[str, None] = {}
    names = []
    for run in runs:
        got = read_run(run, rows)
        if got:
            names.append(run.name)
            benches.update(dict.fromkeys(got))
    if not rows.rows:
        raise InputError(f"mmtests results '{path}' hold no {KNOWN} logs "
                         f"(looked for iter-N/<benchmark>/logs/wis-*.log, benchlog-*, "
                         f"kernbench-N-I.time or time-N-I)")
    return names, rows.rows, list(benches)

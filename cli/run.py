"""``maplebench run``: a thin click layer over ``maple.bench.runner``."""

from __future__ import annotations

import signal
import sys
import time
from pathlib import Path
from typing import Any

import click

from maple.bench import results, runner, spec, sysinfo
from maple.errors import InputError

#: Defaults (will-it-scale's runtest.py and mmtests' WIS config where they fit two minutes).
SAMPLES = 5
WARMUP, INTERVAL = runner.DEFAULT_TIMES["wall"]
#: --quick: a few-second smoke run.
QUICK = {"procs": "2", "samples": 3, "warmup": 0.2, "interval": 0.1}
#: under the model clock the interval and warm-up are virtual seconds: a threads-mode window
#: costs real time in proportion to the calls it holds (docs/clock.md)
MODEL_WARMUP, MODEL_INTERVAL = runner.DEFAULT_TIMES["model"]
MODEL_QUICK = {"warmup": 0.0005, "interval": 0.0005}
#: A run whose sampling is estimated to take longer than this gets a warning first (seconds).
LONG_RUN = 10 * 60.0

_NCPU = sysinfo.cpu_count()
_DEFAULT_PROCS = spec.default_procs(_NCPU)


def _split(option: str, value: str) -> list[str]:
    items = [v.strip() for v in value.split(",") if v.strip()]
    if not items:
        raise InputError(f"{option} '{value}': empty list")
    seen: dict[str, None] = {}
    for item in items:
        seen.setdefault(item, None)
    return list(seen)


def _run_name(workloads: list[str]) -> str:
    stamp = time.strftime("%Y%m%d-%H%M%S", time.localtime())
    return f"{'+'.join(workloads)}-{stamp}"


def _folder(out: str, name: str | None, workloads: list[str]) -> tuple[Path, str]:
    """The run folder: OUT/NAME; OUT itself when it already is a run folder and no --name."""
    if name is None and (Path(out) / results.META).is_file():
        return Path(out), Path(out).resolve().name
    if name is not None:
        if not name or name in (".", "..") or "/" in name or "\0" in name:
            raise InputError(f"--name '{name}': not a usable folder name")
        return Path(out) / name, name
    base = _run_name(workloads)
    folder, n = Path(out) / base, 1
    while folder.exists():  # two auto-named runs in one second get distinct folders
        n += 1
        folder = Path(out) / f"{base}-{n}"
    return folder, folder.name


def _argv(ctx: click.Context, workloads: tuple[str, ...]) -> list[str]:
    """The command line: the process's own when it is ``maplebench run ...``, else rebuilt
    from the options given on the command line (when called as ``main([...])``)."""
    if sys.argv[1:2] == ["run"]:
        return ["maplebench", *sys.argv[1:]]
    from click.core import ParameterSource

    argv = ["maplebench", "run", *workloads]
    for param in ctx.command.params:
        if not isinstance(param, click.Option) or param.name is None:
            continue
        if ctx.get_parameter_source(param.name) != ParameterSource.COMMANDLINE:
            continue
        value = ctx.params[param.name]
        if param.is_flag:
            argv.append(param.opts[0])
        else:
            argv += [param.opts[0], str(value)]
    return argv


class _Terminated(KeyboardInterrupt):
    """SIGTERM, handled like Ctrl-C: stop and save the run as interrupted."""


def _on_sigterm(signum: int, frame: Any) -> None:
    raise _Terminated()


@click.command(
    "run",
    epilog=(
        f"Defaults: --procs {_DEFAULT_PROCS} (mmtests' 2..2*CPUs; {_NCPU} CPUs here), "
        f"--samples {SAMPLES} (will-it-scale's runtest.py). --quick: --procs 2 --samples 3 and "
        "shorter windows (options given explicitly still win).\n\n"
        f"Under --clock model (the default) --interval and --warmup are virtual seconds "
        f"(defaults {MODEL_INTERVAL:g} and {MODEL_WARMUP:g}; --quick: {MODEL_QUICK['interval']:g} "
        f"and {MODEL_QUICK['warmup']:g}; `maplebench run brk1` takes about a second) and "
        "throughput is simulated kernel time on --cpus "
        "modeled CPUs: threads mode is not GIL-bound there, its tasks run in parallel in "
        "virtual time and contend on the modeled mmap_lock. Under --clock wall a run "
        f"has will-it-scale's --warmup {WARMUP:g} and --interval {INTERVAL:g} seconds (--quick: "
        f"{QUICK['warmup']:g} and {QUICK['interval']:g}; about two minutes for `maplebench run "
        "brk1 --clock wall` on two cores), and threads mode "
        "is GIL-bound on standard CPython: the tasks interleave under the GIL instead of "
        "running in parallel, so threads-mode throughput does not scale with tasks (on a "
        "free-threaded interpreter they run in parallel; meta.json records gil_enabled).\n\n"
        "Host cells (--mm host) always sample real time: under --clock model they use "
        f"will-it-scale's --interval {INTERVAL:g} and --warmup {WARMUP:g} real seconds (--quick: "
        f"{QUICK['interval']:g} and {QUICK['warmup']:g}), whatever the virtual ones are."
    ),
)
@click.argument("workload", nargs=-1, required=True)
@click.option("--mm", "mm_kinds", default="maple,legacy", show_default=True, metavar="KINDS",
              help="Address spaces to measure, comma separated: the simulated kernel eras "
                   "(legacy, maple-v5, maple, current; `maplebench list` gives their kernels) and "
                   "host (the running kernel: the will-it-scale testcases compiled in C with the "
                   "system compiler on first use; real time, no cost counters).")
@click.option("--mode", "modes", default=None, metavar="MODES",
              help="processes (a fork of the mm per task) and/or threads (one shared mm). "
                   "[default: processes,threads; processes for kernbench and trace, which "
                   "replay separate processes]")
@click.option("--procs", default=None, metavar="SPEC",
              help=f"Task counts: N, A..B (mmtests large stride), A..B:xK, A..B:+K, comma lists. "
                   f"[default: {_DEFAULT_PROCS}]")
@click.option("--samples", type=int, default=None, metavar="N",
              help=f"Measured samples per cell. [default: {SAMPLES}]")
@click.option("--warmup", type=float, default=None, metavar="SECONDS",
              help=f"Warm-up discarded per cell. [default: {MODEL_WARMUP:g} virtual s under --clock "
                   f"model, {WARMUP:g} s under --clock wall]")
@click.option("--interval", type=float, default=None, metavar="SECONDS",
              help=f"Sampling interval. [default: {MODEL_INTERVAL:g} virtual s under --clock model, "
                   f"{INTERVAL:g} s under --clock wall]")
@click.option("--name", default=None, help="Run name (folder under --out). [default: WORKLOADS-DATE-TIME]")
@click.option("--out", default="results", show_default=True, metavar="DIR",
              help="Folder that holds run folders (or, without --name, an existing run folder "
                   "to write into).")
@click.option("--force", is_flag=True, help="Overwrite a complete run of the same name.")
@click.option("--quick", is_flag=True, help="A few-second smoke run.")
@click.option("--quiet", "-q", is_flag=True, help="No progress bar.")
@click.option("--no-affinity", is_flag=True, help="Do not bind tasks round-robin to CPUs.")
@click.option("--trace", "trace", default=None, metavar="FILE",
              help="Trace file for the `trace` and `kernbench` workloads (refused when no "
                   "workload of the run takes one).")
@click.option("--clock", default="model", show_default=True, type=click.Choice(["model", "wall"]),
              help="model: simulated kernel time on modeled CPUs; wall: the simulation's own run time.")
@click.option("--cpus", type=int, default=None, metavar="N",
              help=f"Modeled CPUs (model clock). [default: {_NCPU}, this machine's]")
@click.option("--smt", type=int, default=1, show_default=True, metavar="K",
              help="Hardware threads per modeled core (model clock).")
@click.option("--profile", default=None, metavar="PROFILE",
              help="Cost profile (model clock): a shipped name or a JSON file. [default: default]")
@click.option("--jobs", type=int, default=1, show_default=True, metavar="N",
              help="Model-clock cells run in parallel on N local processes.")
@click.option("--scheduler", default=None, metavar="ADDRESS",
              help="Send model-clock cells to this Dask scheduler (pip install 'maplebench[dask]').")
def run_cmd(
    workload: tuple[str, ...],
    mm_kinds: str,
    modes: str | None,
    procs: str | None,
    samples: int | None,
    warmup: float | None,
    interval: float | None,
    name: str | None,
    out: str,
    force: bool,
    quick: bool,
    quiet: bool,
    no_affinity: bool,
    trace: str | None,
    clock: str,
    cpus: int | None,
    smt: int,
    profile: str | None,
    jobs: int,
    scheduler: str | None,
) -> int:
    """Run will-it-scale workloads against the maple and legacy address spaces (and, with
    --mm host, on the running kernel).

    Every combination of WORKLOAD, --mm, --mode and --procs is one cell; each cell is a
    deterministic pass (cost counters per op) then a timed pass (operations per second,
    will-it-scale style). Results go to OUT/NAME/ (meta.json, samples.csv, each sample appended
    as it is taken); the folder is printed at the end. Exit status: 0 complete, 1 a task failed
    or the results could not be written, 2 bad input, 130 interrupted (the samples so far are
    saved and the run is marked interrupted).
    """
    wl_names = list(dict.fromkeys(workload))
    host_times = QUICK if quick else {"interval": INTERVAL, "warmup": WARMUP}
    if quick:
        quick_times = MODEL_QUICK if clock == "model" else QUICK
        procs = QUICK["procs"] if procs is None else procs
        samples = QUICK["samples"] if samples is None else samples
        warmup = quick_times["warmup"] if warmup is None else warmup
        interval = quick_times["interval"] if interval is None else interval
    params: dict[str, Any] = {}
    if trace is not None:
        params["trace"] = trace
    workload_modes: dict[str, tuple[str, ...]] = {}
    if modes is None:
        workload_modes = _default_modes(wl_names)
    config = runner.RunConfig(
        workloads=wl_names,
        mms=_split("--mm", mm_kinds),
        modes=_split("--mode", ",".join(runner.MODES) if modes is None else modes),
        workload_modes=workload_modes,
        procs=spec.parse_procs(_DEFAULT_PROCS if procs is None else procs),
        samples=SAMPLES if samples is None else samples,
        warmup=warmup,  # None: the clock's default (RunConfig)
        interval=interval,
        affinity=not no_affinity,
        params=params,
        clock=clock,
        cpus=cpus,
        smt=smt,
        profile=profile,
        jobs=jobs,
        scheduler=scheduler,
        host_interval=host_times["interval"],
        host_warmup=host_times["warmup"],
    )
    run = runner.Runner(config, writer=None)  # validates the config before anything is written
    folder, run_name = _folder(out, name, wl_names)
    meta = run.meta(argv=_argv(click.get_current_context(), workload), name=run_name)
    estimate = run.estimate_seconds()
    writer = results.RunWriter(folder, meta, force=force)  # the last check; it writes meta.json
    run.writer = writer

    from maplebench.progress import duration, make_progress

    if estimate > LONG_RUN:
        click.echo(f"maplebench: warning: this run samples for about {duration(estimate)} "
                   f"({len(config.cells())} cells); Ctrl-C stops it and keeps the samples so far",
                   err=True)
    started = time.monotonic()
    old = signal.signal(signal.SIGTERM, _on_sigterm)
    try:
        with make_progress(run.ticks(), quiet) as progress:
            run.progress = progress
            status = run.run()
        try:
            place = runner.finish(writer, status, run.error)
        except OSError as exc:
            writer.close()
            click.echo(f"maplebench: run failed: cannot write {exc.filename or folder}: {exc.strerror or exc}; "
                       f"the samples so far are in {writer.path}", err=True)
            click.echo(str(writer.path))
            return 1
    finally:
        signal.signal(signal.SIGTERM, old)
    if status == "failed":
        click.echo(f"maplebench: run failed: {run.error.rstrip() if run.error else 'unknown error'}", err=True)
    elif status == "interrupted":
        click.echo("maplebench: interrupted; samples so far saved, run marked interrupted", err=True)
    if place != folder:
        click.echo(f"maplebench: the run it was to replace is kept in {folder}", err=True)
    if not quiet:
        allow = "" if status == "complete" else " --allow-incomplete"
        click.echo(f"maplebench: {status}: {len(config.cells())} cells, {len(writer.rows)} samples in "
                   f"{duration(time.monotonic() - started)}; next: maplebench compare {place}{allow}", err=True)
    click.echo(str(place))
    return {"complete": 0, "failed": 1, "interrupted": 130}[status]


def _default_modes(names: list[str]) -> dict[str, tuple[str, ...]]:
    """Without --mode: timed workloads (kernbench, trace: replays of separate processes, a
    build is ``make -jN`` processes) run in processes mode only, as mmtests' kernbench does."""
    from maple import workloads

    out: dict[str, tuple[str, ...]] = {}
    for name in names:
        try:
            kind = workloads.workload_class(name).kind
        except InputError:
            continue  # validate() names the unknown workload
        if kind == "timed":
            out[name] = ("processes",)
    return out

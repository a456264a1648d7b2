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
WARMUP = 6.0
INTERVAL = 1.0
#: --quick: a few-second smoke run.
QUICK = {"procs": "2", "samples": 3, "warmup": 0.2, "interval": 0.1}
#: under the model clock the interval and warm-up are virtual seconds: a threads-mode window
#: costs real time in proportion to the calls it holds (docs/clock.md)
MODEL_INTERVAL = 0.002  # mmap2 threads at 141+ tasks on 144 CPUs completes ops in 2 ms rounds (docs/clock.md)
MODEL_WARMUP = 0.002
MODEL_QUICK = {"warmup": 0.0005, "interval": 0.0005}

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
        f"--samples {SAMPLES} (will-it-scale's runtest.py), --warmup {WARMUP:g} "
        f"(will-it-scale discards 6 one-second samples), --interval {INTERVAL:g}: about two "
        "minutes for `maplebench run brk1` on two cores. --quick: --procs 2 --samples 3 "
        "--warmup 0.2 --interval 0.1 (options given explicitly still win).\n\n"
        f"Under --clock model (the default) --interval and --warmup are virtual seconds "
        f"(defaults {MODEL_INTERVAL:g} and {MODEL_WARMUP:g}; --quick: {MODEL_QUICK['interval']:g} "
        f"and {MODEL_QUICK['warmup']:g}) and throughput is simulated kernel time on --cpus "
        "modeled CPUs: threads mode is not GIL-bound there, its tasks run in parallel in "
        "virtual time and contend on the modeled mmap_lock. Under --clock wall, threads mode "
        "is GIL-bound on standard CPython: the tasks interleave under the GIL instead of "
        "running in parallel, so threads-mode throughput does not scale with tasks (on a "
        "free-threaded interpreter they run in parallel; meta.json records gil_enabled)."
    ),
)
@click.argument("workload", nargs=-1, required=True)
@click.option("--mm", "mm_kinds", default="maple,legacy", show_default=True, metavar="KINDS",
              help="Address spaces to measure, comma separated: maple, legacy (simulated) and "
                   "host (the running kernel: the will-it-scale testcases compiled in C with the "
                   "system compiler on first use; real time, no cost counters).")
@click.option("--mode", "modes", default="processes,threads", show_default=True, metavar="MODES",
              help="processes (a fork of the mm per task) and/or threads (one shared mm).")
@click.option("--procs", default=None, metavar="SPEC",
              help=f"Task counts: N, A..B (mmtests large stride), A..B:xK, A..B:+K, comma lists. "
                   f"[default: {_DEFAULT_PROCS}]")
@click.option("--samples", type=int, default=None, metavar="N",
              help=f"Measured samples per cell. [default: {SAMPLES}]")
@click.option("--warmup", type=float, default=None, metavar="SECONDS",
              help=f"Warm-up discarded per cell. [default: {WARMUP:g}]")
@click.option("--interval", type=float, default=None, metavar="SECONDS",
              help=f"Sampling interval. [default: {INTERVAL:g}]")
@click.option("--name", default=None, help="Run name (folder under --out). [default: WORKLOADS-DATE-TIME]")
@click.option("--out", default="results", show_default=True, metavar="DIR",
              help="Folder that holds run folders (or, without --name, an existing run folder "
                   "to write into).")
@click.option("--force", is_flag=True, help="Overwrite a complete run of the same name.")
@click.option("--quick", is_flag=True, help="A few-second smoke run.")
@click.option("--quiet", "-q", is_flag=True, help="No progress bar.")
@click.option("--no-affinity", is_flag=True, help="Do not bind tasks round-robin to CPUs.")
@click.option("--trace", "trace", default=None, metavar="FILE",
              help="Trace file for the `trace` workload (passed as trace=FILE to every workload).")
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
    modes: str,
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
    deterministic pass (cost counters per op) then a timed pass (ops per interval, will-it-scale
    style). Results go to OUT/NAME/ (meta.json, samples.csv); the folder is printed at the end.
    Exit status: 0 complete, 1 a task failed, 2 bad input, 130 interrupted (the samples so far
    are saved and the run is marked interrupted).
    """
    wl_names = list(dict.fromkeys(workload))
    if quick:
        quick_times = MODEL_QUICK if clock == "model" else QUICK
        procs = QUICK["procs"] if procs is None else procs
        samples = QUICK["samples"] if samples is None else samples
        warmup = quick_times["warmup"] if warmup is None else warmup
        interval = quick_times["interval"] if interval is None else interval
    if clock == "model":
        warmup = MODEL_WARMUP if warmup is None else warmup
        interval = MODEL_INTERVAL if interval is None else interval
    params: dict[str, Any] = {}
    if trace is not None:
        params["trace"] = trace
    config = runner.RunConfig(
        workloads=wl_names,
        mms=_split("--mm", mm_kinds),
        modes=_split("--mode", modes),
        procs=spec.parse_procs(_DEFAULT_PROCS if procs is None else procs),
        samples=SAMPLES if samples is None else samples,
        warmup=WARMUP if warmup is None else warmup,
        interval=INTERVAL if interval is None else interval,
        affinity=not no_affinity,
        params=params,
        clock=clock,
        cpus=cpus,
        smt=smt,
        profile=profile,
        jobs=jobs,
        scheduler=scheduler,
    )
    config.validate()
    run = runner.Runner(config, writer=None)
    folder, run_name = _folder(out, name, wl_names)
    meta = run.meta(argv=_argv(click.get_current_context(), workload), name=run_name)
    writer = results.RunWriter(folder, meta, force=force)
    run.writer = writer

    from maplebench.progress import make_progress

    old = signal.signal(signal.SIGTERM, _on_sigterm)
    try:
        with make_progress(run.ticks(), quiet) as progress:
            run.progress = progress
            status = run.run()
        runner.finish(writer, status, run.error)
    finally:
        signal.signal(signal.SIGTERM, old)
    if status == "failed":
        click.echo(f"maplebench: run failed: {run.error.rstrip() if run.error else 'unknown error'}", err=True)
    elif status == "interrupted":
        click.echo("maplebench: interrupted; samples so far saved, run marked interrupted", err=True)
    click.echo(str(folder))
    return {"complete": 0, "failed": 1, "interrupted": 130}[status]

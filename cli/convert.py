"""``maplebench convert``: turn a raw strace log into a trace for ``run trace``."""

from __future__ import annotations

import click


@click.command("convert")
@click.argument("log", type=click.Path(dir_okay=False))
@click.option(
    "-o",
    "--output",
    "output",
    required=True,
    type=click.Path(dir_okay=False, writable=True),
    help="Trace file to write (gzip'd maplebench trace, e.g. build.trace.gz).",
)
def convert_cmd(log: str, output: str) -> int:
    """Convert LOG, the output of `strace -f` (with or without -o, -tt/-ttt, -T, -y), into a
    trace that `maplebench run trace --trace` replays. Nothing is written if LOG is not
    understood (one line naming the bad line, exit 2).

    \b
    Example:
        strace -f -o build.log make -j2
        maplebench convert build.log -o build.trace.gz
        maplebench run trace --trace build.trace.gz

    A raw log has no execve-time layouts: every program starts from the default layout
    (`maplebench record` captures the real ones). `run trace --trace LOG` also accepts the
    log itself.
    """
    from maple.errors import InputError
    from maple.trace.format import write_trace
    from maple.trace.strace import read_strace_log

    trace = read_strace_log(log)
    try:
        write_trace(trace, output)
    except OSError as exc:
        raise InputError(f"output {output}: cannot write it ({exc.strerror})") from None
    counts = trace.summary()
    events = sum(v for k, v in counts.items() if len(k) == 1)
    click.echo(f"{output}: {counts['tasks']} tasks, {events} events, {counts.get('x', 0)} execs", err=True)
    return 0

"""``maplebench record``: trace a command's address-space syscalls for ``run trace``."""

from __future__ import annotations

import click


@click.command(
    "record",
    context_settings={"ignore_unknown_options": True, "allow_interspersed_args": False},
)
@click.option(
    "-o",
    "--output",
    "output",
    required=True,
    type=click.Path(dir_okay=False, writable=True),
    help="Trace file to write (gzip'd maplebench trace, e.g. build.trace.gz).",
)
@click.option(
    "--keep-log",
    type=click.Path(dir_okay=False, writable=True),
    default=None,
    help="Also keep strace's raw log at this path.",
)
@click.argument("command", nargs=-1, required=True, type=click.UNPROCESSED)
def record_cmd(output: str, keep_log: str | None, command: tuple[str, ...]) -> int:
    """Run COMMAND under strace and save its mmap/munmap/mprotect/brk/mremap, clone/fork,
    execve and exit calls as a compact trace.

    \b
    Example:
        maplebench record -o build.trace.gz -- make -j2
        maplebench run trace --trace build.trace.gz

    Needs strace on PATH and permission to ptrace (containers may deny it). The command's
    exit status is reported; the trace is written even when the command fails.
    """
    from maple.trace.record import record

    rc, trace = record(list(command), output, keep_log=keep_log)
    counts = trace.summary()
    click.echo(
        f"{output}: {counts['tasks']} tasks, {sum(v for k, v in counts.items() if len(k) == 1)} events, "
        f"{len(trace.layouts)} exec layouts; command exit status {rc}",
        err=True,
    )
    return 0

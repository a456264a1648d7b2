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

    for option, path in (("-o", output), ("--keep-log", keep_log)):
        if path is not None:
            _probe_writable(option, path)  # before the command runs, not after
    rc, trace = record(list(command), output, keep_log=keep_log)
    counts = trace.summary()
    click.echo(
        f"{output}: {counts['tasks']} tasks, {sum(v for k, v in counts.items() if len(k) == 1)} events, "
        f"{len(trace.layouts)} exec layouts; command exit status {rc}",
        err=True,
    )
    return 0


def _probe_writable(option: str, path: str) -> None:
    """``InputError`` naming ``path`` unless a file can be created beside it (a real probe:
    root passes access() checks on read-only and virtual file systems)."""
    import os
    import tempfile
    from pathlib import Path

    from maple.errors import InputError

    target = Path(path)
    try:
        fd, probe = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".probe", dir=target.parent)
        os.close(fd)
        os.unlink(probe)
    except OSError as exc:
        raise InputError(f"record {option} '{path}': cannot write in '{target.parent}': "
                         f"{exc.strerror or exc}") from None

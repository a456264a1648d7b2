"""Entry point: the ``maplebench`` click group with lazily imported subcommands."""

from __future__ import annotations

import importlib
import sys

import click

# name -> (module under maplebench, attribute, one-line help shown by `maplebench --help`)
COMMANDS: dict[str, tuple[str, str, str]] = {
    "list": ("listing", "list_cmd", "List the workloads with their will-it-scale descriptions."),
    "run": ("run", "run_cmd", "Run workloads against the maple and legacy address spaces."),
    "compare": ("compare", "compare_cmd", "Compare runs as mmtests tables with significance markers."),
    "gate": ("gate", "gate_cmd", "Fail (exit 1) when a run regressed against a baseline."),
    "plot": ("plot", "plot_cmd", "Plot throughput against tasks, and counters per op."),
    "record": ("record", "record_cmd", "Record a command's address-space syscalls as a trace."),
    "convert": ("convert", "convert_cmd", "Convert a raw strace -f log into a trace for run trace."),
    "calibrate": ("calibrate", "calibrate_cmd", "Fit the model clock's cost profile on this machine's kernel."),
    "reproduce": ("reproduce", "reproduce_cmd", "Rerun the seed thread's published rows on modeled kernels."),
}


class LazyGroup(click.Group):
    """A click group that imports a subcommand's module only when it is used."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        return list(COMMANDS)

    def get_command(self, ctx: click.Context, name: str) -> click.Command | None:
        spec = COMMANDS.get(name)
        if spec is None:
            return None
        module = importlib.import_module(f"maplebench.{spec[0]}")
        return getattr(module, spec[1])

    def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        # Short help without importing every subcommand module.
        rows = [(name, spec[2]) for name, spec in COMMANDS.items()]
        with formatter.section("Commands"):
            formatter.write_dl(rows)


@click.group(cls=LazyGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="maplebench")
def cli() -> None:
    """maplebench: what the maple tree does to an address space, will-it-scale style.

    Typical use: `maplebench run brk1 --procs 2..8`, then `maplebench compare results/RUN`.
    """


def main(argv: list[str] | None = None) -> None:
    """Run the CLI.

    Bad input of any kind (click usage errors, and library ``InputError``s such as an
    unreadable result folder) and a file that cannot be written (``OSError``) print exactly
    one line on stderr naming the bad value or file and exit 2, with no traceback.
    Subcommands return their exit code (0 or 1). Bare ``maplebench`` prints the help, exit 0.
    """
    from maple.errors import InputError

    args = sys.argv[1:] if argv is None else list(argv)
    if not args:  # bare `maplebench`: the help, as `maplebench --help` prints it
        with click.Context(cli, info_name="maplebench", **cli.context_settings) as ctx:
            click.echo(ctx.get_help())
        sys.exit(0)
    try:
        rc = cli.main(args=args, prog_name="maplebench", standalone_mode=False)
    except click.exceptions.Exit as exc:  # --help, --version
        sys.exit(exc.exit_code)
    except click.Abort:
        click.echo("maplebench: aborted", err=True)
        sys.exit(130)
    except click.ClickException as exc:
        msg = " ".join(exc.format_message().split())
        click.echo(f"maplebench: error: {msg}", err=True)
        sys.exit(2 if isinstance(exc, click.UsageError) else exc.exit_code)
    except InputError as exc:
        msg = " ".join(str(exc).split())
        click.echo(f"maplebench: error: {msg}", err=True)
        sys.exit(2)
    except OSError as exc:  # a file that could not be read or written, wherever it happened
        where = f"{exc.filename}: " if exc.filename else ""
        msg = " ".join(f"{where}{exc.strerror or exc}".split())
        click.echo(f"maplebench: error: {msg}", err=True)
        sys.exit(2)
    sys.exit(rc if isinstance(rc, int) else 0)

"""``maplebench reproduce seed``: the seed thread's published rows beside modeled ones."""

from __future__ import annotations

import click


@click.group("reproduce", invoke_without_command=True)
@click.pass_context
def reproduce_cmd(ctx: click.Context) -> None:
    """Rerun published maple-vs-legacy results on modeled kernels."""
    if ctx.invoked_subcommand is None:  # bare `maplebench reproduce`: its help, as for bare maplebench
        click.echo(ctx.get_help())


@reproduce_cmd.command("seed")
@click.option("--base", default="legacy", show_default=True, metavar="KIND",
              help="Baseline mm kind (an era from `maplebench list`).")
@click.option("--new", "new", default="maple-v5", show_default=True, metavar="KIND",
              help="Compared mm kind.")
@click.option("--format", "fmt", type=click.Choice(["text", "csv"]), default="text", show_default=True,
              help="text: a table with targets; csv: table,operation,published_pct,modeled_pct,agrees.")
@click.option("-o", "--output", metavar="PLOT", default=None,
              help="Also plot published vs modeled per row to PLOT (.png, .svg or .pdf).")
def seed_cmd(base: str, new: str, fmt: str, output: str | None) -> int:
    """Run the rows the 2022 maple tree v6 thread published (brk1, brk2, malloc1, page_fault3,
    kernbench) on the model clock with 144 modeled CPUs (72 cores x 2 SMT), and print each
    published figure beside the modeled one. Progress goes to stderr. See docs/reproduce.md.
    """
    from maple.reproduce import render
    from maple.reproduce.seed import ReproduceError, check_kind, reproduce

    check_kind(base, "--base")
    check_kind(new, "--new")
    if output is not None:
        from maple.bench.plot import check_output

        check_output(output)  # refuse a bad path before running anything
    try:
        rep = reproduce(base, new)
    except ReproduceError as exc:
        click.echo(f"maplebench: reproduce seed failed: {exc}", err=True)
        return 1
    click.echo(render.to_csv(rep) if fmt == "csv" else render.to_text(rep), nl=False)
    if output is not None:
        from maple.reproduce.plot import plot

        click.echo(f"plot: wrote {plot(rep, output)}", err=fmt == "csv")
    return 0

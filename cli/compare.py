"""``maplebench compare``: mmtests comparison tables for one or more runs."""

from __future__ import annotations

import click

FORMATS = ("text", "markdown", "csv", "json")
RULES = ("ttest", "ci", "welch")


def split_stats(values: tuple[str, ...]) -> list[str] | None:
    """``--stats Hmean,Max --stats BHmean-95`` -> ``["Hmean", "Max", "BHmean-95"]``."""
    names = [n.strip() for v in values for n in v.split(",") if n.strip()]
    return names or None


@click.command("compare")
@click.argument("results", nargs=-1, required=True, metavar="RESULT...")
@click.option("--format", "fmt", type=click.Choice(FORMATS), default="text", show_default=True,
              help="text is mmtests' compare-mmtests.pl layout; markdown suits CI summaries.")
@click.option("--significance", type=click.Choice(RULES), default="ttest", show_default=True,
              help="Rule for the asterisks on the headline mean row: ttest (mmtests 2018-2024, "
                   "p < 0.10), ci (mmtests since 2024-11-28, mean +- 1.96 sigma intervals apart), "
                   "welch (Welch's t-test, p < 0.05). Also picks that era's rows.")
@click.option("--stats", "stat_opts", multiple=True, metavar="ROWS",
              help="Comma-separated rows to show instead of the era's, e.g. 'Hmean' or "
                   "'Min,mean,Max,BHmean-95' ('mean' is the headline mean of each table).")
@click.option("--allow-incomplete", is_flag=True,
              help="Accept runs whose status is not complete (interrupted, failed, running).")
def compare_cmd(results: tuple[str, ...], fmt: str, significance: str, stat_opts: tuple[str, ...],
                allow_incomplete: bool) -> int:
    """Compare RESULT run folders as mmtests would.

    RESULT may also be an mmtests results folder (one column per run) or run folder, or
    will-it-scale output (runtest.py CSV or a testcase's raw output); see docs/formats.md.

    One run: its legacy mm is the baseline column and its maple mm the other. Several runs:
    the first is the baseline; columns are the run names (with -legacy / -maple where a run
    holds both). Percentages: positive is better. Deterministic counters per op get their own
    table.
    """
    from maple.bench.compare import compare_runs
    from maple.bench.render import render
    from maple.bench.readers import load_result
    from maple.bench.results import run_notes

    runs = [load_result(r, allow_incomplete=allow_incomplete) for r in results]
    comparison = compare_runs(runs, significance=significance, stat_names=split_stats(stat_opts))
    click.echo(render(comparison, fmt), nl=False)
    for note in run_notes(runs):
        click.echo(f"maplebench: note: {note}", err=True)
    if comparison.skipped:
        shown = ", ".join(comparison.skipped[:8]) + (" ..." if len(comparison.skipped) > 8 else "")
        click.echo(f"maplebench: note: {len(comparison.skipped)} operation(s) not in every run, "
                   f"left out: {shown}", err=True)
    return 0

"""``maplebench plot``: throughput against tasks, and counters per op, as an image."""

from __future__ import annotations

import click


@click.command("plot")
@click.argument("results", nargs=-1, required=True, metavar="RESULT...")
@click.option("-o", "--output", required=True, metavar="FILE",
              help="Image to write: .png, .svg or .pdf (chosen by the extension).")
@click.option("--allow-incomplete", is_flag=True,
              help="Accept runs whose status is not complete (interrupted, failed, running).")
def plot_cmd(results: tuple[str, ...], output: str, allow_incomplete: bool) -> int:
    """Plot RESULT run folders into FILE.

    One panel per workload and mode: Hmean throughput against tasks (log axis) with
    +-HStddev error bars, one line per run or mm (legacy and maple of a single run); timed
    workloads show elapsed time instead. Then one bar chart per counter per op.
    """
    from maple.bench.plot import check_output, plot_runs
    from maple.bench.readers import load_result

    check_output(output)  # fail on a bad path before loading anything
    from maple.bench.results import run_notes

    runs = [load_result(r, allow_incomplete=allow_incomplete) for r in results]
    for note in run_notes(runs):
        click.echo(f"maplebench: note: {note}", err=True)
    path = plot_runs(runs, output)
    click.echo(f"plot: wrote {path}")
    return 0

"""``maplebench gate``: exit 1 when a run regressed against a baseline run."""

from __future__ import annotations

import click

RULES = ("ttest", "ci", "welch")


@click.command("gate")
@click.option("--baseline", required=True, metavar="PATH", help="The reference run folder.")
@click.option("--current", required=True, metavar="PATH", help="The run folder to judge.")
@click.option("--threshold", default="5", show_default=True, metavar="PCT",
              help="Allowed worsening in percent (headline means and counters per op).")
@click.option("--significance", type=click.Choice(RULES), default="ttest", show_default=True,
              help="A mean regresses only if the change is also significant by this rule.")
@click.option("--only", type=click.Choice(["counters", "throughput"]), default=None,
              help="Gate on the deterministic counters alone (noisy CI machines), or on the "
                   "headline means alone (throughput and kernbench times).")
@click.option("--format", "fmt", type=click.Choice(["text", "markdown"]), default="text",
              show_default=True, help="markdown suits CI job summaries.")
@click.option("--allow-partial", is_flag=True,
              help="Accept cells that only one run holds (named in the report) instead of failing.")
@click.option("--update", is_flag=True,
              help="Copy --current into --baseline (atomically) and exit 0; the comparison, if a "
                   "baseline exists, is printed for information.")
def gate_cmd(baseline: str, current: str, threshold: str, significance: str, only: str | None,
             fmt: str, allow_partial: bool, update: bool) -> int:
    """Fail (exit 1) when --current regressed against --baseline.

    A headline mean (Hmean throughput, Amean kernbench time) regresses when it is worse by
    more than the threshold AND significant by the rule; a counter per op regresses when it
    grows by more than the threshold (exact, no statistics). What regressed is printed as a
    table. Every cell (workload, mm, mode, tasks) of both runs is gated: a cell in one run only
    fails the gate, named, unless --allow-partial. Exit 0 otherwise, 2 on bad input.
    """
    from pathlib import Path

    from maple.bench.gate import (
        gate,
        is_run_folder,
        parse_threshold,
        report,
        report_markdown,
        update_baseline,
    )
    from maple.bench.readers import load_result
    from maple.errors import InputError

    pct = parse_threshold(threshold)
    show = report_markdown if fmt == "markdown" else report
    if update:
        if is_run_folder(Path(baseline)):
            try:
                result = gate(load_result(baseline), load_result(current), threshold=pct,
                              significance=significance, only=only, allow_partial=allow_partial)
                click.echo(show(result), nl=False)
            except InputError as exc:
                click.echo(f"maplebench: note: previous baseline not compared: {exc}", err=True)
        dst = update_baseline(current, baseline)
        click.echo(f"gate: baseline '{dst}' updated from '{current}'")
        return 0
    runs = [load_result(baseline), load_result(current)]
    for run in runs:
        for note in run.notes:
            click.echo(f"maplebench: note: {note}", err=True)
    result = gate(*runs, threshold=pct, significance=significance, only=only,
                  allow_partial=allow_partial)
    click.echo(show(result), nl=False)
    if result.skipped:
        click.echo(f"maplebench: note: {len(result.skipped)} operation(s) not in both runs were not "
                   f"gated", err=True)
    return 1 if result.failed else 0

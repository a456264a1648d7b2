"""``maplebench list``: the registered workloads, their kind, description and unit."""

from __future__ import annotations

import click

from maple import workloads


@click.command("list")
def list_cmd() -> int:
    """List the workloads with their will-it-scale descriptions.

    Columns: name, kind (loop = will-it-scale testcase, higher is better; timed =
    kernbench-style trace replay, lower is better), description, and what one op is. A last
    line names the workloads that `--mm host` runs on the running kernel.
    """
    rows = []
    for name in workloads.names():
        try:
            cls = workloads.workload_class(name)
        except Exception as exc:  # a workload module that failed to import is still listed
            rows.append((name, "?", f"(unavailable: {' '.join(str(exc).split())})", ""))
            continue
        rows.append((name, cls.kind, cls.description, cls.unit))
    header = ("name", "kind", "description", "unit")
    widths = [max(len(r[i]) for r in rows + [header]) for i in range(3)]
    for r in [header] + rows:
        click.echo(f"{r[0]:<{widths[0]}}  {r[1]:<{widths[1]}}  {r[2]:<{widths[2]}}  {r[3]}".rstrip())
    from maple.host import TESTCASES

    click.echo("")
    click.echo(f"--mm host runs {', '.join(TESTCASES)} on the running kernel "
               "(compiled in C on first use; timed workloads are `maplebench record`'s job).")
    return 0

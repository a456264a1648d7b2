"""``maplebench list``: the registered workloads, their kind, description and unit."""

from __future__ import annotations

import click

from maple import workloads


@click.command("list")
def list_cmd() -> int:
    """List the workloads with their will-it-scale descriptions.

    Columns: name, kind (loop = will-it-scale testcase, higher is better; timed =
    kernbench-style trace replay, lower is better), description, and what one op is. Then
    the `--mm` kinds: each simulated kernel era with its kernel version and date
    (``maple.mm.KINDS``), and `host`, the running kernel.
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
    from maple.mm import KINDS

    click.echo("")
    eras = [(e.name, e.kernel, e.date, e.summary) for e in KINDS.values()]
    eras.append(("host", "running", "-", f"the running kernel: {', '.join(TESTCASES)} compiled in C on first use "
                 "(timed workloads are `maplebench record`'s job)"))
    header = ("mm", "kernel", "date", "code paths")
    widths = [max(len(r[i]) for r in eras + [header]) for i in range(3)]
    for r in [header] + eras:
        click.echo(f"{r[0]:<{widths[0]}}  {r[1]:<{widths[1]}}  {r[2]:<{widths[2]}}  {r[3]}".rstrip())
    return 0

"""``maplebench calibrate``: fit the model clock's cost profile on this machine's kernel."""

from __future__ import annotations

import platform
import sys
import time

import click


@click.command("calibrate")
@click.option("--out", "out", default=None, metavar="PROFILE",
              help="Write the fitted profile here (JSON). [default: print only]")
@click.option("--samples", type=int, default=3, show_default=True, help="Host samples per cell.")
@click.option("--interval", type=float, default=0.5, show_default=True, metavar="SECONDS",
              help="Host sampling interval.")
@click.option("--prior", default="prior", show_default=True, metavar="PROFILE",
              help="Profile the fit is regularised towards (also gives the scheduler parameters).")
@click.option("--workloads", "names", default=None, metavar="NAMES",
              help="Testcases to measure, comma separated. [default: every host testcase]")
def calibrate_cmd(out: str | None, samples: int, interval: float, prior: str, names: str | None) -> int:
    """Measure the host testcases (--mm host, 1 and 2 tasks, both modes), record the same
    cells' events on the `current` era's mm, fit every event's cost (bounded least squares,
    regularised towards --prior) and print each fitted cost and each cell's residual, then the
    fit-on-half check and the model's prediction of the contended cells.

    No cost is fitted to any published maple-vs-legacy delta: only this machine is measured.
    """
    from maple.clock import calibrate as cal
    from maple.clock.profile import load_profile
    from maple.errors import InputError
    from maple.host import TESTCASES

    prior_profile = load_profile(prior)
    if samples < 1 or not interval > 0:
        raise InputError(f"--samples {samples} --interval {interval:g}: must be positive")
    wanted = list(TESTCASES) if names is None else [n.strip() for n in names.split(",") if n.strip()]
    for n in wanted:
        if n not in TESTCASES:
            raise InputError(f"--workloads '{n}': no host testcase (known: {', '.join(TESTCASES)})")
    if out is not None:
        from pathlib import Path

        parent = Path(out).resolve().parent
        if not parent.is_dir():
            raise InputError(f"--out '{out}': folder {parent} does not exist")
    from maple.bench import sysinfo
    from maple.bench.runner import default_layout

    layout = default_layout()
    echo = lambda s: click.echo(s)  # noqa: E731
    echo(f"measuring {len(wanted)} testcases x {len(cal.CAL_MODES)} modes x tasks {cal.CAL_TASKS} on the host")
    cells = cal.measure(wanted, samples=samples, interval=interval, layout=layout, echo=echo)
    machine = sysinfo.machine()
    provenance = {
        "machine": f"{machine.get('cpu_model', '?')}, {machine.get('cpus', '?')} CPUs",
        "kernel": platform.release(),
        "date": time.strftime("%Y-%m-%d", time.gmtime()),
        "command": "maplebench " + " ".join(sys.argv[1:]) if sys.argv[1:2] == ["calibrate"] else "maplebench calibrate",
        "method": "maple.clock.calibrate.fit_profile: bounded least squares on relative residuals of the "
                  "uncontended host cells (1 task, or processes), regularised towards the prior profile",
        "prior": prior_profile.name,
        "era": cal.HOST_ERA,
        "cells": len(cells),
        "note": "never fitted to any maple-vs-legacy delta",
    }
    ms = cal.to_measurements(cells)
    fit = cal.fit_profile(ms, prior_profile, provenance=provenance)
    echo("\nfitted costs (ns):")
    for e in fit.free:
        echo(f"  {e:<22} {fit.profile.costs[e]:10.1f}   (prior {prior_profile.costs[e]:.1f})")
    echo("\nresiduals (fitted cells, ns per op):")
    for label, meas, model, err in fit.residuals:
        echo(f"  {label:<26} measured {meas:10.1f}  model {model:10.1f}  {err * 100:+7.1f}%")
    echo(f"  median |error| {fit.median_abs_error() * 100:.1f}%")
    fit_half, held = cal.split_half([m.label for m in ms], list(TESTCASES))
    half = cal.fit_profile([m for m in ms if m.label in fit_half], prior_profile)
    echo(f"\nfit on half ({', '.join(list(TESTCASES)[0::2])}), error on the other half:")
    errs = []
    for m in ms:
        if m.label in held:
            model = cal.predict(half.profile, m)
            errs.append(abs(model - m.ns_per_op) / m.ns_per_op)
            echo(f"  {m.label:<26} measured {m.ns_per_op:10.1f}  model {model:10.1f}  {(model / m.ns_per_op - 1) * 100:+7.1f}%")
    if errs:
        errs.sort()
        echo(f"  held-out median |error| {errs[len(errs) // 2] * 100:.1f}%, max {errs[-1] * 100:.1f}%")
    echo("\nhost agreement (the model clock with the fitted profile, every cell, ops/s per task):")
    allerr = []
    import os

    for c in cells:
        from maple import workloads as registry

        model = cal.model_rate(registry.get(c.workload), c.mode, c.tasks, fit.profile, layout, os.cpu_count() or 1)
        err = (model - c.host_ops_per_s) / c.host_ops_per_s
        allerr.append(abs(err))
        echo(f"  {c.label:<26} host {c.host_ops_per_s:12.1f}  model {model:12.1f}  {err * 100:+7.1f}%")
    allerr.sort()
    echo(f"  median |error| {allerr[len(allerr) // 2] * 100:.1f}%, max {allerr[-1] * 100:.1f}%")
    if out is not None:
        fit.profile.write(out)
        echo(f"\nwrote {out}")
    return 0

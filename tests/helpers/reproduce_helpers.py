"""A stand-in for ``maple.reproduce.seed.measure``: constructed samples instead of model runs."""

from __future__ import annotations

from typing import Any, Callable

from maple.bench.runner import Cell


def constructed_measure(samples: Callable[[Any, str, int, str, str], dict[str, list[float]]]):
    """A ``measure_fn(plan, base, new, settings, progress)`` that reports every cell of the
    plan to ``progress`` as ``measure`` does and takes its samples from
    ``samples(group, kind, tasks, base, new)`` (``{"ops": [...]}``, or ``user``/``syst``/``elsp``
    for kernbench)."""

    def measure(plan, base, new, settings, progress):
        data = {}
        for g in plan:
            for kind in g.kinds(base, new):
                for n in g.procs:
                    progress.cell(0, 0, Cell(g.workload, kind, g.mode, n))
                    data[(g.workload, kind, g.mode, n)] = samples(g, kind, n, base, new)
        return data

    return measure

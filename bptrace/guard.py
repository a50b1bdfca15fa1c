"""Refuse runs that would take absurd time or memory, before any work is done."""

from __future__ import annotations

from .errors import SpecError
from .names import layout, param_names
from .spec import Spec

MAX_WORK = 2_000_000_000  # parameter-updates (iterations x samples x parameters)
MAX_RECORDS = 300_000  # traced records kept in memory (about 1 KB each)
RECORDS_PER_PARAM = 4  # a weight costs about a partial, a gradient and an update


def estimate(spec: Spec, n_detail: int) -> tuple[int, int]:
    """(work, records): parameter-updates the run performs, and records the detailed steps keep."""
    layers = layout(spec.data)
    n_params = sum(1 for _ in param_names(layers, True))
    n_neurons = sum(lay.size for lay in layers[1:])
    samples = len(spec["samples"])
    work = spec["iterations"] * samples * (n_params + n_neurons)
    per_step = RECORDS_PER_PARAM * n_params + 6 * n_neurons
    return work, n_detail * samples * per_step


def check_resources(spec: Spec, n_detail: int, limits: bool = True) -> None:
    if not limits:
        return
    work, records = estimate(spec, n_detail)
    if work > MAX_WORK:
        raise SpecError(
            f"this run asks for about {work:.2e} parameter updates (limit {MAX_WORK:.0e}); "
            "lower the iterations, or pass --no-limit (limits=False) to run it anyway",
            "iterations",
            spec.source,
        )
    if records > MAX_RECORDS:
        raise SpecError(
            f"tracing {n_detail} iterations in full keeps about {records:,} records (limit {MAX_RECORDS:,}); "
            "trace fewer with --detail N, or pass --no-limit (limits=False)",
            "detail",
            spec.source,
        )

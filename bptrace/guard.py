"""Refuse runs that would take absurd time or memory, before any work is done."""

from __future__ import annotations

from .errors import SpecError
from .names import SCALAR_LIMIT, layout, matrix_mode
from .spec import Spec, batches

MAX_WORK = 2_000_000_000  # parameter-updates: iterations x samples x (parameters + neurons)
MAX_TRACE_BYTES = 400_000_000  # what the detailed steps keep in memory
RECORD_BYTES = 1_000  # one scalar record: its formulas, expression tree and values
FLOAT_BYTES = 40  # one float of an array record, as a Python list item and its JSON text
RECORDS_PER_PARAM = 4  # a weight costs about a partial, a gradient and an update
FLOATS_PER_PARAM = 6  # gradient, old, grad, new and value of an update, and the final value


def estimate(spec: Spec, n_detail: int, threshold: int = SCALAR_LIMIT) -> tuple[int, int]:
    """(work, bytes): parameter-updates the run performs, and memory its detailed steps keep."""
    layers = layout(spec.data)
    n_params = sum(lay.weight_count + len(lay.biases) for lay in layers[1:])
    n_neurons = sum(lay.size for lay in layers[1:])
    samples = len(spec["samples"])
    work = spec["iterations"] * samples * (n_params + n_neurons)
    if matrix_mode(layers, threshold):
        per_step = FLOAT_BYTES * (FLOATS_PER_PARAM * n_params + 8 * n_neurons) + RECORD_BYTES * 20 * len(layers)
    else:
        per_step = RECORD_BYTES * (RECORDS_PER_PARAM * n_params + 6 * n_neurons)
    # an optimizer's state adds a few records per parameter to every step that updates
    per_step += RECORD_BYTES * 5 * n_params if "optimizer" in spec.data else 0
    combining = len(batches(spec.data)) if spec["mode"] == "batch" else 1
    return work, n_detail * (samples + combining) * per_step


def check_resources(spec: Spec, n_detail: int, limits: bool = True, threshold: int = SCALAR_LIMIT) -> None:
    if not limits:
        return
    work, kept = estimate(spec, n_detail, threshold)
    if work > MAX_WORK:
        raise SpecError(
            f"this run asks for about {work:.2e} parameter updates (limit {MAX_WORK:.0e}); "
            "lower the iterations, or pass --no-limit (limits=False) to run it anyway",
            "iterations",
            spec.source,
        )
    if kept > MAX_TRACE_BYTES:
        raise SpecError(
            f"tracing {n_detail} iteration{'s' * (n_detail != 1)} in full would keep about {kept / 1e6:,.0f} MB "
            f"(limit {MAX_TRACE_BYTES / 1e6:,.0f} MB); trace fewer with --detail N, or pass --no-limit (limits=False)",
            "detail",
            spec.source,
        )

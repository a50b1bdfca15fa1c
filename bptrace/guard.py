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
MAX_OUTPUT_BYTES = 250_000_000  # what a run writes: trace.json and the reports
JSON_SHARE = 0.45  # of a detailed step's memory, what its records take as JSON text
NUMBER_BYTES = 23  # one float in JSON: 17 significant digits, sign, exponent, separator
REPORTED_SAMPLES = 11  # samples a report works through: the first ten and the last
FIRST_STEP_REPORT = 1.5  # report.md + report.html of the step worked in full, per byte it keeps
OTHER_STEP_REPORT = 0.5  # of another step of the first iteration (its deltas and updates)
MATRIX_LAYER_REPORT = 40_000  # in matrix form a report shows the ends of each array, whatever its size


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


def estimate_output(spec: Spec, n_detail: int, threshold: int = SCALAR_LIMIT) -> dict[str, int]:
    """Bytes a run writes, by the field that drives them: ``detail`` (the detailed steps in
    trace.json and the reports working through the first iteration), ``iterations`` (the error
    history, one number per iteration) and ``samples`` (each sample's numbers, given and final)."""
    _, kept = estimate(spec, n_detail, threshold)
    samples = spec["samples"]
    n = len(samples)
    layers = layout(spec.data)
    reports = 0.0
    if n_detail:
        combining = len(batches(spec.data)) if spec["mode"] == "batch" else 1
        per_step = kept / (n_detail * (n + combining))
        shown = min(n, REPORTED_SAMPLES) + min(combining, REPORTED_SAMPLES)
        if matrix_mode(layers, threshold):
            reports = MATRIX_LAYER_REPORT * len(layers) * shown
        else:
            reports = per_step * (FIRST_STEP_REPORT + OTHER_STEP_REPORT * (shown - 1))
    numbers = n * (len(samples[0]["input"]) + len(samples[0]["target"]) + layers[-1].size) if n else 0
    return {
        "detail": int(JSON_SHARE * kept + reports),
        "iterations": NUMBER_BYTES * spec["iterations"],
        "samples": NUMBER_BYTES * numbers,
    }


def check_resources(
    spec: Spec,
    n_detail: int,
    limits: bool = True,
    threshold: int = SCALAR_LIMIT,
    max_output: int = MAX_OUTPUT_BYTES,
) -> None:
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
    parts = estimate_output(spec, n_detail, threshold)
    written = sum(parts.values())
    if written > max_output:
        field = max(parts, key=lambda k: parts[k])
        way_out = {
            "detail": "trace fewer iterations in full with --detail N (0 for none)",
            "iterations": "lower the iterations",
            "samples": "use fewer samples",
        }[field]
        raise SpecError(
            f"this run would write about {written / 1e6:,.0f} MB of trace and reports (limit "
            f"{max_output / 1e6:,.0f} MB), most of it for its {field}; {way_out}, or pass --no-limit (limits=False)",
            field,
            spec.source,
        )

"""The gradient check: the traced gradients of the first detailed step against central finite
differences of the error, for any engine."""

from __future__ import annotations

from .tracedata import Step

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

GRADCHECK_EPS = 1e-6
GRADCHECK_MAX_PARAMS = 64  # larger networks check an evenly spread sample of parameters


def _spread(items: list[str], n: int) -> list[str]:
    if len(items) <= n:
        return items
    return [items[round(i * (len(items) - 1) / (n - 1))] for i in range(n)]


def gradient_check(engine: Any, params: Any, steps: list[Step]) -> dict[str, Any]:
    """Central finite differences against the traced gradients of the first detailed step."""
    first = [s for s in steps if s.iteration == 1]
    if engine.batch:  # the first batch: its samples, then the step that combines their gradients
        grad_step = next(s for s in first if s.sample is None)
        samples = [engine.samples[k] for k in engine.batch_list[0]]
        # a summed batch's error is the mean's multiple
        scale = float(len(samples)) if engine.batch_sum else 1.0
    else:
        grad_step, samples, scale = first[0], engine.samples[:1], 1.0
    rows = []
    for p in _spread(engine.trainable, GRADCHECK_MAX_PARAMS):
        a = engine.traced_grad(grad_step, p)
        if a is None:
            continue
        h = GRADCHECK_EPS * max(1.0, abs(engine.value_of(params, p)))
        numeric = (engine.error_moved(params, p, h, samples) - engine.error_moved(params, p, -h, samples)) / (2 * h)
        numeric *= scale
        rel = abs(a - numeric) / max(abs(a), abs(numeric), 1e-7)
        rows.append({"name": p, "traced": a, "numeric": numeric, "rel_diff": rel})
    worst = max(rows, key=lambda r: r["rel_diff"]) if rows else None
    return {
        "epsilon": GRADCHECK_EPS,
        "max_rel_diff": worst["rel_diff"] if worst else 0.0,
        "worst": worst["name"] if worst else None,
        "checked": len(rows),
        "of": len(engine.trainable),
        "params": rows,
    }

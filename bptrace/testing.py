"""bptrace in other people's tests: golden traces for your own autograd or training code.

``assert_matches_trace(trace, values)`` compares your gradients (or updated or final parameters)
with a trace and names the first that disagrees. ``trace_text(trace)`` writes a trace one record
per line, the form the ``bptrace_snapshot`` fixture stores with syrupy, so a changed number shows
up as a one-line diff. The fixture comes with the pytest plugin that installing bptrace registers;
syrupy is needed only by tests that use it.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from . import names
from .tracedata import Trace, element
from .tracetext import trace_text

__all__ = ["Mismatch", "assert_matches_trace", "bptrace_snapshot", "compare", "trace_text"]

try:  # the plugin must load in any pytest run, with or without syrupy installed
    import pytest
except ImportError:  # pragma: no cover - bptrace itself does not need pytest
    pytest = None  # type: ignore[assignment]


# ---------------------------------------------------------------- comparing values


@dataclass(frozen=True)
class Mismatch:
    key: str
    yours: float
    expected: float

    def __str__(self) -> str:
        diff = abs(self.yours - self.expected)
        rel = diff / max(abs(self.expected), 1e-300)
        return (
            f"{self.key}: yours {self.yours!r}, the trace {self.expected!r} (difference {diff:.3g}, relative {rel:.3g})"
        )


def _flatten(trace: Trace, values: Mapping[str, Any] | Sequence[float], kind: str) -> list[tuple[str, float]]:
    """Your values as (key, number) pairs: keys like "w5", "grad.w5", or per layer "W_h"/"b_h"
    holding arrays; a plain sequence lists every parameter in the trace's order."""
    layers = names.layout(trace.spec)
    with_biases = bool(trace.spec["update_biases"]) or kind == "final"
    if not isinstance(values, Mapping):
        order = list(names.param_names(layers, with_biases))
        flat = list(_numbers(values))
        if len(flat) != len(order):
            raise AssertionError(f"expected {len(order)} values ({', '.join(order[:4])}, ...), got {len(flat)}")
        return [(f"{kind}.{n}", x) for n, x in zip(order, flat)]
    by_layer = {lay.name: lay for lay in layers}
    out: list[tuple[str, float]] = []
    for key, val in values.items():
        bare = key.split(".", 1)[1] if "." in key else key
        prefix = key.split(".", 1)[0] if "." in key else kind
        if bare[:2] in ("W_", "b_") and bare[2:] in by_layer:
            lay = by_layer[bare[2:]]
            keys = lay.weight_names() if bare[0] == "W" else lay.biases
            nums = list(_numbers(val))
            if len(nums) != len(keys):
                raise AssertionError(f"{key}: expected {len(keys)} values, got {len(nums)}")
            out += [(f"{prefix}.{k}", x) for k, x in zip(keys, nums)]
        else:
            out.append((f"{prefix}.{bare}" if prefix != "total_error" else "total_error", float(val)))
    return out


def _numbers(val: Any) -> Iterable[float]:
    if hasattr(val, "tolist"):  # numpy arrays, torch tensors
        val = val.tolist()
    if isinstance(val, (list, tuple)):
        for x in val:
            yield from _numbers(x)
    else:
        yield float(val)


def compare(
    trace: Trace,
    values: Mapping[str, Any] | Sequence[float],
    *,
    kind: str = "grad",
    rel: float = 1e-9,
    abs: float = 1e-12,
    step: int = 0,
) -> list[Mismatch]:
    """Every value that differs from the trace by more than the tolerances.

    ``kind`` says what bare names mean: "grad" (∂E/∂w of the first detailed step), "update" (the
    parameter after that step's update), "final" (after the last iteration), or any record kind
    (``net``, ``out``, ``delta``...) for neuron names.
    """
    bad = []
    final = trace.final_params() if kind == "final" else {}
    for key, yours in _flatten(trace, values, kind):
        if key.startswith("final."):
            if key[6:] not in final:
                raise AssertionError(f"{key}: the trace has no final value of that name")
            expected = final[key[6:]]
        else:
            found = element(trace.steps[step], key, names.layout(trace.spec))
            if found is None:
                raise AssertionError(f"{key}: the trace holds no such quantity (see the report's appendix for keys)")
            expected = found
        if not math.isclose(yours, expected, rel_tol=rel, abs_tol=abs):
            bad.append(Mismatch(key, yours, expected))
    return bad


def assert_matches_trace(
    trace: Trace,
    values: Mapping[str, Any] | Sequence[float],
    *,
    kind: str = "grad",
    rel: float = 1e-9,
    abs: float = 1e-12,
    step: int = 0,
) -> None:
    """Raise AssertionError naming the first value that disagrees with the trace."""
    bad = compare(trace, values, kind=kind, rel=rel, abs=abs, step=step)
    if bad:
        more = f" (and {len(bad) - 1} more)" if len(bad) > 1 else ""
        raise AssertionError(f"first disagreement: {bad[0]}{more}")


def __getattr__(name: str) -> Any:
    if name == "TraceSnapshotExtension":  # built on first use: syrupy is a test dependency only
        from ._syrupy import TraceSnapshotExtension

        return TraceSnapshotExtension
    raise AttributeError(name)


if pytest is not None:

    @pytest.fixture
    def bptrace_snapshot(snapshot: Any) -> Any:
        """syrupy's snapshot, storing a Trace as one record per line (``assert trace == bptrace_snapshot``)."""
        from ._syrupy import TraceSnapshotExtension

        return snapshot.use_extension(TraceSnapshotExtension)

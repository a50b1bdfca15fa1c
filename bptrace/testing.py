"""bptrace in other people's tests: golden traces for your own autograd or training code.

``assert_matches_trace(trace, values)`` compares your gradients (or updated or final parameters, or
neuron values) with a trace. Shapes are checked first (a transposed weight matrix is named as
such); then every value that disagrees is listed in the order the trace computed it, so for
gradients the output layer comes first and a wrong output δ is named where it starts. Array
entries are named both ways: ``W_h[0,1] (w2)``. ``trace_text(trace)`` writes a trace one record
per line, the form the ``bptrace_snapshot`` fixture stores with syrupy, so a changed number shows
up as a one-line diff. The fixture comes with the pytest plugin that installing bptrace registers;
it needs syrupy (``pip install 'bptrace[pytest]'``), and says so when it is missing.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal, get_args

from . import names
from .tracedata import Trace, step_rows
from .tracetext import trace_text

if TYPE_CHECKING:
    from numpy.typing import ArrayLike

__all__ = [
    "Kind",
    "Mismatch",
    "ShapeError",
    "assert_matches_trace",
    "bptrace_snapshot",
    "compare",
    "trace_text",
]

try:  # the plugin must load in any pytest run, with or without syrupy installed
    import pytest
except ImportError:  # pragma: no cover - bptrace itself does not need pytest
    pytest = None  # type: ignore[assignment]

Kind = Literal["grad", "update", "final", "net", "out", "error", "total_error", "partial", "delta"]
KINDS: tuple[str, ...] = get_args(Kind)
PARAM_KINDS = ("grad", "update", "final")
MAX_LISTED = 20  # mismatches spelled out in an assertion message; compare() returns them all
INSTALL_HINT = "pip install 'bptrace[pytest]' (or: pip install syrupy)"


class ShapeError(AssertionError):
    """Your array does not have the trace's shape (a transposed matrix says so)."""


# ---------------------------------------------------------------- comparing values


@dataclass(frozen=True)
class Mismatch:
    key: str  # the trace's key: grad.w5, out.o1, final.b1
    yours: float
    expected: float
    where: str = ""  # the same entry in array form: W_o[0,0], b_h[1], o[0]

    @property
    def label(self) -> str:
        kind, _, name = self.key.partition(".")
        return f"{kind} {self.where} ({name})" if self.where else self.key

    def __str__(self) -> str:
        diff = abs(self.yours - self.expected)
        rel = diff / max(abs(self.expected), 1e-300)
        return (
            f"{self.label}: yours {self.yours!r}, the trace {self.expected!r} "
            f"(difference {diff:.3g}, relative {rel:.3g})"
        )


@dataclass(frozen=True)
class _Item:
    key: str
    yours: float
    where: str
    layer: str | None


class _Names:
    """The network's names, and each scalar's place in its layer's arrays."""

    def __init__(self, trace: Trace) -> None:
        self.layers = names.layout(trace.spec)
        self.by_name = {lay.name: lay for lay in self.layers}
        self.place: dict[str, tuple[str, str]] = {}  # w2 -> ("W_h[0,1]", "h"), h2 -> ("h[1]", "h")
        for lay in self.layers:
            for j, n in enumerate(lay.neurons):
                self.place[n] = (f"{lay.name}[{j}]", lay.name)
            if not lay.index:
                continue
            for k, w in enumerate(lay.weight_names()):
                j, i = divmod(k, lay.prev_size)
                self.place[w] = (f"W_{lay.name}[{j},{i}]", lay.name)
            for j, b in enumerate(lay.biases):
                self.place[b] = ("" if lay.bias_name else f"b_{lay.name}[{j}]", lay.name)

    def item(self, kind: str, name: str, yours: float) -> _Item:
        where, layer = self.place.get(name, ("", None))
        return _Item("total_error" if kind == "total_error" else f"{kind}.{name}", yours, where, layer)

    def layer_of_array(self, key: str) -> names.LayerLayout | None:
        """The layer an array key (W_h, b_h) speaks of; None for a scalar key; an error for no such layer."""
        m = re.fullmatch(r"([Wb])_(.+)", key)
        if not m:
            return None
        letter, layer = m.groups()
        if letter == "b" and layer not in self.by_name and f"b_{layer}" in self.place:
            return None  # a per-neuron bias such as b_h1
        lay = self.by_name.get(layer)
        with_weights = ", ".join(lay.name for lay in self.layers[1:])
        if lay is None:
            raise AssertionError(
                f"{key}: the network has no layer named {layer!r} (layers with weights: {with_weights})"
            )
        if lay.index == 0:
            raise AssertionError(f"{key}: {layer} is the input layer; it has no weights or biases ({with_weights} do)")
        return lay


def _array(val: Any, key: str) -> Any:
    import numpy as np

    if hasattr(val, "detach"):  # a torch tensor that may require grad
        val = val.detach().cpu().numpy()
    try:
        arr = np.asarray(val, dtype=np.float64)
    except (TypeError, ValueError):
        raise AssertionError(
            f"{key}: expected numbers (an array, a list or a number), got {type(val).__name__}"
        ) from None
    return arr


def _shape_text(shape: tuple[int, ...]) -> str:
    return "(" + ", ".join(map(str, shape)) + ("," if len(shape) == 1 else "") + ")"


def _layer_items(nm: _Names, lay: names.LayerLayout, key: str, prefix: str, val: Any) -> list[_Item]:
    arr = _array(val, key)
    if key.startswith("W_"):
        want = (lay.size, lay.prev_size)
        if arr.shape != want:
            rows = f"row j holds the weights into neuron j of {lay.name}"
            if arr.shape == want[::-1]:
                raise ShapeError(
                    f"{key}: shape {_shape_text(arr.shape)} is the transpose of the trace's {_shape_text(want)} "
                    f"({rows}; pass its transpose)"
                )
            raise ShapeError(f"{key}: expected shape {_shape_text(want)} ({rows}), got {_shape_text(arr.shape)}")
        keys = lay.weight_names()
    else:
        keys = lay.biases
        if arr.size != len(keys) or sum(n != 1 for n in arr.shape) > 1:
            raise ShapeError(
                f"{key}: expected {len(keys)} bias value{'s' * (len(keys) != 1)}, got shape {_shape_text(arr.shape)}"
            )
    return [nm.item(prefix, k, float(x)) for k, x in zip(keys, arr.ravel().tolist())]


def _items(trace: Trace, nm: _Names, values: Mapping[str, Any] | Any, kind: str) -> list[_Item]:
    """Your values as scalars: keys like "w5", "grad.w5", or per layer "W_h"/"b_h" holding arrays;
    anything else is an array of every parameter in bptrace's order."""
    if not isinstance(values, Mapping):
        with_biases = bool(trace.spec["update_biases"]) or kind == "final"
        order = list(names.param_names(nm.layers, with_biases))
        flat = _array(values, "values").ravel().tolist()
        if len(flat) != len(order):
            raise ShapeError(f"expected {len(order)} values ({', '.join(order[:4])}, ...), got {len(flat)}")
        return [nm.item(kind, n, x) for n, x in zip(order, flat)]
    out: list[_Item] = []
    for key, val in values.items():
        prefix, dot, bare = key.partition(".")
        if not dot:
            prefix, bare = kind, key
        if bare == "total_error" or prefix == "total_error":
            prefix = bare = "total_error"
        lay = nm.layer_of_array(bare)
        if lay is not None:
            out += _layer_items(nm, lay, key, prefix, val)
            continue
        arr = _array(val, key)
        if arr.size != 1:
            raise ShapeError(f"{key}: expected one number, got shape {_shape_text(arr.shape)}")
        out.append(nm.item(prefix, bare, float(arr.ravel()[0])))
    return out


def compare(
    trace: Trace,
    values: Mapping[str, ArrayLike] | ArrayLike,
    *,
    kind: Kind = "grad",
    rel: float = 1e-9,
    abs: float = 1e-12,
    step: int = 0,
) -> list[Mismatch]:
    """Every value that differs from the trace by more than the tolerances, in the order the trace
    computed them (gradients: output layer first).

    ``kind`` says what bare names mean: "grad" (∂E/∂w of the detailed step ``step``), "update" (the
    parameter after that step's update), "final" (after the last iteration), or any record kind
    (``net``, ``out``, ``delta``...) for neuron names. Raises ShapeError (an AssertionError) when an
    array has the wrong shape, AssertionError for a name the trace does not hold.
    """
    if kind not in KINDS:
        raise ValueError(f"kind={kind!r}: expected one of {', '.join(KINDS)}")
    if not -len(trace.steps) <= step < len(trace.steps):
        raise ValueError(f"step={step}: the trace has {len(trace.steps)} detailed step{'s' * (len(trace.steps) != 1)}")
    nm = _Names(trace)
    rows = {r.key: r.value for r in step_rows(trace.steps[step], nm.by_name)}
    order = {k: n for n, k in enumerate(rows)}
    final = trace.final_params() if any(k.startswith("final.") for k in _keys(values)) or kind == "final" else {}
    found: list[tuple[int, Mismatch]] = []
    for it in _items(trace, nm, values, kind):
        p, _, name = it.key.partition(".")
        if p == "final":
            if name not in final:
                raise AssertionError(f"{it.key}: the trace has no final value of that name")
            expected = final[name]
            rank = order.get(f"grad.{name}", len(order))  # parameters in the order the backward pass meets them
        elif it.key in rows:
            expected = rows[it.key]
            rank = order.get(f"grad.{name}", order[it.key]) if p == "update" else order[it.key]
        else:
            raise AssertionError(f"{it.key}: the trace holds no such quantity (see the report's appendix for keys)")
        if not math.isclose(it.yours, expected, rel_tol=rel, abs_tol=abs):
            found.append((rank, Mismatch(it.key, it.yours, expected, it.where)))
    found.sort(key=lambda pair: pair[0])  # stable: ties keep your order
    bad = [m for _, m in found]
    _transposed_square(nm, bad, rows, rel, abs)
    return bad


def _transposed_square(nm: _Names, bad: list[Mismatch], rows: dict[str, Any], rel: float, abs: float) -> None:
    """A square weight matrix passed transposed has the right shape; say so when its transpose matches."""
    wrong: dict[str, dict[tuple[int, int], float]] = {}
    for m in bad:
        hit = re.fullmatch(r"W_(.+)\[(\d+),(\d+)\]", m.where)
        if hit and m.key.startswith("grad."):
            wrong.setdefault(hit.group(1), {})[int(hit.group(2)), int(hit.group(3))] = m.yours
    for layer, entries in wrong.items():
        lay = nm.by_name[layer]
        if lay.size != lay.prev_size or lay.size < 2:
            continue

        def expected(j: int, i: int, lay: names.LayerLayout = lay) -> float:
            return float(rows[f"grad.{lay.weight(j, i)}"])

        if all(math.isclose(y, expected(i, j), rel_tol=rel, abs_tol=abs) for (j, i), y in entries.items()):
            raise ShapeError(
                f"W_{layer}: your matrix is the trace's transposed (it is square, so only its values tell); "
                f"row j holds the weights into neuron j of {layer}"
            )


def _keys(values: Any) -> list[str]:
    return [str(k) for k in values] if isinstance(values, Mapping) else []


def _by_layer(bad: list[Mismatch], nm: _Names) -> str:
    counts: dict[str, int] = {}
    for m in bad:
        layer = nm.place.get(m.key.partition(".")[2], ("", None))[1]
        if layer is not None:
            counts[layer] = counts.get(layer, 0) + 1
    return ", ".join(f"{layer} {n}" for layer, n in counts.items())


def assert_matches_trace(
    trace: Trace,
    values: Mapping[str, ArrayLike] | ArrayLike,
    *,
    kind: Kind = "grad",
    rel: float = 1e-9,
    abs: float = 1e-12,
    step: int = 0,
) -> None:
    """Raise AssertionError listing every value that disagrees with the trace, first computed first."""
    bad = compare(trace, values, kind=kind, rel=rel, abs=abs, step=step)
    if not bad:
        return
    order = "output layer first" if kind in PARAM_KINDS + ("delta", "partial") else "first computed first"
    lines = [f"{len(bad)} value{'s' * (len(bad) != 1)} disagree{'s' * (len(bad) == 1)} with the trace ({order}):"]
    lines += [f"  {m}" for m in bad[:MAX_LISTED]]
    if len(bad) > MAX_LISTED:
        lines.append(f"  ... and {len(bad) - MAX_LISTED} more (compare() returns them all)")
    per_layer = _by_layer(bad, _Names(trace))
    if per_layer:
        lines.append(f"wrong per layer: {per_layer}")
    raise AssertionError("\n".join(lines))


def __getattr__(name: str) -> Any:
    if name == "TraceSnapshotExtension":  # built on first use: syrupy is a test dependency only
        from ._syrupy import TraceSnapshotExtension

        return TraceSnapshotExtension
    raise AttributeError(name)


if pytest is not None:

    @pytest.fixture
    def bptrace_snapshot(request: Any) -> Any:
        """syrupy's snapshot, storing a Trace as one record per line (``assert trace == bptrace_snapshot``)."""
        try:
            from ._syrupy import TraceSnapshotExtension

            snapshot = request.getfixturevalue("snapshot")
        except (ImportError, pytest.FixtureLookupError):
            pytest.fail(
                f"the bptrace_snapshot fixture needs syrupy, which is not installed or not enabled: {INSTALL_HINT}"
            )
        return snapshot.use_extension(TraceSnapshotExtension)

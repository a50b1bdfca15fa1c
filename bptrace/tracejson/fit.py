"""Check that a trace holds what its own spec implies: names, keys, layers and formulas.

Every string a report shows comes from the trace, and a trace is a file anyone can edit. Its shape
is checked in ``validate``; here each name is checked against the layout the spec produces (so a
record name can only be a neuron, a layer, a parameter or a chain-rule factor of this network),
every formula must be the one its expression tree prints, and every value must be the one its
expression gives. What passes holds no text of its own: nothing in it can close a code span or a
formula in the report around it.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable

from .. import formula, names
from ..errors import Diverged, SpecError
from ..fields import short
from ..ops import ACTIVATIONS
from ..rounding import carrier

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

_KEY_KINDS = ("net", "out", "error", "delta", "partial", "grad", "update", "input", "target", "param")
# LaTeX a formula without an expression tree (the vector form of a whole layer) may use
_COMMANDS = frozenset(
    "begin boldsymbol cases cdot cdots delta end eta frac le left ln mathbf mathrm max odot partial right "
    "sigma sum tanh times top hat sqrt varepsilon beta mu alpha lambda".split()
)
# no $, backtick, <, newline or ; of its own: nothing that ends the math or starts markup or an entity
_LATEX = re.compile(r"(?:\\[A-Za-z]+|\\[,;! \\_]|[A-Za-z0-9 ()\[\]+\-=^_{},./|>&])*")
_WHAT = {
    "net": "a neuron or layer",
    "out": "a neuron or layer",
    "delta": "a neuron or layer",
    "error": "an output neuron or layer",
    "grad": "a parameter",
    "update": "a parameter",
    "partial": "a chain-rule factor",
    "total_error": "'total', the name of the total error,",
    **{kind: "a parameter" for kind in names.STATE_PREFIX},
}
_STATE_PREFIXES = frozenset(names.STATE_PREFIX.values())
REL_TOLERANCE = 1e-9  # how far a value may sit from its own expression (float rounding, no more)


class Names:
    """The names a spec's network gives its neurons, layers and parameters."""

    def __init__(self, spec: dict[str, Any]) -> None:
        self.layers = names.layout(spec)
        self.by_name = {lay.name: lay for lay in self.layers}
        self.n_weights = sum(lay.weight_count for lay in self.layers)
        self.shared = {lay.bias_name for lay in self.layers if lay.bias_name}

    def layer_of(self, neuron: str) -> names.LayerLayout | None:
        parts = names.split_neuron(neuron)
        lay = self.by_name.get(parts[0]) if parts else None
        return lay if lay is not None and parts is not None and parts[1] < lay.size else None

    def neuron(self, name: str, inputs: bool = True) -> bool:
        lay = self.layer_of(name)
        return lay is not None and (inputs or lay.index > 0)

    def layer(self, name: str) -> bool:
        lay = self.by_name.get(name)
        return lay is not None and lay.index > 0

    def param(self, name: str) -> bool:
        if name in self.shared:
            return True
        m = re.fullmatch(r"w([1-9][0-9]*)", name)
        if m:
            return int(m.group(1)) <= self.n_weights
        if name.startswith(("W_", "b_")) and self.layer(name[2:]):
            return True  # a layer's weight matrix or bias vector
        lay = self.layer_of(name[2:]) if name.startswith("b_") else None
        return lay is not None and lay.index > 0 and lay.bias_name is None

    def _quantity(self, q: str) -> bool:
        """One side of a chain-rule factor: E_total, E_o1, out_h1, net_o1, out_h, or a parameter."""
        if q == "E_total":
            return True
        for prefix, layers_too in (("E_", False), ("out_", True), ("net_", True)):
            if q.startswith(prefix):
                rest = q[len(prefix) :]
                return self.neuron(rest, inputs=False) or (layers_too and self.layer(rest))
        if q.startswith("in_"):  # an input, for the gradient with respect to the inputs
            lay = self.layer_of(q[3:])
            return lay is not None and lay.index == 0
        return self.param(q)

    def partial(self, pid: str) -> bool:
        """A chain-rule factor d<top>/d<bottom>, or a product of them joined by *."""
        return all(self._factor(f) for f in pid.split("*"))

    def _factor(self, pid: str) -> bool:
        top, sep, bottom = pid.partition("/")
        return (
            bool(sep)
            and top.startswith("d")
            and bottom.startswith("d")
            and self._quantity(top[1:])
            and self._quantity(bottom[1:])
        )

    def record_name(self, kind: str, name: str) -> bool:
        if kind == "total_error":
            return name == "total"
        if kind in ("net", "out", "delta", "error"):
            return self.neuron(name, inputs=False) or self.layer(name)
        if kind == "grad" and (name == self.layers[0].name or self.neuron(name)):
            return True  # the gradient with respect to the inputs: one input, or the input layer
        if kind in ("grad", "update") or kind in names.STATE_PREFIX:
            return self.param(name)
        if kind == "partial":
            return self.partial(name)
        return False

    def key(self, key: str) -> bool:
        """A key an expression refers to: net.h1, param.w5, grad.w5@2, total_error@1, eta."""
        key, at, sample = key.partition("@")
        if at and not re.fullmatch(r"[1-9][0-9]*", sample):
            return False
        if key in ("eta", "total_error"):
            return True
        kind, _, name = key.partition(".")
        if kind in ("input", "target"):
            return self.neuron(name)
        if kind == "param":
            return self.param(name)
        if kind == "opt":  # an optimizer's setting, or its step number
            return name in names.SETTING_SYMBOL
        if kind.removeprefix("prev_") in _STATE_PREFIXES:  # an optimizer's state (m.w5) or its value before the step
            return self.param(name)
        return kind in _KEY_KINDS and self.record_name(kind, name)


def network_summary(layers: list[names.LayerLayout]) -> dict[str, Any]:
    """The ``network`` section of a trace: what its spec implies, so a reader can check it."""
    return {
        "layers": [
            {
                "name": lay.name,
                "size": lay.size,
                "activation": lay.activation,
                "neurons": lay.neurons if lay.size <= 64 else [lay.neuron(0), lay.neuron(lay.size - 1)],
                **(
                    {
                        "weights": [lay.first_weight, lay.last_weight],
                        "biases": lay.biases if lay.size <= 64 else lay.biases[:1],
                        # whether out_j depends on net_j alone (softmax mixes the layer)
                        "elementwise": ACTIVATIONS[lay.activation or "sigmoid"].elementwise,
                    }
                    if lay.index
                    else {}
                ),
            }
            for lay in layers
        ]
    }


def check_fit(doc: dict[str, Any]) -> None:
    """Raise SpecError where the checked document ``doc`` does not fit its own spec."""
    known = Names(doc["spec"])
    carry = carrier(doc["spec"]["rounding"])
    single = doc["spec"].get("dtype") == "float32"
    if doc["network"] != network_summary(known.layers):
        raise SpecError("does not match the layers of the spec", "network")
    for si, step in enumerate(doc["steps"]):
        values: dict[str, Any] = {}
        for ri, rec in enumerate(step["records"]):
            path = f"steps[{si}].records[{ri}]"
            _record(rec, path, known, values, carry, single)
            if "shape" not in rec:
                values[names.record_key(rec["kind"], rec["name"])] = rec["value"]
    _params(doc, known)
    _history_length(doc)


def _history_length(doc: dict[str, Any]) -> None:
    """One error per iteration run: all of them for a finished run, those before the break for a
    diverged one."""
    n = len(doc["history"]["total_error"])
    d = doc["diverged"]
    expected = d["iteration"] - 1 if d else doc["spec"]["iterations"]
    if n != expected:
        why = f"it diverged at iteration {d['iteration']}" if d else f"the spec runs {expected} iterations"
        raise SpecError(f"holds {n:,} values, but {why}", "history.total_error")


def _bad_name(what: str, name: str, path: str) -> SpecError:
    return SpecError(f"{short(name)!r} is not {what} of this spec's network", path)


def _record(
    rec: dict[str, Any],
    path: str,
    known: Names,
    values: dict[str, Any],
    carry: Callable[[float], float] | None,
    single: bool = False,
) -> None:
    kind, name = rec["kind"], rec["name"]
    if not known.record_name(kind, name):
        raise _bad_name(_WHAT.get(kind, "a name"), name, f"{path}.name")
    if "key" in rec and rec["key"] != names.record_key(kind, name):
        raise SpecError(f"expected {names.record_key(kind, name)!r}, got {short(str(rec['key']))!r}", f"{path}.key")
    if rec.get("layer") is not None and not (known.layer(rec["layer"]) or rec["layer"] == known.layers[0].name):
        raise _bad_name("a layer", rec["layer"], f"{path}.layer")
    expr = rec.get("expr")
    if expr is None:
        _plain_latex(rec["formula"], f"{path}.formula")
        if rec["substituted"]:
            raise SpecError(
                "expected no text: only a record with an expression has numbers put in", f"{path}.substituted"
            )
        return
    if "shape" in rec:
        raise SpecError("an array record has no expression tree", f"{path}.expr")
    for node in formula.variables(expr):
        if not known.key(node[1]):
            raise _bad_name("a quantity", node[1], f"{path}.expr")
        held = values.get(node[1])
        if held is not None and not _close(node[2], held, 0.0):
            raise SpecError(
                f"{node[1]} is put in as {node[2]!r}, but its record holds {held!r}; was the trace edited?",
                f"{path}.expr",
            )
    lhs = names.symbol(names.record_key(kind, name))
    if rec["formula"] != f"{lhs} = {formula.latex(expr)}":
        raise SpecError("does not match its expression tree; was the trace edited?", f"{path}.formula")
    if rec["substituted"] != f"{lhs} = {formula.latex(expr, formula.exact_latex)}":
        raise SpecError("does not match its expression tree; was the trace edited?", f"{path}.substituted")
    _value_fits(rec, path, carry, single)


def _value_fits(rec: dict[str, Any], path: str, carry: Callable[[float], float] | None, single: bool = False) -> None:
    value = rec["value"]
    if not isinstance(value, (int, float)):
        raise SpecError("expected one number for a record with an expression tree", f"{path}.value")
    try:
        if single:  # a float32 trace is recomputed in float32, operation for operation
            import numpy as np

            from ..ops import F32_SCALARS

            env: dict[str, Any] = {node[1]: np.float32(node[2]) for node in formula.variables(rec["expr"])}
            computed = float(formula.evaluate(rec["expr"], env, F32_SCALARS))
        else:
            computed = formula.evaluate(_constants(rec["expr"]), {})
    except (ArithmeticError, ValueError):
        computed = math.nan
    if carry is not None:  # a value carried rounded, as the run rounded it
        computed = carry(computed)
    if not _close(value, computed, 0.0):
        raise SpecError(
            f"{value!r} is not what its expression gives ({computed!r}); was the trace edited?", f"{path}.value"
        )
    if rec["kind"] == "update" and "new" in rec and not _close(rec["new"], value, 0.0):
        raise SpecError(f"{rec['new']!r} differs from the record's value {value!r}", f"{path}.new")


def _constants(node: Any) -> Any:
    """The tree with each variable replaced by the value put in for it."""
    if not isinstance(node, list):
        return node
    if node[0] == "v":
        return node[2]
    if node[0] == "fn":
        return ["fn", node[1], *(_constants(a) for a in node[2:])]
    return [node[0], *(_constants(a) for a in node[1:])]


def _close(x: Any, y: Any, slack: float) -> bool:
    a, b = _float(x), _float(y)
    if not (math.isfinite(a) and math.isfinite(b)):
        return not math.isfinite(a) and not math.isfinite(b)
    return abs(a - b) <= slack * (1 + REL_TOLERANCE) + REL_TOLERANCE * max(abs(a), abs(b), 1e-300)


def _float(x: Any) -> float:
    try:
        return float(x)
    except OverflowError:  # an integer beyond float64
        return math.inf


def _plain_latex(tex: str, path: str) -> None:
    """A formula with no expression tree: plain LaTeX of known commands, on one line."""
    if not _LATEX.fullmatch(tex):
        raise SpecError("holds characters a formula of bptrace never has; was the trace edited?", path)
    for cmd in re.findall(r"\\([A-Za-z]+)", tex):
        if cmd not in _COMMANDS:
            raise SpecError(f"unknown LaTeX command \\{short(cmd)}", path)


def _params(doc: dict[str, Any], known: Names) -> None:
    final = doc["final"]
    if final:
        for key in final["params"]:
            if not known.param(key):
                raise _bad_name("a parameter", key, "final.params")
    gc = doc["gradcheck"]
    if gc:
        if gc["worst"] is not None and not known.param(gc["worst"]):
            raise _bad_name("a parameter", gc["worst"], "gradcheck.worst")
        for i, row in enumerate(gc["params"]):
            if not known.param(row["name"]):
                raise _bad_name("a parameter", row["name"], f"gradcheck.params[{i}].name")
    d = doc["diverged"]
    if d:
        m = re.fullmatch(r"(.*?)(\[[0-9]+\])?", d["quantity"])
        key = m.group(1) if m else ""
        if not (known.key(key) or key == "total_error"):
            raise _bad_name("a quantity", d["quantity"], "diverged.quantity")
        expected = str(Diverged(d["iteration"], d["sample"], d["quantity"]))
        if d["message"] != expected:
            raise SpecError(f"expected {expected!r}; was the trace edited?", "diverged.message")

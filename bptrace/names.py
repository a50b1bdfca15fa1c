"""How neurons, parameters and quantities are named, and how those names are written in LaTeX.

Plain Python on purpose: the tracer, the renderers and the answer checker all read names from
here, and a renderer must work from a saved trace without numpy.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Iterator

from .valueclass import FrozenFields

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any


class LayerLayout(FrozenFields):
    index: int  # 0 = input layer
    name: str
    size: int
    activation: str | None
    prev_size: int
    weight_offset: int  # w(offset + 1) is this layer's first weight
    bias_name: str | None  # the shared bias (b1, b2, ...)
    _fields = ("index", "name", "size", "activation", "prev_size", "weight_offset", "bias_name")

    def __init__(
        self,
        index: int,
        name: str,
        size: int,
        activation: str | None,
        prev_size: int,
        weight_offset: int,
        bias_name: str | None,
    ) -> None:
        self._set(
            index=index, name=name, size=size, activation=activation, prev_size=prev_size,
            weight_offset=weight_offset, bias_name=bias_name,
        )  # fmt: skip

    def neuron(self, j: int) -> str:
        return neuron_name(self.name, j)

    @property
    def neurons(self) -> list[str]:
        return [self.neuron(j) for j in range(self.size)]

    def weight(self, j: int, i: int) -> str:
        """The weight into neuron j from neuron i of the previous layer."""
        return f"w{self.weight_offset + j * self.prev_size + i + 1}"

    def weight_names(self) -> list[str]:
        """Every weight of the layer, row by row (they are numbered consecutively)."""
        return [f"w{k}" for k in range(self.weight_offset + 1, self.weight_offset + self.weight_count + 1)]

    @property
    def weight_count(self) -> int:
        return self.size * self.prev_size

    @property
    def first_weight(self) -> str:
        return self.weight(0, 0)

    @property
    def last_weight(self) -> str:
        return self.weight(self.size - 1, self.prev_size - 1)

    @property
    def shares_bias(self) -> bool:
        """Whether several neurons share one bias: one bias of a one-neuron layer is that neuron's
        own in all but name (its gradient is its δ, and it is drawn beside it)."""
        return self.bias_name is not None and self.size > 1

    def bias(self, j: int) -> str:
        return self.bias_name if self.bias_name else f"b_{self.neuron(j)}"

    @property
    def biases(self) -> list[str]:
        return [self.bias_name] if self.bias_name else [self.bias(j) for j in range(self.size)]

    def weight_position(self, name: str) -> tuple[int, int] | None:
        """(j, i) of a weight name in this layer, or None."""
        m = re.fullmatch(r"w(\d+)", name)
        if not m:
            return None
        k = int(m.group(1)) - 1 - self.weight_offset
        if not 0 <= k < self.weight_count:
            return None
        return divmod(k, self.prev_size)


def neuron_name(layer: str, j: int) -> str:
    """Neuron j (from 0) of a layer: h1, o2; a layer whose name ends in a digit takes a separator
    (h1_2), so that every neuron name reads back to exactly one layer and index."""
    return f"{layer}_{j + 1}" if layer[-1].isdigit() else f"{layer}{j + 1}"


_NEURON = re.compile(r"([A-Za-z][A-Za-z0-9]*\d)_([1-9]\d*)|([A-Za-z](?:[A-Za-z0-9]*[A-Za-z])?)([1-9]\d*)")


def split_neuron(name: str) -> tuple[str, int] | None:
    """(layer name, index from 0) of a neuron name, or None: the inverse of neuron_name."""
    m = _NEURON.fullmatch(name)
    if not m:
        return None
    layer, num = (m.group(1), m.group(2)) if m.group(1) else (m.group(3), m.group(4))
    return layer, int(num) - 1


def layout(spec: dict[str, Any]) -> list[LayerLayout]:
    """The layers of a normalised spec (as a dict) with their names and numbering."""
    out: list[LayerLayout] = []
    offset = 0
    prev = 0
    for idx, layer in enumerate(spec["layers"]):
        shared = idx > 0 and not isinstance(layer.get("bias"), list)
        out.append(
            LayerLayout(
                index=idx,
                name=layer["name"],
                size=layer["size"],
                activation=layer.get("activation") if idx else None,
                prev_size=prev,
                weight_offset=offset,
                bias_name=f"b{idx}" if shared else None,
            )
        )
        if idx:
            offset += layer["size"] * prev
        prev = layer["size"]
    return out


SCALAR_LIMIT = 64  # weights per layer up to which every scalar gets its own record


def matrix_mode(layers: list[LayerLayout], limit: int | None = None) -> bool:
    """Whether a network is traced in matrix form: some layer has more than SCALAR_LIMIT weights."""
    lim = SCALAR_LIMIT if limit is None else limit
    return any(lay.weight_count > lim for lay in layers[1:])


def param_names(layers: list[LayerLayout], with_biases: bool) -> Iterator[str]:
    """Every trainable parameter in order: each layer's weights row by row, then its biases."""
    for lay in layers[1:]:
        yield from lay.weight_names()
        if with_biases:
            yield from lay.biases


# ---------------------------------------------------------------- LaTeX symbols

_SPLIT = re.compile(r"([A-Za-z][A-Za-z0-9]*?)(\d+(?:_\d+)?)$")


def subscript(name: str) -> str:
    """A name inside a subscript: h1_2 -> h1,2 (an underscore there would be a second subscript)."""
    return name.replace("_", ",")


def _ident(name: str) -> str:
    """A multi-letter identifier is upright; a single letter stays italic, as in maths."""
    return name if len(name) == 1 else rf"\mathrm{{{name}}}"


def neuron_value_symbol(neuron: str) -> str:
    """i1 -> i_{1}, x1_2 -> x_{1,2}: how an input value is written."""
    base, sub = neuron_parts(neuron)
    return f"{_ident(base)}_{{{sub}}}" if sub else _ident(base)


def neuron_parts(neuron: str) -> tuple[str, str]:
    """A neuron's letters and its subscript: h1 -> (h, 1), hidden1_2 -> (hidden, "1,2")."""
    m = _SPLIT.fullmatch(neuron)
    return (m.group(1), subscript(m.group(2))) if m else (neuron, "")


def param_symbol(name: str) -> str:
    """w5 -> w_{5}, b1 -> b_{1}, b_h1 -> b_{h1}, b_h1_2 -> b_{h1,2}."""
    if name.startswith(("b_", "W_")):  # a per-neuron bias, or a layer's bias vector or weight matrix
        return rf"{name[0]}_{{{subscript(name[2:])}}}"
    m = re.fullmatch(r"([wb])(\d+)", name)
    if m:
        return f"{m.group(1)}_{{{m.group(2)}}}"
    return _ident(name)


def _quantity(name: str, sample: str = "") -> str:
    """A name inside a partial id: E_total, E_o1, out_h1, net_o1, or a parameter. A sample's mark goes
    on every value of that sample, numerator and denominator alike; a parameter is shared by all
    samples and has none."""
    if name == "E_total":
        return sample_mark(r"E_{\mathrm{total}}", sample)
    for prefix, sym in (("E_", "E"), ("out_", r"\mathrm{out}"), ("net_", r"\mathrm{net}")):
        if name.startswith(prefix):
            return sample_mark(f"{sym}_{{{subscript(name[len(prefix) :])}}}", sample)
    if name.startswith("in_"):  # an input neuron: dE_total/din_i1
        return sample_mark(neuron_value_symbol(name[3:]), sample)
    return param_symbol(name)


def per_output_errors(layers: list[LayerLayout], down: LayerLayout) -> bool:
    """Whether E_total splits into terms E_k that each depend on net_k alone, for the neurons k of
    ``down``: only when ``down`` is the output layer and its activation is elementwise (squared
    error, or cross-entropy on sigmoids). Then a hidden neuron's share through k may be written
    dE_k/dout_h; elsewhere (softmax, or a hidden ``down``) E_k does not exist or is not the share."""
    if down.index != len(layers) - 1:
        return False
    return down.activation != "softmax"


def share_id(down_neuron: str, neuron: str, per_output: bool) -> str:
    """The partial id of the share of dE_total/dout_h passed back through one downstream neuron k:
    dE_k/dout_h where that error term exists, else dE_total/dnet_k * dnet_k/dout_h (= delta_k w_kh)."""
    if per_output:
        return f"dE_{down_neuron}/dout_{neuron}"
    return f"dE_total/dnet_{down_neuron}*dnet_{down_neuron}/dout_{neuron}"


def share_aliases(pid: str) -> list[str]:
    """The other spelling of a share's id, so answers written either way find it."""
    m = re.fullmatch(r"dE_total/dnet_(\w+)\*dnet_\1/dout_(\w+)", pid)
    if m:
        return [f"dE_{m.group(1)}/dout_{m.group(2)}"]
    m = re.fullmatch(r"dE_(?!total/)(\w+)/dout_(\w+)", pid)
    if m:
        return [f"dE_total/dnet_{m.group(1)}*dnet_{m.group(1)}/dout_{m.group(2)}"]
    return []


def partial_symbol(pid: str, sample: str = "") -> str:
    """'dE_total/dout_o1' -> \\frac{\\partial E_{total}}{\\partial out_{o1}}; a product of
    partials ('dE_total/dnet_o1*dnet_o1/dout_h1') is written as one."""
    if "*" in pid:
        return r" \cdot ".join(partial_symbol(part, sample) for part in pid.split("*"))
    top, bottom = pid.split("/", 1)
    return rf"\frac{{\partial {_quantity(top[1:], sample)}}}{{\partial {_quantity(bottom[1:], sample)}}}"


_SIMPLE = {
    "net": r"\mathrm{net}_{%s}",
    "out": r"\mathrm{out}_{%s}",
    "target": r"\mathrm{target}_{%s}",
    "error": "E_{%s}",
    "delta": r"\delta_{%s}",
}


# optimizer state: record kind -> key prefix (m.w5, v.w5); a key "prev_m.w5" is its value before the step
STATE_PREFIX = {
    "decayed_grad": "g",
    "velocity": "v",
    "moment1": "m",
    "moment2": "v",
    "moment1_hat": "mhat",
    "moment2_hat": "vhat",
    "square_avg": "s",
}
_STATE_SYMBOL = {"m": "m", "v": "v", "s": "s", "mhat": r"\hat{m}", "vhat": r"\hat{v}"}
SETTING_SYMBOL = {
    "momentum": r"\mu",
    "beta1": r"\beta_{1}",
    "beta2": r"\beta_{2}",
    "eps": r"\varepsilon",
    "alpha": r"\alpha",
    "weight_decay": r"\lambda",
    "t": "t",
}


@functools.lru_cache(maxsize=8192)  # a report asks for the same few symbols many times over
def symbol(key: str) -> str:
    """The LaTeX symbol of a quantity key such as 'out.h1', 'param.w5', 'grad.w5@2'."""
    key, _, sample = key.partition("@")
    kind, _, name = key.partition(".")
    if kind in _SIMPLE:
        return sample_mark(_SIMPLE[kind] % subscript(name), sample)
    if kind in _STATE_SYMBOL:
        return rf"{_STATE_SYMBOL[kind]}^{{(t)}}_{{{param_symbol(name)}}}"
    if kind.startswith("prev_") and kind[5:] in _STATE_SYMBOL:
        return rf"{_STATE_SYMBOL[kind[5:]]}^{{(t-1)}}_{{{param_symbol(name)}}}"
    if kind == "g":
        return f"g_{{{param_symbol(name)}}}"
    if kind == "opt":
        return SETTING_SYMBOL[name]
    if kind == "input":
        return sample_mark(neuron_value_symbol(name), sample)
    if kind == "param":
        return param_symbol(name)
    if kind == "update":
        return param_symbol(name) + "^{+}"
    if kind == "grad":
        return partial_symbol(f"dE_total/d{name}", sample)
    if kind == "partial":
        return partial_symbol(name, sample)
    if kind == "total_error":
        return rf"E^{{({sample})}}_{{\mathrm{{total}}}}" if sample else r"E_{\mathrm{total}}"
    if kind == "eta":
        return r"\eta"
    raise KeyError(key)


def sample_mark(sym: str, sample: str) -> str:
    """out_{h1} -> out^{(1)}_{h1}: the sample a value belongs to, above its subscript."""
    if not sample:
        return sym
    base, sep, sub = sym.partition("_{")
    return f"{base}^{{({sample})}}{sep}{sub}" if sep else f"{sym}^{{({sample})}}"


def record_key(kind: str, name: str) -> str:
    """The key a record is known by in answers and in expressions: 'net.h1', 'total_error', 'm.w5'."""
    return kind if kind == "total_error" else f"{STATE_PREFIX.get(kind, kind)}.{name}"

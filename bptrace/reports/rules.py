"""The general rules behind a layer's worked derivation, as LaTeX for the templates: the merged
formula of the weight derived in full, δ for any neuron of the layer, ∂E/∂w = δ·x, the bias rule,
and the same in matrix form. Everything is built from the op table and the step's own expression
trees, so the rules shown always belong to the network's activations and loss."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from .. import formula, names
from ..names import LayerLayout
from ..ops import ACTIVATIONS, LOSSES, mul, neg, sub, v
from ..tracedata import Step

if TYPE_CHECKING:
    from ..ops import Node


def expand(node: Node, step: Step, inline: tuple[str, ...] = ("partial.",)) -> Node:
    """The tree with each variable of the given kinds replaced by its own expression, so a merged
    formula shows what the chain-rule factors stand for."""
    if not isinstance(node, list):
        return node
    if node[0] == "v":
        key = node[1]
        if key.startswith(inline):
            rec = step.get(key)
            if rec is not None and rec.expr is not None and not rec.is_array:
                return expand(rec.expr, step, inline)
        return ["v", key]
    if node[0] == "fn":
        return ["fn", node[1], *(expand(a, step, inline) for a in node[2:])]
    return [node[0], *(expand(a, step, inline) for a in node[1:])]


def product_latex(factors: list[Node], symbol: Callable[[str], str] = names.symbol) -> str:
    """f1 · f2 · …, a leading minus sign pulled in front as the article writes it."""
    first = factors[0]
    if isinstance(first, list) and first[0] == "neg":
        return formula.latex(neg(mul(first[1], *factors[1:])), symbol=symbol)
    return formula.latex(mul(*factors), symbol=symbol)


def merged(step: Step, keys: list[str], output: bool, symbol: Callable[[str], str] = names.symbol) -> str:
    """The chain-rule factors of a weight multiplied out in symbols: for the output layer down to
    targets and outputs, for a hidden layer down to the downstream δ and weights."""
    inline = ("partial.", "delta.") if output else ("partial.",)
    return product_latex([expand(v(k), step, inline) for k in keys], symbol)


def _generic(kind: str, index: str) -> Node:
    return v(f"{kind}.{index}")


def slope(activation: str, index: str = "j") -> str:
    """f'(net_j) of an elementwise activation, written with the neuron's own values."""
    act = ACTIVATIONS[activation]
    assert act.derivative is not None
    return formula.latex(act.derivative(_generic("net", index), _generic("out", index)))


def kronecker_rule() -> str:
    # an Iverson bracket, not a Kronecker delta: δ already names the error signals in these formulas
    return (
        r"\frac{\partial \mathrm{out}_{k}}{\partial \mathrm{net}_{j}} = "
        r"\mathrm{out}_{k} \left([k = j] - \mathrm{out}_{j}\right)"
    )


def _marker(sample: str) -> tuple[Callable[[str], str], Callable[[str], str]]:
    """How a rule writes one sample's values: a symbol by key, and a symbol written out. In a batch
    every per-sample quantity carries the mark (n), as the worked values carry (1): a symbol without
    it stands for the batch."""
    if not sample:
        return names.symbol, lambda tex: tex
    return (lambda key: names.symbol(f"{key}@{sample}")), (lambda tex: names.sample_mark(tex, sample))


def output_delta(loss: str, activation: str, reduction: str | None = None, outputs: int = 1, sample: str = "") -> str:
    """δ_j = ∂E_total/∂net_j for a neuron j of the output layer, for this loss (with its reduction
    over the outputs) and activation; ``sample`` marks every per-sample quantity, as (n)."""
    form = LOSSES[loss].form(activation, reduction, outputs)
    assert form is not None
    sym, mk = _marker(sample)
    E, out_k, out_j = mk(r"E_{\mathrm{total}}"), mk(r"\mathrm{out}_{k}"), mk(r"\mathrm{out}_{j}")
    per = "" if form.delta_divisor == 1 else f"\\frac{{1}}{{{form.delta_divisor}}} "
    d_j, net_j, target_j = mk(r"\delta_{j}"), mk(r"\mathrm{net}_{j}"), mk(r"\mathrm{target}_{j}")
    head = rf"{d_j} = \frac{{\partial {E}}}{{\partial {net_j}}} = "
    dE_k = formula.latex(form.dout(_generic("target", "k"), _generic("out", "k")), symbol=sym)
    if activation == "softmax":
        total = rf"\sum_{{k}} \frac{{\partial {E}}}{{\partial {out_k}}} {out_k} \left([k = j] - {out_j}\right)"
        if form.fused_delta:
            diff = rf"{out_j} - {target_j}"
            return head + total + " = " + (rf"{per}\left({diff}\right)" if per else diff)
        return head + total + rf", \quad \frac{{\partial {E}}}{{\partial {out_k}}} = {dE_k}"
    if form.fused_delta:
        diff = formula.latex(sub(_generic("out", "j"), _generic("target", "j")), symbol=sym)
        return head + (rf"{per}\left({diff}\right)" if per else diff)
    dE_j = form.dout(_generic("target", "j"), _generic("out", "j"))
    act = ACTIVATIONS[activation]
    assert act.derivative is not None
    return head + product_latex([dE_j, act.derivative(_generic("net", "j"), _generic("out", "j"))], sym)


def hidden_delta(activation: str, sample: str = "") -> str:
    """The δ recursion for a neuron j of a hidden layer; ``sample`` marks the per-sample quantities."""
    act = ACTIVATIONS[activation]
    assert act.derivative is not None
    sym, mk = _marker(sample)
    node = act.derivative(_generic("net", "j"), _generic("out", "j"))
    f = formula.latex(node, symbol=sym)
    wrapped = rf"\left({f}\right)" if isinstance(node, list) and node[0] in ("add", "sub") else f
    d_j, d_k, net_j = mk(r"\delta_{j}"), mk(r"\delta_{k}"), mk(r"\mathrm{net}_{j}")
    # a brace of cases has no closing side: a product sign keeps the sum from reading as its last case
    times = r" \cdot " if r"\begin{cases}" in f else " "
    return (
        rf"{d_j} = f'\left({net_j}\right) \sum_{{k}} W_{{kj}} \, {d_k} = {wrapped}{times}\sum_{{k}} W_{{kj}} \, {d_k}"
    )


def weight_rule(plain: bool = True, batch: str | None = None) -> str:
    """The weight gradient, and the update when it is plain gradient descent (an optimizer's has a
    section of its own). In a batch each sample n has its own gradient and the update uses their
    mean ("mean") or sum ("sum") over the N samples, so the box shows exactly that."""
    if batch is None:
        grad = r"\frac{\partial E_{\mathrm{total}}}{\partial W_{ji}} = \delta_{j} \, a_{i}"
        step = r"\frac{\partial E_{\mathrm{total}}}{\partial W_{ji}}"
    else:
        grad = r"\frac{\partial E^{(n)}_{\mathrm{total}}}{\partial W_{ji}} = \delta^{(n)}_{j} \, a^{(n)}_{i}"
        mean = r"\frac{1}{N} " if batch == "mean" else ""
        step = mean + r"\sum_{n=1}^{N} \frac{\partial E^{(n)}_{\mathrm{total}}}{\partial W_{ji}}"
    if not plain and batch is None:
        return grad
    if not plain:
        # an optimizer works from the batch's gradient, so the box defines it (and with it N)
        return grad + r", \qquad \frac{\partial E_{\mathrm{batch}}}{\partial W_{ji}} = " + step
    return grad + r", \qquad W_{ji}^{+} = W_{ji} - \eta \, " + step


def bias_rule(lay: LayerLayout, batch: bool = False) -> str:
    """A bias's gradient; in a batch it is one sample's, marked (n) as the weight rule's is."""
    e = r"E^{(n)}_{\mathrm{total}}" if batch else r"E_{\mathrm{total}}"
    d = r"\delta^{(n)}_{j}" if batch else r"\delta_{j}"
    if lay.bias_name:
        b = names.param_symbol(lay.bias_name)
        if lay.size == 1:  # the bias of a layer's only neuron: no sum to take
            delta = names.symbol(f"delta.{lay.neuron(0)}" + ("@n" if batch else ""))
            return rf"\frac{{\partial {e}}}{{\partial {b}}} = {delta}"
        return rf"\frac{{\partial {e}}}{{\partial {b}}} = \sum_{{j}} {d}"
    return rf"\frac{{\partial {e}}}{{\partial b_{{j}}}} = {d}"


# ---------------------------------------------------------------- the matrix form


def _vec(kind: str, layer: str, sample: str = "") -> str:
    """A layer's vector; ``sample`` marks one sample's (W and b are every sample's)."""
    tex = {
        "net": rf"\mathbf{{net}}_{{{layer}}}",
        "out": rf"\mathbf{{out}}_{{{layer}}}",
        "delta": rf"\boldsymbol{{\delta}}_{{{layer}}}",
        "x": rf"\mathbf{{a}}_{{{layer}}}",
        "b": rf"\mathbf{{b}}_{{{layer}}}",
    }[kind]
    return tex if kind == "b" else names.sample_mark(tex, sample)


def matrix_lines(
    layers: list[LayerLayout], loss: str, reduction: str | None = None, sample: str = ""
) -> list[dict[str, Any]]:
    """One entry per layer from the output down: δ, the weight gradient and the bias gradient;
    ``sample`` marks them as one sample's, as a batch's rules are."""
    out: list[dict[str, Any]] = []
    last = layers[-1]
    E = names.sample_mark(r"E_{\mathrm{total}}", sample)
    target = names.sample_mark(r"\mathbf{target}", sample)

    def vec(kind: str, layer: str) -> str:
        return _vec(kind, layer, sample)

    for lay in reversed(layers[1:]):
        n = lay.name
        dE = rf"\frac{{\partial {E}}}{{\partial {vec('out', n)}}}"
        if lay is last and lay.activation == "softmax":
            form = LOSSES[loss].form("softmax", reduction, lay.size)
            assert form is not None
            jac = names.sample_mark(f"J_{{{n}}}", sample)
            delta = rf"{vec('delta', n)} = {_t(jac)} {dE}"
            if form.fused_delta:
                diff = rf"{vec('out', n)} - {target}"
                k = form.delta_divisor
                delta += " = " + (diff if k == 1 else rf"\frac{{1}}{{{k}}} \left({diff}\right)")
        elif lay is last:
            delta = rf"{vec('delta', n)} = {dE} \odot f'\left({vec('net', n)}\right)"
        else:
            up = layers[lay.index + 1].name
            delta = rf"{vec('delta', n)} = \left(W_{{{up}}}^{{\top}} {vec('delta', up)}\right) \odot f'\left({vec('net', n)}\right)"
        grad = rf"\frac{{\partial {E}}}{{\partial W_{{{n}}}}} = {vec('delta', n)} \, {_t(vec('x', n))}"
        if lay.bias_name and lay.shares_bias:
            bias = rf"\frac{{\partial {E}}}{{\partial {names.param_symbol(lay.bias_name)}}} = \mathbf{{1}}^{{\top}} {vec('delta', n)}"
        elif lay.bias_name:  # one neuron's: its δ, with nothing to add up
            bias = rf"\frac{{\partial {E}}}{{\partial {names.param_symbol(lay.bias_name)}}} = {vec('delta', n)}"
        else:
            bias = rf"\frac{{\partial {E}}}{{\partial {vec('b', n)}}} = {vec('delta', n)}"
        prev = layers[lay.index - 1]
        inputs = names.sample_mark(rf"\mathbf{{{prev.name}}}", sample)
        x_is = rf"{vec('x', n)} = " + (inputs if prev.index == 0 else vec("out", prev.name))
        out.append({"layer": lay, "delta": delta, "grad": grad, "bias": bias, "x": x_is})
    return out


def _t(tex: str) -> str:
    """The transpose; a symbol with a superscript of its own (a sample's mark) is bracketed first."""
    return rf"\left({tex}\right)^{{\top}}" if "^" in tex else rf"{tex}^{{\top}}"


def jacobian_matrix(layer: str, sample: str = "") -> str:
    o, net = _vec("out", layer, sample), _vec("net", layer, sample)
    jac = names.sample_mark(f"J_{{{layer}}}", sample)
    return rf"{jac} = \frac{{\partial {o}}}{{\partial {net}}} = \operatorname{{diag}}\left({o}\right) - {o} \, {_t(o)}"

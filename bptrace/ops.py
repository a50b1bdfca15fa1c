"""The table of activations and losses.

Every entry keeps its forward value and its local derivative side by side, in three forms that
must agree: expression trees (evaluated on Python floats for traced steps, compiled for the fast
path, and printed as LaTeX), and numpy functions for layers too large to trace scalar by scalar.
Adding an activation or a loss means adding one entry here; nothing else branches on names.

Expression nodes are plain lists so they serialise as JSON: ``["v", key]`` is a named quantity,
a bare number is a constant, and ``[op, *args]`` applies one of OPS or ``["fn", name, *args]``
one of FUNCTIONS.
"""

from __future__ import annotations

import importlib
import math
from collections.abc import Callable

from .valueclass import FrozenFields

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

    import numpy as np

    Node = Any  # list | float | int
else:

    class _LazyNumpy:
        """numpy, imported on first use: small networks trace on floats and never need it."""

        def __getattr__(self, name: str) -> Any:
            found = getattr(importlib.import_module("numpy"), name)
            setattr(self, name, found)  # looked up once: the matrix loop calls these per layer
            return found

    np = _LazyNumpy()

# ln(x) and 1/x in cross-entropy see x clipped to [CLIP, 1 - CLIP], so a saturated output gives a
# large finite loss instead of log(0) = -inf.  The same bound is used by the vector forms.
CLIP = 1e-15
LEAKY_SLOPE = 0.01


def v(key: str) -> Node:
    return ["v", key]


def add(*terms: Node) -> Node:
    return ["add", *terms]


def sub(a: Node, b: Node) -> Node:
    return ["sub", a, b]


def mul(*factors: Node) -> Node:
    return ["mul", *factors]


def neg(a: Node) -> Node:
    return ["neg", a]


def fn(name: str, *args: Node) -> Node:
    return ["fn", name, *args]


# ---------------------------------------------------------------- scalar functions (Python floats)


def _sigmoid(x: float) -> float:
    # Two branches so exp never sees a large positive argument (no OverflowError at |x| = 1000);
    # NaN takes the second and comes back NaN.
    if x >= 0.0:
        return 1.0 / (1.0 + math.exp(-x))
    z = math.exp(x)
    return z / (1.0 + z)


def _softmax(x: float, *all_nets: float) -> float:
    m = max(all_nets)
    return math.exp(x - m) / math.fsum(math.exp(a - m) for a in all_nets)


def _clip(x: float) -> float:
    return min(max(x, CLIP), 1.0 - CLIP)


def _ln(x: float) -> float:
    return math.log(_clip(x))


def _bce_dout(t: float, o: float) -> float:
    c = _clip(o)
    return -t / c + (1.0 - t) / (1.0 - c)


def _nll_dout(t: float, o: float) -> float:
    return -t / _clip(o)


def _nan_safe(f: Callable[..., float]) -> Callable[..., float]:
    """A NaN input gives NaN (so divergence is detected) where max() would pick at random."""

    def g(*args: float) -> float:
        if any(a != a for a in args):
            return math.nan
        return f(*args)

    g.__name__ = f.__name__
    return g


class Function(FrozenFields):
    """A named function inside expressions: its value on floats and its LaTeX."""

    scalar: Callable[..., float]
    latex: Callable[..., str]
    # whether the LaTeX needs its arguments parenthesised when they are not atoms
    wants_atoms: bool
    # the same computation as Python source over one variable name, for the compiled fast path
    # (it must do exactly what scalar does, operation for operation)
    inline: Callable[[str], str] | None
    _fields = ("scalar", "latex", "wants_atoms", "inline")

    def __init__(
        self,
        scalar: Callable[..., float],
        latex: Callable[..., str],
        wants_atoms: bool = True,
        inline: Callable[[str], str] | None = None,
    ) -> None:
        self._set(scalar=scalar, latex=latex, wants_atoms=wants_atoms, inline=inline)


# Each function passes NaN through (so divergence is seen) without a wrapper on the hot path:
# a comparison with NaN is false, so "x > 0 / x <= 0 / else" branches hand NaN back.


def _relu(x: float) -> float:
    return x if x > 0.0 else (0.0 if x <= 0.0 else x)


def _leaky(x: float) -> float:
    return x if x > 0.0 else LEAKY_SLOPE * x


def _step(x: float) -> float:
    return 1.0 if x > 0.0 else (0.0 if x <= 0.0 else x)


def _leaky_step(x: float) -> float:
    return 1.0 if x > 0.0 else (LEAKY_SLOPE if x <= 0.0 else x)


FUNCTIONS: dict[str, Function] = {
    "sigmoid": Function(
        _sigmoid,
        lambda a: rf"\frac{{1}}{{1 + e^{{-{a}}}}}",
        inline=lambda a: f"(1.0 / (1.0 + _exp(-{a})) if {a} >= 0.0 else _exp({a}) / (1.0 + _exp({a})))",
    ),
    "tanh": Function(math.tanh, lambda a: rf"\tanh {a}"),
    "relu": Function(_relu, lambda a: rf"\max\left(0, {a}\right)", False),
    "leaky_relu": Function(_leaky, lambda a: rf"\max\left({LEAKY_SLOPE} \cdot {a}, {a}\right)"),
    # Iverson bracket: 1 when the condition holds, else 0 (relu'(0) = 0 by convention)
    "step": Function(_step, lambda a: rf"\left[{a} > 0\right]", False),
    "leaky_step": Function(
        _leaky_step,
        # value, comma, condition: the comma keeps "0.01" apart from a condition that starts with a number
        lambda a: rf"\begin{{cases}} 1, & {a} > 0 \\ {LEAKY_SLOPE}, & {a} \le 0 \end{{cases}}",
        False,
    ),
    "softmax": Function(
        _nan_safe(_softmax),
        lambda a, *rest: rf"\frac{{e^{{{a}}}}}{{{' + '.join('e^{' + r + '}' for r in rest)}}}",
        False,
    ),
    "ln": Function(_ln, lambda a: rf"\ln {a}"),
    "bce_dout": Function(_bce_dout, lambda t, o: rf"-\frac{{{t}}}{{{o}}} + \frac{{1 - {t}}}{{1 - {o}}}"),
    "nll_dout": Function(_nll_dout, lambda t, o: rf"-\frac{{{t}}}{{{o}}}", False),
    "sqrt": Function(math.sqrt, lambda a: rf"\sqrt{{{a}}}", False),
}


# ---------------------------------------------------------------- the same functions in float32


class _F32Scalars(dict):  # type: ignore[type-arg]
    """The scalar functions on numpy float32 values, for ``dtype = "float32"`` (built on first use,
    since small float64 networks never import numpy)."""

    def __missing__(self, key: str) -> Callable[..., Any]:
        f32 = np.float32
        table: dict[str, Callable[..., Any]] = {
            "sigmoid": lambda x: 1.0 / (1.0 + np.exp(-x)) if x >= 0.0 else np.exp(x) / (1.0 + np.exp(x)),
            "tanh": np.tanh,
            "relu": _relu,
            "leaky_relu": _leaky,
            "step": _step,
            "leaky_step": _leaky_step,
            "softmax": lambda x, *nets: np.exp(x - max(nets)) / f32(math.fsum(np.exp(a - max(nets)) for a in nets)),
            "ln": lambda x: np.log(f32(_clip(x))),
            "bce_dout": lambda t, o: -t / f32(_clip(o)) + (1.0 - t) / (1.0 - f32(_clip(o))),
            "nll_dout": lambda t, o: -t / f32(_clip(o)),
            "sqrt": np.sqrt,
        }
        if key not in table:  # an entry without a float32 form: its float64 value, rounded
            scalar = FUNCTIONS[key].scalar
            table[key] = lambda *args: f32(scalar(*(float(x) for x in args)))
        self.update(table)
        return table[key]


F32_SCALARS: dict[str, Callable[..., Any]] = _F32Scalars()


# ---------------------------------------------------------------- vector forms (numpy arrays)


def _v_sigmoid(x: np.ndarray) -> Any:
    # 1 / (1 + e) where x >= 0, e / (1 + e) below: one division for both
    e = np.exp(-np.abs(x))
    return np.divide(np.where(x >= 0, 1.0, e), 1.0 + e)


def _v_softmax(x: np.ndarray) -> Any:
    # x - max can only overflow towards -inf, whose exp is the correct 0
    with np.errstate(over="ignore"):
        e = np.exp(x - np.max(x))
    return e / np.sum(e)


def _v_clip(x: np.ndarray) -> Any:
    return np.clip(x, CLIP, 1.0 - CLIP)


# ---------------------------------------------------------------- activations


class Activation(FrozenFields):
    name: str
    latex_name: str
    # out_k as an expression of the layer's net nodes
    forward: Callable[[list[Node], int], Node]
    # d out_k / d net_k from (net_k, out_k); None for activations that mix neurons (softmax)
    derivative: Callable[[Node, Node], Node] | None
    vforward: Callable[[np.ndarray], np.ndarray]
    # elementwise d out / d net from (net, out); unused when derivative is None
    vderivative: Callable[[np.ndarray, np.ndarray], np.ndarray] | None
    hidden_ok: bool
    _fields = ("name", "latex_name", "forward", "derivative", "vforward", "vderivative", "hidden_ok")

    def __init__(
        self,
        name: str,
        latex_name: str,
        forward: Callable[[list[Node], int], Node],
        derivative: Callable[[Node, Node], Node] | None,
        vforward: Callable[[np.ndarray], np.ndarray],
        vderivative: Callable[[np.ndarray, np.ndarray], np.ndarray] | None,
        hidden_ok: bool = True,
    ) -> None:
        self._set(
            name=name, latex_name=latex_name, forward=forward, derivative=derivative,
            vforward=vforward, vderivative=vderivative, hidden_ok=hidden_ok,
        )  # fmt: skip

    @property
    def elementwise(self) -> bool:
        return self.derivative is not None

    @property
    def messages(self) -> dict[str, str]:
        """Its catalogue keys by role: its name, and the sentence that introduces its slope (for an
        elementwise activation; softmax's Jacobian is taught on its own)."""
        keys = {"name": f"act_{self.name}"}
        if self.elementwise:
            keys["slope"] = f"factor_dout_dnet_{self.name}"
        return keys


def _elementwise(name: str) -> Callable[[list[Node], int], Node]:
    return lambda nets, k: fn(name, nets[k])


def softmax_jacobian(outs: list[Node], j: int, k: int) -> Node:
    """d out_j / d net_k of a softmax layer: out_j (1 - out_k) on the diagonal, -out_j out_k off it."""
    if j == k:
        return mul(outs[j], sub(1, outs[k]))
    return neg(mul(outs[j], outs[k]))


def v_softmax_vjp(out: np.ndarray, g: np.ndarray) -> Any:
    """delta_k = sum_j g_j d out_j / d net_k for a softmax layer, without forming the Jacobian."""
    return out * (g - np.dot(g, out))


ACTIVATIONS: dict[str, Activation] = {
    "sigmoid": Activation(
        "sigmoid",
        r"\sigma",
        _elementwise("sigmoid"),
        lambda n, o: mul(o, sub(1, o)),
        _v_sigmoid,
        lambda n, o: o * (1.0 - o),
    ),
    "tanh": Activation(
        "tanh",
        r"\tanh",
        _elementwise("tanh"),
        lambda n, o: sub(1, ["sq", o]),
        lambda x: np.tanh(x),
        lambda n, o: 1.0 - o * o,
    ),
    "relu": Activation(
        "relu",
        r"\mathrm{relu}",
        _elementwise("relu"),
        lambda n, o: fn("step", n),
        lambda x: np.where(x > 0, x, 0.0),
        lambda n, o: np.where(n > 0, 1.0, 0.0),
    ),
    "leaky_relu": Activation(
        "leaky_relu",
        r"\mathrm{leaky\_relu}",
        _elementwise("leaky_relu"),
        lambda n, o: fn("leaky_step", n),
        lambda x: np.where(x > 0, x, LEAKY_SLOPE * x),
        lambda n, o: np.where(n > 0, 1.0, LEAKY_SLOPE),
    ),
    "linear": Activation(
        "linear",
        r"\mathrm{id}",
        lambda nets, k: nets[k],
        lambda n, o: 1,
        lambda x: x.copy(),
        lambda n, o: np.ones_like(n),
    ),
    "softmax": Activation(
        "softmax",
        r"\mathrm{softmax}",
        lambda nets, k: fn("softmax", nets[k], *nets),
        None,
        _v_softmax,
        None,
        hidden_ok=False,
    ),
}


# ---------------------------------------------------------------- losses


class LossForm(FrozenFields):
    """One loss as it applies to one kind of output layer."""

    # E_k from (target_k, out_k)
    error: Callable[[Node, Node], Node]
    # dE_total / d out_k from (target_k, out_k)
    dout: Callable[[Node, Node], Node]
    verror: Callable[[np.ndarray, np.ndarray], np.ndarray]
    vdout: Callable[[np.ndarray, np.ndarray], np.ndarray]
    # delta_k = out_k - target_k, used instead of the product of the factors because it stays
    # exact where the factors saturate (dE/dout -> huge, dout/dnet -> 0)
    fused_delta: bool
    # the fused delta of a loss averaged over K outputs is (out_k - target_k) / K
    delta_divisor: int
    _fields = ("error", "dout", "verror", "vdout", "fused_delta", "delta_divisor")

    def __init__(
        self,
        error: Callable[[Node, Node], Node],
        dout: Callable[[Node, Node], Node],
        verror: Callable[[np.ndarray, np.ndarray], np.ndarray],
        vdout: Callable[[np.ndarray, np.ndarray], np.ndarray],
        fused_delta: bool = False,
        delta_divisor: int = 1,
    ) -> None:
        self._set(
            error=error, dout=dout, verror=verror, vdout=vdout, fused_delta=fused_delta, delta_divisor=delta_divisor
        )


class Loss(FrozenFields):
    name: str
    # the form for each output activation; "*" fits any activation not named
    forms: dict[str, LossForm]
    # how the parts of the K outputs combine into one sample's error (the first is the default),
    # each turning the default form into its own
    reductions: dict[str, Callable[[LossForm, int], LossForm]]
    _fields = ("name", "forms", "reductions")

    def __init__(
        self, name: str, forms: dict[str, LossForm], reductions: dict[str, Callable[[LossForm, int], LossForm]]
    ) -> None:
        self._set(name=name, forms=forms, reductions=reductions)

    @property
    def default_reduction(self) -> str:
        return next(iter(self.reductions))

    def form(self, activation: str, reduction: str | None = None, outputs: int = 1) -> LossForm | None:
        base = self.forms.get(activation, self.forms.get("*"))
        if base is None or reduction is None:
            return base
        return self.reductions[reduction](base, outputs)

    @property
    def messages(self) -> dict[str, str]:
        """Its catalogue keys by role: its name and formula, and the sentence that introduces it."""
        return {"name": f"loss_{self.name}", "intro": f"error_intro_{self.name}"}


_MSE = LossForm(
    lambda t, o: ["half", ["sq", sub(t, o)]],
    lambda t, o: neg(sub(t, o)),
    lambda t, o: 0.5 * (t - o) ** 2,
    lambda t, o: -(t - o),
)
_BINARY_CE = LossForm(
    lambda t, o: neg(add(mul(t, fn("ln", o)), mul(sub(1, t), fn("ln", sub(1, o))))),
    lambda t, o: fn("bce_dout", t, o),
    lambda t, o: -(t * np.log(_v_clip(o)) + (1.0 - t) * np.log(_v_clip(1.0 - o))),
    lambda t, o: -t / _v_clip(o) + (1.0 - t) / (1.0 - _v_clip(o)),
    fused_delta=True,
)
_CATEGORICAL_CE = LossForm(
    lambda t, o: neg(mul(t, fn("ln", o))),
    lambda t, o: fn("nll_dout", t, o),
    lambda t, o: -(t * np.log(_v_clip(o))),
    lambda t, o: -t / _v_clip(o),
    fused_delta=True,
)

_MSE_SUM = LossForm(
    lambda t, o: ["sq", sub(t, o)],
    lambda t, o: neg(mul(2, sub(t, o))),
    lambda t, o: (t - o) ** 2,
    lambda t, o: -2.0 * (t - o),
)


def _per_output(form: LossForm, k: int) -> LossForm:
    """A loss averaged over the K outputs instead of summed: every part, and so every derivative,
    divided by K. With one output the mean is the sum, and is written as it."""
    if k == 1:
        return form
    return LossForm(
        lambda t, o: ["div", form.error(t, o), k],
        lambda t, o: ["div", form.dout(t, o), k],
        lambda t, o: form.verror(t, o) / k,
        lambda t, o: form.vdout(t, o) / k,
        form.fused_delta,
        delta_divisor=k,
    )


def _same(form: LossForm, k: int) -> LossForm:
    return form


LOSSES: dict[str, Loss] = {
    "mse": Loss(
        "mse",
        {"*": _MSE},
        {"half_sum": _same, "sum": lambda f, k: _MSE_SUM, "mean": lambda f, k: _per_output(_MSE_SUM, k)},
    ),
    "cross_entropy": Loss(
        "cross_entropy",
        {"sigmoid": _BINARY_CE, "softmax": _CATEGORICAL_CE},
        {"sum": _same, "mean": _per_output},
    ),
}


# ---------------------------------------------------------------- optimizers


class Optimizer(FrozenFields):
    """One update rule in PyTorch's conventions (torch.optim gives the same numbers in float64).

    ``steps`` builds one parameter's update after its gradient: (kind, key prefix, expression)
    in order, the last being the new value of the parameter (kind "update"). Inside them
    ``["v", "prev_m.w5"]`` is a state variable before this step and ``["v", "opt.beta1"]`` a
    setting; every state variable starts at 0 (momentum's velocity then starts at g, as in torch).
    """

    name: str
    settings: dict[str, float]  # every setting with its default
    state: tuple[str, ...]  # key prefixes of the variables carried from step to step
    steps: Callable[[str, Node], list[tuple[str, str, Node]]]
    _fields = ("name", "settings", "state", "steps")

    def __init__(
        self,
        name: str,
        settings: dict[str, float],
        state: tuple[str, ...],
        steps: Callable[[str, Node], list[tuple[str, str, Node]]],
    ) -> None:
        self._set(name=name, settings=settings, state=state, steps=steps)


def _o(name: str) -> Node:
    return v(f"opt.{name}")


def _new_value(p: str, change: Node) -> tuple[str, str, Node]:
    return ("update", "update", sub(v(f"param.{p}"), mul(v("eta"), change)))


def _sgd(p: str, g: Node) -> list[tuple[str, str, Node]]:
    return [_new_value(p, g)]


def _velocity(p: str, g: Node) -> tuple[str, str, Node]:
    return ("velocity", "v", add(mul(_o("momentum"), v(f"prev_v.{p}")), g))


def _momentum(p: str, g: Node) -> list[tuple[str, str, Node]]:
    return [_velocity(p, g), _new_value(p, v(f"v.{p}"))]


def _nesterov(p: str, g: Node) -> list[tuple[str, str, Node]]:
    return [_velocity(p, g), _new_value(p, add(g, mul(_o("momentum"), v(f"v.{p}"))))]


def _average(rate: str, prev: Node, x: Node) -> Node:
    """rate · prev + (1 - rate) · x: an exponential moving average."""
    return add(mul(_o(rate), prev), mul(sub(1, _o(rate)), x))


def _adam(p: str, g: Node) -> list[tuple[str, str, Node]]:
    return [
        ("moment1", "m", _average("beta1", v(f"prev_m.{p}"), g)),
        ("moment2", "v", _average("beta2", v(f"prev_v.{p}"), ["sq", g])),
        ("moment1_hat", "mhat", ["div", v(f"m.{p}"), sub(1, ["pow", _o("beta1"), v("opt.t")])]),
        ("moment2_hat", "vhat", ["div", v(f"v.{p}"), sub(1, ["pow", _o("beta2"), v("opt.t")])]),
        _new_value(p, ["div", v(f"mhat.{p}"), add(fn("sqrt", v(f"vhat.{p}")), _o("eps"))]),
    ]


def _rmsprop(p: str, g: Node) -> list[tuple[str, str, Node]]:
    return [
        ("square_avg", "s", _average("alpha", v(f"prev_s.{p}"), ["sq", g])),
        _new_value(p, ["div", g, add(fn("sqrt", v(f"s.{p}")), _o("eps"))]),
    ]


OPTIMIZERS: dict[str, Optimizer] = {
    "sgd": Optimizer("sgd", {"weight_decay": 0.0}, (), _sgd),
    "momentum": Optimizer("momentum", {"momentum": 0.9, "weight_decay": 0.0}, ("v",), _momentum),
    "nesterov": Optimizer("nesterov", {"momentum": 0.9, "weight_decay": 0.0}, ("v",), _nesterov),
    "adam": Optimizer("adam", {"beta1": 0.9, "beta2": 0.999, "eps": 1e-8, "weight_decay": 0.0}, ("m", "v"), _adam),
    "rmsprop": Optimizer("rmsprop", {"alpha": 0.99, "eps": 1e-8, "weight_decay": 0.0}, ("s",), _rmsprop),
}
# coupled weight decay, as torch.optim.SGD/Adam/RMSprop: the gradient becomes g + λ·p
DECAY = ("decayed_grad", "g")

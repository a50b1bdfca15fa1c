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
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import numpy as np
else:

    class _LazyNumpy:
        """numpy, imported on first use: small networks trace on floats and never need it."""

        def __getattr__(self, name: str) -> Any:
            found = getattr(importlib.import_module("numpy"), name)
            setattr(self, name, found)  # looked up once: the matrix loop calls these per layer
            return found

    np = _LazyNumpy()

Node = Any  # list | float | int

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


@dataclass(frozen=True)
class Function:
    """A named function inside expressions: its value on floats and its LaTeX."""

    scalar: Callable[..., float]
    latex: Callable[..., str]
    # whether the LaTeX needs its arguments parenthesised when they are not atoms
    wants_atoms: bool = True
    # the same computation as Python source over one variable name, for the compiled fast path
    # (it must do exactly what scalar does, operation for operation)
    inline: Callable[[str], str] | None = None


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
        lambda a: rf"\begin{{cases}} 1 & {a} > 0 \\ {LEAKY_SLOPE} & {a} \le 0 \end{{cases}}",
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
}


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


@dataclass(frozen=True)
class Activation:
    name: str
    latex_name: str
    # out_k as an expression of the layer's net nodes
    forward: Callable[[list[Node], int], Node]
    # d out_k / d net_k from (net_k, out_k); None for activations that mix neurons (softmax)
    derivative: Callable[[Node, Node], Node] | None
    vforward: Callable[[np.ndarray], np.ndarray]
    # elementwise d out / d net from (net, out); unused when derivative is None
    vderivative: Callable[[np.ndarray, np.ndarray], np.ndarray] | None
    hidden_ok: bool = True

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


@dataclass(frozen=True)
class LossForm:
    """One loss as it applies to one kind of output layer."""

    # E_k from (target_k, out_k)
    error: Callable[[Node, Node], Node]
    # dE_total / d out_k from (target_k, out_k)
    dout: Callable[[Node, Node], Node]
    verror: Callable[[np.ndarray, np.ndarray], np.ndarray]
    vdout: Callable[[np.ndarray, np.ndarray], np.ndarray]
    # delta_k = out_k - target_k, used instead of the product of the factors because it stays
    # exact where the factors saturate (dE/dout -> huge, dout/dnet -> 0)
    fused_delta: bool = False


@dataclass(frozen=True)
class Loss:
    name: str
    # the form for each output activation; "*" fits any activation not named
    forms: dict[str, LossForm]

    def form(self, activation: str) -> LossForm | None:
        return self.forms.get(activation, self.forms.get("*"))

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

LOSSES: dict[str, Loss] = {
    "mse": Loss("mse", {"*": _MSE}),
    "cross_entropy": Loss("cross_entropy", {"sigmoid": _BINARY_CE, "softmax": _CATEGORICAL_CE}),
}

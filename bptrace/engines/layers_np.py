"""Whole-layer numpy forms of one step, for networks too large to trace scalar by scalar.

Pure functions on arrays; the matrix engine calls them for traced steps and for the fast path
alike, and the activation and loss tables supply every nonlinearity.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from ..names import LayerLayout
from ..ops import ACTIVATIONS, Activation, LossForm, v_softmax_vjp


@dataclass
class Params:
    W: list[np.ndarray]  # W[k] holds the weights into layer k + 1, one row per neuron
    b: list[np.ndarray]  # a shared bias is an array of one element
    shared: list[bool]
    # the optimizer's state by key (m.W_h, v.b_h, m.b1) and its step count
    state: dict[str, np.ndarray] = field(default_factory=dict)
    t: float = 0.0

    def copy(self) -> Params:
        return Params(
            [w.copy() for w in self.W],
            [x.copy() for x in self.b],
            list(self.shared),
            {k: x.copy() for k, x in self.state.items()},
            self.t,
        )

    def finite(self) -> bool:
        return all(np.isfinite(w).all() for w in self.W) and all(np.isfinite(x).all() for x in self.b)


def params_from_spec(data: dict[str, Any]) -> Params:
    W, b, shared = [], [], []
    for layer in data["layers"][1:]:
        W.append(np.array(layer["weights"], dtype=np.float64))
        s = not isinstance(layer["bias"], list)
        b.append(np.array([layer["bias"]] if s else layer["bias"], dtype=np.float64))
        shared.append(s)
    return Params(W, b, shared)


def layer_forward(
    W: np.ndarray, b: np.ndarray, shared: bool, act: Activation, x: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    net = W @ x + (b[0] if shared else b)
    return net, act.vforward(net)


def output_factors(
    form: LossForm, act: Activation, net: np.ndarray, out: np.ndarray, t: np.ndarray
) -> tuple[np.ndarray, np.ndarray | None, np.ndarray]:
    """(dE/dout, dout/dnet or None for softmax, delta) of the output layer."""
    dE = form.vdout(t, out)
    dd = act.vderivative(net, out) if act.vderivative is not None else None
    if form.fused_delta:
        delta = out - t if form.delta_divisor == 1 else (out - t) / form.delta_divisor
    elif dd is not None:
        delta = dE * dd
    else:
        delta = v_softmax_vjp(out, dE)
    return dE, dd, delta


def hidden_factors(
    W_next: np.ndarray, delta_next: np.ndarray, act: Activation, net: np.ndarray, out: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(dE/dout, dout/dnet, delta) of a hidden layer from the layer above."""
    assert act.vderivative is not None
    dE = W_next.T @ delta_next
    dd = act.vderivative(net, out)
    return dE, dd, dE * dd


def bias_grad(delta: np.ndarray, shared: bool) -> np.ndarray:
    return np.array([delta.sum()]) if shared else delta.copy()


def activations(layers: list[LayerLayout]) -> list[Activation]:
    return [ACTIVATIONS[lay.activation or "sigmoid"] for lay in layers[1:]]


def evaluate(node: Any, env: dict[str, Any]) -> Any:
    """An expression tree (an optimizer's update) on whole arrays, in the scalar form's order of
    operations; the settings and the step number stay Python floats."""
    if not isinstance(node, list):
        return float(node)
    op = node[0]
    if op == "v":
        return env[node[1]]
    if op == "fn":
        assert node[1] == "sqrt", node[1]
        return np.sqrt(evaluate(node[2], env))
    args = [evaluate(a, env) for a in node[1:]]
    if op in ("add", "mul"):
        acc = args[0]
        for a in args[1:]:
            acc = acc + a if op == "add" else acc * a
        return acc
    if op == "sub":
        return args[0] - args[1]
    if op == "sq":
        return args[0] * args[0]
    if op == "div":
        return args[0] / args[1]
    if op == "pow":
        return args[0] ** args[1]
    raise ValueError(f"unknown operation {op!r}")

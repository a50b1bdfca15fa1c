"""Whole-layer numpy forms of one step, for networks too large to trace scalar by scalar.

Pure functions on arrays; the matrix engine calls them for traced steps and for the fast path
alike, and the activation and loss tables supply every nonlinearity.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from ..names import LayerLayout
from ..ops import ACTIVATIONS, Activation, LossForm, v_softmax_vjp


@dataclass
class Params:
    W: list[np.ndarray]  # W[k] holds the weights into layer k + 1, one row per neuron
    b: list[np.ndarray]  # a shared bias is an array of one element
    shared: list[bool]

    def copy(self) -> Params:
        return Params([w.copy() for w in self.W], [x.copy() for x in self.b], list(self.shared))

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
        delta = out - t
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

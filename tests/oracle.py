"""A plain numpy backpropagation written independently of bptrace, as a test oracle.

Straightforward matrix code: forward with @, deltas, np.outer updates. It shares nothing with
bptrace but the meaning of the spec.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

# Cross-entropy is defined with ln clipped to [EPS, 1 - EPS], so a saturated output has a large
# finite loss; the bound is part of what the loss means, not an implementation detail.
EPS = 1e-15

# How close to ±1 a tanh or sigmoid may come for a comparison at rel=1e-9 (see Net): one unit in
# the last place of 1 is 1e-16, 1e-11 of this margin, which leaves a hundredfold for training to
# amplify it.
SATURATION_MARGIN = 1e-5


def _clip(x: np.ndarray) -> np.ndarray:
    return np.clip(x, EPS, 1 - EPS)


def _softmax(x: np.ndarray) -> np.ndarray:
    e = np.exp(x - x.max())
    return e / e.sum()  # type: ignore[no-any-return]


ACTS = {
    "sigmoid": lambda x: 1.0 / (1.0 + np.exp(-x)),
    "tanh": np.tanh,
    "relu": lambda x: np.maximum(x, 0.0),
    "leaky_relu": lambda x: np.where(x > 0, x, 0.01 * x),
    "linear": lambda x: x,
    "softmax": _softmax,
}
LOSSES = ("mse", "cross_entropy")  # the losses the training code below implements


def act(name: str, x: np.ndarray) -> np.ndarray:
    return ACTS[name](x)  # type: ignore[no-any-return]


def dact(name: str, x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Elementwise derivative (softmax is handled by its Jacobian)."""
    return {
        "sigmoid": lambda: y * (1 - y),
        "tanh": lambda: 1 - y * y,
        "relu": lambda: (x > 0).astype(float),
        "leaky_relu": lambda: np.where(x > 0, 1.0, 0.01),
        "linear": lambda: np.ones_like(x),
    }[name]()


class Net:
    def __init__(self, spec: dict[str, Any]) -> None:
        self.spec = spec
        self.layers = spec["layers"]
        self.W = [np.array(layer["weights"], dtype=float) for layer in self.layers[1:]]
        self.shared = [not isinstance(layer["bias"], list) for layer in self.layers[1:]]
        self.b = [
            np.array([layer["bias"]], dtype=float) if s else np.array(layer["bias"], dtype=float)
            for layer, s in zip(self.layers[1:], self.shared)
        ]
        self.acts = [layer["activation"] for layer in self.layers[1:]]
        # The slopes of tanh and sigmoid are computed from their outputs, as 1 - y² and
        # y (1 - y); within d of y = ±1 they keep only the digits of 1e-16 / d. There a last-digit
        # difference in tanh (math.tanh and np.tanh disagree in one value of five) grows past any
        # sane tolerance, so comparisons need to know how close a run came.
        self.saturation_margin = math.inf

    def forward(self, x: np.ndarray) -> tuple[list[np.ndarray], list[np.ndarray]]:
        nets, outs = [], [x]
        fused = self.spec["loss"] == "cross_entropy"  # its output delta is out - target, no slope
        for k, (W, b, s, a) in enumerate(zip(self.W, self.b, self.shared, self.acts)):
            n = W @ outs[-1] + (b[0] if s else b)
            nets.append(n)
            y = act(a, n)
            outs.append(y)
            if a in ("tanh", "sigmoid") and not (fused and k == len(self.W) - 1):
                margin = float(np.min(1 - np.abs(y)))
                self.saturation_margin = min(self.saturation_margin, margin)
        return nets, outs

    def loss(self, y: np.ndarray, t: np.ndarray) -> float:
        if self.spec["loss"] == "mse":
            return float(np.sum(0.5 * (t - y) ** 2))
        # each logarithm's own argument is clipped, 1 - y included: at y = 1, 1 - clip(y) is
        # 9.992e-16 (1 - 1e-15 is not exact in binary) where clip(1 - y) is 1e-15, and the
        # logarithms of the two are 8e-4 apart
        if self.acts[-1] == "softmax":
            return float(-np.sum(t * np.log(_clip(y))))
        return float(-np.sum(t * np.log(_clip(y)) + (1 - t) * np.log(_clip(1 - y))))

    def grads(
        self, x: np.ndarray, t: np.ndarray, updated_W: list[np.ndarray] | None = None
    ) -> tuple[float, list[np.ndarray], list[np.ndarray]]:
        nets, outs = self.forward(x)
        y = outs[-1]
        E = self.loss(y, t)
        a = self.acts[-1]
        if self.spec["loss"] == "cross_entropy":
            delta = y - t
        else:
            g = -(t - y)
            if a == "softmax":
                J = np.diag(y) - np.outer(y, y)
                delta = J.T @ g
            else:
                delta = g * dact(a, nets[-1], y)
        gW = [np.zeros_like(W) for W in self.W]
        gb = [np.zeros_like(b) for b in self.b]
        for k in range(len(self.W) - 1, -1, -1):
            gW[k] = np.outer(delta, outs[k])
            gb[k] = np.array([delta.sum()]) if self.shared[k] else delta.copy()
            if k:
                Wk = self.W[k] if updated_W is None else updated_W[k]
                delta = (Wk.T @ delta) * dact(self.acts[k - 1], nets[k - 1], outs[k])
        return E, gW, gb

    def train(self, iterations: int) -> list[float]:
        eta = self.spec["learning_rate"]
        ub = self.spec["update_biases"]
        samples = [(np.array(s["input"], float), np.array(s["target"], float)) for s in self.spec["samples"]]
        history = []
        for _ in range(iterations):
            if self.spec["mode"] == "batch":
                Es, sW, sb = [], [np.zeros_like(W) for W in self.W], [np.zeros_like(b) for b in self.b]
                for x, t in samples:
                    E, gW, gb = self.grads(x, t)
                    Es.append(E)
                    sW = [a + g for a, g in zip(sW, gW)]
                    sb = [a + g for a, g in zip(sb, gb)]
                n = len(samples)
                self.W = [W - eta * g / n for W, g in zip(self.W, sW)]
                if ub:
                    self.b = [b - eta * g / n for b, g in zip(self.b, sb)]
                history.append(float(np.mean(Es)))
            else:
                Es = []
                for x, t in samples:
                    if self.spec["hidden_delta_weights"] == "updated":
                        E, gW, gb = self._updated_variant_grads(x, t, eta)
                    else:
                        E, gW, gb = self.grads(x, t)
                    Es.append(E)
                    self.W = [W - eta * g for W, g in zip(self.W, gW)]
                    if ub:
                        self.b = [b - eta * g for b, g in zip(self.b, gb)]
                history.append(float(np.mean(Es)))
        return history

    def _updated_variant_grads(
        self, x: np.ndarray, t: np.ndarray, eta: float
    ) -> tuple[float, list[np.ndarray], list[np.ndarray]]:
        # each layer's deltas flow back through the weights above it as already updated
        E, gW, gb = self.grads(x, t)
        new = [W.copy() for W in self.W]
        for k in range(len(self.W) - 1, -1, -1):
            E, gW2, gb2 = self.grads(x, t, updated_W=new)
            gW[k], gb[k] = gW2[k], gb2[k]
            new[k] = self.W[k] - eta * gW[k]
        return E, gW, gb

    def params(self) -> dict[str, float]:
        out: dict[str, float] = {}
        n = 0
        for k, (W, b, s) in enumerate(zip(self.W, self.b, self.shared)):
            for j in range(W.shape[0]):
                for i in range(W.shape[1]):
                    n += 1
                    out[f"w{n}"] = float(W[j, i])
            name = self.layers[k + 1]["name"]
            if s:
                out[f"b{k + 1}"] = float(b[0])
            else:
                for j in range(len(b)):
                    sep = "_" if name[-1].isdigit() else ""  # neuron h1_2 of layer h1, as the README says
                    out[f"b_{name}{sep}{j + 1}"] = float(b[j])
        return out

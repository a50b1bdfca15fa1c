"""A plain numpy backpropagation written independently of bptrace, as a test oracle.

Straightforward matrix code: forward with @, deltas, np.outer updates. It shares nothing with
bptrace but the meaning of the spec.
"""

from __future__ import annotations

from typing import Any

import numpy as np

EPS = 1e-15


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

    def forward(self, x: np.ndarray) -> tuple[list[np.ndarray], list[np.ndarray]]:
        nets, outs = [], [x]
        for W, b, s, a in zip(self.W, self.b, self.shared, self.acts):
            n = W @ outs[-1] + (b[0] if s else b)
            nets.append(n)
            outs.append(act(a, n))
        return nets, outs

    def loss(self, y: np.ndarray, t: np.ndarray) -> float:
        if self.spec["loss"] == "mse":
            return float(np.sum(0.5 * (t - y) ** 2))
        yc = np.clip(y, EPS, 1 - EPS)
        if self.acts[-1] == "softmax":
            return float(-np.sum(t * np.log(yc)))
        return float(-np.sum(t * np.log(yc) + (1 - t) * np.log(1 - yc)))

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

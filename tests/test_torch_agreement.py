"""Random networks with every optimizer, loss reduction and batching, trained by bptrace and by
PyTorch's own torch.optim in float64: the final parameters and the final error agree to 1e-9."""

from __future__ import annotations

import random
from typing import Any

import pytest

import bptrace
from bptrace import names

torch = pytest.importorskip("torch", reason="PyTorch is not installed (pip install 'bptrace[torch]')")

from torch_ref import train  # noqa: E402

OPTIMIZERS = [
    {"name": "sgd"},
    {"name": "sgd", "weight_decay": 0.05},
    {"name": "momentum", "momentum": 0.9},
    {"name": "nesterov", "momentum": 0.8, "weight_decay": 0.01},
    {"name": "adam"},
    {"name": "adam", "beta1": 0.8, "beta2": 0.95, "eps": 1e-6, "weight_decay": 0.02},
    {"name": "rmsprop"},
    {"name": "rmsprop", "alpha": 0.9, "eps": 1e-7, "weight_decay": 0.03},
]
HIDDEN = ["sigmoid", "tanh", "linear", "leaky_relu"]


def random_spec(
    rng: random.Random, optimizer: dict[str, Any], reduction: str, batching: tuple[str, Any]
) -> dict[str, Any]:
    sizes = [rng.randint(1, 4) for _ in range(rng.randint(2, 4))]
    loss = rng.choice(["mse", "mse", "cross_entropy"]) if reduction != "half_sum" else "mse"
    out_act = rng.choice(["sigmoid", "softmax"]) if loss == "cross_entropy" else rng.choice(HIDDEN + ["softmax"])
    if out_act == "softmax" and loss == "cross_entropy":
        sizes[-1] = max(2, sizes[-1])
    names_ = ["i", "h", "g", "k"][: len(sizes) - 1] + ["o"]
    layers: list[dict[str, Any]] = [{"name": names_[0], "size": sizes[0]}]
    for k in range(1, len(sizes)):
        act = out_act if k == len(sizes) - 1 else rng.choice(HIDDEN)
        shared = rng.random() < 0.3
        layers.append(
            {
                "name": names_[k],
                "size": sizes[k],
                "activation": act,
                "weights": [[rng.uniform(-1, 1) for _ in range(sizes[k - 1])] for _ in range(sizes[k])],
                "bias": rng.uniform(-0.5, 0.5) if shared else [rng.uniform(-0.5, 0.5) for _ in range(sizes[k])],
            }
        )
    samples = []
    for _ in range(rng.randint(1, 5)):
        x = [rng.uniform(-1, 1) for _ in range(sizes[0])]
        if loss == "cross_entropy" and out_act == "softmax":
            hot = rng.randrange(sizes[-1])
            t = [1.0 if j == hot else 0.0 for j in range(sizes[-1])]
        else:
            t = [rng.uniform(0, 1) for _ in range(sizes[-1])]
        samples.append({"input": x, "target": t})
    spec: dict[str, Any] = {
        "title": "random",
        "learning_rate": rng.choice([0.01, 0.05, 0.1, 0.3]),
        "loss": loss,
        "iterations": rng.randint(1, 6),
        "update_biases": rng.random() < 0.8,
        "optimizer": optimizer,
        "layers": layers,
        "samples": samples,
    }
    if not (loss == "mse" and reduction == "half_sum") and not (loss == "cross_entropy" and reduction == "sum"):
        spec["loss_options"] = {"reduction": reduction if loss == "mse" or reduction != "half_sum" else "sum"}
    mode, size = batching
    spec["mode"] = mode
    if size is not None:
        spec["batch_size"] = size
    if mode == "batch":
        spec["batch_reduction"] = rng.choice(["mean", "sum"])
    return spec


CASES = [
    (opt, red, batching)
    for opt in OPTIMIZERS
    for red in ("half_sum", "sum", "mean")
    for batching in (("online", None), ("batch", None), ("batch", 2))
]


@pytest.mark.parametrize("case", range(len(CASES)))
def test_final_parameters_and_error_agree_with_torch(case: int) -> None:
    rng = random.Random(1000 + case)
    opt, red, batching = CASES[case]
    for _ in range(3):
        spec = random_spec(rng, dict(opt), red, batching)
        tr = bptrace.trace(spec)
        assert tr.diverged is None
        assert tr.final is not None
        expected, error = train(spec)
        order = list(names.param_names(names.layout(tr.spec), True))
        got = tr.final_params()
        assert [got[p] for p in order] == pytest.approx(expected, rel=1e-9, abs=1e-9)
        assert tr.final["total_error"] == pytest.approx(error, rel=1e-9, abs=1e-12)

"""Training a spec with PyTorch itself (float64, torch.optim), written independently of bptrace's
engines: the reference the agreement tests compare bptrace with."""

from __future__ import annotations

from typing import Any

import torch

ACTS = {
    "sigmoid": torch.sigmoid,
    "tanh": torch.tanh,
    "relu": torch.relu,
    "leaky_relu": lambda x: torch.nn.functional.leaky_relu(x, 0.01),
    "linear": lambda x: x,
    "softmax": lambda x: torch.softmax(x, dim=-1),
}
CLIP = 1e-15


def _params(spec: dict[str, Any]) -> list[tuple[torch.Tensor, torch.Tensor]]:
    out = []
    for layer in spec["layers"][1:]:
        W = torch.tensor(layer["weights"], dtype=torch.float64, requires_grad=True)
        b = torch.tensor(layer["bias"], dtype=torch.float64, requires_grad=spec.get("update_biases", True))
        out.append((W, b))
    return out


def _per_sample_loss(spec: dict[str, Any], out: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
    red = spec.get("loss_options", {}).get("reduction")
    K = out.shape[-1]
    if spec.get("loss", "mse") == "mse":
        sq = (t - out) ** 2
        red = red or "half_sum"
        return {"half_sum": 0.5 * sq.sum(-1), "sum": sq.sum(-1), "mean": sq.sum(-1) / K}[red]
    o = out.clamp(CLIP, 1 - CLIP)
    if spec["layers"][-1]["activation"] == "softmax":
        parts = -(t * torch.log(o))
    else:
        parts = -(t * torch.log(o) + (1 - t) * torch.log(1 - o))
    return parts.sum(-1) if (red or "sum") == "sum" else parts.sum(-1) / K


def _optimizer(spec: dict[str, Any], params: list[torch.Tensor]) -> torch.optim.Optimizer:
    o = dict(spec.get("optimizer", {"name": "sgd"}))
    lr, wd = spec["learning_rate"], o.get("weight_decay", 0.0)
    name = o["name"]
    if name == "sgd":
        return torch.optim.SGD(params, lr=lr, weight_decay=wd)
    if name in ("momentum", "nesterov"):
        return torch.optim.SGD(
            params, lr=lr, momentum=o.get("momentum", 0.9), nesterov=name == "nesterov", weight_decay=wd
        )
    if name == "adam":
        return torch.optim.Adam(
            params, lr=lr, betas=(o.get("beta1", 0.9), o.get("beta2", 0.999)), eps=o.get("eps", 1e-8), weight_decay=wd
        )
    return torch.optim.RMSprop(params, lr=lr, alpha=o.get("alpha", 0.99), eps=o.get("eps", 1e-8), weight_decay=wd)


def train(spec: dict[str, Any]) -> tuple[list[float], float]:
    """Final parameters in bptrace's order (weights row by row, then biases, layer by layer) and
    the mean per-sample error at them."""
    layers = _params(spec)
    trainable = [W for W, _ in layers] + ([b for _, b in layers] if spec.get("update_biases", True) else [])
    opt = _optimizer(spec, trainable)
    X = torch.tensor([s["input"] for s in spec["samples"]], dtype=torch.float64)
    T = torch.tensor([s["target"] for s in spec["samples"]], dtype=torch.float64)
    acts = [layer.get("activation", "sigmoid") for layer in spec["layers"][1:]]

    def forward(x: torch.Tensor) -> torch.Tensor:
        for (W, b), a in zip(layers, acts):
            x = ACTS[a](x @ W.T + b)
        return x

    n = len(spec["samples"])
    size = 1 if spec.get("mode", "online") == "online" else spec.get("batch_size", n)
    for _ in range(spec.get("iterations", 1)):
        for a in range(0, n, size):
            xb, tb = X[a : a + size], T[a : a + size]
            losses = _per_sample_loss(spec, forward(xb), tb)
            loss = losses.sum() if spec.get("batch_reduction", "mean") == "sum" else losses.mean()
            opt.zero_grad()
            loss.backward()
            opt.step()
    with torch.no_grad():
        final_error = float(_per_sample_loss(spec, forward(X), T).mean())
        flat: list[float] = []
        for W, b in layers:
            flat += W.flatten().tolist()
            flat += b.flatten().tolist() if b.dim() else [float(b)]
    return flat, final_error

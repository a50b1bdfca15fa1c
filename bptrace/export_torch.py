"""A spec as a runnable PyTorch script: the same network, samples, loss, batches and optimizer,
trained with torch.optim, printing the final parameters under bptrace's names and the final error.

A student can run it to check bptrace; an engineer can start from it. The script needs torch;
writing it does not.
"""

from __future__ import annotations

from typing import Any

from . import names, titles
from .errors import SpecError
from .spec import Spec, optimizer, reduction

TORCH_ACTIVATIONS = {
    "sigmoid": "torch.nn.Sigmoid()",
    "tanh": "torch.nn.Tanh()",
    "relu": "torch.nn.ReLU()",
    "leaky_relu": "torch.nn.LeakyReLU(0.01)",
    "linear": None,
    "softmax": "torch.nn.Softmax(dim=-1)",
}
# one sample's error from its outputs (out) and targets (t), rows = samples
SAMPLE_LOSS = {
    ("mse", "half_sum"): "0.5 * ((t - out) ** 2).sum(dim=1)",
    ("mse", "sum"): "((t - out) ** 2).sum(dim=1)",
    ("mse", "mean"): "((t - out) ** 2).sum(dim=1) / out.shape[1]",
    ("softmax", "sum"): "-(t * torch.log(out.clamp(CLIP, 1 - CLIP))).sum(dim=1)",
    ("softmax", "mean"): "-(t * torch.log(out.clamp(CLIP, 1 - CLIP))).sum(dim=1) / out.shape[1]",
    (
        "sigmoid",
        "sum",
    ): "-(t * torch.log(out.clamp(CLIP, 1 - CLIP)) + (1 - t) * torch.log(1 - out.clamp(CLIP, 1 - CLIP))).sum(dim=1)",
    (
        "sigmoid",
        "mean",
    ): "-(t * torch.log(out.clamp(CLIP, 1 - CLIP)) + (1 - t) * torch.log(1 - out.clamp(CLIP, 1 - CLIP))).sum(dim=1) / out.shape[1]",
}
OPTIMIZER_CALLS = {
    "sgd": "torch.optim.SGD(params, lr=LR, weight_decay={weight_decay!r})",
    "momentum": "torch.optim.SGD(params, lr=LR, momentum={momentum!r}, weight_decay={weight_decay!r})",
    "nesterov": "torch.optim.SGD(params, lr=LR, momentum={momentum!r}, nesterov=True, weight_decay={weight_decay!r})",
    "adam": "torch.optim.Adam(params, lr=LR, betas=({beta1!r}, {beta2!r}), eps={eps!r}, weight_decay={weight_decay!r})",
    "rmsprop": "torch.optim.RMSprop(params, lr=LR, alpha={alpha!r}, eps={eps!r}, weight_decay={weight_decay!r})",
}


def _matrix(rows: list[list[float]], indent: str) -> str:
    inner = f",\n{indent}    ".join(repr(r) for r in rows)
    return f"[\n{indent}    {inner},\n{indent}]"


def torch_script(spec: Spec) -> str:
    """The Python source of a script that trains the spec with PyTorch and prints the result."""
    d = spec.data
    if d["hidden_delta_weights"] == "updated":
        raise SpecError(
            "the 'updated' variant is not gradient descent and has no PyTorch counterpart", "hidden_delta_weights"
        )
    if spec.rounding_mode is not None:
        raise SpecError("hand rounding has no PyTorch counterpart", "rounding")
    layers = names.layout(d)
    out_act = d["layers"][-1]["activation"]
    loss_key = ("mse" if d["loss"] == "mse" else out_act, reduction(d))
    shared = any(lay.bias_name for lay in layers[1:])
    dtype = "float32" if d.get("dtype") == "float32" else "float64"
    n = len(d["samples"])
    size = 1 if d["mode"] == "online" else d.get("batch_size", n)
    opt = optimizer(d)
    title = titles.text_in(d.get("title"), "en").replace("\\", "\\\\").replace('"""', '\\"\\"\\"')
    lines = [
        "#!/usr/bin/env python3",
        f'"""{title}',
        "",
        "Written by `bptrace export torch`: trains the spec's network with PyTorch and prints the final",
        "parameters under bptrace's names (w1, w2, ..., b1 or b_h1, ...) and the final error, the mean",
        'over the samples of each sample\'s error. Compare them with bptrace\'s trace."""',
        "",
        "import torch",
        "",
        f"torch.set_default_dtype(torch.{dtype})",
        f"LR = {d['learning_rate']!r}",
        f"ITERATIONS = {d['iterations']!r}",
        f"BATCH_SIZE = {size!r}  # samples per optimizer step, taken in order",
        "CLIP = 1e-15  # bptrace clips the argument of ln to [CLIP, 1 - CLIP]",
        f"X = torch.tensor({_matrix([s['input'] for s in d['samples']], '')})",
        f"T = torch.tensor({_matrix([s['target'] for s in d['samples']], '')})",
        "",
    ]
    if shared:
        lines += [
            "",
            "class SharedBias(torch.nn.Module):",
            '    """A linear layer whose neurons share one bias (bptrace\'s b1, b2, ...)."""',
            "",
            "    def __init__(self, n_in, n_out):",
            "        super().__init__()",
            "        self.weight = torch.nn.Parameter(torch.zeros(n_out, n_in))",
            "        self.bias = torch.nn.Parameter(torch.zeros(()))",
            "",
            "    def forward(self, x):",
            "        return x @ self.weight.T + self.bias",
            "",
            "",
        ]
    modules: list[str] = []
    linear_index: list[int] = []
    for lay, raw in zip(layers[1:], d["layers"][1:]):
        cls = "SharedBias" if lay.bias_name else "torch.nn.Linear"
        linear_index.append(len(modules))
        modules.append(f"{cls}({lay.prev_size}, {lay.size}),  # layer {lay.name}")
        act = TORCH_ACTIVATIONS[raw["activation"]]
        if act:
            modules.append(f"{act},")
    lines.append("model = torch.nn.Sequential(")
    lines += [f"    {m}" for m in modules]
    lines += [")", "with torch.no_grad():  # row j of a weight matrix holds the weights into neuron j"]
    for raw, k in zip(d["layers"][1:], linear_index):
        lines.append(f"    model[{k}].weight.copy_(torch.tensor({_matrix(raw['weights'], '    ')}))")
        bias = raw["bias"]
        lines.append(f"    model[{k}].bias.copy_(torch.tensor({bias!r}))")
    biases = ", ".join(f"model[{k}].bias" for k in linear_index)
    weights = ", ".join(f"model[{k}].weight" for k in linear_index)
    if d["update_biases"]:
        lines.append(f"params = [{', '.join(f'model[{k}].weight, model[{k}].bias' for k in linear_index)}]")
    else:
        lines += [f"for b in [{biases}]:", "    b.requires_grad_(False)  # the spec keeps the biases fixed"]
        lines.append(f"params = [{weights}]")
    settings: dict[str, Any] = {k: x for k, x in opt.items() if k != "name"}
    lines += [
        f"optimizer = {OPTIMIZER_CALLS[opt['name']].format(**settings)}",
        "",
        "",
        "def sample_losses(out, t):",
        '    """One error per sample (row), as the spec defines it."""',
        f"    return {SAMPLE_LOSS[loss_key]}",
        "",
        "",
        "for iteration in range(ITERATIONS):",
        "    for start in range(0, len(X), BATCH_SIZE):",
        "        losses = sample_losses(model(X[start : start + BATCH_SIZE]), T[start : start + BATCH_SIZE])",
        f"        loss = losses.{'sum' if d.get('batch_reduction') == 'sum' else 'mean'}()",
        "        optimizer.zero_grad()",
        "        loss.backward()",
        "        optimizer.step()",
        "",
        "# bptrace's names, in its order: each layer's weights row by row, then its biases",
    ]
    order = list(names.param_names(layers, True))
    lines.append(f"NAMES = {order!r}")
    lines += [
        "with torch.no_grad():",
        f"    values = torch.cat([p.reshape(-1) for p in [{', '.join(f'model[{k}].weight, model[{k}].bias' for k in linear_index)}]])",
        "    for name, value in zip(NAMES, values.tolist()):",
        '        print(f"{name} = {value!r}")',
        '    print(f"total_error = {sample_losses(model(X), T).mean().item()!r}")',
    ]
    return "\n".join(lines) + "\n"

"""A spec from a PyTorch model: an nn.Sequential of nn.Linear layers and supported activations,
a loss module and an optimizer, mapped to bptrace's keys so the trace reproduces what torch computes.

Needs the optional extra ``bptrace[torch]``; nothing else in bptrace imports torch.
"""

from __future__ import annotations

import string
from typing import Any

from .errors import SpecError
from .spec import load_spec

# torch module class name -> bptrace activation
ACTIVATION_MODULES = {
    "Sigmoid": "sigmoid",
    "Tanh": "tanh",
    "ReLU": "relu",
    "LeakyReLU": "leaky_relu",
    "Identity": "linear",
}
HIDDEN_NAMES = ["h"] + [f"h{c}" for c in string.ascii_lowercase]


def _refuse(message: str, field: str = "model") -> SpecError:
    return SpecError(message, field, "from_torch")


def _floats(t: Any) -> Any:
    return t.detach().to(dtype=_torch().float64).tolist()


def _torch() -> Any:
    try:
        import torch
    except ImportError:  # pragma: no cover - the bridge is only reached with torch installed
        raise SpecError("PyTorch is not installed (pip install 'bptrace[torch]')", "model", "from_torch") from None
    return torch


def _layers(model: Any) -> tuple[list[dict[str, Any]], bool]:
    """The spec's layers from an nn.Sequential, and whether the biases are learned."""
    nn = _torch().nn
    modules = list(model.children()) if isinstance(model, nn.Sequential) else [model]
    linears: list[Any] = []
    acts: list[str] = []
    for k, mod in enumerate(modules):
        kind = type(mod).__name__
        if isinstance(mod, nn.Linear):
            if linears and len(acts) < len(linears):
                acts.append("linear")  # two Linear layers in a row: the first has no activation
            linears.append(mod)
        elif kind in ACTIVATION_MODULES or kind == "Softmax":
            if len(acts) >= len(linears):
                raise _refuse(f"module {k} ({kind}) does not follow an nn.Linear")
            if kind == "LeakyReLU" and mod.negative_slope != 0.01:
                raise _refuse(f"module {k}: LeakyReLU with slope {mod.negative_slope} (bptrace's leaky_relu has 0.01)")
            if kind == "Softmax":
                if k != len(modules) - 1 or mod.dim not in (-1, 1):
                    raise _refuse(f"module {k}: Softmax is supported only as the last module, over the last dimension")
                acts.append("softmax")
            else:
                acts.append(ACTIVATION_MODULES[kind])
        else:
            known = ", ".join(["Linear", *ACTIVATION_MODULES, "Softmax"])
            raise _refuse(f"module {k} is a {kind}; bptrace takes nn.Sequential of {known}")
    if not linears:
        raise _refuse("the model has no nn.Linear layer")
    if len(acts) < len(linears):
        acts.append("linear")
    with_bias = [lin.bias is not None for lin in linears]
    if any(with_bias) and not all(with_bias):
        raise _refuse("some nn.Linear layers have a bias and some do not; bptrace learns all biases or none")
    learned = all(with_bias) and all(lin.bias.requires_grad for lin in linears)
    hidden = len(linears) - 1
    if hidden > len(HIDDEN_NAMES):
        raise _refuse(f"{len(linears)} linear layers; at most {len(HIDDEN_NAMES) + 1}")
    names = HIDDEN_NAMES[:hidden] + ["o"]
    layers: list[dict[str, Any]] = [{"name": "i", "size": linears[0].in_features}]
    for lin, act, name in zip(linears, acts, names):
        layers.append(
            {
                "name": name,
                "size": lin.out_features,
                "activation": act,
                "weights": _floats(lin.weight),
                "bias": _floats(lin.bias) if lin.bias is not None else 0.0,
            }
        )
    return layers, learned


def _loss(loss_fn: Any, out_act: str) -> dict[str, Any]:
    """loss, loss_options and batch_reduction for a torch loss module; the output activation it needs."""
    kind = type(loss_fn).__name__
    red = getattr(loss_fn, "reduction", None)
    if red not in ("mean", "sum"):
        raise _refuse(f"{kind} with reduction={red!r}; bptrace takes 'mean' or 'sum'", "loss_fn")
    if getattr(loss_fn, "weight", None) is not None:
        raise _refuse(f"{kind} with class weights is not supported", "loss_fn")
    if kind == "MSELoss":
        # torch: mean over every element (samples x outputs), or their sum
        return {"loss": "mse", "loss_options": {"reduction": red}, "batch_reduction": red}
    if kind == "BCELoss":
        if out_act != "sigmoid":
            raise _refuse("BCELoss needs probabilities: end the model with nn.Sigmoid", "loss_fn")
        return {"loss": "cross_entropy", "loss_options": {"reduction": red}, "batch_reduction": red}
    if kind == "CrossEntropyLoss":
        if out_act == "softmax":
            raise _refuse(
                "CrossEntropyLoss applies softmax itself: end the model with its last nn.Linear (the logits)",
                "loss_fn",
            )
        if out_act != "linear":
            raise _refuse("CrossEntropyLoss takes logits: end the model with its last nn.Linear", "loss_fn")
        if getattr(loss_fn, "label_smoothing", 0.0):
            raise _refuse("CrossEntropyLoss with label smoothing is not supported", "loss_fn")
        # per sample: -sum target ln softmax(logits); over the batch: the mean or the sum
        return {"loss": "cross_entropy", "batch_reduction": red, "_softmax": True}
    raise _refuse(f"{kind} is not supported; bptrace takes MSELoss, BCELoss or CrossEntropyLoss", "loss_fn")


def _optimizer(opt: Any, learning_rate: float | None) -> tuple[float, dict[str, Any]]:
    if opt is None:
        if learning_rate is None:
            raise _refuse("give an optimizer, or learning_rate= for plain gradient descent", "optimizer")
        return learning_rate, {"name": "sgd", "weight_decay": 0.0}
    kind = type(opt).__name__
    if len(opt.param_groups) != 1:
        raise _refuse(f"{kind} has {len(opt.param_groups)} parameter groups; bptrace takes one", "optimizer")
    if any(opt.state.values()):
        raise _refuse(f"{kind} has state from earlier steps; pass a fresh optimizer", "optimizer")
    g = opt.param_groups[0]
    if g.get("maximize"):
        raise _refuse(f"{kind} with maximize=True is not supported", "optimizer")
    wd = float(g.get("weight_decay", 0.0))
    lr = float(g["lr"])
    if kind == "SGD":
        if g.get("dampening", 0.0):
            raise _refuse("SGD with dampening is not supported", "optimizer")
        mu = float(g.get("momentum", 0.0))
        if not mu:
            return lr, {"name": "sgd", "weight_decay": wd}
        return lr, {"name": "nesterov" if g.get("nesterov") else "momentum", "momentum": mu, "weight_decay": wd}
    if kind == "Adam":
        if g.get("amsgrad"):
            raise _refuse("Adam with amsgrad=True is not supported", "optimizer")
        b1, b2 = g["betas"]
        return lr, {"name": "adam", "beta1": float(b1), "beta2": float(b2), "eps": float(g["eps"]), "weight_decay": wd}
    if kind == "RMSprop":
        if g.get("momentum", 0.0) or g.get("centered"):
            raise _refuse("RMSprop with momentum or centered=True is not supported", "optimizer")
        return lr, {"name": "rmsprop", "alpha": float(g["alpha"]), "eps": float(g["eps"]), "weight_decay": wd}
    raise _refuse(f"{kind} is not supported; bptrace takes optim.SGD, optim.Adam or optim.RMSprop", "optimizer")


def _rows(t: Any, what: str) -> list[list[float]]:
    torch = _torch()
    t = torch.as_tensor(t)
    if t.dim() == 1:
        t = t.unsqueeze(0)
    if t.dim() != 2:
        raise _refuse(f"{what} must be a matrix (one row per sample), got {t.dim()} dimensions", what)
    rows: list[list[float]] = _floats(t)
    return rows


def from_torch(
    model: Any,
    inputs: Any,
    targets: Any,
    loss_fn: Any,
    optimizer: Any = None,
    iterations: int = 1,
    *,
    batch_size: int | None = None,
    learning_rate: float | None = None,
    title: str = "A PyTorch model",
    dtype: str = "float64",
) -> dict[str, Any]:
    """A validated spec (as a dict) that trains ``model`` on ``inputs`` and ``targets`` as torch would.

    Each iteration is one pass over the samples in order, one optimizer step per batch (the whole
    set unless ``batch_size`` is given), as ``loss_fn(model(X), T).backward(); optimizer.step()``
    does. With ``optimizer=None`` pass ``learning_rate`` for plain gradient descent. Class-index
    targets of CrossEntropyLoss become one-hot rows. Anything bptrace cannot express is refused
    with a SpecError naming it.
    """
    torch = _torch()
    layers, learned = _layers(model)
    lr, opt = _optimizer(optimizer, learning_rate)
    if optimizer is not None:
        given = {id(p) for p in optimizer.param_groups[0]["params"]}
        trainable = [p for p in model.parameters() if p.requires_grad]
        if {id(p) for p in trainable} != given:
            raise _refuse("the optimizer must hold exactly the model's trainable parameters", "optimizer")
    loss = _loss(loss_fn, layers[-1]["activation"])
    if loss.pop("_softmax", False):
        layers[-1]["activation"] = "softmax"
    X = _rows(inputs, "inputs")
    t = torch.as_tensor(targets)
    if loss["loss"] == "cross_entropy" and layers[-1]["activation"] == "softmax" and not t.is_floating_point():
        t = torch.nn.functional.one_hot(t.reshape(-1), layers[-1]["size"])
    T = _rows(t, "targets")
    if len(X) != len(T):
        raise _refuse(f"{len(X)} input rows but {len(T)} target rows", "targets")
    spec: dict[str, Any] = {
        "title": title,
        "learning_rate": lr,
        **{k: v for k, v in loss.items() if k != "batch_reduction"},
        "iterations": iterations,
        "mode": "batch",
        "batch_reduction": loss["batch_reduction"],
        "optimizer": opt,
        "update_biases": learned,
        "dtype": dtype,
        "layers": layers,
        "samples": [{"input": x, "target": y} for x, y in zip(X, T)],
    }
    if batch_size is not None:
        spec["batch_size"] = batch_size
    return load_spec(spec).to_dict()

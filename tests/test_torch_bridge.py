"""The PyTorch bridge both ways: a torch model becomes a spec whose trace equals torch's training,
and a spec becomes a script whose printed result equals the trace."""

from __future__ import annotations

import contextlib
import io
import random
import runpy
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

import bptrace
from bptrace import names
from bptrace.export_torch import torch_script

torch = pytest.importorskip("torch", reason="PyTorch is not installed (pip install 'bptrace[torch]')")

from test_torch_agreement import CASES, random_spec  # noqa: E402

nn = torch.nn


def _model(rng: random.Random, sizes: list[int], acts: list[Any], bias: bool = True) -> Any:
    mods: list[Any] = []
    for k in range(1, len(sizes)):
        mods.append(nn.Linear(sizes[k - 1], sizes[k], bias=bias, dtype=torch.float64))
        if acts[k - 1] is not None:
            mods.append(acts[k - 1])
    model = nn.Sequential(*mods)
    with torch.no_grad():
        for p in model.parameters():
            p.copy_(torch.tensor([rng.uniform(-1, 1) for _ in range(p.numel())], dtype=torch.float64).reshape(p.shape))
    return model


def _train_torch(model: Any, X: Any, T: Any, loss_fn: Any, opt: Any, iterations: int) -> tuple[list[float], float]:
    for _ in range(iterations):
        opt.zero_grad()
        loss_fn(model(X), T).backward()
        opt.step()
    with torch.no_grad():
        flat = torch.cat([p.reshape(-1) for p in model.parameters()]).tolist()
    return flat, 0.0


SETUPS = [
    ("mse-mean", [nn.Tanh(), nn.Sigmoid()], lambda: nn.MSELoss(), "float"),
    ("mse-sum", [nn.ReLU(), None], lambda: nn.MSELoss(reduction="sum"), "float"),
    ("bce", [nn.LeakyReLU(0.01), nn.Sigmoid()], lambda: nn.BCELoss(), "prob"),
    ("bce-sum", [nn.Sigmoid(), nn.Sigmoid()], lambda: nn.BCELoss(reduction="sum"), "prob"),
    ("ce-index", [nn.Tanh(), None], lambda: nn.CrossEntropyLoss(), "index"),
    ("ce-prob", [nn.Identity(), None], lambda: nn.CrossEntropyLoss(reduction="sum"), "onehot"),
]
OPTIMS = [
    lambda ps: torch.optim.SGD(ps, lr=0.1),
    lambda ps: torch.optim.SGD(ps, lr=0.05, momentum=0.9, weight_decay=0.01),
    lambda ps: torch.optim.SGD(ps, lr=0.05, momentum=0.5, nesterov=True),
    lambda ps: torch.optim.Adam(ps, lr=0.01, betas=(0.8, 0.99), weight_decay=0.001),
    lambda ps: torch.optim.RMSprop(ps, lr=0.01, alpha=0.9),
]


@pytest.mark.parametrize("setup", range(len(SETUPS)))
@pytest.mark.parametrize("optim", range(len(OPTIMS)))
def test_model_to_spec_to_trace_equals_torch(setup: int, optim: int) -> None:
    rng = random.Random(setup * 10 + optim)
    _, acts, make_loss, targets = SETUPS[setup]
    sizes = [rng.randint(1, 4), rng.randint(1, 4), rng.randint(2, 4)]
    model = _model(rng, sizes, acts)
    n = rng.randint(1, 5)
    X = torch.tensor([[rng.uniform(-1, 1) for _ in range(sizes[0])] for _ in range(n)], dtype=torch.float64)
    if targets == "index":
        T = torch.tensor([rng.randrange(sizes[-1]) for _ in range(n)])
    elif targets == "onehot":
        T = nn.functional.one_hot(torch.tensor([rng.randrange(sizes[-1]) for _ in range(n)]), sizes[-1]).double()
    else:
        T = torch.tensor([[rng.uniform(0, 1) for _ in range(sizes[-1])] for _ in range(n)], dtype=torch.float64)
    loss_fn = make_loss()
    opt = OPTIMS[optim](list(model.parameters()))
    spec = bptrace.from_torch(model, X, T, loss_fn, opt, iterations=4)
    tr = bptrace.trace(spec)
    expected, _ = _train_torch(model, X, T, loss_fn, opt, 4)
    order = list(names.param_names(names.layout(tr.spec), True))
    got = tr.final_params()
    assert [got[p] for p in order] == pytest.approx(expected, rel=1e-9, abs=1e-12)


def test_refusals_name_what_is_wrong() -> None:
    lin = nn.Linear(2, 2, dtype=torch.float64)
    X, T = torch.zeros(1, 2, dtype=torch.float64), torch.zeros(1, 2, dtype=torch.float64)
    with pytest.raises(bptrace.SpecError, match="Conv1d"):
        bptrace.from_torch(nn.Sequential(lin, nn.Conv1d(1, 1, 1)), X, T, nn.MSELoss(), learning_rate=0.1)
    with pytest.raises(bptrace.SpecError, match="applies softmax itself"):
        bptrace.from_torch(nn.Sequential(lin, nn.Softmax(dim=-1)), X, T, nn.CrossEntropyLoss(), learning_rate=0.1)
    with pytest.raises(bptrace.SpecError, match="HuberLoss"):
        bptrace.from_torch(nn.Sequential(lin), X, T, nn.HuberLoss(), learning_rate=0.1)
    with pytest.raises(bptrace.SpecError, match="amsgrad"):
        bptrace.from_torch(nn.Sequential(lin), X, T, nn.MSELoss(), torch.optim.Adam(lin.parameters(), amsgrad=True))
    with pytest.raises(bptrace.SpecError, match="Adagrad"):
        bptrace.from_torch(nn.Sequential(lin), X, T, nn.MSELoss(), torch.optim.Adagrad(lin.parameters()))
    with pytest.raises(bptrace.SpecError, match="slope"):
        bptrace.from_torch(nn.Sequential(lin, nn.LeakyReLU(0.2)), X, T, nn.MSELoss(), learning_rate=0.1)


def _printed(script: Path, separate: bool) -> dict[str, str]:
    """What the script prints: run as its own process, or in this one (torch imported once)."""
    if separate:
        out = subprocess.run([sys.executable, str(script)], capture_output=True, text=True, check=True).stdout
    else:
        buf = io.StringIO()
        with contextlib.redirect_stdout(buf):
            runpy.run_path(str(script), run_name="__main__")
        out = buf.getvalue()
    return dict(line.split(" = ") for line in out.strip().splitlines())


@pytest.mark.parametrize("case", range(0, len(CASES), 2))
def test_exported_script_prints_the_trace(case: int, tmp_path: Path) -> None:
    rng = random.Random(5000 + case)
    opt, red, batching = CASES[case]
    spec = random_spec(rng, dict(opt), red, batching)
    tr = bptrace.trace(spec)
    assert tr.final is not None
    script = tmp_path / "train.py"
    script.write_text(torch_script(bptrace.load_spec(spec)), encoding="utf-8")
    printed = _printed(script, separate=case == 0)
    got = tr.final_params()
    assert list(printed)[:-1] == list(names.param_names(names.layout(tr.spec), True))
    for name, value in got.items():
        assert float(printed[name]) == pytest.approx(value, rel=1e-9, abs=1e-12), name
    assert float(printed["total_error"]) == pytest.approx(tr.final["total_error"], rel=1e-9, abs=1e-12)


def test_export_command_writes_a_script(tmp_path: Path) -> None:
    from bptrace.cli import cli

    assert cli(["export", "torch", "article", "-o", str(tmp_path / "t.py")]) == 0
    text = (tmp_path / "t.py").read_text(encoding="utf-8")
    assert "torch.optim.SGD(params, lr=LR" in text and "SharedBias(2, 2)" in text

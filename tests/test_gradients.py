"""Gradients and training against an independent numpy oracle and against finite differences."""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pytest
from hypothesis import HealthCheck, assume, example, given, settings

import bptrace

from oracle import SATURATION_MARGIN, Net
from strategies import SATURATED_OUTPUT, specs


def _near_kink(spec: dict[str, Any]) -> bool:
    """ReLU at net = 0 has no derivative; finite differences across the kink are meaningless."""
    tr = bptrace.trace(spec, iterations=1)
    return any(
        abs(r.value) < 1e-4
        for r in tr.records(kind="net", step=None)
        for lay in spec["layers"][1:]
        if lay["activation"] in ("relu", "leaky_relu") and r.layer == lay["name"]
    )


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(specs())
@example(SATURATED_OUTPUT)
def test_training_matches_numpy_oracle(spec: dict[str, Any]) -> None:
    tr = bptrace.trace(spec)
    oracle = Net(spec)
    with np.errstate(all="ignore"):
        history = oracle.train(spec["iterations"])
    # a run blowing up is compared elsewhere; here both sides must stay in a sane range
    assume(tr.diverged is None and all(math.isfinite(x) and abs(x) < 1e6 for x in history))
    assume(oracle.saturation_margin > SATURATION_MARGIN)
    assert list(tr.history) == pytest.approx(history, rel=1e-9, abs=1e-12)
    assert tr.final is not None
    expected = oracle.params()
    assert tr.final["params"].keys() == expected.keys()
    for name, value in expected.items():
        assert tr.final["params"][name] == pytest.approx(value, rel=1e-9, abs=1e-12), name


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(specs(max_samples=2))
def test_traced_gradients_equal_finite_differences(spec: dict[str, Any]) -> None:
    spec = {**spec, "hidden_delta_weights": "original"}
    assume(not _near_kink(spec))
    gc = bptrace.trace(spec, iterations=1).gradcheck
    assert gc is not None
    assert gc["checked"] == gc["of"]
    for row in gc["params"]:
        assert row["traced"] == pytest.approx(row["numeric"], rel=1e-5, abs=1e-8), row["name"]


@settings(max_examples=60, deadline=None)
@given(specs())
def test_first_step_gradients_match_oracle(spec: dict[str, Any]) -> None:
    spec = {**spec, "hidden_delta_weights": "original", "mode": "online"}
    tr = bptrace.trace(spec, iterations=1)
    net = Net(spec)
    s = spec["samples"][0]
    _, gW, _ = net.grads(np.array(s["input"], float), np.array(s["target"], float))
    n = 0
    for W in gW:
        for g in W.ravel():
            n += 1
            assert tr.value(f"grad.w{n}") == pytest.approx(float(g), rel=1e-9, abs=1e-13)


def test_fast_path_reproduces_traced_steps_bit_for_bit() -> None:
    for name in ("article", "xor", "softmax"):
        fast = bptrace.trace(name, iterations=30, detail=1)
        slow = bptrace.trace(name, iterations=30, detail="all")
        assert list(fast.history) == list(slow.history), name
        assert fast.final == slow.final, name


def test_every_detailed_step_continues_from_the_previous_one() -> None:
    tr = bptrace.trace("article", iterations=3, detail="all")
    assert [s.iteration for s in tr.steps] == [1, 2, 3]
    for before, after in zip(tr.steps, tr.steps[1:]):
        for rec in before.records:
            if rec.kind == "update":
                assert after.get(f"update.{rec.name}").old == rec.new  # type: ignore[union-attr]


def test_batch_step_averages_the_samples() -> None:
    tr = bptrace.trace("xor", iterations=1)
    per_sample = [s for s in tr.steps if s.sample is not None]
    agg = next(s for s in tr.steps if s.sample is None)
    assert len(per_sample) == 4
    for rec in agg.records:
        if rec.kind == "grad":
            values = [s.get(f"grad.{rec.name}").value for s in per_sample]  # type: ignore[union-attr]
            assert rec.value == pytest.approx(math.fsum(values) / 4, rel=1e-15)
    assert tr.history[0] == agg.get("total_error").value  # type: ignore[union-attr]


def test_torch_agrees_when_installed() -> None:
    torch = pytest.importorskip("torch")
    spec = bptrace.load_spec("softmax").to_dict()
    tr = bptrace.trace(spec, iterations=1)
    W = [torch.tensor(layer["weights"], dtype=torch.float64, requires_grad=True) for layer in spec["layers"][1:]]
    b = [torch.tensor(layer["bias"], dtype=torch.float64, requires_grad=True) for layer in spec["layers"][1:]]
    x = torch.tensor(spec["samples"][0]["input"], dtype=torch.float64)
    t = torch.tensor(spec["samples"][0]["target"], dtype=torch.float64)
    h = torch.tanh(W[0] @ x + b[0])
    logits = W[1] @ h + b[1]
    loss = torch.nn.functional.cross_entropy(logits.unsqueeze(0), t.unsqueeze(0))
    loss.backward()
    assert tr.value("total_error") == pytest.approx(loss.item(), rel=1e-12)
    flat = torch.cat([W[0].grad.ravel(), W[1].grad.ravel()]).tolist()  # type: ignore[union-attr]
    for n, g in enumerate(flat, start=1):
        assert tr.value(f"grad.w{n}") == pytest.approx(g, rel=1e-10, abs=1e-14)
    for j, g in enumerate(b[1].grad.tolist(), start=1):  # type: ignore[union-attr]
        assert tr.value(f"grad.b_o{j}") == pytest.approx(g, rel=1e-10, abs=1e-14)

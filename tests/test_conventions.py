"""The conventions beyond the article's: loss reductions, mini-batches, optimizers, input gradients
and float32 — their spec keys, the compiled path against the traced one, matrix form against
scalar form, the trace format, and the reports."""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import jsonschema
import numpy as np
import pytest

import bptrace
from bptrace.reports import render_files
from bptrace.spec import load_spec

OPTIMIZERS = ["sgd", "momentum", "nesterov", "adam", "rmsprop"]


def _xor(**keys: Any) -> dict[str, Any]:
    return {**load_spec("xor").to_dict(), **keys}


# ---------------------------------------------------------------- spec keys


@pytest.mark.parametrize(
    "keys,path,message",
    [
        ({"loss_options": {"reduction": "avg"}}, "loss_options.reduction", "expected one of half_sum, sum, mean"),
        ({"loss": "cross_entropy", "loss_options": {"reduction": "half_sum"}}, "loss_options.reduction", "sum, mean"),
        ({"loss_options": {"reductio": "sum"}}, "loss_options.reductio", "did you mean 'reduction'"),
        ({"mode": "online", "batch_size": 2}, "batch_size", 'needs mode = "batch"'),
        ({"batch_size": 0}, "batch_size", "at least 1"),
        ({"batch_reduction": "max"}, "batch_reduction", "expected one of mean, sum"),
        ({"optimizer": {"name": "adamw"}}, "optimizer.name", "did you mean 'adam'"),
        ({"optimizer": {"name": "sgd", "momentum": 0.9}}, "optimizer.momentum", "sgd has no setting"),
        ({"optimizer": {"name": "adam", "beta1": 1.0}}, "optimizer.beta1", "up to (not including) 1"),
        ({"optimizer": {"name": "adam", "eps": 0}}, "optimizer.eps", "above 0"),
        ({"optimizer": {"name": "momentum", "momentum": True}}, "optimizer.momentum", "boolean"),
        ({"dtype": "float16"}, "dtype", "float64, float32"),
        ({"dtype": "float32", "rounding": "hand:4"}, "dtype", "hand rounding"),
        ({"record_input_gradients": 1}, "record_input_gradients", "true or false"),
        (
            {"optimizer": {"name": "adam"}, "mode": "online", "hidden_delta_weights": "updated"},
            "hidden_delta_weights",
            "optimizer",
        ),
    ],
)
def test_bad_keys_are_refused_naming_the_field(keys: dict[str, Any], path: str, message: str) -> None:
    with pytest.raises(bptrace.SpecError) as e:
        load_spec(_xor(**keys))
    assert e.value.path == path
    assert message in str(e.value) and "\n" not in str(e.value)


def test_defaults_leave_the_normalised_spec_as_it_was() -> None:
    plain = load_spec("xor").to_dict()
    same = load_spec(
        _xor(
            loss_options={"reduction": "half_sum"},
            batch_reduction="mean",
            optimizer={"name": "sgd"},
            dtype="float64",
            record_input_gradients=False,
        )
    ).to_dict()
    assert same == plain
    assert bptrace.trace(plain).format_version == 1


def test_batch_size_implies_batch_mode_and_full_batches_drop_it() -> None:
    d = load_spec(_xor(batch_size=3)).to_dict()
    assert d["mode"] == "batch" and d["batch_size"] == 3
    assert "batch_size" not in load_spec(_xor(batch_size=4, mode="batch")).to_dict()
    adam = load_spec(_xor(optimizer={"name": "adam", "beta2": 0.9})).to_dict()["optimizer"]
    assert adam == {"name": "adam", "beta1": 0.9, "beta2": 0.9, "eps": 1e-8, "weight_decay": 0.0}


# ---------------------------------------------------------------- the fast path is the traced path


@pytest.mark.parametrize("opt", OPTIMIZERS)
@pytest.mark.parametrize(
    "extra",
    [
        {},
        {"loss_options": {"reduction": "mean"}, "mode": "batch", "batch_size": 3},
        {"loss_options": {"reduction": "sum"}, "mode": "batch", "batch_reduction": "sum"},
        {"mode": "batch", "batch_size": 2, "batch_reduction": "sum", "rounding": "hand:6"},
        {"dtype": "float32", "mode": "batch", "batch_size": 3},
        {"dtype": "float32"},
    ],
)
def test_compiled_path_is_bit_identical_to_the_traced_path(opt: str, extra: dict[str, Any]) -> None:
    spec = _xor(optimizer={"name": opt, "weight_decay": 0.01}, iterations=6, **extra)
    traced = bptrace.trace(spec, detail="all")
    fast = bptrace.trace(spec, detail=1)
    assert list(traced.history) == list(fast.history)
    assert traced.final == fast.final
    assert traced.diverged is None


@pytest.mark.parametrize("opt", OPTIMIZERS)
@pytest.mark.parametrize("extra", [{}, {"mode": "batch", "batch_size": 3, "batch_reduction": "sum"}])
def test_matrix_form_equals_scalar_form(opt: str, extra: dict[str, Any]) -> None:
    spec = _xor(optimizer={"name": opt, "weight_decay": 0.02}, iterations=4, record_input_gradients=True, **extra)
    scalar, matrix = bptrace.trace(spec), bptrace.trace(spec, matrix_threshold=0)
    assert np.allclose(matrix.history, scalar.history, rtol=1e-12, atol=0)
    assert matrix.final_params() == pytest.approx(scalar.final_params(), rel=1e-10, abs=1e-13)
    for step_s, step_m in zip(scalar.steps, matrix.steps):
        for rec in step_m.records:
            if not rec.is_array:  # the first weight's chain, the optimizer's steps among them
                assert rec.value == pytest.approx(step_s.get(rec.key).value, rel=1e-12, abs=1e-15), rec.key
    for rec in scalar.steps[0].records:
        if rec.key.startswith("grad.x"):
            assert matrix.value(rec.key) == pytest.approx(rec.value, rel=1e-13), rec.key


# ---------------------------------------------------------------- what the records say


def test_loss_reductions_follow_their_formulas() -> None:
    half, total, mean = (bptrace.trace("article", loss_options={"reduction": r}) for r in ("half_sum", "sum", "mean"))
    assert total.value("error.o1") == pytest.approx(2 * half.value("error.o1"), rel=1e-15)
    assert mean.value("error.o1") == pytest.approx(half.value("error.o1"), rel=1e-15)  # K = 2 outputs
    assert total.value("grad.w5") == pytest.approx(2 * half.value("grad.w5"), rel=1e-14)
    assert r"\frac{1}{2}" in half.steps[0].get("error.o1").formula
    assert r"\frac{1}{2}" not in total.steps[0].get("error.o1").formula
    assert total.gradcheck and total.gradcheck["max_rel_diff"] < 1e-6


def test_optimizer_state_is_recorded_under_its_keys() -> None:
    adam = bptrace.trace("article", optimizer={"name": "adam", "weight_decay": 0.1}, iterations=2)
    step1, step2 = adam.steps[0], adam.steps[1]
    kinds = {r.key: r.kind for r in step1.records if r.name == "w5" and r.phase == "update"}
    assert kinds == {
        "g.w5": "decayed_grad",
        "m.w5": "moment1",
        "v.w5": "moment2",
        "mhat.w5": "moment1_hat",
        "vhat.w5": "moment2_hat",
        "update.w5": "update",
    }
    g1, g2 = step1.get("g.w5").value, step2.get("g.w5").value
    m1 = 0.1 * g1
    assert step1.get("m.w5").value == pytest.approx(m1, rel=1e-15)
    assert step2.get("m.w5").value == pytest.approx(0.9 * m1 + 0.1 * g2, rel=1e-15)
    assert step2.get("mhat.w5").value == pytest.approx(step2.get("m.w5").value / (1 - 0.9**2), rel=1e-15)
    v2 = step2.get("v.w5").value
    assert v2 == pytest.approx(0.999 * 0.001 * g1 * g1 + 0.001 * g2 * g2, rel=1e-14)
    momentum = bptrace.trace("article", optimizer={"name": "momentum", "momentum": 0.5}, iterations=2)
    v1 = momentum.steps[0].get("v.w5")
    assert v1.kind == "velocity" and v1.value == momentum.value("grad.w5")  # starts at g
    assert momentum.steps[1].get("v.w5").value == pytest.approx(
        0.5 * v1.value + momentum.value("grad.w5", 1), rel=1e-15
    )
    rms = bptrace.trace("article", optimizer={"name": "rmsprop"})
    assert rms.steps[0].get("s.w5").kind == "square_avg"


def test_input_gradients_are_the_derivative_of_the_error() -> None:
    spec = load_spec("softmax", record_input_gradients=True)
    tr = bptrace.trace(spec)
    sample = spec.data["samples"][0]

    def error(k: int, h: float) -> float:
        x = list(sample["input"])
        x[k] += h
        return bptrace.trace(spec.to_dict() | {"samples": [{"input": x, "target": sample["target"]}]}).history[0]

    for k in range(len(sample["input"])):
        numeric = (error(k, 1e-6) - error(k, -1e-6)) / 2e-6
        assert tr.value(f"grad.i{k + 1}") == pytest.approx(numeric, rel=1e-6)
    assert tr.steps[0].get("partial.dE_h1/din_i1") is not None


def test_float32_values_are_float32_numbers() -> None:
    tr32 = bptrace.trace("softmax", dtype="float32", iterations=3)
    tr64 = bptrace.trace("softmax", iterations=3)
    for rec in tr32.steps[0].records:
        assert float(np.float32(rec.value)) == rec.value, rec.key
    assert tr32.final is not None and tr64.final is not None
    assert tr32.final["total_error"] == pytest.approx(tr64.final["total_error"], rel=1e-5)
    assert tr32.final["total_error"] != tr64.final["total_error"]
    assert tr32.gradcheck is not None and tr32.gradcheck["max_rel_diff"] < 1e-4
    with pytest.raises(bptrace.SpecError, match="float32"):
        bptrace.trace("softmax", dtype="float32", matrix_threshold=0)


# ---------------------------------------------------------------- the trace format


SCHEMA = json.loads((Path(bptrace.__file__).parent / "schema" / "trace.schema.json").read_text(encoding="utf-8"))


@pytest.mark.parametrize("threshold", [64, 0])
def test_format_2_traces_validate_and_read_back(threshold: int) -> None:
    tr = bptrace.trace(
        _xor(
            optimizer={"name": "adam", "weight_decay": 0.01},
            loss_options={"reduction": "mean"},
            batch_size=3,
            record_input_gradients=True,
            iterations=2,
        ),
        matrix_threshold=threshold,
    )
    text = tr.to_json()
    d = json.loads(text)
    assert d["format_version"] == 2
    jsonschema.validate(d, SCHEMA, cls=jsonschema.Draft202012Validator)
    back = bptrace.Trace.from_json(text)
    assert back.to_json() == text
    assert render_files(back, ["md", "html"]) == render_files(tr, ["md", "html"])


def test_a_format_1_trace_cannot_carry_format_2_keys() -> None:
    d = json.loads(bptrace.trace(_xor(optimizer={"name": "adam"})).to_json())
    d["format_version"] = 1
    with pytest.raises(bptrace.SpecError, match="format 2") as e:
        bptrace.Trace.from_dict(d)
    assert e.value.path == "format_version"


# ---------------------------------------------------------------- reports


def _md(spec: Any, lang: str, **kw: Any) -> str:
    return bptrace.render(bptrace.trace(spec, **kw), "md", lang=lang)


@pytest.mark.parametrize("lang", ["en", "zh"])
def test_adam_report_derives_steps_one_and_two(lang: str) -> None:
    md = _md("article", lang, optimizer={"name": "adam"}, iterations=3, update_biases=True)
    heading = "#### Step t = " if lang == "en" else "#### 第 t = "
    assert md.count(heading) == 2
    assert r"\hat{m}^{(t)}_{w_{5}}" in md and r"1 - 0.9^{2}" in md  # step 2's bias correction, with numbers
    assert "{" + "param" not in md and "{settings}" not in md
    if lang == "zh":
        assert "优化器：Adam" in md and "设置（与 torch.optim.Adam 相同）为：" in md


@pytest.mark.parametrize("lang", ["en", "zh"])
def test_minibatch_report_names_its_batch(lang: str) -> None:
    md = _md(_xor(batch_size=2, batch_reduction="sum", optimizer={"name": "momentum"}), lang)
    if lang == "en":
        assert "The first batch holds samples 1 and 2" in md and "Summing over the mini-batch" in md
        assert "mini-batches of 2 samples" in md
    else:
        assert "第一批包含样本 1 和样本 2" in md and "对小批量求和" in md
    assert md.count("| 1 |") >= 1


def test_reduction_changes_the_words_and_the_formulas() -> None:
    md = _md("article", "en", loss_options={"reduction": "mean"})
    assert "PyTorch's MSELoss" in md
    assert r"\frac{1}{2}" not in md.split("### 3.1")[1].split("### 3.2")[0]


def test_export_refuses_what_torch_cannot_do() -> None:
    from bptrace.export_torch import torch_script

    with pytest.raises(bptrace.SpecError, match="no PyTorch counterpart"):
        torch_script(load_spec("article", hidden_delta_weights="updated"))
    assert "torch.optim.Adam(params, lr=LR, betas=(0.9, 0.999)" in torch_script(
        load_spec("article", optimizer={"name": "adam"})
    )
    assert math.isfinite(bptrace.trace("article", optimizer={"name": "adam"}).history[0])


@pytest.mark.parametrize("opt", OPTIMIZERS)
@pytest.mark.parametrize(
    "extra",
    [
        {"dtype": "float32", "record_input_gradients": True},
        {"rounding": "hand:5", "batch_size": 3, "batch_reduction": "sum"},
        {"loss_options": {"reduction": "sum"}, "mode": "online"},
    ],
)
def test_every_format_2_trace_fits_its_spec_when_read(opt: str, extra: dict[str, Any]) -> None:
    tr = bptrace.trace(_xor(optimizer={"name": opt, "weight_decay": 0.01}, iterations=3, **extra), detail="all")
    text = tr.to_json()
    assert bptrace.Trace.from_json(text).to_json() == text
    edited = json.loads(text)
    rec = next(r for r in edited["steps"][-1]["records"] if r["kind"] == "update")
    rec["value"] = rec["new"] = rec["value"] + 0.5
    with pytest.raises(bptrace.SpecError, match="was the trace edited"):
        bptrace.Trace.from_dict(edited)

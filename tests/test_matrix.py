"""Matrix-form tracing for large layers: same numbers as the scalar form, bounded outputs."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from hypothesis import HealthCheck, assume, example, given, settings

import bptrace
from bptrace.reports import render_files
from bptrace.tracejson import unpack

from oracle import SATURATION_MARGIN, Net
from strategies import SATURATED_OUTPUT, specs


def _as_matrix(spec: Any, **kw: Any) -> bptrace.Trace:
    return bptrace.trace(spec, matrix_threshold=0, **kw)  # every layer in matrix form


@pytest.mark.parametrize(
    "name,kw",
    [
        ("article", {}),
        ("article", {"hidden_delta_weights": "updated", "iterations": 3}),
        ("article", {"update_biases": True, "iterations": 3}),
        ("xor", {"iterations": 50}),
        ("softmax", {"iterations": 4}),
        ("softmax", {"loss": "mse", "iterations": 3}),
    ],
)
def test_matrix_form_equals_scalar_form(name: str, kw: dict) -> None:
    scalar, mat = bptrace.trace(name, **kw), _as_matrix(name, **kw)
    assert np.allclose(mat.history, scalar.history, rtol=1e-13, atol=0)
    assert scalar.final and mat.final
    assert mat.final_params() == pytest.approx(scalar.final_params(), rel=1e-13, abs=1e-15)
    assert scalar.final_params() == scalar.final["params"]
    # every scalar record of the matrix trace (the first weight's chain) has the scalar trace's value
    for rec in mat.steps[0].records:
        if not rec.is_array:
            assert rec.value == pytest.approx(scalar.value(rec.key), rel=1e-14, abs=1e-16), rec.key
    # and every element of the arrays can be looked up by its scalar key
    for rec in scalar.steps[0].records:
        if rec.kind in ("net", "out", "delta", "grad"):
            assert mat.value(rec.key) == pytest.approx(rec.value, rel=1e-13, abs=1e-16), rec.key


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(specs())
@example(SATURATED_OUTPUT)
def test_matrix_form_matches_oracle(spec: dict) -> None:
    tr = _as_matrix(spec)
    oracle = Net(spec)
    with np.errstate(all="ignore"):
        history = oracle.train(spec["iterations"])
    assume(tr.diverged is None and all(np.isfinite(history)) and max(map(abs, history)) < 1e6)
    assume(oracle.saturation_margin > SATURATION_MARGIN)
    assert list(tr.history) == pytest.approx(history, rel=1e-9, abs=1e-12)
    assert tr.final_params() == pytest.approx(oracle.params(), rel=1e-9, abs=1e-12)


@pytest.fixture(scope="module")
def mnist_like() -> dict[str, Any]:
    path = Path(__file__).parent / "specs" / "large-784-128-10.json"
    return json.loads(path.read_text(encoding="utf-8"))  # type: ignore[no-any-return]


def test_large_network_stays_within_bounds(mnist_like: dict) -> None:
    tr = bptrace.trace(mnist_like)
    text = tr.to_json()
    assert len(text.encode()) <= 16 * 2**20
    files = render_files(tr, ["md", "html"])
    assert len(files["report.md"].encode()) <= 2**20
    assert len(files["report.html"].encode()) <= 2 * 2**20
    assert tr.gradcheck is not None and tr.gradcheck["checked"] == 64 and tr.gradcheck["max_rel_diff"] < 1e-5
    d = json.loads(text)
    shapes = {r["key"]: r.get("shape") for r in d["steps"][0]["records"]}
    assert shapes["grad.W_h"] == [128, 784] and shapes["update.W_o"] == [10, 128]
    assert "weights" not in d["spec"]["layers"][1]  # drawn from init: the seed redraws them
    # the first weight of each layer is still derived in full
    for key in ("grad.w1", "delta.h1", "partial.dE_total/dnet_o10*dnet_o10/dout_h1", "grad.w100353", "update.w100353"):
        assert shapes[key] is None
    packed = next(r for r in d["steps"][0]["records"] if r["key"] == "grad.W_h")["value"]
    assert packed["dtype"] == "float64" and packed["shape"] == [128, 784]
    assert tr.value("grad.w5") == unpack(packed)[0][4]  # exact through base64
    assert tr.value("grad.w5") == tr.records(kind="grad", name="W_h")[0].value[0][4]
    back = bptrace.Trace.from_json(text)
    assert back.to_json() == text

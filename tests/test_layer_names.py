"""Layer names that end in a digit (h1, hidden2): their neurons take a separator (h1_2), and every
name still reads back to exactly one layer and neuron, in keys, symbols, checks and traces."""

from __future__ import annotations

import json
import re
from importlib import resources
from pathlib import Path
from typing import Any

import jsonschema
import pytest
from hypothesis import given
from hypothesis import strategies as st

import bptrace
from bptrace import names
from bptrace.testing import assert_matches_trace

from conftest import run_cli

LAYER_NAMES = st.from_regex(r"[A-Za-z][A-Za-z0-9]{0,11}", fullmatch=True)

DEEP: dict[str, Any] = {
    "title": "two hidden layers",
    "learning_rate": 0.5,
    "layers": [
        {"name": "x", "size": 2},
        {"name": "h1", "size": 3, "activation": "tanh", "weights": [[0.1, 0.2], [0.3, -0.4], [0.5, 0.6]],
         "bias": [0.01, 0.02, 0.03]},
        {"name": "h2", "size": 2, "activation": "relu", "weights": [[0.1, 0.2, 0.3], [-0.3, 0.4, 0.5]],
         "bias": [0.1, 0.2]},
        {"name": "o", "size": 1, "weights": [[0.7, 0.8]], "bias": [0.3]},
    ],
    "samples": [{"input": [0.05, 0.1], "target": [0.9]}],
}  # fmt: skip


@given(LAYER_NAMES, st.integers(0, 200), LAYER_NAMES, st.integers(0, 200))
def test_neuron_names_are_unambiguous(a: str, j: int, b: str, k: int) -> None:
    assert names.split_neuron(names.neuron_name(a, j)) == (a, j)
    if (a, j) != (b, k):
        assert names.neuron_name(a, j) != names.neuron_name(b, k)


def test_separator_only_after_a_digit() -> None:
    assert [names.neuron_name(n, 1) for n in ("h", "h1", "hidden2", "o")] == ["h2", "h1_2", "hidden2_2", "o2"]
    assert names.split_neuron("h12") == ("h", 11)
    assert names.split_neuron("h1_2") == ("h1", 1)
    assert names.split_neuron("h1_") is None and names.split_neuron("h") is None


def test_symbols_of_separated_names() -> None:
    assert names.symbol("out.h1_2") == r"\mathrm{out}_{h1,2}"
    assert names.symbol("grad.b_h1_2") == r"\frac{\partial E_{\mathrm{total}}}{\partial b_{h1,2}}"
    assert names.symbol("partial.dnet_h2_1/dout_h1_2") == (
        r"\frac{\partial \mathrm{net}_{h2,1}}{\partial \mathrm{out}_{h1,2}}"
    )
    assert names.neuron_value_symbol("h1_2") == "h_{1,2}"
    assert names.neuron_value_symbol("hidden1_2") == r"\mathrm{hidden}_{1,2}"


@pytest.fixture(scope="module")
def deep() -> bptrace.Trace:
    return bptrace.trace(DEEP)


def test_keys_follow_the_neuron_names(deep: bptrace.Trace) -> None:
    keys = {r.key for s in deep.steps for r in s.records}
    assert {"net.h1_1", "out.h1_3", "delta.h2_2", "grad.b_h1_2", "partial.dE_total/dout_h1_2"} <= keys
    assert deep.spec["layers"][1]["name"] == "h1"
    net = 0.3 * 0.05 - 0.4 * 0.1 + 0.02
    assert deep.value("net.h1_2") == pytest.approx(net, rel=1e-15)
    assert_matches_trace(deep, {"b_h1": [deep.value(f"grad.b_h1_{j}") for j in (1, 2, 3)]})


def test_reports_write_separated_names_as_subscripts(deep: bptrace.Trace) -> None:
    md = bptrace.render(deep, "md")
    assert r"\mathrm{out}_{h1,2}" in md and "$b_{h1,2}$" in md and "`net.h1_2`" in md
    assert not re.search(r"_\{[^{}]*_", md)  # a second underscore in a subscript is a TeX error
    html = bptrace.render(deep, "html")
    assert "<merror" not in html and "h1_2" in html


def test_trace_of_separated_names_is_valid_and_renders_again(deep: bptrace.Trace, tmp_path: Path) -> None:
    doc = json.loads(deep.to_json())
    schema = json.loads(resources.files("bptrace").joinpath("schema/trace.schema.json").read_text())
    jsonschema.validate(doc, schema)
    (tmp_path / "trace.json").write_text(deep.to_json(), encoding="utf-8")
    res = run_cli("render", str(tmp_path / "trace.json"), "-o", str(tmp_path / "again"), "--format", "md")
    assert res.code == 0, res.err
    assert (tmp_path / "again" / "report.md").read_text(encoding="utf-8") == bptrace.render(deep, "md", figures="files")


def test_check_grades_separated_keys(tmp_path: Path, deep: bptrace.Trace) -> None:
    spec = tmp_path / "deep.json"
    spec.write_text(json.dumps(DEEP), encoding="utf-8")
    answers = tmp_path / "answers.toml"
    answers.write_text(f'"net.h1_2" = {deep.value("net.h1_2")!r}\n[grad]\nb_h1_2 = 0.5\n', encoding="utf-8")
    res = run_cli("check", str(spec), str(answers))
    assert res.code == 1
    assert "✓ net.h1_2" in res.out and "✗ grad.b_h1_2" in res.out


def test_matrix_form_layers_with_digits() -> None:
    spec = {
        "learning_rate": 0.1,
        "init": {"method": "uniform", "seed": 3},
        "layers": [{"name": "x", "size": 9}, {"name": "h1", "size": 8, "bias": [0.1] * 8}, {"name": "o", "size": 2}],
        "samples": [{"input": [0.1] * 9, "target": [1, 0]}],
    }
    tr = bptrace.trace(spec)
    assert any(r.is_array for s in tr.steps for r in s.records)
    out = [tr.value(f"out.h1_{j}") for j in range(1, 9)]
    assert all(0 < v < 1 for v in out) and len(set(out)) == 8
    assert tr.value("grad.b_h1_8") == tr.value("delta.h1_8")


@pytest.mark.parametrize(
    ("layers", "message"),
    [
        (["h", "h1"], "layer name 'h1' is also the name of neuron 1 of layer 'h' (layers[1])"),
        (["h1", "h"], "layer name 'h1' (layers[1]) is also the name of neuron 1 of layer 'h'"),
        (["b1", "h"], "'b1' is not a layer name"),
    ],
)
def test_names_that_would_collide_are_refused(layers: list[str], message: str) -> None:
    spec = json.loads(json.dumps(DEEP))
    spec["layers"][1]["name"], spec["layers"][2]["name"] = layers
    with pytest.raises(bptrace.SpecError, match=re.escape(message)):
        bptrace.load_spec(spec)


def test_a_layer_beyond_the_other_layers_neurons_is_fine() -> None:
    spec = json.loads(json.dumps(DEEP))
    spec["layers"][1]["name"], spec["layers"][2]["name"] = "h", "h4"  # h has h1..h3
    assert bptrace.trace(spec).value("out.h4_1") > 0

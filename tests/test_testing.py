"""bptrace.testing: golden traces in other people's tests."""

from __future__ import annotations

import re
import subprocess
import sys
import tomllib
from pathlib import Path

import numpy as np
import pytest

import bptrace
from bptrace.testing import ShapeError, assert_matches_trace, compare, trace_text

from oracle import Net

LARGE = {
    "learning_rate": 0.1,
    "layers": [{"name": "i", "size": 10}, {"name": "h", "size": 8}, {"name": "o", "size": 2}],
    "samples": [{"input": [0.1] * 10, "target": [0, 1]}],
    "init": {"method": "he", "seed": 1},
}


@pytest.fixture(scope="module")
def oracle_grads() -> dict[str, float]:
    spec = bptrace.load_spec("article").to_dict()
    _, gW, _ = Net(spec).grads(np.array([0.05, 0.1]), np.array([0.01, 0.99]))
    return {f"w{k + 1}": float(g) for k, g in enumerate(np.concatenate([w.ravel() for w in gW]))}


def test_matching_gradients_pass(article: bptrace.Trace, oracle_grads: dict) -> None:
    assert_matches_trace(article, oracle_grads)
    assert_matches_trace(article, {f"grad.{k}": v for k, v in oracle_grads.items()})
    assert compare(article, oracle_grads) == []


def test_every_disagreement_is_listed_and_named_both_ways(article: bptrace.Trace, oracle_grads: dict) -> None:
    wrong = {**oracle_grads, "w6": oracle_grads["w6"] * 1.001, "w7": 0.0}
    with pytest.raises(AssertionError) as e:
        assert_matches_trace(article, wrong)
    lines = str(e.value).splitlines()
    assert lines[0] == "2 values disagree with the trace (output layer first):"
    assert lines[1].startswith("  grad W_o[0,1] (w6): yours 0.0827502954753807")
    assert "the trace 0.08266762784753326 (difference 8.27e-05, relative 0.001)" in lines[1]
    assert lines[2].startswith("  grad W_o[1,0] (w7): yours 0.0, the trace -0.022602540477475067")
    assert lines[3] == "wrong per layer: o 2"
    # tolerances are the caller's
    assert_matches_trace(article, wrong | {"w7": oracle_grads["w7"]}, rel=1e-2)


def test_an_output_delta_bug_is_named_at_the_output_layer(article: bptrace.Trace, oracle_grads: dict) -> None:
    # a wrong δ_o1 spoils w5, w6 and, through backpropagation, every hidden-layer gradient
    factor = {"w5": 1.5, "w6": 1.5, "w7": 1.0, "w8": 1.0}
    buggy = {k: v * factor.get(k, 1.2) for k, v in oracle_grads.items()}
    mismatches = compare(article, buggy)
    assert [m.key for m in mismatches] == ["grad.w5", "grad.w6", "grad.w1", "grad.w2", "grad.w3", "grad.w4"]
    assert [m.where for m in mismatches[:3]] == ["W_o[0,0]", "W_o[0,1]", "W_h[0,0]"]
    with pytest.raises(AssertionError) as e:
        assert_matches_trace(article, buggy)
    assert str(e.value).splitlines()[1].startswith("  grad W_o[0,0] (w5): ")
    assert str(e.value).endswith("wrong per layer: o 2, h 4")
    # updates are listed as the backward pass meets their parameters too
    updates = {f"w{k}": article.value(f"update.w{k}") + 1 for k in range(1, 9)}
    assert [m.key for m in compare(article, updates, kind="update")][:2] == ["update.w5", "update.w6"]


def test_long_lists_are_cut_in_the_message_but_not_in_compare() -> None:
    tr = bptrace.trace(LARGE)
    g = np.array(tr.records(kind="grad", name="W_h")[0].value) + 1.0
    assert len(compare(tr, {"W_h": g})) == 80
    with pytest.raises(AssertionError) as e:
        assert_matches_trace(tr, {"W_h": g})
    msg = str(e.value)
    assert msg.startswith("80 values disagree") and "  ... and 60 more (compare() returns them all)" in msg
    assert "grad W_h[7,9] (w80)" in str(compare(tr, {"W_h": g})[-1])


def test_a_transposed_matrix_is_a_shape_error() -> None:
    tr = bptrace.trace(LARGE)
    g = np.array(tr.records(kind="grad", name="W_o")[0].value)
    assert_matches_trace(tr, {"W_o": g})
    with pytest.raises(ShapeError) as e:
        assert_matches_trace(tr, {"W_o": g.T})
    assert str(e.value) == (
        "W_o: shape (8, 2) is the transpose of the trace's (2, 8) "
        "(row j holds the weights into neuron j of o; pass its transpose)"
    )
    with pytest.raises(ShapeError, match=r"W_o: expected shape \(2, 8\) .*, got \(16,\)"):
        assert_matches_trace(tr, {"W_o": g.ravel()})
    with pytest.raises(ShapeError, match=r"b_h: expected 1 bias value, got shape \(8,\)"):
        assert_matches_trace(tr, {"b_h": np.zeros(8)})  # this network shares one bias per layer


def test_a_transposed_square_matrix_is_named_by_its_values(article: bptrace.Trace, oracle_grads: dict) -> None:
    w_o = np.array([oracle_grads[f"w{k}"] for k in (5, 6, 7, 8)]).reshape(2, 2)
    with pytest.raises(ShapeError, match=r"W_o: your matrix is the trace's transposed \(it is square"):
        assert_matches_trace(article, {"W_o": w_o.T})


def test_unknown_names_and_kinds_are_clear_errors(article: bptrace.Trace) -> None:
    with pytest.raises(
        AssertionError, match=r"^W_x: the network has no layer named 'x' \(layers with weights: h, o\)$"
    ):
        assert_matches_trace(article, {"W_x": [[1.0]]})
    with pytest.raises(AssertionError, match=r"^W_i: i is the input layer; it has no weights"):
        assert_matches_trace(article, {"W_i": [[1.0]]})
    with pytest.raises(ValueError, match=r"^kind='gard': expected one of grad, update, final, net, out"):
        assert_matches_trace(article, {"w5": 1.0}, kind="gard")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match=r"^step=3: the trace has 1 detailed step$"):
        compare(article, {"w5": 1.0}, step=3)
    with pytest.raises(ShapeError, match=r"^w5: expected one number, got shape \(2,\)$"):
        assert_matches_trace(article, {"w5": [1.0, 2.0]})
    with pytest.raises(AssertionError, match=r"^W_h: expected numbers"):
        assert_matches_trace(article, {"W_h": "abc"})


def test_arrays_per_layer_and_in_order(article: bptrace.Trace, oracle_grads: dict) -> None:
    g = [oracle_grads[f"w{k}"] for k in range(1, 9)]
    assert_matches_trace(article, {"W_h": np.array(g[:4]).reshape(2, 2), "W_o": np.array(g[4:]).reshape(2, 2)})
    assert_matches_trace(article, g)
    with pytest.raises(AssertionError, match="expected 8 values"):
        assert_matches_trace(article, g[:5])


def test_updated_and_final_parameters(article: bptrace.Trace) -> None:
    assert_matches_trace(article, {"w5": 0.358916479717885, "w1": 0.149780716132763}, kind="update", rel=1e-12)
    assert_matches_trace(article, {"w5": 0.358916479717885, "b1": 0.35}, kind="final", rel=1e-12)
    assert_matches_trace(article, {"o1": 0.751365069552316, "h2": 0.596884378259767}, kind="out", rel=1e-12)
    with pytest.raises(AssertionError, match="no such quantity"):
        assert_matches_trace(article, {"w99": 1.0})


def test_trace_text_is_one_record_per_line(article: bptrace.Trace) -> None:
    text = trace_text(article)
    lines = text.splitlines()
    assert lines[0] == "# bptrace trace, format 1: A step-by-step backpropagation example"
    assert "forward  net         h1                       0.3775" in lines
    assert any(
        line.startswith("update   update      w5 ") and "(old 0.4, grad 0.08216704056423078)" in line for line in lines
    )
    assert len(lines) == len(article.steps[0].records) + 2 + 2 + 2 + len(article.final["params"])  # type: ignore[index]


def test_snapshot_fixture_from_the_plugin(article: bptrace.Trace, bptrace_snapshot) -> None:  # type: ignore[no-untyped-def]
    assert article == bptrace_snapshot


@pytest.mark.parametrize("hide_syrupy", [False, True])
def test_snapshot_fixture_without_syrupy_says_what_to_install(tmp_path: Path, hide_syrupy: bool) -> None:
    (tmp_path / "test_mine.py").write_text(
        "import bptrace\n\ndef test_mine(bptrace_snapshot):\n    assert bptrace.trace('article') == bptrace_snapshot\n",
        encoding="utf-8",
    )
    if hide_syrupy:  # not installed at all, rather than installed and switched off
        (tmp_path / "conftest.py").write_text("import sys\nsys.modules['syrupy'] = None\n", encoding="utf-8")
    r = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:syrupy", "-p", "no:cacheprovider", "test_mine.py"],
        cwd=tmp_path, capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert r.returncode == 1, r.stdout + r.stderr
    assert (
        "the bptrace_snapshot fixture needs syrupy, which is not installed or not enabled: "
        "pip install 'bptrace[pytest]' (or: pip install syrupy)"
    ) in r.stdout
    assert "fixture 'snapshot' not found" not in r.stdout


def test_the_pytest_extra_brings_what_the_fixture_needs() -> None:
    meta = tomllib.loads((Path(__file__).resolve().parents[1] / "pyproject.toml").read_text(encoding="utf-8"))
    extra = meta["project"]["optional-dependencies"]["pytest"]
    assert {re.split(r"[<>=!~ ]", d)[0] for d in extra} == {"pytest", "syrupy"}

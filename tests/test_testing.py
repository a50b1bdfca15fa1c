"""bptrace.testing: golden traces in other people's tests."""

from __future__ import annotations

import numpy as np
import pytest

import bptrace
from bptrace.testing import assert_matches_trace, compare, trace_text

from oracle import Net


@pytest.fixture(scope="module")
def oracle_grads() -> dict[str, float]:
    spec = bptrace.load_spec("article").to_dict()
    _, gW, _ = Net(spec).grads(np.array([0.05, 0.1]), np.array([0.01, 0.99]))
    return {f"w{k + 1}": float(g) for k, g in enumerate(np.concatenate([w.ravel() for w in gW]))}


def test_matching_gradients_pass(article: bptrace.Trace, oracle_grads: dict) -> None:
    assert_matches_trace(article, oracle_grads)
    assert_matches_trace(article, {f"grad.{k}": v for k, v in oracle_grads.items()})
    assert compare(article, oracle_grads) == []


def test_the_first_disagreement_is_named(article: bptrace.Trace, oracle_grads: dict) -> None:
    wrong = {**oracle_grads, "w6": oracle_grads["w6"] * 1.001, "w7": 0.0}
    with pytest.raises(AssertionError) as e:
        assert_matches_trace(article, wrong)
    msg = str(e.value)
    assert msg.startswith("first disagreement: grad.w6: yours ")
    assert "the trace 0.08266762784753326" in msg and "(and 1 more)" in msg
    # tolerances are the caller's
    assert_matches_trace(article, wrong | {"w7": oracle_grads["w7"]}, rel=1e-2)


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

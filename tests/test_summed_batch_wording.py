"""A batch that sums its samples' gradients, mean-reduced squared error, fixed biases and Nesterov
momentum: the words must say sum where the formulas sum, and name keys this network has."""

from __future__ import annotations

from typing import Any

import pytest

import bptrace

SUMMED: dict[str, Any] = {
    "title": "Summed batches",
    "learning_rate": 0.05,
    "loss": "mse",
    "loss_options": {"reduction": "mean"},
    "mode": "batch",
    "batch_reduction": "sum",
    "iterations": 2,
    "update_biases": False,
    "optimizer": {"name": "nesterov", "momentum": 0.8},
    "layers": [
        {"name": "x", "size": 2},
        {"name": "h", "size": 2, "activation": "tanh", "weights": [[0.4, -0.3], [0.25, 0.6]], "bias": [0.1, -0.2]},
        {"name": "y", "size": 2, "activation": "linear", "weights": [[0.5, -0.4], [0.3, 0.2]], "bias": [0.05, 0.0]},
    ],
    "samples": [
        {"input": [1.0, 0.0], "target": [0.5, -0.2]},
        {"input": [0.0, 1.0], "target": [-0.3, 0.4]},
        {"input": [0.6, -0.4], "target": [0.2, 0.1]},
    ],
}  # fmt: skip


@pytest.fixture(scope="module")
def md() -> dict[str, str]:
    tr = bptrace.trace(SUMMED)
    return {lang: bptrace.render(tr, "md", lang=lang) for lang in ("en", "zh")}  # type: ignore[arg-type]


def test_a_summing_batch_is_not_said_to_average(md: dict[str, str]) -> None:
    en, zh = md["en"], md["zh"]
    assert "up to the summing over the batch" in en and "averaging over the batch" not in en
    assert "直到对整批求和为止" in zh and "求平均为止" not in zh
    assert "`batch.grad.` is the sum the first update uses (`batch.total_error` is the summed error)" in en
    assert "`batch.grad.` 是第一次更新所用的梯度之和" in zh


def test_the_keys_appendix_names_keys_this_network_has(md: dict[str, str]) -> None:
    for text in md.values():
        assert "`net.h1`" in text and "`delta.y1`" in text and "`sample2.delta.y1`" in text
        assert "`sample2.grad.w5`" in text and "delta.o1" not in text


def test_the_iteration_error_is_called_the_mean_it_is(md: dict[str, str]) -> None:
    """The batch's E_total sums the samples; what section 4 tracks per iteration is their mean."""
    tr = bptrace.trace(SUMMED)
    batch = next(s for s in tr.steps if s.sample is None)
    total = next(r.value for r in batch.records if r.key == "total_error")
    assert tr.history[0] == pytest.approx(total / 3)
    assert "| iteration | mean error |" in md["en"] and "| 轮次 | 平均误差 |" in md["zh"]


def test_fixed_biases_leave_two_matrix_lines_and_nesterov_says_where_its_gradient_is_taken(
    md: dict[str, str],
) -> None:
    en, zh = md["en"], md["zh"]
    assert "become two lines per layer (the biases stay fixed)" in en and "每层两行（偏置保持不变）" in zh
    assert r"$\mathbf{b}_l$" not in en and r"$\mathbf{b}_l$" not in zh  # no line of this report uses it
    assert "In this form the gradient is still the one at the current weights" in en
    assert "梯度仍在当前权重处求得" in zh and "The velocity starts at 0." in en


def test_the_slides_mark_sample_1s_gradient_apart_from_the_batchs() -> None:
    """A batch lecture shows sample 1's gradient of w5 first and the batch's later, on the same
    edge: the first carries the mark (1). A table's values on edges stay off the picture, so its
    sentence does not promise them there."""
    import re

    from bptrace.reports import render_files

    page = render_files(bptrace.trace(SUMMED), ["lecture"])["lecture.html"]
    labels = re.findall(r"∂E(⁽¹⁾)?/∂w5 = ([-0-9.]+)", page)
    # sample 1's gradient, marked; the batch's (the sum over the three samples), unmarked
    assert set(labels) == {("⁽¹⁾", "-0.110411236"), ("", "-0.053506796")}
    assert "the picture shows each value on its neuron or edge" not in page

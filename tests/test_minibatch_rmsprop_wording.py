"""Mini-batches that do not divide the samples evenly (3 samples, batches of 2), a ReLU/softmax
network and RMSprop: what the report and the slides say must hold for the second batch, which holds
one sample, and for an optimizer whose first step ignores the size of the gradient."""

from __future__ import annotations

from typing import Any

import pytest

import bptrace
from bptrace.reports import render_files

MINI3: dict[str, Any] = {
    "title": "Three classes, mini-batches of two, RMSprop",
    "learning_rate": 0.01,
    "loss": "cross_entropy",
    "mode": "batch",
    "batch_size": 2,
    "optimizer": {"name": "rmsprop"},
    "layers": [
        {"name": "x", "size": 2},
        {"name": "h", "size": 4, "activation": "relu", "weights": [[0.5, -0.3], [0.2, 0.8], [-0.6, 0.1], [0.4, 0.4]], "bias": [0.1, 0.0, 0.2, -0.1]},
        {"name": "o", "size": 3, "activation": "softmax", "weights": [[0.3, -0.2, 0.5, 0.1], [-0.4, 0.6, 0.2, -0.3], [0.2, 0.1, -0.5, 0.4]], "bias": [0.0, 0.1, -0.1]},
    ],
    "samples": [
        {"input": [1.0, 0.5], "target": [1, 0, 0]},
        {"input": [-0.5, 1.0], "target": [0, 1, 0]},
        {"input": [0.3, -0.8], "target": [0, 0, 1]},
    ],
}  # fmt: skip


@pytest.fixture(scope="module")
def tr() -> bptrace.Trace:
    return bptrace.trace(MINI3)


@pytest.fixture(scope="module")
def md(tr: bptrace.Trace) -> dict[str, str]:
    return {lang: bptrace.render(tr, "md", lang=lang) for lang in ("en", "zh")}  # type: ignore[arg-type]


def test_rmsprops_first_step_is_said_to_ignore_the_gradients_size(tr: bptrace.Trace, md: dict[str, str]) -> None:
    en, zh = md["en"], md["zh"]
    assert "moves by η/√(1 − α) (ten times η at α = 0.99), however small its gradient" in en
    assert "large gradients take smaller steps" not in en and "步子" not in zh and "η 的 10 倍" in zh
    first = next(s for s in tr.steps if any(r.kind == "update" for r in s.records))
    moves = [abs(r.value - r.old) for r in first.records if r.kind == "update" and r.grad]
    assert moves and all(m == pytest.approx(0.1, abs=1e-4) for m in moves)  # η / √(1 − 0.99), less a trace of ε


def test_the_settings_count_what_the_run_does_and_send_nowhere_else(md: dict[str, str]) -> None:
    en, zh = md["en"], md["zh"]
    assert "numbered t = 1…2 over 1 iteration; both are worked in full below" in en
    assert "summarised in section 4" not in en and "其余在第 4 节概括" not in zh
    assert (
        "（第 1 批为样本 1 和样本 2，第 2 批为样本 3），每批更新一次，1 轮共 2 次更新（t = 1…2）；两次都在下文完整演算"
        in zh
    )
    assert "用该批样本梯度的平均值" in zh


def test_a_batch_of_one_sample_and_each_batchs_own_mean_are_said(md: dict[str, str]) -> None:
    en, zh = md["en"], md["zh"]
    assert "this batch holds sample 3 alone (N = 1), so its gradient is simply that sample's own" in en
    assert "这一批只有样本 3（N = 1）" in zh and "样本 3 各自梯度" not in zh
    assert "each update combines the gradients of the samples in its own batch" in en
    assert "averages the gradients of all samples" not in en and "所有样本梯度的平均值" not in zh
    slides = render_files(bptrace.trace(MINI3), ["lecture"])["lecture.html"]
    assert "the update then uses the mean of the gradients of the samples in its batch" in slides


def test_the_appendices_claim_no_more_than_they_show(md: dict[str, str]) -> None:
    en, zh = md["en"], md["zh"]
    assert "so the traced gradients of this step are right" in en and "这一步反向传播得到的梯度是正确的" in zh
    assert "`sample2.delta.o1`" in en and "they are not listed below, but are graded all the same" in en
    assert "下文没有列出，但同样可以批改" in zh


def test_section_4_compares_honestly(md: dict[str, str]) -> None:
    """Mini-batches measure an iteration's error with changing weights; a step that overshoots is
    not said to lower the error."""
    en, zh = md["en"], md["zh"]
    assert (
        "After both updates of this iteration, the same inputs give a mean error of 0.860427832" in en
        and "While the iteration ran, each sample's error was measured with the weights its own batch started from"
        in en
        and "&= 1.067399513" in en.split("## 4.")[1]
    )
    assert "down from 1.067399513" not in en and "本轮两次更新完成后" in zh and "所在批次开始时的权重" in zh
    slides = render_files(bptrace.trace(MINI3), ["lecture"])["lecture.html"]
    assert "gives the error of this one iteration" in slides and "after every iteration" not in slides
    steep = {
        "learning_rate": 3.0,
        "layers": [{"name": "x", "size": 1}, {"name": "y", "size": 1, "activation": "linear", "weights": [[1.0]]}],
        "samples": [{"input": [1.0], "target": [0.0]}],
    }
    tr = bptrace.trace(steep)
    assert "a total error of 12.5, up from 0.5: this step overshot" in bptrace.render(tr, "md")
    assert "高于原来的 0.5：这一步走过了头" in bptrace.render(tr, "md", lang="zh")


def test_a_column_of_each_samples_error_is_marked_in_batch_mode(md: dict[str, str]) -> None:
    """Section 2 of a batch report says an unmarked E_total is the batch's."""
    for text in md.values():
        assert text.count("| $E^{(n)}_{\\mathrm{total}}$ |") == 2  # the final outputs and Appendix B
        assert "| $E_{\\mathrm{total}}$ |\n| ---" not in text
    online = {k: x for k, x in MINI3.items() if k not in ("mode", "batch_size")} | {"mode": "online"}
    assert "| $E^{(n)}" not in bptrace.render(bptrace.trace(online), "md")


def test_the_jacobian_table_says_why_its_rows_serve_for_delta(md: dict[str, str]) -> None:
    en, zh = md["en"], md["zh"]
    assert (
        r"(row k holds how $\mathrm{out}^{(1)}_{k}$ moves" in en
        and "and J, being symmetric, also holds that column as row j" in en
    )
    assert r"$\mathrm{out}^{(1)}_{k}$ 随各净输入的变化" in zh and "J 是对称矩阵" in zh and "out_k" not in zh
    slides = render_files(bptrace.trace(MINI3), ["lecture"])["lecture.html"]
    assert "(summed over the layer&#x27;s outputs where a softmax joins them) simplify to" in slides

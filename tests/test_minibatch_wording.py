"""Mini-batches with an optimizer: the words around the numbers say what the numbers are (the batch's
gradient in the optimizer, how many updates an iteration makes, which weights each sample saw)."""

from __future__ import annotations

import re
from typing import Any

import pytest

import bptrace
from bptrace import numfmt
from bptrace.reports import render_files

# five samples in batches of two: three updates per iteration, the last batch a single sample
SPEC: dict[str, Any] = {
    "title": "Five points, three classes",
    "learning_rate": 0.3,
    "loss": "cross_entropy",
    "mode": "batch",
    "batch_size": 2,
    "iterations": 2,
    "optimizer": {"name": "momentum", "momentum": 0.5},
    "layers": [
        {"name": "x", "size": 2},
        {"name": "h", "size": 2, "activation": "tanh", "weights": [[0.2, -0.4], [0.3, 0.1]], "bias": [0.1, -0.2]},
        {
            "name": "o",
            "size": 3,
            "activation": "softmax",
            "weights": [[0.5, -0.3], [-0.2, 0.4], [0.1, 0.2]],
            "bias": [0.0, 0.1, -0.1],
        },
    ],
    "samples": [
        {"input": [1.0, 0.5], "target": [1, 0, 0]},
        {"input": [0.0, 1.0], "target": [0, 1, 0]},
        {"input": [1.0, 1.0], "target": [0, 0, 1]},
        {"input": [0.5, 0.0], "target": [1, 0, 0]},
        {"input": [0.2, 0.8], "target": [0, 1, 0]},
    ],
}


@pytest.fixture(scope="module")
def trace() -> Any:
    return bptrace.trace(SPEC)


def _md(tr: Any, lang: str) -> str:
    return bptrace.render(tr, "md", lang=lang)


def _optimizer_part(md: str) -> str:
    head = "#### Step t = 1" if "#### Step t = 1" in md else "#### 第 t = 1 步"
    return md.split(head, 1)[1].split("\n## 4.", 1)[0]


@pytest.mark.parametrize("lang", ["en", "zh"])
def test_velocity_uses_the_batch_gradient_symbol_and_value(trace: Any, lang: str) -> None:
    md = _md(trace, lang)
    part = _optimizer_part(md)
    assert all(r"E^{(" not in line for line in part.splitlines() if "v^{(t-1)}" in line)
    assert r"\mu \cdot v^{(t-1)}_{w_{" in part and r"+ \frac{\partial E_{\mathrm{batch}}}{\partial w_{" in part
    # the number put in is the first batch's mean gradient, not sample 1's own
    agg = next(s for s in trace.steps if s.sample is None)
    first_w = "w5"  # the first weight into the output layer, the one the section works out
    mean = agg.get(f"grad.{first_w}").value
    own = next(s for s in trace.steps if s.sample == 1).get(f"grad.{first_w}").value
    assert abs(mean - own) > 1e-6
    assert f"+ {numfmt.latex(mean, 9)}" in part or f"\\left({numfmt.latex(mean, 9)}\\right)" in part
    if lang == "en":
        assert "it is the batch's mean gradient, the mean over samples 1 and 2." in part
        assert "the mean over samples 3 and 4." in part
    else:
        assert "它是这一批的平均梯度，即样本 1 和样本 2 各自梯度的平均值" in part
        assert "即样本 3 和样本 4 各自梯度的平均值" in part


@pytest.mark.parametrize("lang", ["en", "zh"])
def test_settings_count_updates_and_section_4_and_appendix_b_say_which_weights(trace: Any, lang: str) -> None:
    md = _md(trace, lang)
    if lang == "en":
        assert (
            "- updates per iteration: 3, one per batch (batch 1: samples 1 and 2, batch 2: samples 3 and 4, "
            "batch 3: sample 5), numbered t = 1…6 over 2 iterations; t = 1 and t = 2 are worked in full below, "
            "the other update of this iteration in brief after it, and later iterations in section 4" in md
        )
        assert "measured before that iteration's update" not in md
        assert (
            "the error of each iteration (the mean of its samples' errors, each measured with the weights its batch saw"
            in md
        )
        assert "| weights used |" in md
        appendix = md.split("## Appendix B", 1)[1]
        rows = {k: re.search(rf"^\| {k} \|.*\| ([^|]+) \|$", appendix, re.M) for k in (1, 2, 3, 4, 5)}
        used = {k: m.group(1) for k, m in rows.items() if m}
        assert used == {1: "initial", 2: "initial", 3: "after t = 1", 4: "after t = 1", 5: "after t = 2"}
    else:
        assert (
            "- 每轮更新次数：3（第 1 批为样本 1 和样本 2，第 2 批为样本 3 和样本 4，第 3 批为样本 5），每批更新一次，"
            "2 轮共 6 次更新（t = 1…6）；下文完整演算 t = 1 和 t = 2，本轮另一次更新随后简要列出，之后各轮在第 4 节概括"
            in md
        )
        assert "每一轮的误差都在该轮更新之前测得" not in md
        assert "每轮的误差（该轮各样本误差的平均值" in md
        assert "| 所用权重 |" in md and "| 第 t = 2 步之后 |" in md and "| 初始权重 |" in md
    # the history really is the mean of errors taken at those weights
    errs = [s.get("total_error").value for s in trace.steps if s.sample and s.iteration == 1]
    assert abs(sum(errs) / len(errs) - trace.history[0]) < 1e-12


@pytest.mark.parametrize("lang", ["en", "zh"])
def test_rule_boxes_define_the_batch_gradient_and_mark_the_bias(trace: Any, lang: str) -> None:
    md = _md(trace, lang)
    mean_rule = (
        r"\qquad \frac{\partial E_{\mathrm{batch}}}{\partial W_{ji}} = \frac{1}{N} \sum_{n=1}^{N} "
        r"\frac{\partial E^{(n)}_{\mathrm{total}}}{\partial W_{ji}}"
    )
    assert md.count(mean_rule) == 2  # one box per layer
    assert md.count(r"\frac{\partial E^{(n)}_{\mathrm{total}}}{\partial b_{j}} = \delta^{(n)}_{j}") == 2
    assert r"\frac{\partial E_{\mathrm{total}}}{\partial b_{j}} = \delta_{j}" not in md
    if lang == "en":
        assert "subtracts η·δ·input" not in md and "so the gradient is δ·input, and the optimizer" in md
    else:
        assert "更新时减去 η·δ·输入" not in md and "所以梯度是 δ·输入；优化器" in md


def _unmarked_sample_values(tex: str) -> list[str]:
    """Per-sample symbols written without a sample mark: out_{o1}, net_{h1}, E_{total}, δ_j, a_i."""
    pattern = r"(\\mathrm\{(?:out|net|target)\}|E|\\delta)_\{|\\mathrm\{(?:out|net)\}\}|\\cdot a\$"
    return [m.group(0) for m in re.finditer(pattern, tex)]


@pytest.mark.parametrize("lang", ["en", "zh"])
def test_one_samples_derivation_marks_every_value_of_that_sample(trace: Any, lang: str) -> None:
    """Section 2 says a symbol without the mark stands for the batch, so sample 1's worked derivation
    (3.2 to 3.3) and the tables under it mark every per-sample quantity, the partials' denominators
    and numerators too; only the weights, shared by every sample, go unmarked."""
    md = _md(trace, lang)
    worked = md.split("### 3.2", 1)[1].split("### 3.4", 1)[0]
    maths = [a or b for a, b in re.findall(r"\$\$(.*?)\$\$|\$([^$\n]+)\$", worked, re.S)]
    # unmarked are only the identity every softmax obeys (free indices k and j) and the batch mean
    # the rule boxes define, where the plain symbol is meant
    kron = r"\frac{\partial \mathrm{out}_{k}}{\partial \mathrm{net}_{j}} = \mathrm{out}_{k}"
    mean = r"\sum_{n=1}^{N}"
    bad = [u for m in maths if kron not in m and mean not in m for u in _unmarked_sample_values(m)]
    assert bad == [], bad[:5]
    assert r"\frac{\partial \mathrm{out}^{(1)}_{o1}}{\partial \mathrm{net}^{(1)}_{o1}}" in worked
    assert r"\frac{\partial \mathrm{net}^{(1)}_{o1}}{\partial w_{5}}" in worked
    assert r"\frac{\partial E^{(1)}_{\mathrm{total}}}{\partial \mathrm{out}^{(1)}_{h1}}" in worked
    assert r"\delta^{(1)} \cdot a^{(1)}" in worked
    # the rule boxes state the rule for any one sample n, and say so before they use the mark
    assert (
        worked.count(r"\delta^{(n)}_{j} = \frac{\partial E^{(n)}_{\mathrm{total}}}{\partial \mathrm{net}^{(n)}_{j}}")
        == 1
    )
    assert worked.count(r"\delta^{(n)}_{j} = f'\left(\mathrm{net}^{(n)}_{j}\right)") == 1
    said = "every sample n of the batch" if lang == "en" else "批中的每个样本 n"
    assert worked.index(said) < worked.index(r"\delta^{(n)}_{j}")
    assert r"$+\partial E^{(n)}_{\mathrm{total}} / \partial \mathrm{net}^{(n)}$" in worked
    # the batch's own values stay unmarked: the mean in 3.5, a half of the bracketed sum (a fraction
    # inside a fraction's numerator would be set too small to read)
    mean = r"\frac{\partial E_{\mathrm{batch}}}{\partial w_{5}} &= \frac{1}{2} \left(\frac{\partial E^{(1)}_{\mathrm{total}}}"
    assert mean in md


@pytest.mark.parametrize("lang", ["en", "zh"])
def test_the_matrix_form_of_a_batch_is_one_samples_and_says_the_update_takes_the_mean(trace: Any, lang: str) -> None:
    md = _md(trace, lang)
    matrix = md.split("### 3.4", 1)[1].split("### 3.5", 1)[0]
    assert (
        r"\frac{\partial E^{(n)}_{\mathrm{total}}}{\partial W_{o}} = \boldsymbol{\delta}^{(n)}_{o} \, \left(\mathbf{a}^{(n)}_{o}\right)^{\top}"
        in matrix
    )
    assert r"\boldsymbol{\delta}^{(n)}_{h} = \left(W_{o}^{\top} \boldsymbol{\delta}^{(n)}_{o}\right)" in matrix
    assert r"\mathbf{a}^{(n)}_{h} = \mathbf{x}^{(n)}" in matrix
    assert r"\partial E_{\mathrm{total}}}{\partial W" not in matrix  # no unmarked (batch) gradient equals one δ aᵀ
    assert not re.search(r"\^\{[^{}]*\}_\{[^{}]*\}\^", matrix)  # no double superscript from the mark and ᵀ
    mean = r"$\frac{1}{N} \sum_{n} \partial E^{(n)}_{\mathrm{total}} / \partial W_l$"
    said = (
        "In batch mode these lines are those of one sample n"
        if lang == "en"
        else "批量模式下，这几行是某一个样本 n 的式子"
    )
    assert said in matrix and mean in matrix


def test_an_online_run_keeps_its_symbols_unmarked() -> None:
    md = bptrace.render(
        bptrace.trace({k: v for k, v in SPEC.items() if k != "batch_size"} | {"mode": "online"}), "md", figures="files"
    )
    assert r"\frac{\partial \mathrm{out}_{o1}}{\partial \mathrm{net}_{o1}}" in md
    assert r"\mathrm{net}^{(1)}" not in md and r"\delta^{(n)}" not in md
    assert r"$+\partial E_{\mathrm{total}} / \partial \mathrm{net}$" in md
    assert (
        r"\frac{\partial E_{\mathrm{total}}}{\partial W_{o}} = \boldsymbol{\delta}_{o} \, \mathbf{a}_{o}^{\top}" in md
    )
    assert "In batch mode these lines" not in md


def test_a_marked_value_squared_is_bracketed_not_double_superscripted(trace: Any) -> None:
    md = _md(trace, "en")  # tanh hidden layer: its slope squares a marked output
    assert r"1 - \left(\mathrm{out}^{(1)}_{h1}\right)^{2}" in md
    assert r"\left(1 - \left(\mathrm{out}^{(n)}_{j}\right)^{2}\right)" in md
    assert not re.search(r"\^\{[^{}]*\}_\{[^{}]*\}\^", md)  # x^{a}_{b}^{c}: a double superscript


@pytest.mark.parametrize("lang", ["en", "zh"])
def test_step_two_and_the_update_table_name_their_step(trace: Any, lang: str) -> None:
    md = _md(trace, lang)
    assert "t − 1 above" not in md and "标为 t − 1 的值）" not in md
    if lang == "en":
        assert "each value marked (t − 1) in its formulas is the one step 1 computed, marked (t) there" in md
        assert "All updates of step t = 1" in md and "All updates of this step" not in md
        assert "| parameter | key | old | mean gradient | $v^{(t)}$ | new |" in md
        assert "This update follows batch 2 of iteration 1 (samples 3 and 4)." in md
    else:
        assert "第 2 步公式中标为 (t − 1) 的值，就是第 1 步算出、在那里标为 (t) 的值" in md
        assert "第 t = 1 步的全部更新" in md and "本步的全部更新" not in md
        assert "| 参数 | 键 | 旧值 | 梯度 | $v^{(t)}$ | 新值 |" in md or "| $v^{(t)}$ | 新值 |" in md
        assert "这是第 1 轮第 2 批（样本 3 和样本 4）之后的更新。" in md
        assert "以第 4 个样本结尾的那一批" not in md
    # the v column is the velocity of step 1: the batch gradient itself, since v starts at 0
    agg = next(s for s in trace.steps if s.sample is None)
    row = re.search(r"^\| \$w_\{1\}\$ \| `batch.update.w1` \| ([^|]+) \| ([^|]+) \| ([^|]+) \| ([^|]+) \|$", md, re.M)
    assert row is not None
    assert float(row.group(3)) == pytest.approx(agg.get("v.w1").value, abs=1e-9)


@pytest.mark.parametrize("lang", ["en", "zh"])
def test_jacobian_rows_are_outputs_and_the_wording_is_plain(trace: Any, lang: str) -> None:
    md = _md(trace, lang)
    assert r"$\frac{\partial \mathrm{out}^{(1)}}{\partial \mathrm{net}^{(1)}_{o2}}$" in md
    assert r"$\frac{\partial \mathrm{out}^{(1)}_{o2}}{\partial \mathrm{net}^{(1)}}$" not in md
    # the matrix form defines J before its first line uses it
    assert md.index(r"J^{(n)}_{o} = \frac{\partial \mathbf{out}^{(n)}_{o}}") < md.index(
        r"\left(J^{(n)}_{o}\right)^{\top}"
    )
    assert "bptrace computes" not in md and "程序直接" not in md
    if lang == "en":
        assert "one row per output as in the matrix form" in md
        assert "The first batch holds samples 1 and 2;" in md and "samples 1 to 2" not in md
        assert "in 3 shares, one per neuron of layer **o**, which add up" in md and "along 3 paths" not in md
        assert "section 4 gives the error of each iteration, and every weight and bias after the last one" in md
        assert "minus its target times the log of its output" in md
        assert "In practice δ is computed directly as this difference" in md
    else:
        assert "与下文的矩阵形式一样每个输出占一行" in md
        assert "第一批包含样本 1 和样本 2；" in md and "第 1 到第 2 个样本" not in md
        assert "分成 3 项贡献，**o** 层每个神经元一项" in md
        assert "每个输出神经元贡献 −目标值×ln 输出" in md and "它给目标所分配概率" not in md
        assert "实际计算中直接用这个差求 δ" in md


@pytest.mark.parametrize("lang", ["en", "zh"])
def test_lecture_says_what_softmax_and_the_velocity_are(trace: Any, lang: str) -> None:
    page = render_files(trace, ["lecture"], lang=lang)["lecture.html"]
    text = re.sub(r"<math.*?</math>", "", page, flags=re.S)
    if lang == "en":
        assert text.count("the softmax of all the layer&#x27;s net inputs") == 3
        assert "its activation function applied to the net input" in text  # the tanh layer's outputs
        assert text.count("v is the velocity: v = μ·v + g") == 1
        assert "It starts at 0" in text
    else:
        assert text.count("对本层全部净输入做 softmax") == 3
        assert text.count("v 是速度：v = μ·v + g") == 1
    # said on the first update slide, before any other update slide
    first_update = re.search(r'data-key="update\.[^"]+"', page)
    assert first_update is None or page.index(first_update.group(0)) < page.index("v = μ·v + g")


@pytest.mark.parametrize("lang", ["en", "zh"])
def test_without_an_optimizer_the_updates_are_counted_without_t(lang: str) -> None:
    spec = {k: v for k, v in SPEC.items() if k != "optimizer"}
    md = _md(bptrace.trace(spec), lang)
    appendix = md.split("## Appendix B" if lang == "en" else "## 附录 B", 1)[1]
    if lang == "en":
        assert (
            "- updates per iteration: 3, one per batch (batch 1: samples 1 and 2, batch 2: samples 3 and 4, batch 3: "
            "sample 5); the first is worked in full below, the rest of this iteration in brief after it" in md
        )
        assert "t = 1" not in md and "| after update 2 |" in appendix
    else:
        assert (
            "- 每轮更新次数：3（第 1 批为样本 1 和样本 2，第 2 批为样本 3 和样本 4，第 3 批为样本 5），每批更新一次；"
            "下文完整演算第 1 次，本轮其余各次随后简要列出" in md
        )
        assert "t = 1" not in md and "| 第 2 次更新之后 |" in appendix


@pytest.mark.parametrize("lang", ["en", "zh"])
def test_online_runs_say_each_sample_saw_the_updates_before_it(lang: str) -> None:
    spec = {k: v for k, v in SPEC.items() if k not in ("optimizer", "batch_size")} | {"mode": "online"}
    md = _md(bptrace.trace(spec), lang)
    assert "updates per iteration" not in md and "每轮更新次数" not in md  # the mode line counts them already
    if lang == "en":
        assert "Each sample sees the weights left by the updates of the samples before it" in md
        assert "| 5 | 0.2, 0.8 |" in md and "| after update 4 |" in md
        assert "each measured just before that sample's own update)" in md
    else:
        assert "每个样本用的是它之前各样本更新后的权重" in md and "| 第 4 次更新之后 |" in md
        assert "每个样本都在它自己那次更新之前算出" in md

"""Two hidden layers, a linear output, hand rounding and mini-batches of 2 over 3 samples: the
words around the numbers hold for this network (what an outside reading of its report found)."""

from __future__ import annotations

import re
from typing import Any

import pytest

import bptrace
from bptrace.reports import render_files

SPEC: dict[str, Any] = {
    "title": "Two hidden layers, hand-rounded, mini-batches",
    "learning_rate": 0.2,
    "loss": "mse",
    "iterations": 1,
    "batch_size": 2,
    "rounding": "hand:4",
    "layers": [
        {"name": "x", "size": 2},
        {"name": "h", "size": 3, "activation": "sigmoid", "weights": [[0.3, -0.2], [0.1, 0.4], [-0.5, 0.2]],
         "bias": [0.1, -0.1, 0.05]},
        {"name": "g", "size": 2, "activation": "tanh", "weights": [[0.2, -0.3, 0.4], [0.5, 0.1, -0.2]],
         "bias": [0.0, 0.1]},
        {"name": "y", "size": 1, "activation": "linear", "weights": [[0.7, -0.6]], "bias": 0.2},
    ],
    "samples": [
        {"input": [1.0, 0.5], "target": [0.8]},
        {"input": [0.0, -1.0], "target": [0.1]},
        {"input": [0.5, 0.5], "target": [0.4]},
    ],
}  # fmt: skip


@pytest.fixture(scope="module")
def trace() -> Any:
    return bptrace.trace(SPEC)


@pytest.fixture(scope="module")
def pages(trace: Any) -> dict[str, dict[str, str]]:
    return {lang: render_files(trace, ["md", "html"], lang=lang) for lang in ("en", "zh")}


def test_the_second_batch_is_worked_in_brief_with_its_update(trace: Any, pages: dict[str, dict[str, str]]) -> None:
    en, zh = pages["en"]["report.md"], pages["zh"]["report.md"]
    section = en.split("### 3.8 The second batch", 1)[1].split("## 4.", 1)[0]
    assert "#### Batch 2: sample 3" in section and "`sample3.delta.y1`" in section
    assert "This batch holds sample 3 alone (N = 1), so update 2 uses that sample's own gradients" in section
    second = [s for s in trace.steps if s.sample is None][1]
    for u in (r for r in second.records if r.kind == "update"):
        # every parameter's old value, gradient and new value, as carried (w13: 0.7077, -0.0269, 0.7131)
        row = re.search(rf"^\| \$[wb]_{{[^}}]+}}\$ \| {u.old:.4f} \| {u.grad:.4f} \| {u.new:.4f} \|$", section, re.M)
        assert row, u.name
    assert "| $w_{13}$ | 0.7077 | -0.0269 | 0.7131 |" in section
    assert "### 3.8 第 2 批" in zh and "这一批只有样本 3（N = 1），所以第 2 次更新直接使用这个样本自己的梯度" in zh
    # the settings say where each update is, and no longer send the reader to section 4 for it
    said = "(batch 1: samples 1 and 2, batch 2: sample 3); the first is worked in full below, the other update"
    assert said + " of this iteration in brief after it" in en
    assert "summarised in section 4" not in en and "其余在第 4 节概括" not in zh


def test_the_intro_says_which_sample_is_worked_in_full(pages: dict[str, dict[str, str]]) -> None:
    intro = pages["en"]["report.md"].split("\n\n", 2)[1]
    assert intro.endswith(
        "Sample 1 is worked in full; the other samples of its batch are listed in tables, and the later batches of "
        "the iteration follow in brief, each from the weights the update before it left."
    )


def test_section_4_says_after_which_update_and_keeps_the_carried_places(pages: dict[str, dict[str, str]]) -> None:
    en, zh = pages["en"]["report.md"], pages["zh"]["report.md"]
    repeat = en.split("## 4. Repeat", 1)[1].split("## Appendix", 1)[0]
    assert "After both updates of this iteration, the same inputs give a mean error of 0.0525" in repeat
    assert "each sample's error was measured with the weights its own batch started from" in repeat
    # (0.2639 + 0.0007 + 0.0074) / 3, rounded as every carried value is
    assert r"= \frac{1}{3} \left(0.2639 + 0.0007 + 0.0074\right) \\" + "\n&= 0.0907" in repeat
    assert "0.090666667" not in en and "0.090666667" not in zh and "本轮两次更新完成后" in zh


def test_hand_rounding_is_stated_once_and_the_same_everywhere(pages: dict[str, dict[str, str]]) -> None:
    en, zh = pages["en"]["report.md"], pages["zh"]["report.md"]
    assert "computed unrounded" not in en and "计算时并不舍入" not in zh
    assert "digit for digit" in en.split("\n\n", 2)[1]
    for html in (pages["en"]["report.html"], pages["zh"]["report.html"]):
        footer = html.split('<footer class="generated">', 1)[1]
        assert "rounded only for display" not in footer and "只在显示时四舍五入" not in footer
    banner = next(p for p in en.split("\n\n") if p.startswith("> Every value computed below"))
    # the constants this network has (a linear output), not those of another (ReLU)
    assert "(the input 1 of a bias, the slope 1 of a linear layer)" in banner and "ReLU" not in banner
    assert "the formula is worked out in one go and rounded once" in banner and "Appendix C compares" in banner
    assert "（偏置的输入 1、线性层的斜率 1）" in zh and "ReLU 的斜率" not in zh
    assert "## Appendix C: carried values and exact values" in en
    gradcheck = en.split("## Appendix A", 1)[1].split("## Appendix B", 1)[0]
    assert "The column “at 4 places” below holds the rounded values" in gradcheck and "first column" not in gradcheck
    assert "The relative difference is the size of traced minus numeric over the larger of their two sizes" in gradcheck
    assert "e-0" not in gradcheck and "4.3×10⁻⁹" in gradcheck


def test_a_sheet_states_the_carried_rule_and_names_keys_as_its_key_file(trace: Any) -> None:
    from bptrace.exercises import answer_key, asked_keys

    asked = asked_keys(trace)
    assert "sample1.grad.w13" in asked and "grad.w13" not in asked
    files = render_files(
        trace, ["md", "html"], stem="question", template="question", context={"sheet": True, "asked": asked}
    )
    sheet = files["question.md"]
    assert "round every value to 4 decimal places before you use it again" in sheet and "full precision" not in sheet
    assert "| `sample1.grad.w13` |" in sheet and "w^{+}" not in sheet  # no update is asked
    assert r"$\delta^{(1)} = \partial E^{(1)}_{\mathrm{total}} / \partial \mathrm{net}^{(1)}$" in sheet
    assert "Generated by bptrace from the problem&#39;s spec." in files["question.html"]
    import tomllib

    key = tomllib.loads(answer_key(trace))  # valid TOML: a later batch repeats no key
    assert key["sample1.grad.w13"] == pytest.approx(-0.0834) and key["batch.update.w13"] == pytest.approx(0.7077)


def test_the_first_batchs_other_sample_is_shown_neuron_by_neuron(pages: dict[str, dict[str, str]]) -> None:
    en = pages["en"]["report.md"]
    appendix = en.split("## Appendix B", 1)[1].split("## Appendix C", 1)[0]
    assert "The other sample of the first batch, neuron by neuron, with the weights sample 1 used." in appendix
    passes = appendix.split("### Sample 2", 1)[1]
    assert "| $g_{1}$ | 0.1867 | 0.1846 |" in passes and "`sample2.delta.h3`" in passes


def test_a_one_neuron_layers_bias_is_its_delta_and_drawn_beside_it(pages: dict[str, dict[str, str]]) -> None:
    en = pages["en"]["report.md"]
    matrix = en.split("### 3.5", 1)[1].split("### 3.6", 1)[0]
    assert r"\frac{\partial E^{(n)}_{\mathrm{total}}}{\partial b_{3}} = \boldsymbol{\delta}^{(n)}_{y}" in matrix
    assert r"\mathbf{1}^{\top}" not in matrix and "share one bias" not in matrix
    svg = pages["en"]["figures/network.svg"]
    box = re.search(r'<text x="([\d.]+)" y="([\d.]+)"[^>]*class="blabel">b<tspan[^>]*>3</tspan>', svg)
    node = re.search(r'<text x="([\d.]+)" y="([\d.]+)"[^>]*font-weight="bold">y<tspan', svg)
    assert box and node and box.group(1) == node.group(1) and float(box.group(2)) < float(node.group(2))


def test_a_batch_marks_sample_1_in_the_chain_figures_and_averages_as_a_half(pages: dict[str, dict[str, str]]) -> None:
    svg = pages["en"]["figures/chain-w13.svg"]
    assert "∂E⁽¹⁾<tspan" in svg and "∂net⁽¹⁾<tspan" in svg and ">E<tspan" not in svg
    # carried values as carried, a given or exact one (the linear slope 1, w13 = 0.7, x1 = 1) as given
    assert re.findall(r'class="value">([^<]*)', svg) == ["0.1148", "1", "-0.7265"]
    assert re.findall(r'class="value">([^<]*)', pages["en"]["figures/chain-w7.svg"])[2] == "0.7"
    en = pages["en"]["report.md"]
    assert (
        r"\frac{\partial E_{\mathrm{batch}}}{\partial w_{13}} &= \frac{1}{2} \left(\frac{\partial E^{(1)}_{\mathrm{total}}}"
        in en
    )


def test_the_batchs_error_is_not_called_a_total(trace: Any, pages: dict[str, dict[str, str]]) -> None:
    en, zh = pages["en"]["report.md"], pages["zh"]["report.md"]
    said = r"the batch's error $E_{\mathrm{batch}}$ is the mean of its samples' errors $E^{(n)}_{\mathrm{total}}$"
    assert said in en and r"整批的误差 $E_{\mathrm{batch}}$ 是本批各样本误差 $E^{(n)}_{\mathrm{total}}$ 的平均值" in zh
    assert r"E_{\mathrm{batch}} = \frac{1}{2} \left(E^{(1)}_{\mathrm{total}} + E^{(2)}_{\mathrm{total}}\right)" in en
    # with no mark, E_total would be one sample's sum over outputs; nothing unmarked is left
    assert not re.search(
        r"E_\{\\mathrm\{total\}\}(?!\^)", en.split("## Appendix")[0].replace("E_{\\mathrm{total}}^{", "")
    )
    slides = render_files(trace, ["lecture"])["lecture.html"]
    assert "<msub><mi>E</mi><mi>total</mi></msub>" not in slides  # sample 1's E^(1), or the batch's
    assert "<mi>batch</mi>" in slides

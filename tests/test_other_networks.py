"""Reports on networks unlike the article's: a tanh hidden layer with a linear output trained online on
two samples, and a ReLU/sigmoid network with cross-entropy over two iterations. Their wording and their
mathematics must hold as well as the article's does."""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from typing import Any

import pytest

import bptrace
from bptrace import formula
from bptrace.ops import ACTIVATIONS, v
from bptrace.reports import make_env, mathml, messages

from lecture_specs import ITERATED, ONLINE

# the lecture's networks, titled in one language (the zh title would name its sample count in words)
TANH2: dict[str, Any] = {**ONLINE, "title": "Regression with tanh"}
RELU_BCE: dict[str, Any] = {**ITERATED, "title": "Is it a cat?"}

# how many children each MathML element with fixed arity must have
ARITY = {"msup": 2, "msub": 2, "mfrac": 2, "msubsup": 3, "mroot": 2, "munder": 2, "mover": 2}


def _misshapen(xml: str) -> list[str]:
    """Every fixed-arity element of a MathML tree whose child count is wrong, as tag/count."""
    bad = []
    for el in ET.fromstring(xml).iter():
        tag = el.tag.split("}")[-1]
        if tag in ARITY and len(el) != ARITY[tag]:
            bad.append(f"{tag}/{len(el)}")
    return bad


def _inline_math(text: str) -> list[str]:
    return re.findall(r"(?<![$\\])\$([^$\n]+?)\$(?!\$)", text)


@pytest.fixture(scope="module")
def reports() -> dict[tuple[str, str], dict[str, str]]:
    out = {}
    for name, spec in (("tanh2", TANH2), ("relu_bce", RELU_BCE)):
        tr = bptrace.trace(spec)
        for lang in ("en", "zh"):
            out[name, lang] = {fmt: bptrace.render(tr, fmt, lang=lang) for fmt in ("md", "html")}  # type: ignore[arg-type]
    return out


@pytest.mark.parametrize("name", sorted(ACTIVATIONS))
def test_every_activation_typesets_as_well_formed_mathml(name: str) -> None:
    act = ACTIVATIONS[name]
    nets = [v("net.a1"), v("net.a2")]
    outs = [v("out.a1"), v("out.a2")]
    texs = [formula.latex(act.forward(nets, 0))]
    if act.derivative is not None:
        texs.append(formula.latex(act.derivative(nets[0], outs[0])))
    for lang in ("en", "zh"):
        cat = messages(make_env(), lang)
        for key in act.messages.values():
            texs += _inline_math(cat[key].replace("{{", "{").replace("}}", "}"))
    for tex in texs:
        for display in (False, True):
            out = mathml.convert(tex, display)
            assert _misshapen(out) == [], (name, tex)


def test_a_function_name_carries_its_own_square() -> None:
    out = mathml.fast(r"1 - \tanh^2(\mathrm{net})", False)
    assert "<msup><mi>tanh</mi><mn>2</mn></msup><mo>&#x2061;</mo>" in out
    assert _misshapen(out) == []


@pytest.mark.parametrize("name", ["tanh2", "relu_bce"])
@pytest.mark.parametrize("lang", ["en", "zh"])
def test_every_formula_of_the_report_is_well_formed(reports: Any, name: str, lang: str) -> None:
    html = reports[name, lang]["html"]
    maths = re.findall(r"<math .*?</math>", html, flags=re.S)
    assert len(maths) > 50
    assert [b for m in maths for b in _misshapen(m)] == []


def test_tanh_slope_has_an_argument_and_refers_to_nothing_earlier(reports: Any) -> None:
    en, zh = reports["tanh2", "en"]["md"], reports["tanh2", "zh"]["md"]
    assert r"$1 - \tanh^2(\mathrm{net}) = 1 - \mathrm{out}^2$" in en
    assert r"$1 - \tanh^2(\mathrm{net}) = 1 - \mathrm{out}^2$" in zh
    slope_en = next(line for line in en.splitlines() if "derivative of tanh" in line)
    slope_zh = next(line for line in zh.splitlines() if "tanh 的导数" in line)
    assert "again" not in slope_en and "同样" not in slope_zh


def test_sigmoid_cross_entropy_delta_is_derived_not_asserted(reports: Any) -> None:
    en, zh = reports["relu_bce", "en"]["md"], reports["relu_bce", "zh"]["md"]
    line = r"-t (1 - o) + (1 - t) o = o - t"
    assert line in en and line in zh
    assert "cancel" not in en.split("δ shorthand")[1].split("\n")[0]
    assert "saturates" not in en and "饱和" not in zh
    # σ is defined in the same sentence that first uses it
    assert en.index(r"\sigma(z) = \frac{1}{1 + e^{-z}}") <= en.index(r"\sigma")
    assert zh.index(r"\sigma(z) = \frac{1}{1 + e^{-z}}") <= zh.index(r"\sigma")


def test_the_sample_summary_names_this_networks_output_and_can_be_checked(reports: Any) -> None:
    for lang in ("en", "zh"):
        md = reports["tanh2", lang]["md"]
        # the key the intro cites as an example is one the table below it shows
        intro = next(line for line in md.splitlines() if "`sample2." in line and not line.startswith("|"))
        assert "`sample2.delta.y1`" in intro and "sample2.out.o1" not in md
        assert any(line.startswith("| $y_{1}$") and "`sample2.delta.y1`" in line for line in md.splitlines())
        # sample 2's hidden values, from which a student checks δ_h without redoing the forward pass
        row = next(line for line in md.splitlines() if line.startswith("| $h_{1}$") and "`sample2.delta.h1`" in line)
        cells = [c.strip() for c in row.strip("|").split("|")]
        assert cells[1:6] == ["-0.173468875", "-0.171749589", "0.238627691", "0.970502079", "0.23158867"]
    en = reports["tanh2", "en"]["md"]
    assert "Inputs -1, 0.5, target -0.3;" in en and "gives the output 0.577797876" in en


def test_the_intro_says_what_is_worked_in_full_and_what_is_summarised(reports: Any) -> None:
    tanh_en, relu_en = reports["tanh2", "en"]["md"], reports["relu_bce", "en"]["md"]
    for md in (tanh_en, relu_en):
        assert "one full training step" not in md and "its first training step, worked in full" in md
    assert "sample 2 follows in brief, starting from the weights sample 1 left" in tanh_en  # two samples
    assert "The later iterations are summarised" in relu_en and "other samples" not in relu_en.split("\n\n")[1]
    assert (
        "网络的第一步训练：" in reports["tanh2", "zh"]["md"] and "网络的一步训练" not in reports["relu_bce", "zh"]["md"]
    )
    # one iteration: no history to point at
    assert "error history" not in tanh_en and "误差曲线" not in reports["tanh2", "zh"]["md"]
    # the per-sample symbol is introduced where the mean uses it
    assert r"($E^{(k)}_{\mathrm{total}}$ is the error of sample k" in tanh_en


def test_several_iterations_end_with_every_final_parameter(reports: Any) -> None:
    final = {"w1": 0.478842102, "w6": -0.25185623, "b_h1": 0.378842102, "w7": 0.888549533, "b2": 0.430799973}
    for lang in ("en", "zh"):
        md = reports["relu_bce", lang]["md"]
        tail = md.split("## 4.")[1].split("## ")[0]
        for name, value in final.items():
            sym = name.replace("_", "")
            base, sub = sym[0], sym[1:]
            assert f"| ${base}_{{{sub}}}$ | {value:.9g} |" in tail, name
    # one iteration: the updates table already holds the last values, so no second table
    assert "Every weight and bias after" not in reports["tanh2", "en"]["md"]


def test_gradient_check_names_the_error_it_differentiates(reports: Any) -> None:
    tanh_en, relu_en = reports["tanh2", "en"]["md"], reports["relu_bce", "en"]["md"]
    assert r"finite difference of sample 1's error $E^{(1)}_{\mathrm{total}}$ at the initial weights" in tanh_en
    assert r"finite difference of the error $E_{\mathrm{total}}$ at the initial weights" in relu_en
    assert "All 13 parameters were checked; the largest relative difference is" in tanh_en
    assert " of 13 parameters" not in tanh_en
    zh = reports["tanh2", "zh"]["md"]
    assert "初始权重下样本 1 的误差" in zh and "全部 13 个参数都已检验，最大相对误差为" in zh and "相对差" not in zh


def test_wording_holds_for_one_output_and_reads_naturally(reports: Any) -> None:
    for name in ("tanh2", "relu_bce"):
        en, zh = reports[name, "en"]["md"], reports[name, "zh"]["md"]
        assert "drop out" not in en and "With a single output neuron the total error has only one part" in en
        assert "and that input is the derivative" not in en and "so the derivative equals that input" in en
        assert "Every weight $W_{ji}$ into neuron j:" not in en
        assert "updates: online:" not in en and "linear (identity)" not in en
        # a lone value is not "put in" a second time: "= (x) = x"
        assert not re.search(r"= \\left\((-[\d.]+)\\right\) = \1\n", en)
        assert "偏差" not in zh and "：：" not in zh and "（在线学习）：" not in zh
        # no space left between two Han characters by a placeholder
        prose = re.sub(r"\$[^$]*\$|`[^`]*`", "X", zh)
        assert not re.search(r"[\u4e00-\u9fff] +[\u4e00-\u9fff]", prose), re.findall(
            r".{6}[\u4e00-\u9fff] +[\u4e00-\u9fff].{6}", prose
        )
    zh = reports["tanh2", "zh"]["md"]
    assert "每轮共 2 个样本" in zh and "（2 个输入）" in zh and "两个样本" not in zh
    assert "这一层的激活函数是线性函数。" in zh
    assert "之差的平方的一半" in zh
    svg = re.findall(r'class="caption">([^<]*)<', reports["tanh2", "zh"]["html"])
    assert "x：2 个输入" in svg and not [c for c in svg if ": " in c]


@pytest.mark.parametrize("lang", ["en", "zh"])
def test_gradient_check_of_a_batch_names_the_batch_it_differentiates(lang: str) -> None:
    # a full batch has no "first batch"; a mini-batch run checks the error of its first batch
    full = {**TANH2, "mode": "batch"}
    mini = {**full, "samples": [*TANH2["samples"], {"input": [0.5, 0.5], "target": [0.1]}], "batch_size": 2}
    whole, first = (bptrace.render(bptrace.trace(s), "md", lang=lang) for s in (full, mini))
    said = {
        "en": ("the batch's error over all its samples", "the first batch's error"),
        "zh": ("整批样本合起来的误差", "第一批样本的误差"),
    }
    assert said[lang][0] in whole and said[lang][1] not in whole
    assert said[lang][1] in first and said[lang][0] not in first


@pytest.mark.parametrize("lang", ["en", "zh"])
def test_the_sign_note_states_the_update_the_run_makes(lang: str) -> None:
    said = {
        "en": ("subtracts η·δ·input", "the mean of δ·input over the batch's samples", "the sum of δ·input over"),
        "zh": ("减去 η·δ·输入", "批内各样本 δ·输入的平均值", "批内各样本 δ·输入之和"),
    }[lang]
    runs = [TANH2, {**TANH2, "mode": "batch"}, {**TANH2, "mode": "batch", "batch_reduction": "sum"}]
    for k, spec in enumerate(runs):
        md = bptrace.render(bptrace.trace(spec), "md", lang=lang)
        assert [s in md for s in said] == [j == k for j in range(3)], k


@pytest.mark.parametrize("lang", ["en", "zh"])
def test_the_rule_box_tells_indexed_weights_from_numbered_ones(lang: str) -> None:
    # w13 in the figure is one numbered weight; w_{13} in the rule's notation would be neuron 3 into neuron 1
    md = bptrace.render(bptrace.trace(RELU_BCE), "md", lang=lang)
    # (this network has a layer named i, so the rule's second index is p)
    said = {"en": "(a capital W, named by the two neurons it joins: the entry in row j, column p of the layer's "
                  "weight matrix; the tables number the same weights w₁, w₂, …)",
            "zh": "（大写 W，下标是它连接的两个神经元，即该层权重矩阵第 j 行第 p 列的元素；表中把同样的权重编号为 w₁、w₂ …）"}[lang]  # fmt: skip
    assert md.count(said) == 2  # one rule box per layer of weights

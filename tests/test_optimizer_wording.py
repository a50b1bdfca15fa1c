"""A network unlike the article's in every respect the words depend on: two hidden layers (leaky
ReLU, then tanh), one sigmoid output with binary cross-entropy, Adam with weight decay, two samples
online over two iterations. What the report says next to its numbers must hold for it."""

from __future__ import annotations

from typing import Any

import pytest

import bptrace

DEEP: dict[str, Any] = {
    "title": "Two hidden layers and Adam",
    "learning_rate": 0.05,
    "loss": "cross_entropy",
    "mode": "online",
    "iterations": 2,
    "optimizer": {"name": "adam", "weight_decay": 0.01},
    "layers": [
        {"name": "x", "size": 2},
        {"name": "h", "size": 3, "activation": "leaky_relu", "weights": [[0.2, -0.4], [0.5, 0.1], [-0.3, 0.6]], "bias": 0.1},
        {"name": "g", "size": 2, "activation": "tanh", "weights": [[0.3, -0.2, 0.4], [-0.5, 0.25, 0.1]], "bias": [0.05, -0.05]},
        {"name": "y", "size": 1, "activation": "sigmoid", "weights": [[0.6, -0.7]], "bias": 0.0},
    ],
    "samples": [{"input": [1.0, -0.5], "target": [1]}, {"input": [0.3, 0.8], "target": [0]}],
}  # fmt: skip


@pytest.fixture(scope="module")
def md() -> dict[str, str]:
    tr = bptrace.trace(DEEP)
    return {lang: bptrace.render(tr, "md", lang=lang) for lang in ("en", "zh")}  # type: ignore[arg-type]


def _section(text: str, start: str, end: str) -> str:
    return text.split(start, 1)[1].split(end, 1)[0]


def test_a_sigmoid_output_with_cross_entropy_is_explained_as_binary(md: dict[str, str]) -> None:
    en = _section(md["en"], "### 3.1", "### 3.2")
    zh = _section(md["zh"], "### 3.1", "### 3.2")
    # a target of 0 contributes through ln(1 - out): the categorical sentence would make it 0
    assert "binary cross-entropy" in en and r"$-\ln (1 - \mathrm{out})$" in en and "one-hot" not in en
    assert "二元交叉熵" in zh and r"$-\ln (1 - \mathrm{out})$" in zh and "one-hot" not in zh
    assert "sample 2" not in en  # the sentence is general; the numbers come in the equations


def test_with_an_optimizer_no_rule_says_the_weight_moves_against_its_gradient(md: dict[str, str]) -> None:
    en, zh = md["en"], md["zh"]
    assert "against it" not in en and "a little against" not in en
    assert "更新时权重朝梯度的反方向移动" not in zh and "让每个权重朝相反方向移动一小步" not in zh
    assert en.count("the optimizer, worked in its own section below, turns this gradient into the weight's step") == 3
    assert zh.count("再由优化器（见下文专节）把这个梯度变成该权重的更新量") == 3
    assert "the optimizer (Adam) then turns these derivatives into a step for each weight" in en


def test_adam_is_described_with_its_learning_rate_and_its_first_step(md: dict[str, str]) -> None:
    en = md["en"]
    assert "The step is η times the corrected m" in en and "moves by about η whatever" not in en
    assert "In step 1 the corrected m is the gradient itself" in en
    # step 1 moves every parameter by almost exactly η = 0.05: the table shows it
    tr = bptrace.trace(DEEP)
    first = next(s for s in tr.steps if any(r.kind == "update" for r in s.records))
    moves = [r.value - r.old for r in first.records if r.kind == "update"]
    assert moves and all(abs(abs(m) - 0.05) < 1e-6 for m in moves)


def test_weight_decay_and_the_later_steps_are_said(md: dict[str, str]) -> None:
    en, zh = md["en"], md["zh"]
    assert "coupled as in torch.optim.Adam (not the decoupled kind of AdamW)" in en and "the biases too" in en
    assert "torch.optim.Adam" in zh and "偏置也不例外" in zh
    assert "keeps counting across iterations (4 updates in all)" in en and "共 4 次更新" in zh
    plain = bptrace.render(
        bptrace.trace({**DEEP, "optimizer": {"name": "adam"}, "iterations": 1, "samples": DEEP["samples"][:1]}), "md"
    )
    assert "weight decay, coupled" not in plain and "keeps counting" not in plain


def test_leaky_relu_cases_keep_value_and_condition_apart(md: dict[str, str]) -> None:
    en = md["en"]
    assert r"\begin{cases} 1, & 0.5 > 0 \\ 0.01, & 0.5 \le 0 \end{cases}" in en
    # the hidden rule: the brace of cases is multiplied by the sum, not followed by it as a third case
    assert r"\end{cases} \cdot \sum_{k} W_{kj}" in en
    html = bptrace.render(bptrace.trace(DEEP), "html")
    assert '<mtable class="cases" columnalign="left left">' in html
    assert "mtable.cases > mtr > mtd + mtd { padding-left: 1em; }" in html


def test_a_one_neuron_layers_bias_is_its_neurons_not_shared(md: dict[str, str]) -> None:
    en, zh = md["en"], md["zh"]
    assert "| $b_{3}$ | bias of $y_{1}$, the only neuron of **y** | 0 |" in en
    assert "| $b_{3}$ | **y** 层唯一的神经元 $y_{1}$ 的偏置 | 0 |" in zh
    assert "shared by every neuron of **y**" not in en and "**y** 层所有神经元共用" not in zh
    # its rule is its neuron's δ, not a sum over the layer; the shared b1 of h keeps the sum
    assert r"\frac{\partial E_{\mathrm{total}}}{\partial b_{3}} = \delta_{y1}" in en
    assert r"\frac{\partial E_{\mathrm{total}}}{\partial b_{1}} = \sum_{j} \delta_{j}" in en
    assert "bias shared by every neuron of **h**" in en


def test_one_letter_one_meaning_in_the_gradient_check_and_the_shares(md: dict[str, str]) -> None:
    en, zh = md["en"], md["zh"]
    # ε is Adam's constant in the settings; the finite difference steps by Δ
    assert "±Δ with Δ = 1×10⁻⁶, divided by 2Δ" in en and "±ε" not in en
    assert "±Δ（Δ = 1×10⁻⁶）" in zh and "±ε" not in zh
    assert "no error E of their own" in en and "no error terms" not in en
    assert "份" not in zh and "各项贡献相加" in zh
    assert "each gradient worked out as for sample 1" in en and "each gradient being δ times" not in en


def test_step_two_is_worked_after_the_pass_it_comes_from(md: dict[str, str]) -> None:
    """Online, step t = 2 is sample 2's update: the optimizer section says so and points on, and
    the step is worked under sample 2, after that sample's forward and backward pass."""
    en, zh = md["en"], md["zh"]
    assert "\n#### Step t = 2" not in en  # not a section of the optimizer
    section = _section(en, "The optimizer: Adam", "### 3.")
    assert "Step t = 2 is the update after sample 2, from that sample's own forward and backward pass" in section
    sample2 = en.split("#### Sample 2", 1)[1]
    assert (
        sample2.index("$$\nE^{(2)}_{\\mathrm{total}}")
        < sample2.index("##### Step t = 2")
        < sample2.index("Every parameter's update in step t = 2")
    )
    assert "In step 2 the moments start from their values after step 1" in sample2
    assert "第 t = 2 步是样本 2 之后的更新" in zh and "##### 第 t = 2 步" in zh


def _slides(html: str) -> list[str]:
    import html as h
    import re

    return [
        h.unescape(re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", s)))
        for s in re.findall(r"<section[^>]*>(.*?)</section>", html, re.S)
    ]


def test_the_slides_show_each_share_before_the_sum_and_say_what_weight_decay_adds() -> None:
    from bptrace.reports import render_files

    tr = bptrace.trace(DEEP)
    for lang, share, decay in (
        ("en", "One share of", "the gradient of the error plus λ times the parameter (weight decay)"),
        ("zh", "的一项贡献：经过", "误差的梯度加上 λ 乘以参数（权重衰减）"),
    ):
        slides = _slides(render_files(tr, ["lecture"], lang=lang)["lecture.html"])
        shares = [k for k, s in enumerate(slides) if share in s]
        total = next(k for k, s in enumerate(slides) if "( − 0.081921603 ) + ( − 0.156338086 )" in s)
        assert len(shares) == 2 and max(shares) < total  # both shares come before the slide that adds them
        assert "0.3 = − 0.081921603" in slides[shares[0]] and "( − 0.5 ) = − 0.156338086" in slides[shares[1]]
        # each weight worked in full shows its g on a slide of its own, before the slide of its new value
        gs = [k for k, s in enumerate(slides) if decay in s]
        news = [k for k, s in enumerate(slides) if "The new w" in s or "新的 w" in s]
        assert len(gs) == len(news) == 3 and all(g + 1 < n for g, n in zip(gs, news))


def test_an_iterations_error_over_several_samples_is_called_their_mean(md: dict[str, str]) -> None:
    """E_total is one sample's error throughout; what §4 and its chart track per iteration is a mean."""
    assert "| iteration | mean error |" in md["en"] and "| 轮次 | 平均误差 |" in md["zh"]
    assert "The mean error of each iteration, over its samples" in md["en"]
    one = bptrace.render(bptrace.trace({**DEEP, "samples": DEEP["samples"][:1]}), "md")
    assert "| iteration | total error |" in one and "mean error of each iteration" not in one


def test_an_optimizers_update_tables_on_the_slides_are_not_called_other_parameters() -> None:
    """With an optimizer the table after a derived weight's update also holds that weight's m and v."""
    slides = _slides(bptrace.reports.render_files(bptrace.trace(DEEP), ["lecture"])["lecture.html"])
    tables = [s for s in slides if "The rest of layer h's update" in s]
    assert len(tables) == 1 and "Every other parameter" not in " ".join(slides)
    spec = {k: x for k, x in DEEP.items() if k != "optimizer"}
    plain = _slides(bptrace.reports.render_files(bptrace.trace(spec), ["lecture"])["lecture.html"])
    assert any("Every other parameter of layer h" in s for s in plain)  # plain descent: only new values

"""What the reports say, for networks other than the article's: symbols that exist for the case at
hand, the softmax Jacobian, the general rules, article asides only in the article's report, layer
vocabulary, counted nouns, and Chinese punctuation."""

from __future__ import annotations

import re
from functools import cache
from pathlib import Path

import pytest

import bptrace
from bptrace.grading import grade, read_answers

SPECS = Path(__file__).parent / "specs" / "teach"
NETWORKS = {
    "article": "article",
    "deep": str(SPECS / "deep.toml"),
    "softmax": "softmax",
    "softmax-mse": str(SPECS / "softmax-mse.toml"),
    "online3": str(SPECS / "online3.toml"),
    "batch3": str(SPECS / "batch3.toml"),
    "net221": str(SPECS / "net221.toml"),
    "batch-zero": str(SPECS / "batch-zero.toml"),
    "hand": str(SPECS / "hand.toml"),
    "xor": "xor",
}


@cache
def _trace(name: str) -> bptrace.Trace:
    return bptrace.trace(NETWORKS[name], iterations=1)


@cache
def md(name: str, lang: str = "en") -> str:
    return bptrace.render(_trace(name), "md", lang=lang, figures="files")


def _prose(text: str) -> str:
    """The text without math, code and HTML tags: what a reader reads as sentences."""
    text = re.sub(r"\$\$.*?\$\$", " ", text, flags=re.S)
    text = re.sub(r"\$[^$\n]+\$", " ", text)
    text = re.sub(r"`[^`\n]+`", " ", text)
    text = re.sub(r"《[^》\n]+》", " ", text)  # a quoted title keeps its own punctuation
    return re.sub(r"<[^>\n]+>", " ", text)


# ---------------------------------------------------------------- 1. shares with symbols that exist


def _error_terms(text: str) -> set[str]:
    """Every neuron k that appears as a per-output error E_k inside a derivative."""
    return set(re.findall(r"\\partial E_\{(?!\\mathrm)(\w+)\}", text))


@pytest.mark.parametrize("name", ["deep", "softmax", "softmax-mse", "article", "net221"])
def test_error_terms_only_for_outputs_whose_error_splits(name: str) -> None:
    tr = _trace(name)
    out_layer = tr.network["layers"][-1]
    used = _error_terms(md(name))
    if out_layer["activation"] == "softmax":
        assert used == set()  # with softmax no single output's error is a share
    else:
        assert used and used <= set(out_layer["neurons"]), used
    # keys follow the text: dE_k/dout_h only for output neurons k whose error splits
    for rec in tr.steps[0].records:
        m = re.fullmatch(r"partial\.dE_(\w+)/dout_\w+", rec.key)
        if m and m.group(1) != "total":
            assert out_layer["activation"] != "softmax" and m.group(1) in out_layer["neurons"], rec.key


def test_deep_network_shares_through_hidden_neurons_use_the_total_error() -> None:
    text = md("deep")
    assert (
        r"\frac{\partial E_{\mathrm{total}}}{\partial \mathrm{net}_{r1}} \cdot \frac{\partial \mathrm{net}_{r1}}{\partial \mathrm{out}_{h1}}"
        in text
    )
    assert "Layer **r** is hidden, so its neurons have no error terms of their own" in text
    assert "includes the derivative of the error with respect to the output" not in text


def test_softmax_share_callout_is_true_for_softmax() -> None:
    text = md("softmax")
    assert "with softmax every output of layer **o** depends on every net input" in text
    assert "the article" not in text


def test_old_share_keys_still_grade(tmp_path: Path) -> None:
    tr = _trace("softmax")
    share = tr.value("partial.dE_total/dnet_o1*dnet_o1/dout_h1")
    assert share == tr.value("delta.o1") * tr.value("partial.dnet_o1/dout_h1")
    answers = tmp_path / "a.toml"
    answers.write_text(f'"partial.dE_o1/dout_h1" = {share:.9f}\n', encoding="utf-8")
    g = grade(tr, read_answers(answers))
    assert g.all_right and g.verdicts[0].record.key == "partial.dE_total/dnet_o1*dnet_o1/dout_h1"
    # and the general spelling finds the article's key
    art = _trace("article")
    answers.write_text('"partial.dE_total/dnet_o1*dnet_o1/dout_h1" = 0.0553994\n', encoding="utf-8")
    g = grade(art, read_answers(answers))
    assert g.all_right and g.verdicts[0].record.key == "partial.dE_o1/dout_h1"


# ---------------------------------------------------------------- 2. the softmax Jacobian


@pytest.mark.parametrize("name", ["softmax", "softmax-mse"])
def test_softmax_jacobian_is_stated_and_worked(name: str) -> None:
    text = md(name)
    rule = r"\frac{\partial \mathrm{out}_{k}}{\partial \mathrm{net}_{j}} = \mathrm{out}_{k} \left(\delta_{kj} - \mathrm{out}_{j}\right)"
    assert text.count(rule) == 1
    assert "Kronecker delta" in text
    # delta_o1 worked as a sum over every output, the cross terms with their numbers
    tr = _trace(name)
    cross = tr.value("partial.dout_o2/dnet_o1")
    assert cross == pytest.approx(-tr.value("out.o2") * tr.value("out.o1"))
    assert (
        r"\frac{\partial E_{\mathrm{total}}}{\partial \mathrm{out}_{o2}} \frac{\partial \mathrm{out}_{o2}}{\partial \mathrm{net}_{o1}}"
        in text
    )
    assert f"{cross:.9f}".rstrip("0") in text
    assert "—" not in text  # the table shows the Jacobian instead of dashes
    assert r"J_{o} = \frac{\partial \mathbf{out}_{o}}{\partial \mathbf{net}_{o}}" in text  # J is defined


def test_softmax_cross_entropy_collapses_to_out_minus_target() -> None:
    text = md("softmax")
    assert "Why this is out − target." in text
    assert r"&= \mathrm{out}_{o1} - \mathrm{target}_{o1}" in text


# ---------------------------------------------------------------- 3. the rule boxes


def test_article_rule_box_is_the_article_merged_formula() -> None:
    text = md("article")
    merged = (
        r"\frac{\partial E_{\mathrm{total}}}{\partial w_{5}} = -\left(\mathrm{target}_{o1} - \mathrm{out}_{o1}\right)"
        r" \cdot \mathrm{out}_{o1} \cdot \left(1 - \mathrm{out}_{o1}\right) \cdot \mathrm{out}_{h1}"
    )
    assert merged in text
    assert (
        r"\left(\delta_{o1} \cdot w_{5} + \delta_{o2} \cdot w_{7}\right) \cdot \mathrm{out}_{h1} \cdot \left(1 - \mathrm{out}_{h1}\right) \cdot i_{1}"
        in text
    )
    assert text.count("The rule for layer") == 2
    assert "Many texts, the article included" in text


def test_rule_boxes_follow_each_layers_activation() -> None:
    text = md("deep")
    assert text.count("The rule for layer") == 3
    assert (
        r"\delta_{j} = f'\left(\mathrm{net}_{j}\right) \sum_{k} w_{kj} \, \delta_{k} = \left(1 - \mathrm{out}_{j}^{2}\right)"
        in text
    )  # tanh
    assert r"= \left[\mathrm{net}_{j} > 0\right] \sum_{k} w_{kj} \, \delta_{k}" in text  # ReLU
    assert r"\frac{\partial E_{\mathrm{total}}}{\partial b_{j}} = \delta_{j}" in text  # own biases
    assert "Many texts define δ with the opposite sign" in text and "the article" not in text
    assert (
        r"\boldsymbol{\delta}_{h} = \left(W_{r}^{\top} \boldsymbol{\delta}_{r}\right) \odot f'\left(\mathbf{net}_{h}\right)"
        in text
    )


def test_cross_entropy_rule_box_merges_to_a_difference() -> None:
    text = md("softmax")
    assert (
        r"\frac{\partial E_{\mathrm{total}}}{\partial w_{10}} = \left(\mathrm{out}_{o1} - \mathrm{target}_{o1}\right) \cdot \mathrm{out}_{h1}"
        in text
    )


# ---------------------------------------------------------------- 4. article asides


@pytest.mark.parametrize("name", [n for n in NETWORKS if n != "article"])
@pytest.mark.parametrize("lang", ["en", "zh"])
def test_only_the_article_speaks_of_the_article(name: str, lang: str) -> None:
    text = md(name, lang)
    for phrase in ("article", "Mazur", "English original", "原文", "文章", "三者相加", "0.75136079"):
        assert phrase not in text, phrase


@pytest.mark.parametrize("lang", ["en", "zh"])
def test_article_cites_its_sources_and_slips(lang: str) -> None:
    text = md("article", lang)
    for needle in (
        "A Step by Step Backpropagation Example",
        "前向传播(FP)和反向传播算法(BP)",
        "0.75136079",
        "0.291027924",
        "三者相加",
    ):
        assert needle in text, needle


# ---------------------------------------------------------------- 5. layer vocabulary


def test_layer_vocabulary() -> None:
    en, zh = md("deep"), md("deep", "zh")
    for phrase in ("input layer **x**", "hidden layer **h**", "hidden layer **r**", "output layer **o**"):
        assert phrase in en
    for phrase in ("输入层 **x**", "隐含层 **h**", "隐含层 **r**", "输出层 **o**"):
        assert phrase in zh


# ---------------------------------------------------------------- 9. counted nouns


def test_counts_read_naturally() -> None:
    one, two = md("net221"), md("article")
    assert "1 neuron, sigmoid" in one and "1 neurons" not in one
    assert "feeds the one neuron of layer **o**" in one and "along a single path:" in one
    assert "both neurons of layer **o**" in two and "all 2" not in two
    assert "Adding the two shares:" in two
    zh = md("article", "zh")
    assert "把两份相加" in zh and "2 份" not in zh and "2 个" not in zh
    assert "（两个神经元，sigmoid 函数）" in zh


# ---------------------------------------------------------------- 10. Chinese punctuation


@pytest.mark.parametrize("name", ["article", "deep", "softmax", "batch3", "hand"])
def test_chinese_prose_uses_full_width_punctuation(name: str) -> None:
    prose = _prose(md(name, "zh"))
    bad = re.findall(r"[\u4e00-\u9fff][,:;()]|[,:;(][\u4e00-\u9fff]", prose)
    assert not bad, bad

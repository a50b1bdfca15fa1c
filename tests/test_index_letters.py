"""The general rules index neurons with letters (w_ji, δ_j, Σ_k) that no layer of the network is
named: the article's input layer is i, and "the input a_i, here an input of layer i" used one letter
for two things. Such an index takes another letter, the same in both languages, and the report says
why once."""

from __future__ import annotations

import re
from typing import Any

import pytest

import bptrace

NOTE = {
    "en": "The index p stands where texts usually write i: here i is the name of a layer",
    "zh": "这里用下标 p 代替教材中常用的 i：本例中 i 是一层的名字",
}


def _md(spec: Any, lang: str) -> str:
    return bptrace.render(bptrace.trace(spec), "md", lang=lang, figures="files")


def _rules(md: str) -> str:
    """The text of the rule boxes, where the general indices live."""
    return "\n".join(
        re.findall(
            r"<details open markdown=\"1\">\n<summary>(?:The rule|[^<]*规律)[^<]*</summary>(.*?)</details>", md, re.S
        )
    )


@pytest.mark.parametrize("lang", ["en", "zh"])
def test_an_input_layer_named_i_moves_the_index_to_p(lang: str) -> None:
    md = _md("article", lang)  # layers i, h, o
    rules = _rules(md)
    assert rules, "no rule box found"
    assert "W_{ji}" not in md and "a_{i}" not in md
    assert r"\frac{\partial E_{\mathrm{total}}}{\partial W_{jp}} = \delta_{j} \, a_{p}" in rules
    if lang == "en":
        assert "the input $a_{p}$ the weight multiplies (here an input of layer **i**)" in rules
        assert "(here the output of neuron p of layer **h**)" in rules
        assert "neuron i of layer" not in md
    else:
        assert "这个权重所乘的输入 $a_{p}$（这里是 **i** 层的输入）" in rules
        assert "（这里是 **h** 层第 p 个神经元的输出）" in rules
    assert md.count(NOTE[lang]) == 1  # said once, in the first rule box
    # j and k name no layer here, so they stay
    assert r"\delta_{j} = f'\left(\mathrm{net}_{j}\right) \sum_{k} W_{kj} \, \delta_{k}" in rules


SOFTMAX_K: dict[str, Any] = {
    "title": "A hidden layer named k",
    "learning_rate": 0.5,
    "loss": "cross_entropy",
    "layers": [
        {"name": "x", "size": 2},
        {"name": "k", "size": 2, "activation": "tanh", "weights": [[0.1, 0.2], [-0.3, 0.4]], "bias": [0.0, 0.1]},
        {"name": "o", "size": 2, "activation": "softmax", "weights": [[0.5, -0.2], [0.3, 0.1]], "bias": [0.0, 0.0]},
    ],
    "samples": [{"input": [1.0, 0.5], "target": [1, 0]}],
}


@pytest.mark.parametrize("lang", ["en", "zh"])
def test_a_network_without_such_a_layer_keeps_i_j_k(lang: str) -> None:
    spec = {
        **SOFTMAX_K,
        "layers": [SOFTMAX_K["layers"][0], {**SOFTMAX_K["layers"][1], "name": "h"}, SOFTMAX_K["layers"][2]],
    }
    md = _md(spec, lang)  # layers x, h, o
    assert r"\frac{\partial E_{\mathrm{total}}}{\partial W_{ji}} = \delta_{j} \, a_{i}" in md
    assert "[k = j]" in md and r"\sum_{k} W_{kj} \, \delta_{k}" in md
    assert "The index" not in md and "这里用下标" not in md


@pytest.mark.parametrize("lang", ["en", "zh"])
def test_a_layer_named_k_moves_the_sum_index_and_the_softmax_bracket(lang: str) -> None:
    md = _md(SOFTMAX_K, lang)
    assert r"[p = j]" in md and "[k = j]" not in md
    assert r"\sum_{p} W_{pj} \, \delta_{p}" in md and r"\sum_{k}" not in md
    assert (
        r"\frac{\partial \mathrm{out}_{p}}{\partial \mathrm{net}_{j}} = \mathrm{out}_{p} \left([p = j] - \mathrm{out}_{j}\right)"
        in md
    )
    said = "where $[p = j]$ is 1 when $p = j$" if lang == "en" else "其中 $[p = j]$ 在 $p = j$ 时为 1"
    assert said in md
    hidden = "p runs over the neurons of layer **o**" if lang == "en" else "其中 p 取遍 **o** 层的神经元"
    assert hidden in md
    note = "The index p stands where texts usually write k" if lang == "en" else "这里用下标 p 代替教材中常用的 k"
    assert md.count(note) == 1

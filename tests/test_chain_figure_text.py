"""A chain-rule figure and the text beside it count the same factors: the text multiplies three, so an
output weight's figure draws three arrows, and a hidden weight's caption says which arrows of each path
make which factor. Checked on one output, several outputs, softmax and a deeper network, in both
languages."""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from functools import cache
from pathlib import Path

import pytest

import bptrace
import bptrace.reports

SPECS = Path(__file__).parent / "specs" / "teach"
NETWORKS = {
    "article": "article",  # two sigmoid outputs
    "one-output": str(SPECS / "net221.toml"),
    "softmax": "softmax",
    "deep": str(SPECS / "deep.toml"),  # 2-3-2-1: a hidden layer feeding a hidden layer
}
NS = "{http://www.w3.org/2000/svg}"


@cache
def _files(name: str, lang: str) -> dict[str, str]:
    return bptrace.reports.render_files(bptrace.trace(NETWORKS[name], iterations=1), ["md"], lang=lang)


def _arrows_and_texts(svg: str) -> tuple[int, list[str]]:
    root = ET.fromstring(svg)
    arrows = sum(1 for el in root.iter() if el.get("marker-end"))
    return arrows, ["".join(t.itertext()) for t in root.iter(NS + "text")]


def _caption(md: str, weight: str) -> str:
    m = re.search(rf"!\[([^\]]*)\]\(figures/chain-{weight}\.svg\)", md)
    assert m, weight
    return m.group(1)


def _chain_weights(files: dict[str, str]) -> list[str]:
    """The derived weights in the report's order: the output layer's first, then down the hidden layers."""
    return re.findall(r"figures/chain-(\w+)\.svg", files["report.md"])


@pytest.mark.parametrize("lang", ["en", "zh"])
@pytest.mark.parametrize("name", ["article", "one-output", "deep"])
def test_an_output_weight_draws_the_three_factors_the_text_multiplies(name: str, lang: str) -> None:
    files = _files(name, lang)
    md = files["report.md"]
    w = _chain_weights(files)[0]
    arrows, texts = _arrows_and_texts(files[f"figures/chain-{w}.svg"])
    assert arrows == 3
    assert not any(re.fullmatch(r"E[a-z]+\d+", t) for t in texts), texts  # no E_o1 node with a 4th arrow
    assert any(t.startswith("∂Etotal/∂out") for t in texts)  # the text's first factor, as one arrow
    section = md.split(f"figures/chain-{w}.svg")[1].split("figures/chain-")[0]
    assert ("Multiplying the three factors:" if lang == "en" else "三个因子相乘：") in section
    caption = _caption(md, w)
    assert ("one path of three arrows" if lang == "en" else "一条路径上有三个箭头") in caption


@pytest.mark.parametrize("lang", ["en", "zh"])
@pytest.mark.parametrize("name", ["article", "one-output", "softmax", "deep"])
def test_a_hidden_weight_caption_says_which_arrows_make_each_factor(name: str, lang: str) -> None:
    files = _files(name, lang)
    md = files["report.md"]
    for w in _chain_weights(files)[1:]:
        arrows, texts = _arrows_and_texts(files[f"figures/chain-{w}.svg"])
        paths = sum(t.startswith("δ") for t in texts)  # one δ arrow per neuron of the next layer
        assert paths >= 1 and arrows == 2 + 2 * paths
        caption = _caption(md, w)
        if paths == 1:
            assert ("one path of four arrows" if lang == "en" else "一条路径上有四个箭头") in caption
            assert ("multiply to the first factor" if lang == "en" else "相乘就是第一个因子") in caption
        else:
            assert ("one share of the first factor" if lang == "en" else "第一个因子的一项贡献") in caption
        assert ("the third and the second factor" if lang == "en" else "第三个和第二个因子") in caption
        section = md.split(f"figures/chain-{w}.svg")[1].split("figures/chain-")[0]
        assert ("Multiplying the three factors:" if lang == "en" else "三个因子相乘：") in section


@pytest.mark.parametrize("lang", ["en", "zh"])
def test_a_softmax_output_caption_builds_delta_from_the_paths(lang: str) -> None:
    files = _files("softmax", lang)
    w = _chain_weights(files)[0]
    arrows, texts = _arrows_and_texts(files[f"figures/chain-{w}.svg"])
    outputs = sum(t.startswith("∂Etotal/∂out") for t in texts)
    assert outputs == 3 and arrows == 1 + 2 * outputs
    caption = _caption(files["report.md"], w)
    assert ("one term of δ" if lang == "en" else "δ 的一项") in caption
    assert "three" not in caption and "三个" not in caption

"""Two networks unlike the article's, online over two samples: a one-input, one-output regression
with momentum and weight decay, and a softmax classifier with Adam. The words beside the numbers
must hold for them: no plurals or sums over a single neuron, no δ that a softmax row does not
have, no optimizer value passed off as old − η·gradient, and every English sentence in Chinese."""

from __future__ import annotations

import re
import tomllib
from typing import Any

import pytest

import bptrace
from bptrace.reports.env import BUILTIN_TEMPLATES
from bptrace.reports.lecture import Lecture

REGRESSION: dict[str, Any] = {
    "title": "One input, one output",
    "learning_rate": 0.2,
    "loss": "mse",
    "mode": "online",
    "iterations": 2,
    "optimizer": {"name": "momentum", "momentum": 0.5, "weight_decay": 0.01},
    "layers": [
        {"name": "x", "size": 1},
        {"name": "h", "size": 3, "activation": "tanh", "weights": [[0.5], [-0.8], [0.3]], "bias": [0.0, 0.2, -0.1]},
        {"name": "y", "size": 1, "activation": "linear", "weights": [[0.7, -0.2, 0.4]], "bias": [0.05]},
    ],
    "samples": [{"input": [0.5], "target": [0.3]}, {"input": [-1.0], "target": [-0.6]}],
}  # fmt: skip

CLASSIFIER: dict[str, Any] = {
    "title": "Two classes, online Adam",
    "learning_rate": 0.1,
    "loss": "cross_entropy",
    "mode": "online",
    "iterations": 2,
    "optimizer": {"name": "adam"},
    "layers": [
        {"name": "x", "size": 3},
        {"name": "h", "size": 3, "activation": "leaky_relu",
         "weights": [[0.2, -0.5, 0.1], [0.4, 0.3, -0.2], [-0.3, 0.2, 0.5]], "bias": [0.1, 0.0, -0.1]},
        {"name": "y", "size": 2, "activation": "softmax", "weights": [[0.6, -0.1, 0.3], [-0.4, 0.5, 0.2]], "bias": [0.0, 0.1]},
    ],
    "samples": [{"input": [1.0, 0.5, -1.0], "target": [1.0, 0.0]}, {"input": [-0.5, 1.0, 0.5], "target": [0.0, 1.0]}],
}  # fmt: skip


@pytest.fixture(scope="module")
def reports() -> dict[tuple[str, str], str]:
    out = {}
    for name, spec in (("regression", REGRESSION), ("classifier", CLASSIFIER)):
        tr = bptrace.trace(spec)
        for lang in ("en", "zh"):
            out[(name, lang)] = bptrace.render(tr, "md", lang=lang)  # type: ignore[arg-type]
    return out


def test_one_output_and_one_input_read_in_the_singular(reports: dict[tuple[str, str], str]) -> None:
    md = reports[("regression", "en")]
    assert "The output differs from the target:" in md
    assert "The only output neuron contributes half its squared miss, and that part alone is the total error." in md
    assert "the gradient of the bias of $y_{1}$, the only neuron of layer **y**, is simply its error signal" in md
    assert "here only $y_{1}$, so the sum has a single term" in md
    assert "Input -1, target -0.6;" in md and "Inputs -1" not in md
    for plural in ("The outputs differ", "the sum of those parts", "It collects one share from every neuron"):
        assert plural not in md, plural


def test_settings_name_each_symbol_and_momentum_starts_from_g(reports: dict[tuple[str, str], str]) -> None:
    md = reports[("regression", "en")]
    assert "momentum (momentum factor $\\mu = 0.5$, weight decay $\\lambda = 0.01$)" in md
    # with weight decay the first velocity is g = ∂E/∂w + λw, not the gradient of the error
    assert "so in step 1 it equals g, the step's gradient" in md and "it equals the gradient (" not in md
    # weight decay, which defines g, comes before the optimizer's rule that uses it
    assert md.index("That sum is g, the gradient the optimizer works with") < md.index("so in step 1 it equals g")
    zh = reports[("regression", "zh")]
    assert "动量系数 $\\mu = 0.5$" in zh and "权重衰减 $\\lambda = 0.01$" in zh
    assert "这个和就是优化器所用的梯度 g" in zh


def test_new_values_from_an_optimizer_say_so(reports: dict[tuple[str, str], str]) -> None:
    for name in ("regression", "classifier"):
        md = reports[(name, "en")]
        # a layer's table of gradients leaves new values to the optimizer's section and the table
        # of the step's updates, which show g, v or m beside them
        assert "| gradient | key |\n" in md and "| key | new |" not in md and "by the optimizer) |" not in md
        assert "Every parameter's update in step t = 2, each gradient worked out as for sample 1:" in md
    plain = bptrace.render(bptrace.trace("article"), "md")
    assert "| gradient | key | new |" in plain


def test_sample_2_tables_name_sample_2s_error(reports: dict[tuple[str, str], str]) -> None:
    md = reports[("classifier", "en")]
    sample2 = md.split("#### Sample 2", 1)[1]
    assert "$\\frac{\\partial E^{(2)}_{\\mathrm{total}}}{\\partial \\mathrm{out}}$" in sample2
    step2 = sample2.split("##### Step t = 2", 1)[1]
    assert "| parameter | key | old | $\\frac{\\partial E^{(2)}_{\\mathrm{total}}}{\\partial w}$ | $m^{(t)}$ |" in step2


def test_a_softmax_row_gives_delta_alone_not_as_two_factors(reports: dict[tuple[str, str], str]) -> None:
    md = reports[("classifier", "en")]
    sample2 = md.split("#### Sample 2", 1)[1]
    assert "a neuron of **y** (softmax) takes its δ from the whole layer" in sample2
    assert "the two factors whose product is its error signal δ:" not in sample2
    rows = dict(re.findall(r"^\| \$([a-z])_\{(?:\d)\}\$ \|(.*)$", sample2, flags=re.M))
    for line in re.findall(r"^\| \$y_\{\d\}\$ \|.*$", sample2, flags=re.M):
        cells = [c.strip() for c in line.split("|")[1:-1]]
        assert cells[3] == cells[4] == "" and cells[5] != "", line  # no ∂E/∂out, no ∂out/∂net: δ alone
    for line in re.findall(r"^\| \$h_\{\d\}\$ \|.*$", sample2, flags=re.M)[:3]:
        cells = [c.strip() for c in line.split("|")[1:-1]]
        assert cells[3] and cells[4], line  # a leaky ReLU neuron's δ is the product beside it
    assert rows
    zh = reports[("classifier", "zh")]
    assert "（softmax）的神经元，δ 取决于整层" in zh and "以及相乘得到误差项 δ 的两个因子" not in zh


def test_a_softmax_layer_finds_every_net_input_before_any_output(reports: dict[tuple[str, str], str]) -> None:
    md = reports[("classifier", "en")]
    forward = md.split("### 2.2", 1)[1].split("## 3.", 1)[0]
    nets = [re.search(rf"^\\mathrm{{net}}_{{y{k}}} &?=", forward, flags=re.M).start() for k in (1, 2)]  # type: ignore[union-attr]
    outs = [re.search(rf"^\\mathrm{{out}}_{{y{k}}} &?=", forward, flags=re.M).start() for k in (1, 2)]  # type: ignore[union-attr]
    assert max(nets) < forward.index("With every net input of **y** known, the outputs:") < min(outs)


def test_the_slides_say_where_the_input_and_the_biases_are() -> None:
    reg = Lecture(bptrace.reports.Report(bptrace.trace(REGRESSION), "en", None, _messages("en"))).build()[0]
    assert reg.sentence.startswith(
        "The input is on the left, each neuron&#x27;s own bias written just above the neuron,"
    )
    art = Lecture(bptrace.reports.Report(bptrace.trace("article"), "en", None, _messages("en"))).build()[0]
    assert art.sentence.startswith("The inputs are on the left, each layer&#x27;s bias written above the layer,")


def _messages(lang: str) -> dict[str, str]:
    from bptrace import reports

    return reports.messages(reports.make_env(), lang)


def test_every_english_sentence_has_a_chinese_one() -> None:
    """A key only English has would put English into a Chinese report (the catalogues merge)."""
    folder = BUILTIN_TEMPLATES / "i18n"
    en = tomllib.loads((folder / "en.toml").read_text(encoding="utf-8"))
    zh = tomllib.loads((folder / "zh.toml").read_text(encoding="utf-8"))
    assert sorted(set(en) - set(zh)) == []


def test_the_slides_give_every_term_of_a_softmax_delta_before_it() -> None:
    slides = Lecture(bptrace.reports.Report(bptrace.trace(CLASSIFIER), "en", None, _messages("en"))).build()
    keys = [s.key for s in slides]
    first_delta = keys.index("delta.y1")
    for k in ("partial.dE_total/dout_y1", "partial.dE_total/dout_y2", "partial.dout_y2/dnet_y1"):
        assert keys.index(k) < first_delta, k


def test_the_softmax_delta_slide_sums_the_factors_before_the_shortcut() -> None:
    slides = Lecture(bptrace.reports.Report(bptrace.trace(CLASSIFIER), "en", None, _messages("en"))).build()
    delta = next(s for s in slides if s.key == "delta.y1")
    text = " ".join(delta.equations)
    assert "∑" in text and text.index("∑") < text.index("target")  # the sum over the outputs, then out − target
    assert len(delta.equations) >= 5


def test_the_articles_shares_are_called_shares_on_the_slides() -> None:
    """∂E_o1/∂out_h1 is the part of the first factor that runs through o1, not a factor of its own."""
    slides = Lecture(bptrace.reports.Report(bptrace.trace("article"), "en", None, _messages("en"))).build()
    share = next(s for s in slides if s.key == "partial.dE_o1/dout_h1")
    assert share.sentence.startswith("One share of") and "runs through" in share.sentence

"""What the reports say, for networks other than the article's: symbols that exist for the case at
hand, the softmax Jacobian, the general rules, article asides only in the article's report, layer
vocabulary, counted nouns, and Chinese punctuation."""

from __future__ import annotations

import re
from functools import cache
from pathlib import Path
from typing import Any

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
    "relu-off": str(SPECS / "relu-off.toml"),
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
    assert (
        "Layer **r** is hidden: the error is measured at the output only, so its neurons have no error E of their own"
        in text
    )
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
    rule = r"\frac{\partial \mathrm{out}_{k}}{\partial \mathrm{net}_{j}} = \mathrm{out}_{k} \left([k = j] - \mathrm{out}_{j}\right)"
    assert text.count(rule) == 1
    assert "where $[k = j]$ is 1 when $k = j$" in text
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
        r"\delta_{j} = f'\left(\mathrm{net}_{j}\right) \sum_{k} W_{kj} \, \delta_{k} = \left(1 - \mathrm{out}_{j}^{2}\right)"
        in text
    )  # tanh
    assert r"= \left[\mathrm{net}_{j} > 0\right] \sum_{k} W_{kj} \, \delta_{k}" in text  # ReLU
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
    assert "feeds the one neuron of layer **o**" in one and "along a single path." in one
    # one output neuron: no sum over the outputs, no share from "every" neuron of the layer
    assert "The output differs from the target:" in one and "The outputs differ" not in one
    assert "that part alone is the total error" in one and "the sum of those parts" not in one
    assert "here only $o_{1}$, so the sum has a single term" in one
    assert "the single share $o_{1}$ passes back" in one and "It collects one share from every" not in one
    assert "both neurons of layer **o**" in two and "all 2" not in two
    assert "Adding the two shares:" in two
    zh = md("article", "zh")
    assert "把两项贡献相加" in zh and "2 项贡献" not in zh
    # a count in a list of layers is a numeral, as every other count is ("2 个输入", "3 个神经元")
    assert "（2 个神经元，sigmoid 函数）" in zh and "（两个" not in zh


# ---------------------------------------------------------------- 10. Chinese punctuation


@pytest.mark.parametrize("name", ["article", "deep", "softmax", "batch3", "hand"])
def test_chinese_prose_uses_full_width_punctuation(name: str) -> None:
    prose = _prose(md(name, "zh"))
    bad = re.findall(r"[\u4e00-\u9fff][,:;()]|[,:;(][\u4e00-\u9fff]", prose)
    assert not bad, bad


# ---------------------------------------------------------------- 6. the weight derived in full


def _derived_headings(text: str) -> list[str]:
    found = re.findall(r"^### 3\.\d+ .*?the weight w([₀-₉]+) in full$", text, flags=re.M)
    return [w.translate(str.maketrans("₀₁₂₃₄₅₆₇₈₉", "0123456789")) for w in found]


@pytest.mark.parametrize("name", sorted(NETWORKS))
def test_the_weight_derived_in_full_has_an_input(name: str) -> None:
    from bptrace.reports import Report
    from bptrace.reports.env import make_env, messages

    tr = _trace(name)
    rep = Report(tr, "en", None, messages(make_env(), "en"))
    for k in range(1, len(rep.layers)):
        w, n, step = rep.derived(k)
        assert rep.val(f"partial.dnet_{n}/d{w}", step) != 0, (k, w)
    assert len(_derived_headings(md(name))) == len(rep.layers) - 1


def test_a_zero_input_moves_the_derivation_to_the_next_weight() -> None:
    assert _derived_headings(md("batch-zero")) == ["5", "2"]  # i1 = 0 in sample 1: w2, not w1


def test_derive_chooses_the_weights(tmp_path: Path) -> None:
    text = bptrace.render(bptrace.trace("article", derive=["w2", "w6"]), "md")
    assert _derived_headings(text) == ["6", "2"]
    assert r"\frac{\partial \mathrm{net}_{h1}}{\partial w_{2}} = i_{2} = 0.1" in text


@pytest.mark.parametrize(
    ("derive", "message"),
    [
        (["w2", "w99"], "derive[1]: unknown weight 'w99'; this network's weights are w1 to w8"),
        (["w5", "w6"], "derive[1]: w5 and w6 are both in layer 'o': name one weight per layer"),
        ("w5", "derive: expected a list of weight names"),
    ],
)
def test_derive_is_validated(tmp_path: Path, derive: object, message: str, bp) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(bptrace.SpecError) as e:
        bptrace.load_spec("article", derive=derive)
    assert message in str(e.value)
    out = tmp_path / "out"
    arg = derive if isinstance(derive, str) else ",".join(derive)
    r = bp("run", "article", "--derive", arg, "-o", str(out))
    if isinstance(derive, list):
        assert r.code == 2 and r.err.count("\n") == 1 and message in r.err
        assert not out.exists()


# ---------------------------------------------------------------- 7. several samples


def test_online_run_shows_every_sample_and_the_numbers_it_quotes() -> None:
    text = md("online3")
    assert "#### Sample 2" in text and "#### Sample 3" in text
    assert "`sample3.update.w5`" in text and "`sample2.delta.h1`" in text
    tr = _trace("online3")
    assert tr.value("update.w5", 2) == pytest.approx(0.342299526, abs=1e-9)
    body, repeat = text.split("## 4. Repeat")
    before, after = f"{tr.history[0]:.9f}".rstrip("0"), f"{tr.final['total_error']:.9f}".rstrip("0")
    assert before in repeat.split("\n\n")[1] and after in repeat.split("\n\n")[1]
    assert re.search(rf"&= {re.escape(before)}\n", body)  # the iteration's mean, where it is computed
    assert re.search(rf"\) = {re.escape(after)}\n", repeat)  # the final mean, from its parts


def test_batch_run_names_its_keys_and_grades_the_mean(tmp_path: Path) -> None:
    text = md("batch3")
    tr = _trace("batch3")
    mean, first = tr.steps[-1].get("grad.w5").value, tr.steps[0].get("grad.w5").value
    for key in ("sample1.grad.w5", "batch.grad.w5", "batch.total_error", "batch.update.w5"):
        assert f"| `{key}` |" in text, key
    assert "| `grad.w5` |" not in text  # a batch report names the sample of every gradient
    assert r"\frac{\partial E^{(1)}_{\mathrm{total}}}{\partial w_{5}}" in text
    answers = tmp_path / "a.toml"
    answers.write_text(f'"batch.grad.w5" = {mean:.7f}\n"sample1.grad.w5" = {first:.7f}\n', encoding="utf-8")
    assert grade(tr, read_answers(answers)).all_right
    answers.write_text(f'"grad.w5" = {mean:.7f}\n', encoding="utf-8")  # the mean, under sample 1's key
    from bptrace.feedback import text_report

    report = text_report(grade(tr, read_answers(answers)))
    assert "redo this calculation" not in report and "the mean over the batch" in report


# ---------------------------------------------------------------- 8. repeat, final outputs, variant


def test_repeat_hint_names_the_readers_spec() -> None:
    assert "`bptrace run article --iterations 10000`" in md("article")
    assert "`bptrace run softmax --iterations 10000`" in md("softmax")
    for name in ("deep", "net221", "online3"):
        text = md(name)
        assert "`bptrace run SPEC --iterations 10000`" in text
        assert "bptrace run --iterations" not in text and "bptrace run article" not in text


def test_final_outputs_say_they_follow_the_update() -> None:
    assert "The outputs with the updated weights (a fresh forward pass after this iteration)" in md("article")
    many = bptrace.render(bptrace.trace("article", iterations=3), "md")
    assert "The outputs after the last update" in many


def test_variant_sentence_only_where_true() -> None:
    sentence = "used the weights into that layer as they were before this step's update"
    assert sentence in md("article")
    for name in ("batch3", "batch-zero", "hand", "xor"):
        assert sentence not in md(name), name


@pytest.mark.parametrize("name", ["article", "batch3", "hand"])
def test_appendix_letters_run_in_order(name: str) -> None:
    letters = re.findall(r"^## Appendix ([A-Z]):", md(name), flags=re.M)
    assert letters == [chr(ord("A") + k) for k in range(len(letters))] and letters


def test_batch_answer_key_grades_all_right(tmp_path: Path) -> None:
    from bptrace.exercises import answer_key

    tr = _trace("batch3")
    key = tmp_path / "answers.toml"
    key.write_text(answer_key(tr), encoding="utf-8")
    text = key.read_text(encoding="utf-8")
    assert '"sample1.grad.w5"' in text and '"batch.grad.w5"' in text and '\n"grad.w5"' not in text
    assert grade(tr, read_answers(key)).all_right


def test_chinese_catalogue_punctuation_is_full_width() -> None:
    import tomllib

    from bptrace.reports.env import BUILTIN_TEMPLATES

    zh = tomllib.loads((BUILTIN_TEMPLATES / "i18n" / "zh.toml").read_text(encoding="utf-8"))
    en = tomllib.loads((BUILTIN_TEMPLATES / "i18n" / "en.toml").read_text(encoding="utf-8"))
    bad = {}
    for key, text in zh.items():
        prose = re.sub(r"\{\w+\}", "X", _prose(text))
        found = re.findall(r"[\u4e00-\u9fff][,:;()!?]|[,:;(!?][\u4e00-\u9fff]", prose)
        if found:
            bad[key] = found
    assert not bad
    # every sentence of the English catalogue has its Chinese
    missing = [k for k in en if k not in zh]
    assert not missing, missing


def test_matrix_form_network_defines_its_jacobian() -> None:
    import json

    spec = json.loads((Path(__file__).parent / "specs" / "large-784-128-10.json").read_text(encoding="utf-8"))
    spec["loss"] = "mse"
    text = bptrace.render(bptrace.trace(spec), "md")
    assert r"\boldsymbol{\delta}_{o} = J_{o}^{\top}" in text
    assert r"J_{o} = \frac{\partial \mathbf{out}_{o}}{\partial \mathbf{net}_{o}} = \operatorname{diag}" in text


@pytest.mark.parametrize(
    "overrides",
    [{"rounding": "hand:4"}, {"optimizer": {"name": "adam"}}, {"update_biases": True}, {"learning_rate": 0.4}],
)
def test_a_changed_article_is_no_longer_the_article(overrides: dict) -> None:  # type: ignore[type-arg]
    text = bptrace.render(bptrace.trace("article", **overrides), "md")
    assert "Mazur" not in text and "the article" not in text and "bptrace run article --iterations" not in text


def test_the_article_stays_the_article_with_more_iterations_or_its_variant() -> None:
    for overrides in ({"iterations": 3}, {"hidden_delta_weights": "updated"}, {"derive": ["w2", "w6"]}):
        assert "Mazur" in bptrace.render(bptrace.trace("article", **overrides), "md")


# ---------------------------------------------------------------- 9. one word per idea, the loss as used


@pytest.mark.parametrize("name", ["deep", "softmax", "batch3", "article"])
def test_chinese_error_term_means_delta_only(name: str) -> None:
    # 误差项 is the textbook word for δ: it never names an output's part of the loss, and no
    # sentence denies a hidden layer the δ it has just been given
    text = md(name, "zh")
    assert "误差项" in text
    for sentence in re.split(r"[。：]", _prose(text)):
        if "误差项" in sentence:
            assert "没有" not in sentence and "总误差是" not in sentence and "单个输出" not in sentence, sentence
    assert "误差信号" not in text


@pytest.mark.parametrize(
    ("overrides", "en", "zh"),
    [
        # a 2-2-1 network: its one output's half squared error, no sum over outputs
        ({}, "half the squared error, $E = \\frac{1}{2} (\\mathrm{target} - \\mathrm{out})^2$", "平方误差的一半，$E"),
        (
            {"loss_options": {"reduction": "half_sum"}},
            "half the squared error, $E = \\frac{1}{2} (\\mathrm{target} - \\mathrm{out})^2$",
            "平方误差的一半，$E",
        ),
        ({"loss_options": {"reduction": "sum"}}, "squared error without the ½", "平方误差（不带 ½）"),
        ({"loss_options": {"reduction": "mean"}}, "mean squared error over the K outputs", "均方误差"),
    ],
)
def test_loss_name_follows_its_reduction(overrides: dict, en: str, zh: str) -> None:  # type: ignore[type-arg]
    tr = bptrace.trace(NETWORKS["net221"], iterations=1, **overrides)
    assert f"- loss: {en}" in bptrace.render(tr, "md", figures="files")
    setting = next(x for x in bptrace.render(tr, "md", lang="zh", figures="files").splitlines() if "损失函数：" in x)
    assert zh in setting
    assert ("均方误差" in setting) == (overrides.get("loss_options", {}).get("reduction") == "mean")


def test_cross_entropy_setting_shows_only_the_form_in_use() -> None:
    for lang, word in (("en", "- loss: cross-entropy, "), ("zh", "- 损失函数：交叉熵，")):
        line = next(x for x in md("softmax", lang).splitlines() if x.startswith(word))
        assert "sigmoid" not in line and "1 - \\mathrm{target}" not in line, line
    binary = bptrace.render(bptrace.trace(NETWORKS["net221"], iterations=1, loss="cross_entropy"), "md")
    line = next(x for x in binary.splitlines() if x.startswith("- loss: "))
    # one output: its own term, no sum over k
    assert line.startswith("- loss: binary cross-entropy (the sigmoid output") and "(1 - \\mathrm{target})" in line
    assert "\\sum_k" not in line


@pytest.mark.parametrize("lang", ["en", "zh"])
def test_batch_report_says_it_works_sample_1_and_updates_with_the_mean(lang: str) -> None:
    text = md("batch3", lang)
    forward = text.split("\n## 2.")[1].split("\n### ")[0]
    assert ("sample 1 in full" if lang == "en" else "完整演算样本 1") in forward
    assert (
        r"W_{jp}^{+} = W_{jp} - \eta \, \frac{1}{N} \sum_{n=1}^{N} \frac{\partial E^{(n)}_{\mathrm{total}}}{\partial W_{jp}}"
        in text
    )
    assert ("mean gradient over the batch" if lang == "en" else "整批梯度的平均值") in text
    keys = text.split("`bptrace check`")[-1].split("\n\n")[0]  # the keys appendix, the last to name it
    assert "each key names its sample" not in keys and "每个键都注明所属样本" not in keys
    assert "`delta.o1`" in keys and ("sample 1's values" if lang == "en" else "是样本 1 的数值") in keys
    assert "。 " not in _prose(text)  # a Chinese sentence follows the last with no gap
    online = md("online3", lang)
    assert ("sample 1 in full" if lang == "en" else "完整演算样本 1") in online
    assert r"\frac{1}{N}" not in online
    assert "sample 1 in full" not in md("article") and "完整演算样本 1" not in md("article", "zh")


@pytest.mark.parametrize("name", ["deep", "article", "batch3"])
def test_the_input_a_weight_multiplies_is_not_called_x(name: str) -> None:
    text = md(name)
    assert r"\delta_{j} \, x_{i}" not in text and r"\delta \cdot x$" not in text
    # the index is i unless a layer has that name (the article's and batch3's inputs are i)
    letter = "p" if "**i**" in text else "i"
    assert f"the input $a_{{{letter}}}$ the weight multiplies" in text
    assert r"\mathbf{x}_{" not in text


@pytest.mark.parametrize("lang", ["en", "zh"])
def test_softmax_defines_delta_before_using_it_and_no_second_delta(lang: str) -> None:
    text = md("softmax", lang)
    definition = r"$\delta_{o1} = \partial E_{\mathrm{total}} / \partial \mathrm{net}_{o1}$"
    assert definition in text
    assert text.index(definition) < text.index(r"\delta_{o1} \cdot \frac{\partial \mathrm{net}_{o1}}")
    assert r"\delta_{kj}" not in text and r"\delta_{k," not in text and "克罗内克" not in text
    assert r"\left([k = o1] - \mathrm{out}_{o1}\right)" in text


@pytest.mark.parametrize("lang", ["en", "zh"])
def test_a_switched_off_relu_is_said_and_not_chosen_for_the_derivation(lang: str) -> None:
    """A derivation that multiplies out to 0 shows little: the layer's weight worked in full is one
    whose gradient is not 0, and the neuron that is off is said to be off beside it."""
    tr = _trace("relu-off")
    assert tr.value("partial.dout_g1/dnet_g1") == 0.0 and tr.value("grad.w7") == 0.0
    text = md("relu-off", lang)
    assert "the weight w₁₀ in full" in text or "权重 w₁₀" in text
    said = "is switched off in this sample" if lang == "en" else "在这个样本中处于关闭状态"
    assert text.count(said) == 1


@pytest.mark.parametrize("name", ["softmax", "deep", "article"])
def test_chinese_prose_has_no_tool_jargon(name: str) -> None:
    prose = _prose(md(name, "zh"))
    for word in ("记录值", "记录下的", "记录的梯度", "bptrace 就按", "spec 文件", "你的 spec"):
        assert word not in prose, word
    assert "反向传播值" in prose


@pytest.mark.parametrize("lang", ["en", "zh"])
def test_repeat_section_does_not_call_a_large_step_small(lang: str) -> None:
    # one step can nearly halve the error (a softmax network with large weights), so no report calls it small
    assert "One step is small" not in md("softmax", lang) and "一步的改进很小" not in md("softmax", lang)


def _matrix_section(name: str, lang: str = "en") -> str:
    summary = "<summary>For readers who are ready for it" if lang == "en" else "<summary>供有兴趣的读者"
    return md(name, lang).split(summary)[1].split("</details>")[0]


@pytest.mark.parametrize("lang", ["en", "zh"])
def test_column_of_ones_is_defined_only_where_a_formula_uses_it(lang: str) -> None:
    ones = "$\\mathbf{1}$ is a column of ones" if lang == "en" else "记号 $\\mathbf{1}$ 表示元素全为 1 的列向量"
    # every neuron of the deep network has its own bias, and the softmax network keeps its biases
    # fixed: no formula of theirs sums a layer's δ with 1
    for name in ("deep", "softmax"):
        section = _matrix_section(name, lang)
        assert r"\mathbf{1}" not in section, name
    # the batch network learns shared biases: their gradient is 1ᵀδ, and 1 is defined once
    batch = _matrix_section("batch3", lang)
    # (one sample's, marked (n), as every line of a batch's matrix form)
    assert (
        r"\frac{\partial E^{(n)}_{\mathrm{total}}}{\partial b_{1}} = \mathbf{1}^{\top} \boldsymbol{\delta}^{(n)}_{h}"
        in batch
    )
    assert batch.count(ones) == 1


@pytest.mark.parametrize("lang", ["en", "zh"])
def test_softmax_is_introduced_as_a_layer_wide_activation(lang: str) -> None:
    soft, deep = md("softmax", lang), md("deep", lang)
    neuronwise = (
        "each neuron adds up its weighted inputs and a bias, then applies its activation function"
        if lang == "en"
        else "每个神经元把加权输入与偏置相加，再经过激活函数"
    )
    layerwide = (
        "softmax, the activation of layer **o**, acts on the whole layer"
        if lang == "en"
        else "而 **o** 层的 softmax 函数作用于整层"
    )
    forward_layer = "softmax, a layer-wide activation" if lang == "en" else "softmax 函数，它作用于整层"
    case = soft.split("\n## 1.")[1].split("\n## 2.")[0]
    assert neuronwise not in soft and layerwide in case and soft.count(layerwide) == 1
    # the output layer's forward section says it again where softmax is computed
    output_forward = soft.split("\n### 2.2")[1].split("\n## 3.")[0]
    assert forward_layer in output_forward
    assert forward_layer not in soft.split("\n### 2.2")[0]
    # a network without softmax keeps the neuron-by-neuron sentence
    assert neuronwise in deep and "layer-wide" not in deep and "作用于整层" not in deep


@pytest.mark.parametrize("lang", ["en", "zh"])
def test_a_layers_neuron_table_does_not_call_the_worked_neuron_other(lang: str) -> None:
    text = md("deep", lang)
    assert "The other neurons" not in text and "其他神经元" not in text
    if lang == "en":
        head = r"All neurons of layer \*\*(\w)\*\* get their error signals the same way \(\$(\w)_\{(\d)\}\$ is the one worked out above\):"
    else:
        head = r"\*\*(\w)\*\* 层各神经元的误差项都按同样方法求得（其中 \$(\w)_\{(\d)\}\$ 已在上面详细推导）："
    assert re.findall(head, text) == [("r", "r", "1"), ("h", "h", "1")]
    for layer in ("r", "h"):  # the worked neuron's row is in its layer's table
        assert (
            f"`delta.{layer}1`"
            in text.split(f"All neurons of layer **{layer}**" if lang == "en" else f"**{layer}** 层各神经元")[1]
        )
    # derived through the second neuron of each layer, the heading names that neuron
    chosen = bptrace.render(bptrace.trace(NETWORKS["deep"], iterations=1, derive=["w10", "w4"]), "md", lang=lang)
    assert [m[1:] for m in re.findall(head, chosen)] == [("r", "2"), ("h", "2")]


@pytest.mark.parametrize("lang", ["en", "zh"])
def test_batch_report_marks_sample_1_symbols_and_keeps_plain_ones_for_the_batch(lang: str) -> None:
    text = md("batch3", lang)
    heading = "Averaging over the batch" if lang == "en" else "对整批样本求平均"
    worked, batch = text.split("\n## 2.")[1].split(heading)
    worked = worked.split("\n## 3.")[0] + worked.split("\n## 3.")[1].rsplit("\n### ", 1)[0]
    # sample 1's values carry (1): outputs, net inputs, errors, error signals, inputs and targets
    for sym in (r"\mathrm{out}^{(1)}_{h1}", r"\mathrm{net}^{(1)}_{o1}", r"E^{(1)}_{o1}", r"\delta^{(1)}_{o1}",
                r"\delta^{(1)}_{h1}", r"i^{(1)}_{2}", r"\mathrm{target}^{(1)}_{o1}",
                r"\frac{\partial E^{(1)}_{\mathrm{total}}}{\partial \mathrm{out}^{(1)}_{o1}}"):  # fmt: skip
        assert sym in worked, sym
    # and no unmarked symbol of a per-sample quantity is left in the worked sample
    # (the partials' own numerators and denominators included: ∂out^(1)_h1/∂net^(1)_h1)
    for bare in (r"\mathrm{out}_{h1}", r"\mathrm{net}_{o1}", r"E_{o1}", r"\delta_{o1}", r"\delta_{h1}",
                 r"i_{2} =", r"\frac{\partial E_{\mathrm{total}}}{\partial \mathrm{out}"):  # fmt: skip
        assert bare not in worked, bare
    # the batch's error is E_batch, the mean of the samples' totals (not a total itself)
    assert (
        r"E_{\mathrm{batch}} &= \frac{1}{3} \left(E^{(1)}_{\mathrm{total}} + E^{(2)}_{\mathrm{total}} + "
        r"E^{(3)}_{\mathrm{total}}\right)" in batch
    )
    assert r"w_{5}^{+} = w_{5} - \eta \cdot \frac{\partial E_{\mathrm{batch}}}{\partial w_{5}}" in batch
    keys = batch.split("`bptrace check`")[1]
    assert r"| `delta.o1` | $\delta^{(1)}_{o1}$ |" in keys and r"| `out.h1` | $\mathrm{out}^{(1)}_{h1}$ |" in keys
    assert r"| `batch.total_error` | $E_{\mathrm{batch}}$ |" in keys
    assert r"| `batch.grad.w5` | $\frac{\partial E_{\mathrm{batch}}}{\partial w_{5}}$ |" in keys
    assert ("their symbols carry the mark (1)" if lang == "en" else "它们的符号都带上标 (1)") in keys
    # the §1 table of samples heads its target column without a sample mark
    assert r"| sample | $i_{1}$ | $i_{2}$ | $\mathrm{target}_{o1}$ |" in md("batch3")


def test_online_report_marks_no_sample_1_symbol() -> None:
    text = md("online3")
    assert r"\mathrm{out}_{h1}" in text and r"\delta_{o1}" in text
    assert r"\mathrm{out}^{(1)}" not in text and r"\delta^{(1)}" not in text


RELU_SIG: dict[str, Any] = {
    "title": "Two hidden layers: ReLU, then sigmoid",
    "learning_rate": 0.5,
    "loss": "mse",
    "layers": [
        {"name": "x", "size": 2},
        {
            "name": "r",
            "size": 3,
            "activation": "relu",
            "weights": [[0.4, -0.2], [-0.5, 0.3], [0.2, 0.6]],
            "bias": [0.1, 0.0, -0.1],
        },
        {
            "name": "s",
            "size": 3,
            "activation": "sigmoid",
            "weights": [[0.3, -0.1, 0.2], [0.5, 0.4, -0.3], [-0.2, 0.1, 0.6]],
            "bias": [0.0, 0.1, -0.1],
        },
        {"name": "o", "size": 1, "activation": "sigmoid", "weights": [[0.7, -0.5, 0.4]], "bias": 0.2},
    ],
    "samples": [{"input": [0.6, 0.9], "target": [0.8]}],
}


@pytest.mark.parametrize("lang", ["en", "zh"])
def test_a_switched_off_relu_beside_the_derived_path_explains_its_zeros(lang: str) -> None:
    """r2's net input is -0.03: its output, slope and δ are 0, and so are the gradients of the
    weights out of it (w8, w11, w14, met a section earlier) and into it; the report says why once."""
    tr = bptrace.trace(RELU_SIG)
    assert tr.value("net.r2") < 0 and tr.value("delta.r2") == 0.0
    assert tr.value("grad.w8") == tr.value("grad.w11") == tr.value("grad.w14") == 0.0
    text = bptrace.render(tr, "md", lang=lang, figures="files")
    if lang == "en":
        said = "$r_{2}$ is switched off in this sample: its net input is not above 0"
        assert "so does every weight out of it ($w_{8}$, $w_{11}$, $w_{14}$ in layer **s** above)" in text
    else:
        said = "$r_{2}$ 在这个样本中处于关闭状态：它的净输入不大于 0"
        assert "（上文 **s** 层的 $w_{8}$、$w_{11}$、$w_{14}$）梯度也是 0" in text
    assert text.count(said) == 1
    # said after layer r's table of δ, where the zeros stand
    assert text.index(said) > text.index("| $r_{2}$ |")
    # a network whose ReLU neurons are all on says nothing of the kind
    on = {**RELU_SIG, "samples": [{"input": [0.5, 1.0], "target": [0.8]}]}
    assert bptrace.trace(on).value("net.r2") > 0
    assert "switched off in this sample" not in bptrace.render(bptrace.trace(on), "md", figures="files")

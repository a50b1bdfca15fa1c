"""Words that must hold for networks unlike the article's: XOR through a ReLU layer whose first
sample has all-zero inputs, a wide run that diverges, and the exercise sheet of an optimizer."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import bptrace
from bptrace import exercises, numfmt
from bptrace.reports import Report, make_env, messages

XOR: dict[str, Any] = {
    "title": "XOR with two hidden layers",
    "learning_rate": 0.5,
    "loss": "cross_entropy",
    "mode": "batch",
    "iterations": 5,
    "layers": [
        {"name": "x", "size": 2},
        {"name": "h", "size": 3, "activation": "relu", "weights": [[0.5, -0.4], [0.3, 0.6], [-0.7, 0.2]], "bias": 0.1},
        {"name": "g", "size": 2, "activation": "tanh", "weights": [[0.4, -0.6, 0.3], [-0.2, 0.5, 0.7]], "bias": [0.0, -0.1]},
        {"name": "y", "size": 1, "activation": "sigmoid", "weights": [[0.8, -0.5]], "bias": 0.05},
    ],
    "samples": [
        {"input": [0.0, 0.0], "target": [0]}, {"input": [0.0, 1.0], "target": [1]},
        {"input": [1.0, 0.0], "target": [1]}, {"input": [1.0, 1.0], "target": [0]},
    ],
}  # fmt: skip


def _md(spec: Any, lang: str = "en") -> str:
    return bptrace.render(bptrace.trace(spec), "md", lang=lang, figures="files")  # type: ignore[arg-type]


def test_a_layer_is_derived_where_its_gradient_is_not_zero_with_that_samples_pass_first() -> None:
    tr = bptrace.trace(XOR)
    rep = Report(tr, "en", None, messages(make_env(), "en"))
    w, neuron, step = rep.derived(1)
    # sample 1's inputs are 0; in sample 2 h1 is switched off (w2's gradient 0), h2 is on
    sample2 = tr.steps[1]
    assert sample2.sample == 2 and sample2.get("grad.w2").value == 0 and sample2.get("grad.w4").value != 0
    assert (w, neuron, step.sample) == ("w4", "h2", 2)
    md = _md(XOR)
    section = md.split("the weight w₄ in full", 1)[1].split("\n### ", 1)[0]
    assert "In the first sample every weight gradient of this layer is 0" in section
    # sample 2's pass, with the δ the shares use, comes before them
    table = section.index("| $g_{1}$ | -0.33 | -0.318520777 |")
    assert table < section.index("Through $g_{1}$: the share")
    assert "The one exception is the derivation of $w_{4}$" in md
    assert "(The derivation of $w_{4}$ above used sample 2, as its section says; the rest is sample 1's.)" in md
    assert "used sample" not in _md("article")
    assert "我们" not in _md(XOR, "zh") and "唯一的例外是 $w_{4}$ 的推导" in _md(XOR, "zh")


def test_float_remainders_of_an_exact_zero_are_written_zero() -> None:
    assert numfmt.text(-1.3877787807814457e-17) == "0" and numfmt.latex(7e-18) == "0"
    assert numfmt.plain(-1.3877787807814457e-17) == "-1.38777878e-17"  # a program reads what was computed
    md = _md(XOR)
    # -0.02 + 0.05 + 0.07 - 0.1 is 0; float64 leaves -1.4e-17
    assert "&= 0\n" in md and "10^{-17}" not in md and "10⁻¹⁷" not in md.replace("5.6×10⁻¹⁷", "")
    assert "- tiny values: a value below 10⁻¹⁵ in size is written 0" in md
    assert "tiny values" not in _md("article")


def test_a_run_that_diverges_says_so_and_names_the_clipping() -> None:
    wide: dict[str, Any] = json.loads(json.dumps(XOR))
    wide.update(loss="cross_entropy", learning_rate=40.0, iterations=6)
    md = _md(wide)
    tr = bptrace.trace(wide)
    assert tr.final["total_error"] > tr.history[0]
    assert "The error ended higher than it started: this run did not converge." in md
    assert ("Cross-entropy takes the ln of an output clipped" in md) == (max(tr.history) * 4 >= 34.5)
    plain = _md("article")
    assert "did not converge" not in plain and "clipped" not in plain


def test_the_network_figure_caption_says_which_weights_it_shows() -> None:
    wide: dict[str, Any] = json.loads(json.dumps(XOR))
    wide["layers"][1] = {"name": "h", "size": 9, "activation": "relu", "weights": [[0.1, -0.1]] * 9, "bias": 0.1}
    wide["layers"][2]["weights"] = [[0.1] * 9, [-0.1] * 9]
    md = _md(wide)
    assert "![The network with its biases and the weights of its smaller layers (every weight is in the table" in md
    assert "![The network with its initial weights and biases]" in _md(XOR)


def test_a_sheet_gives_the_optimizers_rules_and_its_answer_opens_with_the_values_asked(tmp_path: Path) -> None:
    spec = json.loads(json.dumps(XOR)) | {"mode": "online", "optimizer": {"name": "adam", "weight_decay": 0.01}}
    exercises.make_set(spec, tmp_path, 1, seed=3, jobs=1)
    question = (tmp_path / "students" / "001" / "question.md").read_text(encoding="utf-8")
    assert "The update is Adam, with weight decay on every parameter the run updates" in question
    assert r"g_{p} &= \frac{\partial E_{\mathrm{total}}}{\partial p} + \lambda \cdot p" in question
    assert r"\hat{m}^{(t)}_{p} &= \frac{m^{(t)}_{p}}{1 - \beta_{1}^{t}}" in question
    assert "Every quantity marked (t − 1) is 0 before the first step." in question
    assert (
        r"$\delta = \partial E_{\mathrm{total}} / \partial \mathrm{net}$ (some books use the opposite sign)" in question
    )
    assert '`"net.h1" = 0.1234` (with your own value)' in question and "out.o1" not in question
    assert "PyTorch" not in question  # the report's aside on PyTorch's conventions is not for a sheet
    answer = (tmp_path / "teachers" / "001" / "answer.md").read_text(encoding="utf-8")
    head = answer.split("## 1.", 1)[0]
    assert "**The answers to the question sheet, worked out below:**" in head
    tr = bptrace.trace(tmp_path / "teachers" / "001" / "spec.json")
    asked = exercises.asked_keys(tr)
    assert asked and head.count("\n| `") == len(asked)
    for key in asked:  # the default sheet asks for sample 1's values
        assert f"| `{key}` |" in head and f"| {numfmt.text(tr.steps[0].get(key).value)} |\n" in head, key


def test_the_slides_say_when_the_step_they_show_raised_the_error() -> None:
    from bptrace.reports import render_files

    wide: dict[str, Any] = json.loads(json.dumps(XOR))
    wide.update(learning_rate=40.0, iterations=2)
    tr = bptrace.trace(wide)
    batch = next(s for s in tr.steps if s.sample is None)  # the step that combines the batch
    assert tr.first_update is not None and tr.first_update["total_error"] > batch.get("total_error").value
    slides = render_files(tr, ["lecture"])["lecture.html"]
    assert "before the update it was" in slides and "so this step overshot" in slides
    assert "overshot" not in render_files(bptrace.trace("article"), ["lecture"])["lecture.html"]


def test_a_long_sum_on_a_slide_goes_on_at_its_signs() -> None:
    from bptrace.reports import linebreak
    from bptrace.reports.lecture import SLIDE_BUDGET, Lecture

    wide: dict[str, Any] = json.loads(json.dumps(XOR))
    wide["layers"][2] = {"name": "g", "size": 6, "activation": "tanh", "weights": [[0.1, -0.2, 0.3]] * 6, "bias": 0.0}
    wide["layers"][3]["weights"] = [[0.3, -0.2, 0.1, 0.4, -0.5, 0.2]]
    tr = bptrace.trace(wide)
    slide = next(s for s in Lecture(Report(tr, "en", None, messages(make_env(), "en"))).build() if s.key == "net.y1")
    assert len(slide.equations) > 3  # the symbols and the numbers each continue on a line of their own
    numbers = tr.steps[0].get("net.y1").substituted.split(" = ", 1)[1]
    assert linebreak.width(numbers) > SLIDE_BUDGET
    article = Lecture(Report(bptrace.trace("article"), "en", None, messages(make_env(), "en"))).build()
    assert all(len(s.equations) <= 3 for s in article if s.key.startswith("net."))  # short sums stay whole


def test_the_answer_key_speaks_the_sets_language(tmp_path: Path) -> None:
    exercises.make_set("article", tmp_path / "zh", 1, lang="zh", jobs=1)
    first = (tmp_path / "zh" / "teachers" / "001" / "answers.toml").read_text(encoding="utf-8").splitlines()[0]
    assert first.startswith("# ") and "的答案：bptrace check spec.json answers.toml" in first
    exercises.make_set("article", tmp_path / "en", 1, jobs=1)
    first = (tmp_path / "en" / "teachers" / "001" / "answers.toml").read_text(encoding="utf-8").splitlines()[0]
    assert first.startswith("# The answer key of ") and first.endswith(": bptrace check spec.json answers.toml")

"""A ReLU layer into softmax, full batch, three significant figures: one sample's net input lands
exactly on ReLU's kink, and the words say so instead of calling the gradients wrong."""

from __future__ import annotations

from typing import Any

import pytest

import bptrace
from bptrace.reports import render_files

SPEC: dict[str, Any] = {
    "learning_rate": 0.5,
    "loss": "cross_entropy",
    "iterations": 3,
    "mode": "batch",
    "rounding": "sig:3",
    "layers": [
        {"name": "x", "size": 3},
        {"name": "h", "size": 4, "activation": "relu",
         "weights": [[0.2, -0.4, 0.1], [0.5, 0.3, -0.2], [-0.3, 0.2, 0.4], [0.1, 0.1, 0.1]],
         "bias": [0.0, 0.1, -0.1, 0.05]},
        {"name": "o", "size": 3, "activation": "softmax",
         "weights": [[0.3, -0.2, 0.5, 0.1], [-0.4, 0.6, 0.2, -0.1], [0.2, 0.1, -0.3, 0.4]], "bias": [0.0, 0.0, 0.0]},
    ],
    "samples": [
        {"input": [1.0, 0.0, 2.0], "target": [1.0, 0.0, 0.0]},
        {"input": [0.0, 1.0, 1.0], "target": [0.0, 1.0, 0.0]},
        {"input": [2.0, 1.0, 0.0], "target": [0.0, 0.0, 1.0]},  # 0.2·2 − 0.4·1 + 0 = 0: net_h1 on the kink
    ],
}  # fmt: skip


@pytest.fixture(scope="module")
def md() -> dict[str, str]:
    tr = bptrace.trace(SPEC)
    return {lang: render_files(tr, ["md"], lang=lang)["report.md"] for lang in ("en", "zh")}


def test_a_check_that_fails_on_the_kink_says_why(md: dict[str, str]) -> None:
    en, zh = md["en"], md["zh"]
    gradcheck = en.split("## Appendix A", 1)[1].split("## Appendix B", 1)[0]
    assert "are not the exact gradient" not in gradcheck
    assert r"and it is no fault of the gradients: $\mathrm{net}^{(3)}_{h1}$ is exactly 0, the kink of ReLU" in gradcheck
    assert "the slope the rule gives at 0 ($f'(0) = 0$)" in gradcheck
    assert "here they are $w_{1}$, $w_{2}$, $b_{h1}$." in gradcheck  # w3 multiplies sample 3's input 0
    assert "larger than 1" not in gradcheck  # no parameter here is, so the step is Δ for each
    assert r"$\mathrm{net}^{(3)}_{h1}$ 恰好等于 0，正落在 ReLU 函数的折点上" in zh


def test_switched_off_neurons_of_the_other_samples_are_explained(md: dict[str, str]) -> None:
    appendix = md["en"].split("## Appendix B", 1)[1]
    assert "$h_{1}$ is switched off in this sample: its net input is not above 0" in appendix.split("### Sample 3")[0]
    assert "exactly 0" not in appendix.split("### Sample 3")[0]  # sample 2's h1 is below 0, not on the kink
    third = appendix.split("### Sample 3")[1]
    assert r"Here $\mathrm{net}^{(3)}_{h1}$ is exactly 0, on ReLU's kink, where the slope is taken as 0" in third


def test_every_number_keeps_three_figures(md: dict[str, str]) -> None:
    en = md["en"]
    assert "(0.3565 becomes 0.357 at 3 figures, -0.1695 becomes -0.170)" in en
    # the sum over the softmax outputs is one formula, rounded once at its result
    assert "&= -0.609\n" in en and "0.60928" not in en
    assert (
        "Over 3 iterations, the error measured at the start of each iteration (before its update) went from 1.06 in "
        "the first to 0.720 in the last; after the last update, a fresh forward pass with the final weights gives 0.607."
    ) in en


def test_section_4_says_which_samples_are_still_misclassified(md: dict[str, str]) -> None:
    # sample 2's target is o2, but after 3 iterations its outputs are 0.407 (o1) and 0.385 (o2)
    repeat = md["en"].split("## 4.", 1)[1].split("## Appendix", 1)[0]
    assert "the largest output picks the target's class for 2 of the 3 samples; not yet for sample 2." in repeat
    assert "3 个样本中有 2 个的最大输出落在目标类别上；样本 2 还没有。" in md["zh"]

"""Hand rounding: every intermediate value carried at 4 decimals, as with a calculator."""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal

import pytest
from hypothesis import example, given
from hypothesis import strategies as st

import bptrace

# Worked by hand on the article's network, rounding every written value to 4 places (half up)
# before using it again. For instance out_h1 = 1/(1 + e^-0.3775) = 0.59326999 -> 0.5933, and
# net_o1 = 0.4 * 0.5933 + 0.45 * 0.5969 + 0.6 = 1.105925 -> 1.1059.
HAND4 = {
    "net.h1": 0.3775,
    "out.h1": 0.5933,
    "net.h2": 0.3925,
    "out.h2": 0.5969,
    "net.o1": 1.1059,
    "out.o1": 0.7514,
    "net.o2": 1.2249,
    "out.o2": 0.7729,
    "error.o1": 0.2748,
    "error.o2": 0.0236,
    "total_error": 0.2984,
    "partial.dE_total/dout_o1": 0.7414,
    "partial.dout_o1/dnet_o1": 0.1868,
    "delta.o1": 0.1385,
    "partial.dE_total/dout_o2": -0.2171,
    "partial.dout_o2/dnet_o2": 0.1755,
    "delta.o2": -0.0381,
    "grad.w5": 0.0822,
    "grad.w6": 0.0827,
    "grad.w7": -0.0226,
    "grad.w8": -0.0227,
    "partial.dE_o1/dout_h1": 0.0554,
    "partial.dE_o2/dout_h1": -0.0191,
    "partial.dE_total/dout_h1": 0.0363,
    "delta.h1": 0.0088,
    "delta.h2": 0.0099,
    "grad.w1": 0.0004,
    "grad.w2": 0.0009,
    "grad.w3": 0.0005,
    "grad.w4": 0.001,
    "update.w1": 0.1498,
    "update.w2": 0.1996,
    "update.w3": 0.2498,
    "update.w4": 0.2995,
    "update.w5": 0.3589,
    "update.w6": 0.4087,
    "update.w7": 0.5113,
    "update.w8": 0.5614,
}


@pytest.fixture(scope="module")
def carried() -> bptrace.Trace:
    return bptrace.trace("article", rounding="hand:4")


@pytest.mark.parametrize("key", sorted(HAND4))
def test_hand_calculation_at_four_places(carried: bptrace.Trace, key: str) -> None:
    assert carried.value(key) == HAND4[key]


def test_exact_values_ride_along(carried: bptrace.Trace) -> None:
    rec = carried.steps[0].get("partial.dE_o2/dout_h1")
    assert rec is not None and rec.value == -0.0191
    assert rec.exact == pytest.approx(-0.0190491182582781, rel=1e-12)
    assert carried.gradcheck is not None and carried.gradcheck["max_rel_diff"] < 1e-5  # checked on the exact run


def test_the_report_says_so(carried: bptrace.Trace) -> None:
    md = bptrace.render(carried, "md")
    assert "rounded to 4 decimal places before it is used again" in md
    assert "## Appendix B: carried values and exact values" in md
    assert "| `partial.dE_o2/dout_h1` | -0.0191 | -0.019049118 | -5.1×10⁻⁵ |" in md


def test_the_command_line_option(tmp_path) -> None:  # type: ignore[no-untyped-def]
    from conftest import run_cli

    r = run_cli("run", "--rounding", "hand:4", "--format", "json", "-o", str(tmp_path))
    assert r.code == 0
    assert '"rounding": "hand:4"' in (tmp_path / "trace.json").read_text(encoding="utf-8")


# Worked with a calculator keeping 4 significant figures: out_h1 = σ(0.3775) = 0.5933, δ_h1 =
# 0.03636 · 0.2413 = 0.008774 ... and ∂E/∂w1 = δ_h1 · 0.05 keeps its 4 figures (0.0004386), where 4
# decimal places would leave 0.0004.
SIG4 = {"net.h1": 0.3775, "out.h1": 0.5933, "net.o1": 1.106, "out.o1": 0.7514, "grad.w1": 0.0004386}


def test_significant_figures() -> None:
    from bptrace.rounding import sig_round

    assert [sig_round(x, 4) for x in (0.000438568, 1.105905967, -0.0190491182, 0.99995, 0.0)] == [
        0.0004386, 1.106, -0.01905, 1.0, 0.0,
    ]  # fmt: skip
    tr = bptrace.trace("article", rounding="sig:4")
    for key, value in SIG4.items():
        assert tr.value(key) == value, key
    rec = tr.steps[0].get("delta.h1")
    assert rec is not None and rec.value == 0.008771 and rec.exact == pytest.approx(0.008771354689, rel=1e-9)


def test_sig_in_the_report_and_the_command_line(tmp_path) -> None:  # type: ignore[no-untyped-def]
    from conftest import run_cli

    assert run_cli("run", "--rounding", "sig:4", "--format", "md", "-o", str(tmp_path)).code == 0
    md = (tmp_path / "report.md").read_text(encoding="utf-8")
    assert "rounded to 4 significant figures before it is used again" in md
    assert "Each value was carried rounded to 4 significant figures." in md
    assert run_cli("run", "--rounding", "sig:0", "--format", "md", "-o", str(tmp_path / "x")).code == 2


def test_float_noise_is_no_drift(carried: bptrace.Trace) -> None:
    rec = carried.steps[0].get("net.h2")
    assert rec is not None and rec.value == 0.3925 and 0 < abs(rec.value - rec.exact) < 1e-15
    md = bptrace.render(carried, "md")
    assert "| `net.h2` | 0.3925 | 0.3925 | 0 |" in md
    assert "10⁻¹⁷" not in md


def test_the_gradient_check_shows_the_values_the_body_used(carried: bptrace.Trace) -> None:
    md = bptrace.render(carried, "md")
    appendix = md[md.index("## Appendix A") : md.index("## Appendix B")]
    assert "| parameter | at 4 places | traced exactly | finite difference | relative difference |" in appendix
    assert "| $w_{1}$ | 0.0004 | 0.000438568 | 0.000438568 |" in appendix
    body = md[: md.index("## Appendix A")]
    assert "| $w_{1}$ | $0.0088 \\cdot 0.05$ | 0.0004 |" in body  # the input as given
    exact = bptrace.render(bptrace.trace("article"), "md")
    assert "| parameter | traced | finite difference | relative difference |" in exact


def test_a_sig_trace_meets_the_schema() -> None:
    import json
    from pathlib import Path

    import jsonschema

    schema = json.loads((Path(bptrace.__file__).parent / "schema" / "trace.schema.json").read_text(encoding="utf-8"))
    jsonschema.validate(json.loads(bptrace.trace("article", rounding="sig:3").to_json()), schema)


# A 2-2-2-1 network (leaky ReLU, tanh, sigmoid) whose updates land on ties: b1 = 0.35 - 0.5 ·
# (-0.0125) = 0.35625 exactly, although the float sum is 0.356249999... A student rounding half
# up writes 0.3563; so must the trace.
TIES = {
    "learning_rate": 0.5,
    "rounding": "hand:4",
    "layers": [
        {"name": "i", "size": 2},
        {"name": "h", "size": 2, "activation": "leaky_relu", "weights": [[0.15, -0.2], [0.25, 0.3]], "bias": 0.35},
        {"name": "g", "size": 2, "activation": "tanh", "weights": [[0.4, 0.45], [-0.5, 0.55]], "bias": 0.6},
        {"name": "o", "size": 1, "activation": "sigmoid", "weights": [[0.3, -0.2]], "bias": 0.1},
    ],
    "samples": [{"input": [0.05, 0.1], "target": [0.99]}],
}


@pytest.mark.parametrize(
    ("key", "value"),
    [
        ("update.w1", 0.1504),  # 0.15 + 0.00035
        ("update.b1", 0.3563),  # 0.35 + 0.00625
        ("update.b2", 0.6005),  # 0.6 + 0.00045
        ("update.w9", 0.3393),  # 0.3385 + 0.00075, not half to even (0.3392)
        ("update.w10", -0.1691),  # -0.2 + 0.03095
        ("update.w3", 0.25),  # grad 0.0001 (exact 0.0000525) moves nothing at 4 places
    ],
)
def test_ties_round_half_away_from_zero_on_another_network(key: str, value: float) -> None:
    assert bptrace.trace(TIES).value(key) == value


def test_ties_at_significant_figures() -> None:
    from bptrace.rounding import hand_round, sig_round

    assert [hand_round(x, 4) for x in (0.15 + 0.00035, 0.35 + 0.00625, 0.6 + 0.00045, -0.2 + 0.03095)] == [
        0.1504, 0.3563, 0.6005, -0.1691,
    ]  # fmt: skip
    assert [sig_round(x, 4) for x in (0.35 + 0.00625, 1.0 + 0.00045 - 0.00005, -(0.0125 + 0.000035))] == [
        0.3563, 1.0, -0.01254,
    ]  # fmt: skip
    tr = bptrace.trace({**TIES, "rounding": "sig:4"})
    assert tr.value("update.b1") == 0.3563 and tr.value("update.w3") == 0.25


def _half_up(d: Decimal, exponent: int) -> float:
    return float(d.quantize(Decimal(1).scaleb(exponent), rounding=ROUND_HALF_UP))


@given(st.floats(min_value=-1e6, max_value=1e6, allow_nan=False), st.integers(min_value=1, max_value=10))
def test_the_carrier_is_decimal_half_up_on_repr(x: float, n: int) -> None:
    """Away from the float noise around a tie, carrying is Decimal half-up on the shortest decimal
    form, in both modes."""
    from bptrace.rounding import carrier

    d = Decimal(repr(x))
    for mode, exponent in ((f"hand:{n}", -n), (f"sig:{n}", d.adjusted() - n + 1 if x else 0)):
        unit = Decimal(1).scaleb(exponent)
        near_tie = abs((abs(d) / unit) % 1 - Decimal("0.5")) < Decimal("1e-9")
        carry = carrier(mode)
        assert carry is not None
        if x and not near_tie:
            assert carry(x) == _half_up(d, exponent), mode


@given(
    st.decimals(min_value=-10, max_value=10, places=6, allow_nan=False, allow_infinity=False),
    st.decimals(min_value=-10, max_value=10, places=6, allow_nan=False, allow_infinity=False),
    st.sampled_from([Decimal("0.5"), Decimal("0.1"), Decimal("0.05"), Decimal("1.5")]),
    st.integers(min_value=1, max_value=6),
)
@example(Decimal("0.35"), Decimal("-0.0125"), Decimal("0.5"), 4)
@example(Decimal("0.15"), Decimal("-0.0007"), Decimal("0.5"), 4)
def test_an_update_rounds_as_in_decimal(w: Decimal, g: Decimal, eta: Decimal, n: int) -> None:
    """w - η·g worked in float64 is carried as the same expression worked in decimal, ties included."""
    from bptrace.rounding import hand_round, sig_round

    x = float(w) - float(eta) * float(g)
    exact = w - eta * g
    assert hand_round(x, n) == _half_up(exact, -n)
    if exact:
        assert sig_round(x, n) == _half_up(exact, exact.adjusted() - n + 1)


def test_check_grades_a_tie_as_a_student_rounds_it(tmp_path) -> None:  # type: ignore[no-untyped-def]
    import json

    from conftest import run_cli

    spec = tmp_path / "ties.json"
    spec.write_text(json.dumps(TIES), encoding="utf-8")
    right = tmp_path / "right.toml"
    right.write_text('"update.b1" = 0.3563\n"update.w1" = 0.1504\n"update.w10" = -0.1691\n', encoding="utf-8")
    r = run_cli("check", str(spec), str(right))
    assert r.code == 0 and "3 of 3 right." in r.out
    wrong = tmp_path / "wrong.toml"
    wrong.write_text('"update.b1" = 0.3562\n', encoding="utf-8")
    r = run_cli("check", str(spec), str(wrong))
    assert "0 of 1 right." in r.out and "expected 0.3563" in r.out


def test_the_settings_state_how_ties_are_rounded() -> None:
    tr = bptrace.trace(TIES)
    assert "- rounding: every value carried at 4 decimal places, halves rounded away from zero" in bptrace.render(
        tr, "md"
    )
    zh = bptrace.render(tr, "md", lang="zh")
    assert "- 舍入：每个值保留 4 位小数，四舍五入，负数按绝对值舍入" in zh
    sig = bptrace.render(bptrace.trace({**TIES, "rounding": "sig:3"}), "md")
    assert "- rounding: every value carried at 3 significant figures, halves rounded away from zero" in sig
    assert "- rounding:" not in bptrace.render(bptrace.trace({**TIES, "rounding": "exact"}), "md")


def test_carried_values_show_their_places_and_given_ones_stay_as_written() -> None:
    md = bptrace.render(bptrace.trace(TIES), "md")
    # the old value is the spec's own, exact; the new one was rounded and shows it (0.2500)
    assert "| $w_{3}$ | `update.w3` | 0.25 | 0.0001 | 0.2500 |" in md
    assert "| $w_{7}$ | `update.w7` | -0.5 | 0.0050 | -0.5025 |" in md
    assert "| 1 | 0.05 | 0.1 | 0.99 |" in md  # the spec's inputs and target, as the spec gives them
    assert "$\\eta = 0.5$" in md
    # section 4 reports the error carried at 4 places, not the 9 digits of an exact sum
    repeat = md[md.index("## 4.") : md.index("## Appendix A")]
    assert "| 1 | $o_{1}$ | 0.5755 | 0.99 | 0.0859 |" in repeat and "0.085905125" not in repeat
    sig = bptrace.render(bptrace.trace({**TIES, "rounding": "sig:3"}), "md")
    assert "| $w_{7}$ | `update.w7` | -0.5 | " in sig and "| $w_{7}$ | `update.w7` | -0.500 |" not in sig


@pytest.mark.parametrize("lang", ["en", "zh"])
@pytest.mark.parametrize("rounding", ["hand:4", "sig:4"])
def test_one_value_looks_the_same_wherever_it_appears(lang: str, rounding: str) -> None:
    """The banner's rule, kept everywhere: a value the problem gives (an input, a weight before its
    update, the input 1 of a bias, a ReLU slope) is written as given, in the forward pass and in every
    derivative that copies it; a computed value shows all its places, trailing zeros kept."""
    from bptrace.reports import render_files

    tr = bptrace.trace({**TIES, "rounding": rounding})
    files = render_files(tr, ["md", "lecture"], lang=lang)
    md = files["report.md"]
    pad = "1.0000" if rounding == "hand:4" else "1.000"
    banner = next(line for line in md.splitlines() if line.startswith("> "))
    if lang == "en":
        assert f"trailing zeros included (0.5000, {pad})" in banner
        assert "are exact and are written as they are, wherever they appear" in banner
    else:
        assert f"末尾的 0 也保留（如 0.5000、{pad}）" in banner
        assert "无论出现在哪里都照原样书写" in banner
    body = md.replace(banner, "")
    # never padded: the input i1 = 0.05 (∂net_h1/∂w1), the bias input 1 (∂net/∂b), the leaky slope 1
    for padded in (pad, "0.0500", "0.1000", "0.1500", "0.3500"):
        assert padded not in body and padded not in files["lecture.html"], padded
    assert r"= 0.15 \cdot 0.05 + \left(-0.2\right) \cdot 0.1 + 0.35 \cdot 1 = 0.3375" in md
    assert r"\frac{\partial \mathrm{net}_{h1}}{\partial w_{1}} = i_{1} = 0.05" in md
    assert r"\frac{\partial \mathrm{net}_{o1}}{\partial \mathrm{out}_{g1}} = w_{9} = 0.3" + "\n" in md
    assert "| $b_{3}$ | $\\left(-0.1087\\right) \\cdot 1$ |" in md
    assert "| `partial.dnet_o1/db3` | 1 | 1 | 0 |" in md  # appendix B: carried, exact, drift
    # a computed value keeps its zeros, even where it equals a given one
    if rounding == "hand:4":
        assert "| $w_{3}$ | $0.0011 \\cdot 0.05$ | 0.0001 | `grad.w3` | 0.2500 |" in md
        assert "| $w_{7}$ | $0.0147 \\cdot 0.3375$ | 0.0050 | `grad.w7` | -0.5025 |" in md


def test_an_update_lost_to_rounding_is_explained_in_both_languages() -> None:
    tr = bptrace.trace(TIES)
    en = bptrace.render(tr, "md")
    assert "Rounding leaves $w_{3}$, $w_{4}$ unchanged:" in en
    assert "keeps more digits for gradients and updates" in en
    zh = bptrace.render(tr, "md", lang="zh")
    assert "$w_{3}$、$w_{4}$ 的更新被舍入吞掉了" in zh and "手算时梯度和更新量通常要比其他值多保留几位" in zh
    exact = bptrace.render(bptrace.trace({**TIES, "rounding": "exact"}), "md")
    assert "Rounding leaves" not in exact
    assert "Rounding leaves" not in bptrace.render(bptrace.trace({**TIES, "rounding": "hand:6"}), "md")


def test_the_appendices_of_a_carried_run_in_chinese() -> None:
    tr = bptrace.trace(TIES)
    zh = bptrace.render(tr, "md", lang="zh")
    b = zh[zh.index("## 附录 B") : zh.index("## 附录 C")]
    assert "| 键 | 4 位小数值 | 精确值 | 与精确值之差 |" in b
    assert "| `out.g1` | 0.7219 | 0.721911289 | -1.1×10⁻⁵ |" in b  # the difference to 2 figures
    assert "累积误差" not in zh and "保留位数后" not in zh
    a = zh[zh.index("## 附录 A") : zh.index("## 附录 B")]
    assert "| 参数 | 4 位小数值 | 精确计算值 | 有限差分 | 相对误差 |" in a
    en = bptrace.render(tr, "md")
    a = en[en.index("## Appendix A") : en.index("## Appendix B")]
    # one sentence ends in a colon, the one the table follows
    colon_lines = [line for line in a.splitlines() if line.endswith(":")]
    assert len(colon_lines) == 1 and colon_lines[0].endswith("the larger of their two sizes:")


def test_the_lecture_says_values_are_rounded_on_its_first_slide() -> None:
    import re

    from bptrace.reports import render_files

    tr = bptrace.trace(TIES)
    for lang, phrase in (
        ("en", "Every computed value is rounded to 4 decimal places, halves away from zero"),
        ("zh", "保留 4 位小数（四舍五入）"),
    ):
        page = render_files(tr, ["lecture"], lang=lang)["lecture.html"]
        slides = re.split(r'<section class="slide', page)
        assert phrase in slides[1], lang
    exact = render_files(bptrace.trace({**TIES, "rounding": "exact"}), ["lecture"])["lecture.html"]
    assert "halves away from zero" not in exact


def test_section_4_error_of_two_outputs_is_the_carried_sum() -> None:
    spec = {
        "learning_rate": 0.3,
        "rounding": "hand:3",
        "layers": [
            {"name": "x", "size": 2},
            {"name": "h", "size": 2, "activation": "tanh", "weights": [[0.1, 0.2], [-0.3, 0.4]], "bias": 0.05},
            {"name": "y", "size": 2, "activation": "sigmoid", "weights": [[0.5, -0.6], [0.7, 0.8]], "bias": -0.1},
        ],
        "samples": [{"input": [1.0, 0.5], "target": [0.0, 1.0]}],
    }
    tr = bptrace.trace(spec)
    assert tr.final is not None
    final = tr.final["total_error"]
    assert final == round(final, 3)  # carried, as every value of the run
    md = bptrace.render(tr, "md")
    repeat = md[md.index("## 4.") : md.index("## Appendix A")]
    assert f"| 1 | $y_{{1}}$ | {tr.final['outputs'][0][0]:.3f} | 0 | {final:.3f} |" in repeat


def test_the_difference_from_exact_shows_both_of_its_figures() -> None:
    from bptrace import numfmt

    assert numfmt.figures(3e-5, 2) == "3.0×10⁻⁵"
    assert numfmt.figures(-1.12889291e-5, 2) == "-1.1×10⁻⁵"
    assert numfmt.figures(0.0, 2) == "0" and numfmt.figures(2.5, 2) == "2.5"
    tr = bptrace.trace({**TIES, "rounding": "sig:3"})
    en = bptrace.render(tr, "md")
    # net_h1 = 0.3375 exactly, carried as 0.338: a difference of 5.0×10⁻⁴, stated to 2 figures
    assert "| `net.h1` | 0.338 | 0.3375 | 5.0×10⁻⁴ |" in en
    assert "| key | at 3 figures | exact value | carried − exact |" in en
    assert "how far the carried value is from it (carried minus exact, to 2 significant figures)" in en
    assert "drift" not in en
    zh = bptrace.render(tr, "md", lang="zh")
    assert "| `net.h1` | 0.338 | 0.3375 | 5.0×10⁻⁴ |" in zh
    assert "| 键 | 3 位有效数字值 | 精确值 | 与精确值之差 |" in zh
    assert "以及两者之差（保留值减精确值，取 2 位有效数字）" in zh
    hand = bptrace.render(bptrace.trace(TIES), "md")
    assert "| key | at 4 places | exact value | carried − exact |" in hand

"""Hand rounding: every intermediate value carried at 4 decimals, as with a calculator."""

from __future__ import annotations

import pytest

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
    assert "| `partial.dE_o2/dout_h1` | -0.0191 | -0.019049118 | -5.08817417×10⁻⁵ |" in md


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
    assert "| parameter | carried | traced exactly | finite difference | relative difference |" in appendix
    assert "| $w_{1}$ | 0.0004 | 0.000438568 | 0.000438568 |" in appendix
    body = md[: md.index("## Appendix A")]
    assert "| $w_{1}$ | $0.0088 \\cdot 0.05$ | 0.0004 |" in body
    exact = bptrace.render(bptrace.trace("article"), "md")
    assert "| parameter | traced | finite difference | relative difference |" in exact


def test_a_sig_trace_meets_the_schema() -> None:
    import json
    from pathlib import Path

    import jsonschema

    schema = json.loads((Path(bptrace.__file__).parent / "schema" / "trace.schema.json").read_text(encoding="utf-8"))
    jsonschema.validate(json.loads(bptrace.trace("article", rounding="sig:3").to_json()), schema)

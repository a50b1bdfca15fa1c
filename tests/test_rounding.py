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
    assert "## Appendix C: carried values and exact values" in md
    assert "| `partial.dE_o2/dout_h1` | -0.0191 | -0.019049118 | -5.08817417×10⁻⁵ |" in md


def test_the_command_line_option(tmp_path) -> None:  # type: ignore[no-untyped-def]
    from conftest import run_cli

    r = run_cli("run", "--rounding", "hand:4", "--format", "json", "-o", str(tmp_path))
    assert r.code == 0
    assert '"rounding": "hand:4"' in (tmp_path / "trace.json").read_text(encoding="utf-8")

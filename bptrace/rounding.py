"""Hand rounding: carry every intermediate value rounded as a student with a calculator would,
to N decimal places (hand:N) or to N significant figures (sig:N)."""

from __future__ import annotations

import math
from collections.abc import Callable
from functools import lru_cache

TYPE_CHECKING = False
if TYPE_CHECKING:
    from decimal import Decimal


@lru_cache(maxsize=64)
def _quantum(exponent: int) -> Decimal:
    from decimal import Decimal  # decimal is imported only by runs that round (exact is the default)

    return Decimal(1).scaleb(exponent)


# A float sum or product of short decimals misses the decimal result by an ulp or so
# (0.35 + 0.00625 is 0.35624999999999996), which sits exactly on a tie. A calculator, working in
# decimal, shows 0.35625. The float's decimal form is therefore first cut to this many significant
# figures, far above any carried precision and far below float noise, before the tie is decided.
_SHOWN = 12


def _decimal(x: float, kept: int) -> Decimal:
    """x as a calculator shows it, when `kept` significant figures of it are then kept."""
    from decimal import Decimal

    shown = max(_SHOWN, kept + 3)
    # formatting rounds the float's exact binary value, which is within an ulp of repr's
    return Decimal(repr(x) if shown >= 17 else f"{x:.{shown - 1}e}")


def _clear_of_a_tie(scaled: float) -> bool:
    """Whether |x|·10^k lies so far from a half, beyond any float noise, that Python's round(),
    correctly rounded on the binary value, keeps the same decimals as the calculator's rule:
    most values take this quick way, only those near a tie need decimal arithmetic."""
    return scaled < 1e9 and abs(scaled - math.floor(scaled) - 0.5) > 1e-6


def hand_round(x: float, digits: int) -> float:
    """Round to `digits` decimal places, halves away from zero, on the decimal value a calculator
    shows: 0.00125 -> 0.0013, and 0.35 + 0.00625 -> 0.3563 although the float sum is 0.356249999...

    Python's round() works on the binary value and rounds half to even, which is not what a
    student writing 4 decimals does.
    """
    if not math.isfinite(x) or x == 0:
        return x
    if digits <= 15 and _clear_of_a_tie(abs(x) * 10.0**digits):
        return round(x, digits)
    from decimal import ROUND_HALF_UP

    kept = digits + 1 + math.floor(math.log10(abs(x)))
    return float(_decimal(x, kept).quantize(_quantum(-digits), rounding=ROUND_HALF_UP))


def sig_round(x: float, figures: int) -> float:
    """Round half away from zero to significant figures: 0.000438568 -> 0.0004386 at 4."""
    if not math.isfinite(x) or x == 0:
        return x
    places = figures - 1 - math.floor(math.log10(abs(x)))
    if -280 < places < 280:
        scaled = abs(x) * 10.0**places
        # the log10 of a value just below a power of ten can land on it: then the decimal way
        if 10.0 ** (figures - 1) <= scaled < 10.0**figures and _clear_of_a_tie(scaled):
            return round(x, places)
    from decimal import ROUND_HALF_UP

    d = _decimal(x, figures)
    return float(d.quantize(_quantum(d.adjusted() - figures + 1), rounding=ROUND_HALF_UP))


@lru_cache(maxsize=32)
def carrier(mode: str) -> Callable[[float], float] | None:
    """The rounding a mode carries values with ("hand:4", "sig:4"), or None for "exact"."""
    kind, _, n = mode.partition(":")
    if kind == "hand":
        digits = int(n)
        return lambda x: hand_round(x, digits)
    if kind == "sig":
        figures = int(n)
        return lambda x: sig_round(x, figures)
    return None


def describe(mode: str) -> tuple[str, int]:
    """("places" or "figures", N) of a rounding mode other than exact."""
    kind, _, n = mode.partition(":")
    return ("figures" if kind == "sig" else "places"), int(n)

"""Hand rounding: carry every intermediate value rounded as a student with a calculator would,
to N decimal places (hand:N) or to N significant figures (sig:N)."""

from __future__ import annotations

import math
from collections.abc import Callable
from functools import lru_cache
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from decimal import Decimal


@lru_cache(maxsize=16)
def _quantum(digits: int) -> Decimal:
    from decimal import Decimal  # decimal is imported only by runs that round (exact is the default)

    return Decimal(1).scaleb(-digits)


def hand_round(x: float, digits: int) -> float:
    """Round half away from zero on the decimal digits a calculator shows (0.00125 -> 0.0013).

    Python's round() works on the binary value and rounds half to even, which is not what a
    student writing 4 decimals does.
    """
    if not math.isfinite(x):
        return x
    from decimal import ROUND_HALF_UP, Decimal

    return float(Decimal(repr(x)).quantize(_quantum(digits), rounding=ROUND_HALF_UP))


def sig_round(x: float, figures: int) -> float:
    """Round half away from zero to significant figures: 0.000438568 -> 0.0004386 at 4."""
    if not math.isfinite(x) or x == 0:
        return x
    from decimal import ROUND_HALF_UP, Decimal

    d = Decimal(repr(x))
    return float(d.quantize(Decimal(1).scaleb(d.adjusted() - figures + 1), rounding=ROUND_HALF_UP))


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

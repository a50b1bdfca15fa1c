"""Hand rounding: carry every intermediate value rounded as a student with a calculator would."""

from __future__ import annotations

import math
from decimal import ROUND_HALF_UP, Decimal
from functools import lru_cache


@lru_cache(maxsize=16)
def _quantum(digits: int) -> Decimal:
    return Decimal(1).scaleb(-digits)


def hand_round(x: float, digits: int) -> float:
    """Round half away from zero on the decimal digits a calculator shows (0.00125 -> 0.0013).

    Python's round() works on the binary value and rounds half to even, which is not what a
    student writing 4 decimals does.
    """
    if not math.isfinite(x):
        return x
    return float(Decimal(repr(x)).quantize(_quantum(digits), rounding=ROUND_HALF_UP))

"""Number formatting for reports: the only place values are rounded.

The article prints values to 9 decimal places with trailing zeros dropped (0.75136507). A fixed
number of places would turn small values into 0.000000000, so values below 1e-4 (or too small to
keep three significant digits at the chosen places) switch to scientific notation with as many
significant digits as there are places.

A value smaller than NOISE in size is written 0 in prose, tables and formulas: float64 leaves
such a remainder where the exact result is 0 (0.1 + 0.2 - 0.3 gives 5.6e-17), and a reader who
works by hand gets 0. ``plain`` and ``exact`` keep it, for programs.
"""

from __future__ import annotations

import math

DEFAULT_DIGITS = 9
NOISE = 1e-15


def shown(x: float) -> float:
    """The value a reader is shown: float64's remainders of an exact 0 as 0."""
    return 0.0 if abs(x) < NOISE else x


_SUPERSCRIPT = str.maketrans("-0123456789", "⁻⁰¹²³⁴⁵⁶⁷⁸⁹")


def superscript(text: str) -> str:
    """Digits and minus signs as Unicode superscripts (an exponent, a sample's mark in plain text)."""
    return text.translate(_SUPERSCRIPT)


def _strip(s: str) -> str:
    if "." in s:
        s = s.rstrip("0").rstrip(".")
    return "0" if s in ("-0", "") else s


def split(x: float, digits: int = DEFAULT_DIGITS) -> tuple[str, int | None]:
    """(mantissa, exponent) as shown; exponent is None for fixed notation."""
    if x == 0:
        return "0", None
    ax = abs(x)
    if max(1e-4, 10.0 ** (2 - digits)) <= ax < 1e7:
        return _strip(f"{x:.{digits}f}"), None
    mant, exp = f"{x:.{max(digits - 1, 1)}e}".split("e")
    return _strip(mant), int(exp)


def carried(x: float, unit: str, n: int) -> tuple[str, int | None] | None:
    """(mantissa, exponent) of a value carried at n decimal places (unit "places") or n significant
    figures ("figures"), trailing zeros kept so the rounding shows (0.2500, 0.005000); None when x
    is not such a value (an exact one, a difference of two)."""
    from .rounding import hand_round, sig_round

    if not math.isfinite(x):
        return None
    if unit == "places":
        return (f"{x:.{n}f}", None) if hand_round(x, n) == x and abs(x) < 1e15 else None
    if x == 0 or sig_round(x, n) != x:
        return None
    if 1e-4 <= abs(x) < 10.0**n:
        return f"{x:.{max(n - 1 - math.floor(math.log10(abs(x))), 0)}f}", None
    mant, exp = f"{x:.{n - 1}e}".split("e")
    return mant, int(exp)


def text(x: float, digits: int = DEFAULT_DIGITS, carry: tuple[str, int] | None = None) -> str:
    """A value for prose and tables: 0.75136507, 3.51085481×10⁻⁵; a carried value as carried."""
    if not math.isfinite(x):
        return "NaN" if x != x else ("∞" if x > 0 else "-∞")
    x = shown(x)
    mant, exp = (carry and carried(x, *carry)) or split(x, digits)
    return mant if exp is None else f"{mant}×10{superscript(str(exp))}"


def figures(x: float, n: int) -> str:
    """x to n significant figures in scientific notation, trailing zeros kept: a value stated to two
    figures shows both (3.0×10⁻⁵, not 3×10⁻⁵); 0 as 0."""
    if x == 0 or not math.isfinite(x):
        return text(x)
    mant, exp = f"{x:.{max(n - 1, 0)}e}".split("e")
    return mant if int(exp) == 0 else f"{mant}×10{superscript(str(int(exp)))}"


def plain(x: float, digits: int = DEFAULT_DIGITS) -> str:
    """A value a program can read back: 0.75136507, 3.51085481e-05."""
    if not math.isfinite(x):
        return "nan" if x != x else ("inf" if x > 0 else "-inf")
    mant, exp = split(x, digits)
    return mant if exp is None else f"{mant}e{exp:+03d}"


def latex(x: float, digits: int = DEFAULT_DIGITS, carry: tuple[str, int] | None = None) -> str:
    """A value inside a formula: 0.75136507, 3.51085481 \\times 10^{-5}; a carried value as carried."""
    if not math.isfinite(x):
        return r"\mathrm{NaN}" if x != x else (r"\infty" if x > 0 else r"-\infty")
    x = shown(x)
    mant, exp = (carry and carried(x, *carry)) or split(x, digits)
    return mant if exp is None else rf"{mant} \times 10^{{{exp}}}"


def exact(x: float) -> str:
    """The shortest text that reads back as the same float64 (what the JSON trace stores)."""
    return repr(float(x))

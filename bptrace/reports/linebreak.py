"""Where a long display equation breaks. MathML in a browser does not break lines by itself, so a
side of an aligned equation that would run past the page is cut here into pieces at its
outermost + and − signs, each piece a line of its own. Widths are estimated from the LaTeX in
character widths of the page's body text: rough, but enough to keep every line in its box."""

from __future__ import annotations

import re
from functools import lru_cache

# how many body-text characters fit across a display at the page's 56rem width, with a margin
LINE_BUDGET = 80
_SCRIPT = 0.7  # a subscript or superscript is set smaller
_OPERATOR = 2.0  # a binary operator with the space around it
_WORD = re.compile(r"\\([A-Za-z]+)")
_NAMED = {"cdot": _OPERATOR, "times": _OPERATOR, "sum": 2.0, "partial": 1.0, "ln": 2.0, "exp": 3.0}
_INVISIBLE = {"left", "right", "mathrm", "mathbf", "boldsymbol", "operatorname", "displaystyle", "top"}


def _group(tex: str, start: int) -> tuple[str, int]:
    """The text of the brace group opening at ``start``, and the index after it."""
    depth = 0
    for k in range(start, len(tex)):
        if tex[k] == "{":
            depth += 1
        elif tex[k] == "}":
            depth -= 1
            if depth == 0:
                return tex[start + 1 : k], k + 1
    return tex[start + 1 :], len(tex)


def _argument(tex: str, k: int) -> tuple[str, int]:
    """A command's or script's argument at k: a brace group or one character."""
    while k < len(tex) and tex[k] == " ":
        k += 1
    if k < len(tex) and tex[k] == "{":
        return _group(tex, k)
    return tex[k : k + 1], k + 1


# Every digit is as wide as any other here, and no digit decides a cut: widths and cuts are
# worked out on the text with its digits zeroed, so equations that differ only in their numbers
# (the same formula in every variant of an exercise set) are measured once.
_ZEROS = str.maketrans("123456789", "000000000")


def width(tex: str) -> float:
    """The estimated width of a piece of LaTeX, in body-text characters."""
    return _width(tex.translate(_ZEROS))


@lru_cache(maxsize=8192)  # lines() measures a growing line again at every piece it weighs
def _width(tex: str) -> float:
    total = 0.0
    k = 0
    while k < len(tex):
        c = tex[k]
        if c == "\\":
            m = _WORD.match(tex, k)
            if not m:  # \, \; \! and the like
                total += 0.3
                k += 2
                continue
            name = m.group(1)
            k = m.end()
            if name in ("frac", "dfrac", "tfrac"):
                top, k = _argument(tex, k)
                bottom, k = _argument(tex, k)
                total += max(_width(top), _width(bottom)) + 0.4
            elif name in ("quad", "qquad"):
                total += 2.0 if name == "quad" else 4.0
            elif name not in _INVISIBLE:
                total += _NAMED.get(name, 1.0)
        elif c in "_^":
            arg, k = _argument(tex, k + 1)
            total += _SCRIPT * _width(arg)
        elif c in "{} &":
            k += 1
        elif c in "+=<>":
            total += _OPERATOR
            k += 1
        elif c == "-":
            # a binary minus has spaces around it in the formulas; a sign does not
            total += _OPERATOR if tex[k - 1 : k] == " " and tex[k + 1 : k + 2] == " " else 1.0
            k += 1
        else:
            total += 1.0
            k += 1
    return total


def terms(tex: str) -> list[str]:
    """The expression cut before each outermost " + " or " - " (outside braces and \\left…\\right)."""
    return [tex[a:b] for a, b in _terms(tex.translate(_ZEROS))]


@lru_cache(maxsize=4096)
def _terms(tex: str) -> tuple[tuple[int, int], ...]:
    """terms() as (start, end) spans."""
    pieces: list[tuple[int, int]] = []
    depth = 0
    start = 0
    k = 0
    while k < len(tex):
        if tex.startswith("\\left", k):
            depth += 1
            k += 5
            continue
        if tex.startswith("\\right", k):
            depth -= 1
            k += 6
            continue
        c = tex[k]
        if c == "{":
            depth += 1
        elif c == "}":
            depth -= 1
        elif depth == 0 and c in "+-" and tex[k - 1 : k] == " " and tex[k + 1 : k + 2] == " " and k > start:
            pieces.append((start, k - 1))
            start = k
        k += 1
    pieces.append((start, len(tex)))
    return tuple(pieces)


def _opening_group(tex: str) -> tuple[str, str] | None:
    """(inside, after) when tex starts with a \\left( whose \\right) is not its end."""
    if not tex.startswith("\\left("):
        return None
    depth = 0
    k = 0
    while k < len(tex):
        if tex.startswith("\\left", k):
            depth += 1
            k += 5
        elif tex.startswith("\\right", k):
            depth -= 1
            if depth == 0:
                return (tex[6:k], tex[k + 7 :]) if tex.startswith("\\right)", k) else None
            k += 6
        else:
            k += 1
    return None


def lines(tex: str, budget: float) -> list[str]:
    """The expression as consecutive lines, each estimated to fit in ``budget`` characters where
    the cuts allow; every line after the first starts with its sign. A term still too wide that
    opens with a bracketed sum is broken inside the brackets, which then no longer stretch (a
    bracket cannot span lines); any other such term stays whole."""
    return [
        "".join(tex[p[0] : p[1]] if isinstance(p, tuple) else p for p in line)
        for line in _lines(tex.translate(_ZEROS), budget)
    ]


# a line as its parts: (start, end) spans of the text, and brackets put in where a group was opened
_Line = tuple["tuple[int, int] | str", ...]


@lru_cache(maxsize=4096)
def _lines(tex: str, budget: float, at: int = 0) -> tuple[_Line, ...]:
    """lines() as spans of the text (offset by ``at``, for a group inside it)."""
    spans: list[tuple[int, int]] = []
    for a, b in _terms(tex):
        # pieces lie one space apart, so a line of several pieces is one span
        if spans and _width(tex[spans[-1][0] : spans[-1][1]]) + _width(tex[a:b]) > budget:  # a piece holds its own sign
            spans.append((a, b))
        elif spans:
            spans[-1] = (spans[-1][0], b)
        else:
            spans.append((a, b))
    if len(spans) == 1 and _width(tex[spans[0][0] : spans[0][1]]) > budget:
        group = _opening_group(tex)
        if group is not None and len(_terms(group[0])) > 1:
            inside = _lines(group[0], budget - 1, at + 6)  # inside "\\left("
            if len(inside) > 1:
                after = (at + len(tex) - len(group[1]), at + len(tex))
                return (("(", *inside[0]), *inside[1:-1], (*inside[-1], ")", after))
    return tuple(((at + a, at + b),) for a, b in spans)

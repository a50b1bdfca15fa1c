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


@lru_cache(maxsize=8192)  # lines() measures a growing line again at every piece it weighs
def width(tex: str) -> float:
    """The estimated width of a piece of LaTeX, in body-text characters."""
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
                total += max(width(top), width(bottom)) + 0.4
            elif name in ("quad", "qquad"):
                total += 2.0 if name == "quad" else 4.0
            elif name not in _INVISIBLE:
                total += _NAMED.get(name, 1.0)
        elif c in "_^":
            arg, k = _argument(tex, k + 1)
            total += _SCRIPT * width(arg)
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
    pieces: list[str] = []
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
            pieces.append(tex[start : k - 1])
            start = k
        k += 1
    pieces.append(tex[start:])
    return pieces


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
    out: list[str] = []
    for piece in terms(tex):
        if out and width(out[-1]) + width(piece) > budget:  # a piece holds its own sign
            out.append(piece)
        elif out:
            out[-1] += " " + piece
        else:
            out.append(piece)
    if len(out) == 1 and width(out[0]) > budget:
        group = _opening_group(out[0])
        if group is not None and len(terms(group[0])) > 1:
            inside = lines(group[0], budget - 1)
            return ["(" + inside[0], *inside[1:-1], inside[-1] + ")" + group[1]] if len(inside) > 1 else out
    return out

"""Tables fitted to the page's width: each HTML table gets an estimate of the width it needs.

The page has no script, so no table can measure itself: the width of every column is estimated
here from its widest cell, in em of the table's own type, and written on the table's wrapper as
``--em``. The stylesheet sets a table's type to the size that makes that width fill the column
(never larger than the text's), so a wide table such as an optimizer's shrinks to fit on screen
and on paper; one that would need type too small to read scrolls in its wrapper, which shows a
shadow where columns lie out of view.

The advance widths are DejaVu Sans's (and its math font's), among the widest of the fonts the
stylesheet names, so the estimate errs on the wide side with any of them.
"""

from __future__ import annotations

import html
import re
from functools import lru_cache

_ROW = re.compile(r"<tr>\n(.*?)</tr>", re.S)
_CELL = re.compile(r"<t([hd])\b[^>]*>(.*?)</t\1>", re.S)
_PART = re.compile(r"(<math\b.*?</math>|<code>.*?</code>)", re.S)
_TAG = re.compile(r"<(/?)([a-zA-Z]+)([^>]*?)(/?)>")

PAD = 1.0  # a cell's left and right padding together, in em (the stylesheet's .table cells)
BORDER = 0.07  # one cell border, in em at the smallest type
MATH = 1.08  # the stylesheet's size of math relative to its text
SCRIPT = 0.71  # the size of a sub- or superscript, and of an inline fraction's parts


def _em(c: str, bold: bool = False) -> float:
    """The advance of one character of DejaVu Sans, in em (rounded up)."""
    if ord(c) >= 0x2E80:  # CJK and full-width forms
        return 1.0
    w = _WIDTHS.get(c)
    if w is None:
        w = 0.7 if c.isupper() else 0.62
    return w * (1.1 if bold else 1.0)


_WIDTHS = (
    dict.fromkeys("0123456789", 0.64)
    | dict.fromkeys(".,:;'|!il", 0.33)
    | dict.fromkeys(" ", 0.32)
    | dict.fromkeys("-()[]", 0.4)
    | dict.fromkeys("fjrt", 0.42)
    | dict.fromkeys("=+−×<>≤≥→·⋅", 0.84)
    | dict.fromkeys("mwMW", 0.98)
    | dict.fromkeys("⁰¹²³⁴⁵⁶⁷⁸⁹⁻", 0.42)
    | dict.fromkeys("∂δΔ∑Σ", 0.66)
)


def _text(s: str, bold: bool = False) -> float:
    return sum(_em(c, bold) for c in html.unescape(s))


# the space MathML puts around an operator, in em of the math (relations and binary operators)
_SPACED = dict.fromkeys("=≈≤≥<>→", 0.56) | dict.fromkeys("+−·⋅×", 0.45)


def _math(src: str) -> float:
    """The width of one MathML formula, in em of the math's own type."""
    stack: list[list[float]] = [[]]
    kinds: list[str] = ["math"]
    prefix = [False]  # an operator written before its operand (a sign) takes no space
    pos = 0
    for m in _TAG.finditer(src):
        text = src[pos : m.start()]
        pos = m.end()
        if text.strip() and kinds[-1] in ("mi", "mn", "mo", "mtext"):
            t = html.unescape(text)
            w = _text(t)
            if kinds[-1] == "mo" and len(t) == 1 and not prefix[-1]:
                w += _SPACED.get(t, 0.0)
            stack[-1].append(w)
        closing, name, attrs, empty = m.group(1), m.group(2), m.group(3), m.group(4)
        if empty:
            if name == "mspace":
                width = re.search(r'width="([0-9.]+)em"', attrs)
                stack[-1].append(float(width.group(1)) if width else 0.0)
            continue
        if not closing:
            stack.append([])
            kinds.append(name)
            prefix.append('form="prefix"' in attrs)
            continue
        parts, kind = stack.pop(), kinds.pop()
        prefix.pop()
        if kind == "mfrac":  # an inline fraction sets its parts in script type
            w = max(parts, default=0.0) * SCRIPT + 0.2
        elif kind in ("msub", "msup"):
            w = parts[0] + SCRIPT * sum(parts[1:]) + 0.05 if parts else 0.0
        elif kind == "msubsup":
            w = parts[0] + SCRIPT * max(parts[1:], default=0.0) + 0.05 if parts else 0.0
        elif kind in ("munder", "mover", "munderover"):
            w = max(parts, default=0.0)
        elif kind == "mtable" or kind == "mtr":
            w = max(parts, default=0.0) if kind == "mtable" else sum(parts)
        else:
            w = sum(parts)
        stack[-1].append(w)
    return sum(stack[0])


@lru_cache(maxsize=4096)
def _cell(content: str, head: bool) -> float:
    """The width of one cell's content, in em of the table's type."""
    w = 0.0
    for k, part in enumerate(_PART.split(content)):
        if k % 2 == 0:
            w += _text(_TAG.sub("", part), bold=head or "<strong>" in part)
        elif part.startswith("<math"):
            w += (_math(part) + 0.15) * MATH  # and the little space Chromium leaves around a formula
        else:  # a code span: monospace at the stylesheet's 0.86em, with its own padding
            w += 0.6 * 0.86 * len(html.unescape(part[6:-7])) + 0.6
    return w


def width(table: str) -> float:
    """The width in em that a table's columns need side by side, borders and padding included."""
    # every digit is as wide as any other (tabular figures): tables and cells that differ only in
    # their digits share one estimate, so the variants of an exercise set measure each table once.
    # A digit is one byte of UTF-8 and never part of another character's bytes.
    return _width(table.encode().translate(_ZEROS))


_ZEROS = bytes.maketrans(b"123456789", b"000000000")


@lru_cache(maxsize=1024)
def _width(zeroed: bytes) -> float:
    cols: list[float] = []
    for row in _rows(zeroed.decode()):
        for k, w in enumerate(_row(row)):
            if k < len(cols):
                cols[k] = max(cols[k], w)
            else:
                cols.append(w)
    # a little to spare: a table an estimate finds a shade too narrow would squeeze a column
    return 1.02 * (sum(cols) + len(cols) * (PAD + BORDER) + BORDER)


@lru_cache(maxsize=8192)  # a table new to the cache is mostly rows seen before
def _row(row: str) -> tuple[float, ...]:
    return tuple(_cell(content, kind == "h") for kind, content in _cells(row))


def _rows(table: str) -> list[str]:
    """What _ROW finds, found with str.find: a lazy pattern tries a match at every character of a
    row's formulas, and a table that differs from every one measured before is read whole."""
    out = []
    pos = 0
    while (start := table.find("<tr>\n", pos)) >= 0 and (end := table.find("</tr>", start + 5)) >= 0:
        out.append(table[start + 5 : end])
        pos = end + 5
    return out


def _cells(row: str) -> list[tuple[str, str]]:
    """What _CELL finds, (kind, content) for each <th …> and <td …> (not <thead>), by str.find."""
    out = []
    pos = 0
    while (start := row.find("<t", pos)) >= 0:
        kind, after = row[start + 2 : start + 3], row[start + 3 : start + 4]
        if kind not in ("h", "d") or after.isalnum() or after == "_":  # <tr>, <thead>: not a cell
            pos = start + 2
            continue
        gt = row.find(">", start)
        end = row.find(f"</t{kind}>", gt + 1) if gt >= 0 else -1
        if end < 0:
            pos = start + 2
            continue
        out.append((kind, row[gt + 1 : end]))
        pos = end + 5
    return out


def fit(page: str) -> str:
    """Every table of an HTML body in a wrapper that knows the table's width."""
    parts: list[str] = []
    pos = 0
    while (start := page.find(_OPEN, pos)) >= 0 and (end := page.find(_CLOSE, start)) >= 0:
        end += len(_CLOSE)
        em = width(page[start + len(_OPEN) : end - len(_CLOSE)])
        parts += [page[pos:start], f'<div class="table" style="--em: {em:.1f}">\n', page[start:end], "\n</div>"]
        pos = end
    parts.append(page[pos:])
    return "".join(parts)


_OPEN, _CLOSE = "<table>\n", "\n</table>"

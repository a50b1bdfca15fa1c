"""Markdown to HTML with MathML: the report's Markdown, converted part by part, each formula as MathML.

Every block shape the built-in templates write (headings, paragraphs, one-level lists, quotes,
pipe tables, display formulas, <details>) is written directly as the HTML Python-Markdown would
give; Python-Markdown and its extensions load only for a block the direct path declines, such as
one from a user's own template.
"""

from __future__ import annotations

import html
import re
from collections.abc import Callable
from functools import lru_cache
from typing import Any

from . import mathml

# where a figure goes in the Markdown text, until a renderer puts an image or an SVG there
FIGURE = re.compile("\x00figure:([^\x00]+)\x00")
_INLINE = re.compile(r'<span class="arithmatex">\\\((.*?)\\\)</span>', re.S)
_BLOCK = re.compile(r'<div class="arithmatex">\\\[(.*?)\\\]</div>', re.S)


# inline patterns that can only match text holding "[": links, images and references
_BRACKET_PATTERNS = ("reference", "link", "image_link", "image_reference", "short_reference", "short_image_ref")


@lru_cache(maxsize=2)
def _converter(lean: bool) -> Any:
    """One Markdown converter per process and kind, reset before each use. The lean one skips
    the link patterns, for parts without a "[" (where they cannot match), which is most of a
    report: every pattern is tried on every table cell."""
    md = _markdown()
    if lean:
        for name in _BRACKET_PATTERNS:
            if name in md.inlinePatterns:
                md.inlinePatterns.deregister(name)
    return md


def _markdown() -> Any:
    import markdown
    from markdown.extensions.md_in_html import MarkdownInHtmlExtension
    from markdown.extensions.tables import TableExtension
    from pymdownx.arithmatex import ArithmatexExtension

    # extension objects, not names: names are looked up through package entry points, which
    # costs more than converting a report
    return markdown.Markdown(
        extensions=[TableExtension(), MarkdownInHtmlExtension(), ArithmatexExtension(generic=True)],
        output_format="html",
    )


_DOCUMENT_WIDE = re.compile(r"^ {0,3}\[[^\]]+\]:", re.M)  # reference links need the whole document


_OPEN, _CLOSE = re.compile(r"^<details\b", re.M), re.compile(r"^</details>", re.M)


def _units(text: str) -> list[str]:
    """The document cut at blank lines into parts Python-Markdown converts independently: a
    <details> element with its Markdown inside stays whole."""
    units: list[str] = []
    depth = 0
    for block in text.split("\n\n"):
        if depth:
            units[-1] += "\n\n" + block
        else:
            units.append(block)
        if "details" in block:
            depth += len(_OPEN.findall(block)) - len(_CLOSE.findall(block))
            depth = max(depth, 0)
    return units


@lru_cache(maxsize=4096)
def _convert_unit(unit: str) -> str:
    md = _converter("[" not in unit)
    md.reset()
    return md.convert(unit)  # type: ignore[no-any-return]


def _to_mathml(body: str) -> str:
    body = _BLOCK.sub(lambda m: mathml.display_block(html.unescape(m.group(1))), body)
    return _INLINE.sub(lambda m: mathml.convert(html.unescape(m.group(1)), False), body)


_DETAILS = re.compile(r'<details( open)? markdown="1">\n(<summary>[^<>\n]*</summary>)\n\n(.*)\n\n</details>', re.S)
_PLAIN = r"[^\\`*_$<>&\[\]!|#~{}\n]"
# an underscore between letters or digits can neither open nor close emphasis in Python-Markdown
_PLAIN = rf"(?:{_PLAIN}|(?<=[^\W_])_(?=[^\W_]))"
_ENTITY = r"&#[0-9]{1,7};"  # what md_escape makes of user text; Python-Markdown passes it on as it is
_MATH = r"\$[^$\s][^$\n]*(?<!\s)\$"
_CODE = r"`[^`\n]+`"
_BOLD = rf"\*\*(?:{_PLAIN}|{_ENTITY}|{_MATH}|{_CODE})+?\*\*"
_LINE = re.compile(rf"(?:{_PLAIN}|{_ENTITY}|{_MATH}|{_CODE}|{_BOLD})*")
_PART = re.compile(rf"({_MATH})|({_CODE})|\*\*((?:{_PLAIN}|{_ENTITY}|{_MATH}|{_CODE})+?)\*\*")
_ALIGN = {
    (False, True): ' style="text-align: right;"',
    (True, False): ' style="text-align: left;"',
    (True, True): ' style="text-align: center;"',
}
# a line that would start a block of its own, not continue a paragraph or a list item
_BLOCK_START = re.compile(r"[ \t#>|]|[-+*] |\d+[.)] |=+$|-+$|\$\$|<")


def _inline(text: str) -> str | None:
    """Plain text, entities, inline math, code spans and bold as Python-Markdown and the MathML
    step would write them; None for anything else."""
    if not _LINE.fullmatch(text) or text != text.strip(" "):
        return None
    out, pos = [], 0
    for m in _PART.finditer(text):
        out.append(text[pos : m.start()])
        if m.group(1) is not None:
            out.append(mathml.convert(m.group(1)[1:-1], False))
        elif m.group(2) is not None:
            out.append(f"<code>{html.escape(m.group(2)[1:-1].strip(), quote=False)}</code>")
        else:
            inner = _inline(m.group(3))
            if inner is None:
                return None
            out.append(f"<strong>{inner}</strong>")
        pos = m.end()
    out.append(text[pos:])
    return "".join(out)


def _simple_table(unit: str) -> str | None:
    """A pipe table whose cells hold only inline text, converted directly (tables are most of
    what Python-Markdown spends its time on in a report)."""
    lines = unit.split("\n")
    if len(lines) < 2 or not all(len(line) > 2 and line[0] == line[-1] == "|" for line in lines):
        return None
    rows = [[c.strip() for c in line[1:-1].split("|")] for line in lines]
    n = len(rows[0])
    seps = rows[1]
    if any(len(r) != n for r in rows) or not all(re.fullmatch(r":?-{3,}:?", c) for c in seps):
        return None
    cells = [[_inline(c) for c in r] for r in rows[:1] + rows[2:]]
    if any(c is None for r in cells for c in r):
        return None
    aligns = [_ALIGN.get((c.startswith(":"), c.endswith(":")), "") for c in seps]
    head = "".join(f"<th{a}>{c}</th>\n" for a, c in zip(aligns, cells[0]))
    body = "".join("<tr>\n" + "".join(f"<td{a}>{c}</td>\n" for a, c in zip(aligns, r)) + "</tr>\n" for r in cells[1:])
    return f"<table>\n<thead>\n<tr>\n{head}</tr>\n</thead>\n<tbody>\n{body}</tbody>\n</table>"


def _simple_paragraph(unit: str) -> str | None:
    """Lines of inline text that start no other block, as one paragraph."""
    lines = unit.split("\n")
    if any(not line or line.endswith(" ") or _BLOCK_START.match(line) for line in lines):
        return None
    parts = [_inline(line) for line in lines]
    if any(p is None for p in parts):
        return None
    return "<p>" + "\n".join(parts) + "</p>"  # type: ignore[arg-type]


def _heading(unit: str) -> str | None:
    m = re.fullmatch(r"(#{1,6}) ([^\n]*[^\n#\s])", unit)
    body = _inline(m.group(2)) if m else None
    return None if m is None or body is None else f"<h{len(m.group(1))}>{body}</h{len(m.group(1))}>"


def _simple_list(unit: str) -> str | None:
    """A list of one-line items (bulleted with "- ", or numbered): no nesting, no paragraphs."""
    lines = unit.split("\n")
    ordered = unit[:1].isdigit()
    marker = re.compile(r"\d+\. (.*)" if ordered else r"- (.*)")
    items = []
    for line in lines:
        m = marker.fullmatch(line)
        if m is None or not m.group(1) or line.endswith(" ") or _BLOCK_START.match(m.group(1)):
            return None
        body = _inline(m.group(1))
        if body is None:
            return None
        items.append(f"<li>{body}</li>\n")
    tag = "ol" if ordered else "ul"
    return f"<{tag}>\n{''.join(items)}</{tag}>"


def _quote(unit: str) -> str | None:
    """A quoted paragraph."""
    lines = unit.split("\n")
    if not all(line.startswith("> ") for line in lines):
        return None
    inner = _simple_paragraph("\n".join(line[2:] for line in lines))
    return None if inner is None else f"<blockquote>\n{inner}\n</blockquote>"


def _display(unit: str) -> str | None:
    """A display formula alone: what arithmatex and the MathML step make of it."""
    if unit.startswith("$$\n") and unit.endswith("\n$$") and unit.count("$$") == 2:
        return mathml.display_block(unit[3:-3])
    return None


_RUNS = re.compile(r"([0-9]+)")
_HOLES = [mathml.hole(k) for k in range(2000)]


@lru_cache(maxsize=4096)  # a block without numbers repeats whole from page to page and variant to variant
def direct(unit: str) -> str | None:
    """The HTML of one block of a report without Python-Markdown, or None for a block shape it
    does not take (which Python-Markdown converts).

    Converted with its numbers taken out (see mathml.HOLE) and put back: no step below reads a
    digit's value, only that it is a digit, so a block converts as its numbers' skeleton does,
    and the skeleton is remembered across renders and variants. A character reference keeps its
    digits (the inline pattern reads them)."""
    parts = _RUNS.split(unit)
    runs = parts[1::2]
    if not runs or len(runs) > len(_HOLES) or "&#" in unit or mathml.has_holes(unit):
        return _direct(unit)
    parts[1::2] = _HOLES[: len(runs)]
    try:
        shape = _skeleton("".join(parts))
    except mathml.Unsupported:  # a formula for latex2mathml, which must see its numbers
        return _direct(unit)
    if shape is None:
        return None
    texts, order = shape
    out = [texts[0]]
    for k, text in zip(order, texts[1:]):
        out += (runs[k], text)
    return "".join(out)


@lru_cache(maxsize=8192)
def _skeleton(unit: str) -> tuple[list[str], list[int]] | None:
    """A block of holes converted: the HTML between the holes, and which number fills each."""
    out = _direct(unit)
    if out is None:
        return None
    pieces = mathml.HOLE.split(out)
    return pieces[::2], [int(k) for k in pieces[1::2]]


@lru_cache(maxsize=8192)  # headings and explanations repeat from page to page and variant to variant
def _direct(unit: str) -> str | None:
    first = unit[:1]
    if first == "|":
        return _simple_table(unit)
    if first == "#":
        return _heading(unit)
    if first == "-" or first.isdigit():
        return _simple_list(unit) or _simple_paragraph(unit)
    if first == ">":
        return _quote(unit)
    if first == "$" and unit.startswith("$$"):
        return _display(unit)
    return _simple_paragraph(unit)


def markdown_to_html(text: str, figures: Callable[[str], str] | None = None) -> str:
    """Python-Markdown's HTML for the report, with every formula as MathML.

    Converted part by part, each part remembered: a report repeats most of its paragraphs from
    one render to the next (and across the variants of an exercise set), and the parts give the
    same HTML as the whole. A document that defines reference links is converted whole.
    """

    def place(t: str) -> str:
        return FIGURE.sub(lambda m: figures(m.group(1)), t) if figures else t

    if _DOCUMENT_WIDE.search(text):
        return _to_mathml(_markdown().convert(place(text)))
    out: list[str] = []
    for u in _units(text.strip("\n")):
        fig = FIGURE.fullmatch(u)
        if fig and figures:  # a figure is raw HTML that Python-Markdown would pass as it is
            out += [figures(fig.group(1)), ""]
            continue
        details = _DETAILS.fullmatch(u)
        if details and "<details" not in details.group(3):
            # md_in_html turns the Markdown inside into HTML between the tags: do that part by part
            inner = markdown_to_html(details.group(3), figures)
            out.append(f"<details{details.group(1) or ''}>\n{details.group(2)}\n{inner}\n</details>")
            continue
        done = direct(u)
        if done is not None:
            out.append(done)
            continue
        u = place(u)
        html_ = _convert_unit(u)
        if html_:
            out.append(_to_mathml(html_))
            # Python-Markdown leaves a blank line after a raw HTML block (not after <details>,
            # whose inside it parses); the whole document's HTML does, so the parts do too
            if u.startswith("<") and not u.startswith("<details"):
                out.append("")
    return "\n".join(out).rstrip("\n")

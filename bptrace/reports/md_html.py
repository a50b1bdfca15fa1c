"""Markdown to HTML with MathML: the report's Markdown, converted part by part, each formula as MathML."""

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
        depth += len(re.findall(r"^<details\b", block, re.M)) - len(re.findall(r"^</details>", block, re.M))
        depth = max(depth, 0)
    return units


@lru_cache(maxsize=4096)
def _convert_unit(unit: str) -> str:
    md = _converter("[" not in unit)
    md.reset()
    return md.convert(unit)  # type: ignore[no-any-return]


def _to_mathml(body: str) -> str:
    body = _BLOCK.sub(lambda m: '<div class="math">' + mathml.convert(html.unescape(m.group(1)), True) + "</div>", body)
    return _INLINE.sub(lambda m: mathml.convert(html.unescape(m.group(1)), False), body)


_DETAILS = re.compile(r'<details( open)? markdown="1">\n(<summary>[^<>\n]*</summary>)\n\n(.*)\n\n</details>', re.S)
_PLAIN = r"[^\\`*_$<>&\[\]!|#~{}\n]"
_CELL = re.compile(rf"(?:{_PLAIN}|\$[^$\n]+\$|`[^`\n]+`|\*\*{_PLAIN}+\*\*)*")
_CELL_PART = re.compile(rf"\$([^$\n]+)\$|`([^`\n]+)`|\*\*({_PLAIN}+)\*\*")
_PARAGRAPH = re.compile(rf"(?:{_PLAIN}|\$[^$\n]+\$|`[^`\n]+`|\*\*{_PLAIN}+\*\*|\n)*")
_ALIGN = {
    (False, True): ' style="text-align: right;"',
    (True, False): ' style="text-align: left;"',
    (True, True): ' style="text-align: center;"',
}


def _cell_html(cell: str) -> str:
    """A cell of plain text, inline math and code spans, as Python-Markdown and the MathML step
    would write it."""
    out, pos = [], 0
    for m in _CELL_PART.finditer(cell):
        out.append(cell[pos : m.start()])
        if m.group(1) is not None:
            out.append(mathml.convert(m.group(1), False))
        elif m.group(2) is not None:
            out.append(f"<code>{html.escape(m.group(2).strip(), quote=False)}</code>")
        else:
            out.append(f"<strong>{m.group(3)}</strong>")
        pos = m.end()
    out.append(cell[pos:])
    return "".join(out)


def _simple_table(unit: str) -> str | None:
    """A pipe table whose cells hold only plain text, inline math and code, converted directly
    (tables are most of what Python-Markdown spends its time on in a report); None for anything
    else, which Python-Markdown converts."""
    lines = unit.split("\n")
    if len(lines) < 2 or not all(line.startswith("| ") and line.endswith(" |") for line in lines):
        return None
    rows = [[c.strip() for c in line[2:-2].split(" | ")] for line in lines]
    n = len(rows[0])
    seps = rows[1]
    if any(len(r) != n for r in rows) or not all(re.fullmatch(r":?-{3,}:?", c) for c in seps):
        return None
    if not all(_CELL.fullmatch(c) for r in rows[:1] + rows[2:] for c in r):
        return None
    aligns = [_ALIGN.get((c.startswith(":"), c.endswith(":")), "") for c in seps]
    head = "".join(f"<th{a}>{_cell_html(c)}</th>\n" for a, c in zip(aligns, rows[0]))
    body = "".join(
        "<tr>\n" + "".join(f"<td{a}>{_cell_html(c)}</td>\n" for a, c in zip(aligns, r)) + "</tr>\n" for r in rows[2:]
    )
    return f"<table>\n<thead>\n<tr>\n{head}</tr>\n</thead>\n<tbody>\n{body}</tbody>\n</table>"


def _simple_paragraph(unit: str) -> str | None:
    """A paragraph of plain text, bold, inline math and code, converted directly; None for any
    other block (a list, a heading, a quote...), which Python-Markdown converts."""
    first = unit[:1]
    bold_start = unit.startswith("**")
    if not first or (first in "#>-+*|<$ \t=" and not bold_start) or first.isdigit() or not _PARAGRAPH.fullmatch(unit):
        return None
    lines = unit.split("\n")
    if any(
        line[:1] in " \t"
        or line.startswith(("#", ">", "- ", "+ ", "* ", "|"))
        or re.match(r"\d+[.)] ", line)
        or set(line) <= {"=", "-"}
        for line in lines
    ):
        return None
    return f"<p>{_cell_html(unit)}</p>"


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
    for u in _units(text):
        fig = FIGURE.fullmatch(u)
        if fig and figures:  # a figure is raw HTML that Python-Markdown would pass as it is
            out += [figures(fig.group(1)), ""]
            continue
        details = _DETAILS.fullmatch(u)
        if details and "<details" not in details.group(3):
            # md_in_html turns the Markdown inside into HTML between the tags: do that part by part
            inner = markdown_to_html(details.group(3), figures)
            out.append(f"<details{details.group(1)}>\n{details.group(2)}\n{inner}\n</details>")
            continue
        direct = _simple_table(u) or _simple_paragraph(u)
        if direct is not None:
            out.append(direct)
            continue
        if u.startswith("$$\n") and u.endswith("\n$$") and u.count("$$") == 2:
            # a display formula alone: what arithmatex and the MathML step make of it, directly
            out.append('<div class="math">' + mathml.convert(u[3:-3], True) + "</div>")
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

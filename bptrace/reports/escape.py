"""User text made inert in Markdown, HTML and math."""

from __future__ import annotations

import re

_MD_SPECIAL = re.compile(r"[\\`*_\[\]<>&|$~#]")


def md_escape(s: str) -> str:
    """User text made inert in Markdown and HTML (and in arithmatex: no $ starts math)."""
    s = re.sub(r"[\x00-\x1f\x7f]+", " ", str(s))
    return _MD_SPECIAL.sub(lambda m: f"&#{ord(m.group())};", s)


_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f]+")


def code_span(s: str) -> str:
    """Text as a Markdown code span that nothing inside it can close: no line breaks, and a fence
    longer than any run of backticks it holds."""
    s = _CONTROL.sub(" ", str(s))
    runs = [len(m) for m in re.findall(r"`+", s)]
    if not runs:
        return f"`{s}`"
    fence = "`" * (max(runs) + 1)
    return f"{fence} {s} {fence}"


def plain(s: str) -> str:
    """Text with its control characters (which no HTML or terminal should receive) as spaces."""
    return _CONTROL.sub(" ", str(s))

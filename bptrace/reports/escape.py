"""User text made inert in Markdown, HTML and math."""

from __future__ import annotations

import re

_MD_SPECIAL = re.compile(r"[\\`*_\[\]<>&|$~#]")


def md_escape(s: str) -> str:
    """User text made inert in Markdown and HTML (and in arithmatex: no $ starts math)."""
    s = re.sub(r"[\x00-\x1f\x7f]+", " ", str(s))
    return _MD_SPECIAL.sub(lambda m: f"&#{ord(m.group())};", s)

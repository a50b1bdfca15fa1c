"""How a Trace shows itself in a notebook: its HTML report, in an iframe so its styles stay its own."""

from __future__ import annotations

import html

from .. import titles
from ..tracedata import Trace
from . import render


def notebook_html(trace: Trace) -> str:
    page = render(trace, "html")
    return (
        f'<iframe srcdoc="{html.escape(page, quote=True)}" title="{html.escape(titles.text_in(trace.spec["title"], "en"), quote=True)}" '
        'style="width: 100%; height: 640px; border: 1px solid #e5e7eb; border-radius: 6px;"></iframe>'
    )

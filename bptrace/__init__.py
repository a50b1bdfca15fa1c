"""bptrace: backpropagation made visible.

import bptrace
spec = bptrace.load_spec("article")
tr = bptrace.trace(spec, iterations=10000)
md = bptrace.render(tr, "md", lang="zh")
"""

from __future__ import annotations

from ._version import __version__
from .errors import Diverged, SpecError
from .spec import Spec, load_spec
from .tracedata import NOTEBOOK_VIEWS, Record, Step, Trace

__all__ = [
    "Diverged",
    "Record",
    "Spec",
    "SpecError",
    "Step",
    "Trace",
    "__version__",
    "from_torch",
    "load_spec",
    "render",
    "trace",
]

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

    from .reports import render
    from .torch_model import from_torch
    from .tracer import trace


# the notebook views; jinja2 and the renderer load only when a notebook shows a trace
def _notebook_html(trace: Trace) -> str:
    from .reports.notebook import notebook_html

    return notebook_html(trace)


def _notebook_markdown(trace: Trace) -> str:
    from .reports.notebook import notebook_markdown

    return notebook_markdown(trace)


def _full_report(trace: Trace, fmt: Any = "html", **kw: Any) -> Any:
    from .reports.notebook import full_report

    return full_report(trace, fmt, **kw)


NOTEBOOK_VIEWS.update({"text/html": _notebook_html, "text/markdown": _notebook_markdown, "report": _full_report})


def __getattr__(name: str) -> Any:
    # numpy and jinja2 load only when tracing or rendering is asked for
    if name == "trace":
        from .tracer import trace

        return trace
    if name == "render":
        from .reports import render

        return render
    if name == "from_torch":  # torch loads only when the bridge is used
        from .torch_model import from_torch

        return from_torch
    raise AttributeError(name)

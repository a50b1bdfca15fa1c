"""How a Trace shows itself in a notebook: a compact view, with the full report one call away.

The view is small (a few KB, not a whole report per displayed cell) and comes in two flavours:

- text/html uses only tags that notebook sanitizers keep (``nbconvert --sanitize-html`` allows div,
  span, pre, code, b, em, ul and li, and escapes the rest into visible text), so it never turns into
  a wall of escaped markup. Math is LaTeX between ``\\(`` and ``\\)``, which the notebook's MathJax
  typesets, and the network is drawn as text in a ``pre``: an SVG would be escaped.
- text/markdown has ``$`` math and the network figure as SVG, for front ends that prefer Markdown.

``Trace.report()`` gives the full worked example (``FullReport``): Markdown with inline figures,
or the HTML page in an iframe so its styles stay its own.
"""

from __future__ import annotations

import html
from dataclasses import dataclass
from typing import Literal

from .. import names, titles
from ..tracedata import Trace
from . import Lang, make_env, messages, render
from .escape import md_escape
from .view import Report

DIGITS = 9
SHOWN_NEURONS = 4  # per layer in the text figure; larger layers show their first and last
SHOWN_GRADIENTS = 4
HINT = "Full worked example: tr.report() (HTML), tr.report('md') (Markdown)"


@dataclass(frozen=True)
class _Fact:
    label: str
    tex: str  # LaTeX, without delimiters


def _num(x: float) -> str:
    from .. import numfmt

    return numfmt.text(x, DIGITS)


def _sci(x: float) -> str:
    mantissa, _, exponent = f"{x:.2e}".partition("e")
    return f"{mantissa} \\times 10^{{{int(exponent)}}}"


def _facts(trace: Trace) -> list[_Fact]:
    spec = trace.spec
    layers = names.layout(spec)
    facts = []
    n = len(trace.history)
    if n:
        e0 = _num(trace.history[0])
        end = f" \\to {_num(trace.final['total_error'])}" if trace.final and n > 1 else ""
        facts.append(
            _Fact(
                "error, first iteration" + (" → after the last" if end else ""), f"E_{{\\mathrm{{total}}}} = {e0}{end}"
            )
        )
    step = trace.steps[0] if trace.steps else None
    if step is not None:
        out = layers[-1]
        values = [trace.value(f"out.{n_}") for n_ in out.neurons[:SHOWN_NEURONS]]
        facts.append(
            _Fact(
                "outputs of the first step",
                ", ".join(f"{names.symbol('out.' + n_)} = {_num(v)}" for n_, v in zip(out.neurons, values)),
            )
        )
        grads = []
        for lay in reversed(layers[1:]):  # the backward pass starts at the output layer
            for w in lay.weight_names()[:SHOWN_GRADIENTS]:
                grads.append(f"{names.symbol('grad.' + w)} = {_num(trace.value('grad.' + w))}")
            if len(grads) >= SHOWN_GRADIENTS:
                break
        facts.append(_Fact("gradients of the first step, output layer first", ", ".join(grads[:SHOWN_GRADIENTS])))
    gc = trace.gradcheck
    if gc and gc["checked"]:
        facts.append(
            _Fact(
                f"gradient check against finite differences ({gc['checked']} of {gc['of']} parameters)",
                f"\\max \\text{{ relative difference}} = {_sci(gc['max_rel_diff'])}",
            )
        )
    return facts


def _title(trace: Trace) -> str:
    return titles.text_in(trace.spec["title"], "en")  # the compact view is in English


def _summary(trace: Trace) -> str:
    spec = trace.spec
    sizes = "-".join(str(layer["size"]) for layer in spec["layers"])
    acts = ", ".join(f"{layer['name']}: {layer.get('activation', 'sigmoid')}" for layer in spec["layers"][1:])
    n = len(trace.history)
    return (
        f"{sizes} network ({acts}), {spec['loss']} loss, learning rate {spec['learning_rate']:g}, "
        f"{n} iteration{'s' * (n != 1)} ({spec['mode']})"
    )


def network_text(trace: Trace) -> str:
    """The network as text columns: each layer's neurons and their first-step outputs."""
    layers = names.layout(trace.spec)
    columns: list[list[str]] = []
    for lay in layers:
        head = f"{lay.name} ({'input' if lay.index == 0 else lay.activation})"
        shown = list(range(lay.size))
        if lay.size > SHOWN_NEURONS:
            shown = [*range(SHOWN_NEURONS - 1), -1, lay.size - 1]
        cells = [head]
        for j in shown:
            if j < 0:
                cells.append("⋮")
                continue
            neuron = lay.neuron(j)
            value = trace.value(f"out.{neuron}") if lay.index and trace.steps else None
            if lay.index == 0 and trace.steps:
                value = trace.full_spec()["samples"][0]["input"][j]
            cells.append(neuron if value is None else f"{neuron} {_num(value)}")
        columns.append(cells)
    height = max(len(c) for c in columns)
    widths = [max(len(s) for s in c) for c in columns]
    lines = []
    for row in range(height):
        cells = [(c[row] if row < len(c) else "").ljust(w) for c, w in zip(columns, widths)]
        arrow = "  →  " if 0 < row < min(len(c) for c in columns) else "     "
        lines.append(arrow.join(cells).rstrip())
    return "\n".join(lines)


def notebook_html(trace: Trace) -> str:
    esc = html.escape
    status = ""
    if trace.diverged:
        status = f'<div class="bptrace-diverged"><b>Diverged:</b> {esc(trace.diverged["message"])}</div>\n'
    items = "\n".join(f"<li>{esc(f.label)}: \\({esc(f.tex)}\\)</li>" for f in _facts(trace))
    return (
        '<div class="bptrace-trace">\n'
        f"<div><b>{esc(_title(trace))}</b></div>\n"
        f"<div>{esc(_summary(trace))}</div>\n"
        f"{status}"
        f"<pre>{esc(network_text(trace))}</pre>\n"
        f"<ul>\n{items}\n</ul>\n"
        f"<div><em>{esc(HINT)}</em></div>\n"
        "</div>\n"
    )


def notebook_markdown(trace: Trace) -> str:
    rep = Report(trace, "en", DIGITS, messages(make_env(), "en"))
    figure = rep.place_figures(rep.network_figure(), inline=True)
    status = f"**Diverged:** {md_escape(trace.diverged['message'])}\n\n" if trace.diverged else ""
    items = "\n".join(f"- {md_escape(f.label)}: ${f.tex}$" for f in _facts(trace))
    return (
        f"**{md_escape(_title(trace))}**\n\n{md_escape(_summary(trace))}\n\n{status}{figure}\n\n"
        f"{items}\n\n*{md_escape(HINT)}*\n"
    )


@dataclass(frozen=True)
class FullReport:
    """The whole worked example: ``str()`` is its text; a notebook shows it."""

    text: str
    fmt: Literal["md", "html"]
    title: str

    def __str__(self) -> str:
        return self.text

    def _repr_markdown_(self) -> str | None:
        return self.text if self.fmt == "md" else None

    def _repr_html_(self) -> str | None:
        if self.fmt != "html":
            return None
        # an iframe keeps the page's stylesheet from restyling the notebook around it
        return (
            f'<iframe srcdoc="{html.escape(self.text, quote=True)}" title="{html.escape(self.title, quote=True)}" '
            'style="width: 100%; height: 640px; border: 1px solid #e5e7eb; border-radius: 6px;"></iframe>'
        )


def full_report(
    trace: Trace, fmt: Literal["md", "html"] = "html", *, lang: Lang = "en", digits: int | None = None
) -> FullReport:
    return FullReport(render(trace, fmt, lang=lang, digits=digits), fmt, titles.text_in(trace.spec["title"], lang))

"""Render a trace into Markdown and a self-contained HTML page, in English or Chinese.

Thin functions over the trace: ``view.Report`` gives templates numbers, formulas and figures; the
templates decide what is said and where. HTML is the Markdown report converted by
Python-Markdown (``md_html``), its math turned into MathML, its tables fitted to the page
(``tables``), wrapped in a page with inline CSS.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping
from typing import Any, Literal

import jinja2

from ..errors import SpecError
from ..fields import short
from ..tracedata import Trace
from . import tables
from .env import LANGS, css, make_env, messages, source
from .escape import md_escape
from .md_html import markdown_to_html
from .view import Report

__all__ = ["LANGS", "Report", "make_env", "markdown_to_html", "md_escape", "messages", "render", "render_files"]


def _normalise_md(text: str) -> str:
    """No blanks at the ends of lines, no more than one empty line in a row."""
    # line by line and with str.replace: a regular expression tries a match at every space
    lines = text.split("\n")
    text = "\n".join([line.rstrip(" \t") for line in lines[:-1]] + lines[-1:])
    while "\n\n\n" in text:
        text = text.replace("\n\n\n", "\n\n")
    return text.strip("\n") + "\n"


def _report_md(
    env: jinja2.Environment, report: Report, template: str = "report.md.j2", context: Mapping[str, Any] | None = None
) -> str:
    return _normalise_md(env.get_template(template).render(r=report, t=report.t, **(context or {})))


Format = Literal["md", "html"]
Lang = Literal["en", "zh"]


def render(
    trace: Trace,
    fmt: Format = "md",
    *,
    lang: Lang = "en",
    digits: int | None = None,
    templates: str | os.PathLike[str] | None = None,
    figures: Literal["inline", "files"] = "inline",
    env: jinja2.Environment | None = None,
) -> str:
    """The report as text: fmt "md" (figures inline as SVG, or "files" to link them) or "html"."""
    if fmt not in ("md", "html"):
        raise SpecError(f"unknown report format {fmt!r}; expected 'md' or 'html'", "fmt")
    if figures not in ("inline", "files"):
        raise SpecError(f"expected 'inline' or 'files', got {figures!r}", "figures")
    return render_files(
        trace, [fmt], lang=lang, digits=digits, templates=templates, single=figures == "inline", env=env
    )[f"report.{fmt}"]


REPORT_FORMATS = ("md", "html", "lecture")


def lecture_page(env: jinja2.Environment, rep: Report) -> str:
    """lecture.html: the slides, the picture, and the script the page's CSP allows by its hash."""
    from .lecture import Lecture, script_hash  # only a lecture needs it: a run of md and html loads none of it

    lec = Lecture(rep)
    slides = lec.build()
    script = source(env, "lecture.js")
    return env.get_template("lecture.html.j2").render(
        r=rep,
        t=rep.t,
        slides=slides,
        picture=lec.picture(),
        css=source(env, "lecture.css"),
        script=script,
        script_hash=script_hash(script),
    )


def render_files(
    trace: Trace,
    formats: Iterable[str],
    *,
    lang: str = "en",
    digits: int | None = None,
    templates: str | os.PathLike[str] | None = None,
    single: bool = False,
    env: jinja2.Environment | None = None,
    stem: str = "report",
    template: str = "report",
    context: Mapping[str, Any] | None = None,
) -> dict[str, str]:
    """Every file the formats need, by relative path: report.md (+ figures/*.svg), report.html, lecture.html.

    Raises SpecError for bad options, a trace that does not hold what its spec implies, and a
    user's template that fails (naming the template folder).
    """
    env = env or make_env(templates)
    try:
        return _render_files(trace, formats, lang, digits, single, env, stem, template, context)
    except SpecError:
        raise
    except (jinja2.TemplateError, ArithmeticError, LookupError, TypeError, ValueError, AttributeError) as e:
        what = f"{type(e).__name__}: {short(str(e), 60)}"
        if isinstance(e, jinja2.TemplateSyntaxError):
            raise SpecError(
                f"line {e.lineno}: {short(e.message or '', 60)}", source=e.filename or e.name or "template"
            ) from None
        if templates is not None:
            raise SpecError(f"a template failed: {what}", source=os.fspath(templates)) from None
        raise SpecError(
            f"the records do not fit the spec (a report needs {what}); was the trace edited?", "steps"
        ) from None
    except Exception as e:
        if templates is None:
            raise
        # anything a user's template sets off (LaTeX latex2mathml cannot read, say) is its own fault
        what = f"{type(e).__name__}: {short(str(e), 60)}"
        raise SpecError(f"a template failed: {what}", source=os.fspath(templates)) from None


def _render_files(
    trace: Trace,
    formats: Iterable[str],
    lang: str,
    digits: int | None,
    single: bool,
    env: jinja2.Environment,
    stem: str,
    template: str,
    context: Mapping[str, Any] | None,
) -> dict[str, str]:
    msgs = messages(env, lang)
    out: dict[str, str] = {}
    formats = list(formats)
    for f in formats:
        if f not in REPORT_FORMATS:
            raise SpecError(f"unknown report format {f!r}; expected 'md', 'html' or 'lecture'", "formats")
    if digits is not None and (isinstance(digits, bool) or not isinstance(digits, int) or not 1 <= digits <= 15):
        raise SpecError(f"expected a whole number from 1 to 15, got {digits!r}", "digits")
    rep = Report(trace, lang, digits, msgs)
    if "lecture" in formats:
        out["lecture.html"] = lecture_page(env, rep)
    if not {"md", "html"} & set(formats):
        return out
    text = _report_md(env, rep, f"{template}.md.j2", context)
    if "md" in formats:
        out[f"{stem}.md"] = rep.place_figures(text, inline=single)
        if not single:
            out.update(rep.figure_files())
    if "html" in formats:
        body = tables.fit(markdown_to_html(text, rep.figure_html))
        page = env.get_template("report.html.j2")
        out[f"{stem}.html"] = page.render(r=rep, t=rep.t, body=body, css=css(env), **(context or {}))
    return out

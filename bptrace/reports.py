"""Render a trace into Markdown and a self-contained HTML page, in English or Chinese.

Thin functions over the trace: ``Report`` gives templates numbers, formulas and figures; the
templates decide what is said and where. HTML is the Markdown report converted by
Python-Markdown, its math turned into MathML, wrapped in a page with inline CSS.
"""

from __future__ import annotations

import html
import os
import re
import tomllib
from collections.abc import Callable, Iterable, Sequence
from functools import lru_cache
from pathlib import Path
from typing import Any

import jinja2

from . import figures as drawing
from . import formula, mathml, names, numfmt
from .errors import SpecError
from .tracedata import Record, Step, Trace, element

_HERE = Path(__file__).parent
# in a wheel the templates sit inside the package; in a source tree or editable install, beside it
BUILTIN_TEMPLATES = _HERE / "templates" if (_HERE / "templates").is_dir() else _HERE.parent / "templates"
LANGS = ("en", "zh")
LONG_EQUATION = 150  # LaTeX characters; longer chains break into aligned lines


def make_env(templates: str | Path | None = None) -> jinja2.Environment:
    """A fresh environment: the user's folder first, then the built-ins (also as "default/...")."""
    builtin = jinja2.FileSystemLoader(str(BUILTIN_TEMPLATES))
    loaders: list[jinja2.BaseLoader] = []
    if templates is not None:
        loaders.append(jinja2.FileSystemLoader(str(templates)))
    loaders += [jinja2.PrefixLoader({"default": builtin}), builtin]
    env = jinja2.Environment(
        loader=jinja2.ChoiceLoader(loaders),
        bytecode_cache=_bytecode_cache(),
        autoescape=jinja2.select_autoescape(enabled_extensions=("html.j2",), default_for_string=False),
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
    )
    env.filters["md"] = md_escape
    return env


def _bytecode_cache() -> jinja2.BytecodeCache | None:
    """Compiled templates kept between runs (Jinja's own per-user cache folder under the temp
    dir): compiling the report templates costs more than rendering them. Keyed by each
    template's source, so an edited template is compiled again."""
    if os.environ.get("BPTRACE_NO_TEMPLATE_CACHE"):
        return None
    try:
        return jinja2.FileSystemBytecodeCache()
    except OSError:
        return None


def _source(env: jinja2.Environment, name: str) -> str:
    """A file found through the template loader (so a user's folder can replace it), read once
    per environment: catalogues and the stylesheet are needed by every render."""
    cache: dict[str, str] = env.globals.setdefault("_bptrace_sources", {})  # type: ignore[assignment]
    if name not in cache:
        assert env.loader is not None
        cache[name] = env.loader.get_source(env, name)[0]
    return cache[name]


def messages(env: jinja2.Environment, lang: str) -> dict[str, str]:
    """The message catalogue of a language; English fills in what another language lacks."""
    if lang not in LANGS:
        raise SpecError(f"unknown language {lang!r}; expected one of {', '.join(LANGS)}", "--lang")
    parsed: dict[str, dict[str, str]] = env.globals.setdefault("_bptrace_messages", {})  # type: ignore[assignment]
    if lang not in parsed:
        base = tomllib.loads(_source(env, "i18n/en.toml"))
        if lang != "en":
            base.update(tomllib.loads(_source(env, f"i18n/{lang}.toml")))
        parsed[lang] = base
    return parsed[lang]


# ---------------------------------------------------------------- escaping user text

_MD_SPECIAL = re.compile(r"[\\`*_\[\]<>&|$~#]")


def md_escape(s: str) -> str:
    """User text made inert in Markdown and HTML (and in arithmatex: no $ starts math)."""
    s = re.sub(r"[\x00-\x1f\x7f]+", " ", str(s))
    return _MD_SPECIAL.sub(lambda m: f"&#{ord(m.group())};", s)


# ---------------------------------------------------------------- what templates call


class Report:
    """Numbers, formulas and figures for the templates, all read from one trace."""

    def __init__(
        self, trace: Trace, lang: str, digits: int | None, msgs: dict[str, str], spec: dict[str, Any] | None = None
    ) -> None:
        self.trace = trace
        # the trace leaves out weights that init redraws; the report shows them, so redraw them
        self.spec = spec if spec is not None else trace.full_spec()
        self.lang = lang
        self.digits = digits or numfmt.DEFAULT_DIGITS
        self.msgs = msgs
        self.figures: dict[str, tuple[str, str]] = {}
        self.layers = names.layout(self.spec)
        self.title = md_escape(self.spec["title"])
        first = [s for s in trace.steps if s.iteration == trace.steps[0].iteration] if trace.steps else []
        self.step: Step | None = first[0] if first else None
        self.steps1 = first
        self.agg: Step | None = next((s for s in first if s.sample is None), None)
        self.batch = self.spec["mode"] == "batch"
        d = trace.diverged
        # a run that broke inside its first traced step has no complete derivation to show
        self.broken = bool(d and self.step is not None and d["iteration"] == self.step.iteration)

    # ------------------------------------------------------------ words

    def t(self, key: str, **kw: Any) -> str:
        text = self.msgs[key]
        return text.format(**kw) if kw else text

    # ------------------------------------------------------------ numbers

    def num(self, x: float) -> str:
        return numfmt.text(x, self.digits)

    def tex(self, x: float) -> str:
        return numfmt.latex(x, self.digits)

    def rec(self, key: str, step: Step | None = None) -> Record | None:
        s = step or self.step
        return s.get(key) if s else None

    def val(self, key: str, step: Step | None = None) -> float:
        s = step or self.step
        found = element(s, key, self.layers) if s else None
        if found is None:
            raise KeyError(key)
        return found

    def values(self, kind: str, lay: names.LayerLayout, step: Step | None = None) -> list[float]:
        """One quantity for every neuron of a layer, from scalar or array records."""
        return [self.val(f"{kind}.{n}", step) for n in lay.neurons]

    def elementwise(self, layer_index: int) -> bool:
        """Whether each output of the layer depends on its own net input alone (not softmax)."""
        layers = self.trace.network.get("layers", [])
        if layer_index < len(layers):
            return bool(layers[layer_index].get("elementwise", True))
        return True

    def sym(self, key: str) -> str:
        return names.symbol(key)

    def name_sym(self, name: str) -> str:
        """A neuron or parameter name as math: w5 -> w_{5}, h1 -> h_{1}."""
        if re.fullmatch(r"[wb]\d+|b_.+", name):
            return names.param_symbol(name)
        return names.neuron_value_symbol(name)

    def parts(self, rec: Record) -> list[str]:
        """lhs, the symbolic right side, the numbers put in, the result; repeats dropped."""
        lhs = names.symbol(rec.key)
        out = [lhs]
        if rec.expr is not None:
            out.append(formula.latex(rec.expr))
            sub = formula.latex(rec.expr, self.tex)
            if sub != out[-1]:
                out.append(sub)
        elif rec.formula:
            out.append(rec.formula.split(" = ", 1)[-1])
        result = self.tex(rec.value) if not isinstance(rec.value, list) else None
        if result is not None and result != out[-1]:
            out.append(result)
        return out

    def chain(self, parts: Sequence[str]) -> str:
        """A display equation from its = parts: one line, or aligned lines when long."""
        parts = [p for p in parts if p]
        if len(parts) <= 2 or sum(len(p) for p in parts) <= LONG_EQUATION:
            return "$$\n" + " = ".join(parts) + "\n$$"
        lines = [f"{parts[0]} &= {parts[1]}"] + [f"&= {p}" for p in parts[2:]]
        return "$$\n\\begin{align*}\n" + " \\\\\n".join(lines) + "\n\\end{align*}\n$$"

    def eq(self, key: str | Record, step: Step | None = None) -> str:
        rec = key if isinstance(key, Record) else self.rec(key, step)
        if rec is None:
            return ""
        if rec.is_array:
            return "$$\n" + rec.formula + "\n$$"
        return self.chain(self.parts(rec))

    # ------------------------------------------------------------ large layers

    def big(self, layer_index: int) -> bool:
        """Whether this layer was traced in matrix form (one array record per quantity)."""
        if self.step is None or layer_index == 0:
            return False
        rec = self.step.get(f"net.{self.layers[layer_index].name}")
        return rec is not None and rec.is_array

    @property
    def any_big(self) -> bool:
        return any(self.big(k) for k in range(1, len(self.layers)))

    def shown(self, n: int, limit: int = 8) -> list[int | None]:
        """Indices to list out of n (None marks a gap): all of them, or the first few and the last."""
        if n <= limit:
            return list(range(n))
        return list(range(limit - 2)) + [None, n - 1]

    def numbers(self, xs: Sequence[float], limit: int = 8) -> str:
        parts = ["…" if k is None else self.num(xs[k]) for k in self.shown(len(xs), limit)]
        return ", ".join(parts)

    def shape(self, key: str, step: Step | None = None) -> str:
        rec = self.rec(key, step)
        return "×".join(str(d) for d in rec.shape) if rec is not None and rec.shape else ""

    @property
    def drawn(self) -> list[int]:
        """Layers whose weights came from init (the trace leaves them to the seed)."""
        return [k for k, layer in enumerate(self.trace.spec["layers"]) if k and "weights" not in layer]

    def matrix_table(self, values: Sequence[Sequence[float]], rows: int = 5, cols: int = 7) -> str:
        """A corner of a matrix as a Markdown table: row j holds the weights into neuron j."""
        js, is_ = self.shown(len(values), rows), self.shown(len(values[0]), cols)
        head = "| j \\ i | " + " | ".join("…" if i is None else str(i + 1) for i in is_) + " |"
        lines = [head, "| ---: |" + " ---: |" * len(is_)]
        for j in js:
            if j is None:
                lines.append("| ⋮ |" + " ⋮ |" * len(is_))
                continue
            cells = ["…" if i is None else self.num(values[j][i]) for i in is_]
            lines.append(f"| {j + 1} | " + " | ".join(cells) + " |")
        return "\n".join(lines)

    def rhs(self, key: str, step: Step | None = None, numbers: bool = True) -> str:
        """The right side of a record, with numbers put in (or symbols), as inline math."""
        rec = self.rec(key, step)
        if rec is None or rec.expr is None:
            return ""
        return "$" + formula.latex(rec.expr, self.tex if numbers else None) + "$"

    def product(self, factors: Sequence[str], result: str, step: Step | None = None) -> str:
        """grad = f1 · f2 · f3 with symbols, then numbers, then the value."""
        syms = r" \cdot ".join(names.symbol(k) for k in factors)
        nums = r" \cdot ".join(_paren_neg(self.tex(self.val(k, step))) for k in factors)
        return self.chain([names.symbol(result), syms, nums, self.tex(self.val(result, step))])

    def records(self, kind: str, layer: str | None = None, step: Step | None = None) -> list[Record]:
        s = step or self.step
        if s is None:
            return []
        return [r for r in s.records if r.kind == kind and (layer is None or r.layer == layer)]

    # ------------------------------------------------------------ figures

    def _figure(self, name: str, svg: str, caption: str) -> str:
        # a marker now; place_figures() puts the figure in, linked or inline, so one rendering
        # of the template serves both the Markdown file and the HTML page
        self.figures[name] = (svg, caption)
        return f"\x00figure:{name}\x00"

    def figure_html(self, name: str) -> str:
        svg, caption = self.figures[name]
        return f'<figure class="figure">\n{svg}\n<figcaption>{caption}</figcaption>\n</figure>'

    def place_figures(self, text: str, inline: bool) -> str:
        def put(m: re.Match[str]) -> str:
            if inline:
                return self.figure_html(m.group(1))
            return f"![{self.figures[m.group(1)][1]}](figures/{m.group(1)}.svg)"

        return _FIGURE.sub(put, text)

    def figure_files(self) -> dict[str, str]:
        return {f"figures/{name}.svg": svg + "\n" for name, (svg, _) in sorted(self.figures.items())}

    def layer_caption(self, lay: names.LayerLayout) -> str:
        if lay.index == 0:
            return self.t("layer_input_desc", size=lay.size)
        return self.t("layer_desc", size=lay.size, act=self.t(f"act_{lay.activation}"))

    def network_figure(self) -> str:
        svg = drawing.network(self.layers, self.spec, self.digits, self.t("fig_network_title"), self.layer_caption)
        return self._figure("network", svg, self.t("fig_network"))

    def chain_figure(self, layer_index: int) -> str:
        if self.step is None:
            return ""
        lay = self.layers[layer_index]
        down = self.layers[layer_index + 1 : layer_index + 2]
        w = lay.first_weight
        svg = drawing.chain(self.step, lay, down, 0, 0, self.digits, self.t("fig_chain_title", weight=w))
        return self._figure(f"chain-{w}", svg, self.t("fig_chain", weight=w))

    def loss_figure(self) -> str:
        svg = drawing.loss_curve(
            self.trace.history, self.t("fig_loss_title"), self.t("fig_loss_x"), self.t("fig_loss_y")
        )
        return self._figure("loss", svg, self.t("fig_loss"))

    # ------------------------------------------------------------ tables of the run

    def history_rows(self, head: int = 5, tail: int = 5) -> list[tuple[int, float] | None]:
        """(iteration, error) for the first and last iterations; None marks the gap."""
        h = self.trace.history
        n = len(h)
        if n <= head + tail:
            return [(k + 1, h[k]) for k in range(n)]
        return [(k + 1, h[k]) for k in range(head)] + [None] + [(k + 1, h[k]) for k in range(n - tail, n)]


def _paren_neg(s: str) -> str:
    return rf"\left({s}\right)" if s.startswith("-") or r"\times" in s else s


# ---------------------------------------------------------------- Markdown to HTML with MathML

_FIGURE = re.compile("\x00figure:([^\x00]+)\x00")
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
        return _FIGURE.sub(lambda m: figures(m.group(1)), t) if figures else t

    if _DOCUMENT_WIDE.search(text):
        return _to_mathml(_markdown().convert(place(text)))
    out: list[str] = []
    for u in _units(text):
        fig = _FIGURE.fullmatch(u)
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


# ---------------------------------------------------------------- entry points


def _normalise_md(text: str) -> str:
    text = re.sub(r"[ \t]+\n", "\n", text)
    text = re.sub(r"\n{3,}", "\n\n", text)
    return text.strip("\n") + "\n"


def _report_md(env: jinja2.Environment, report: Report, template: str = "report.md.j2") -> str:
    return _normalise_md(env.get_template(template).render(r=report, t=report.t))


def render(
    trace: Trace,
    fmt: str = "md",
    *,
    lang: str = "en",
    digits: int | None = None,
    templates: str | Path | None = None,
    figures: str = "inline",
    env: jinja2.Environment | None = None,
) -> str:
    """The report as text: fmt "md" (figures inline as SVG, or "files" to link them) or "html"."""
    return render_files(
        trace, [fmt], lang=lang, digits=digits, templates=templates, single=figures == "inline", env=env
    )[f"report.{fmt}"]


def render_files(
    trace: Trace,
    formats: Iterable[str],
    *,
    lang: str = "en",
    digits: int | None = None,
    templates: str | Path | None = None,
    single: bool = False,
    env: jinja2.Environment | None = None,
    stem: str = "report",
    template: str = "report",
) -> dict[str, str]:
    """Every file the formats need, by relative path: report.md (+ figures/*.svg), report.html."""
    env = env or make_env(templates)
    msgs = messages(env, lang)
    out: dict[str, str] = {}
    formats = list(formats)
    for f in formats:
        if f not in ("md", "html"):
            raise SpecError(f"unknown report format {f!r}; expected md or html", "--format")
    rep = Report(trace, lang, digits, msgs)
    text = _report_md(env, rep, f"{template}.md.j2")
    if "md" in formats:
        out[f"{stem}.md"] = rep.place_figures(text, inline=single)
        if not single:
            out.update(rep.figure_files())
    if "html" in formats:
        body = markdown_to_html(text, rep.figure_html)
        out[f"{stem}.html"] = env.get_template("report.html.j2").render(r=rep, t=rep.t, body=body, css=_css(env))
    return out


def _css(env: jinja2.Environment) -> str:
    return _source(env, "style.css")

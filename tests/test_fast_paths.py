"""Every fast path against the general one it replaces."""

from __future__ import annotations

import json
import re
import xml.etree.ElementTree as ET
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from latex2mathml.converter import convert as l2m

import bptrace
from bptrace import reports
from bptrace.reports import mathml, md_html

from strategies import specs

CASES = [
    ("article", {}),
    ("xor", {}),
    ("softmax", {}),
    ("softmax", {"loss": "mse"}),
    ("article", {"rounding": "hand:4"}),
    ("article", {"iterations": 30}),
]


def _markdown(name: str, kw: dict, lang: str) -> str:
    tr = bptrace.trace(name, **kw)
    env = reports.make_env()
    rep = reports.Report(tr, lang, None, reports.messages(env, lang))
    return rep.place_figures(reports._report_md(env, rep), inline=True)


@pytest.fixture(scope="module")
def documents() -> list[str]:
    return [_markdown(n, kw, lang) for n, kw in CASES for lang in ("en", "zh")]


def _formulas(md: str) -> list[tuple[str, bool]]:
    blocks = [(m, True) for m in re.findall(r"\$\$\n(.*?)\n\$\$", md, flags=re.S)]
    inline = [
        (m, False)
        for m in re.findall(r"(?<![$\\])\$([^$\n]+?)\$(?!\$)", re.sub(r"\$\$\n.*?\n\$\$", "", md, flags=re.S))
    ]
    return blocks + inline


def _leaves(xml: str) -> list[str]:
    """The visible characters of a MathML tree, in order (structure and spacing aside)."""
    root = ET.fromstring(xml)
    out = []
    for el in root.iter():
        if el.tag.split("}")[-1] in ("mi", "mn", "mo", "mtext") and el.text:
            out.append(el.text)
    return ["".join(out).replace("\u2061", "").replace(" ", "")]


def test_every_built_in_formula_takes_the_fast_path(documents: list[str]) -> None:
    seen = 0
    for md in documents:
        for tex, display in _formulas(md):
            out = mathml.fast(tex, display)  # raises if the fast path cannot take it
            ET.fromstring(out)
            assert "\\" not in out
            seen += 1
    assert seen > 500


def test_fast_mathml_shows_what_latex2mathml_shows(documents: list[str]) -> None:
    swap = str.maketrans({"⋅": "·", "−": "-", "{": "", "}": ""})
    for md in documents[:4]:
        for tex, display in _formulas(md):
            ours = _leaves(mathml.fast(tex, display))[0].translate(swap)
            theirs = _leaves(l2m(tex, display="block" if display else "inline"))[0].translate(swap)
            assert ours == theirs, tex


def test_unknown_latex_falls_back_to_latex2mathml() -> None:
    tex = r"\overline{x} + \sqrt{y}"
    with pytest.raises(mathml.Unsupported):
        mathml.fast(tex, False)
    out = mathml.convert(tex, False)
    assert "<msqrt>" in out and "\\" not in out


def test_report_converted_part_by_part_equals_whole(documents: list[str]) -> None:
    for md in documents:
        whole = md_html._to_mathml(md_html._markdown().convert(md))
        assert reports.markdown_to_html(md) == whole


def test_reference_links_convert_the_whole_document() -> None:
    md = "See [the article][a].\n\n[a]: https://example.org/\n"
    assert 'href="https://example.org/"' in reports.markdown_to_html(md)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(specs())
def test_random_reports_convert_part_by_part_as_whole(spec: dict) -> None:
    tr = bptrace.trace(spec)
    env = reports.make_env()
    rep = reports.Report(tr, "en", None, reports.messages(env, "en"))
    md = rep.place_figures(reports._report_md(env, rep), inline=True)
    assert reports.markdown_to_html(md) == md_html._to_mathml(md_html._markdown().convert(md))


def _blocks(md: str) -> list[str]:
    """Every block of a Markdown report as the HTML step cuts it, the insides of <details> too."""
    out = []
    for u in md_html._units(md.strip("\n")):
        details = md_html._DETAILS.fullmatch(u)
        if details:
            out += _blocks(details.group(3))
        elif not md_html.FIGURE.fullmatch(u):
            out.append(u)
    return out


def _python_markdown(block: str) -> str:
    return md_html._to_mathml(md_html._markdown().convert(block))


@settings(max_examples=30, deadline=None, derandomize=True, suppress_health_check=[HealthCheck.too_slow])
@given(specs(), st.sampled_from(reports.LANGS), st.sampled_from(["report", "question"]))
def test_every_block_of_random_reports_takes_the_direct_path_as_python_markdown_would(
    spec: dict, lang: str, template: str
) -> None:
    tr = bptrace.trace(spec)
    env = reports.make_env()
    rep = reports.Report(tr, lang, None, reports.messages(env, lang))
    md = reports._report_md(env, rep, f"{template}.md.j2")
    blocks = _blocks(md)
    assert len(blocks) > 5
    for block in blocks:
        direct = md_html.direct(block)
        assert direct is not None, block
        assert direct == _python_markdown(block), block


def test_details_closed_and_open_convert_as_python_markdown_does() -> None:
    for tag in ("<details>", "<details open>"):
        attrs = tag[len("<details") : -1]
        md = f'Text.\n\n<details{attrs} markdown="1">\n<summary>All</summary>\n\n| a | b |\n| --- | ---: |\n| 1 | `x` |\n\n</details>\n'
        html = reports.markdown_to_html(md)
        assert f"{tag}\n<summary>All</summary>\n<table>" in html
        assert html == _python_markdown(md)


def test_direct_path_declines_what_it_does_not_know() -> None:
    for block in ("* starred item", "- [link](x)", "a  \nb", "    code", "**open bold", "## heading #", "1. a\n   b"):
        assert md_html.direct(block) is None, block
    assert md_html.direct("title &#95;x&#95;") == _python_markdown("title &#95;x&#95;")


def test_a_block_converts_through_its_numbers_skeleton_as_it_would_whole() -> None:
    """direct() converts a block with its digit runs taken out and put back; every case where
    digits are read, run together or seen by latex2mathml gives what the block gives whole."""
    blocks = [
        "| a | b |\n| --- | ---: |\n| 0.5932 | $w_{5} = -0.4$ |",  # numbers in cells and in math
        "1. first 12\n2. second",  # list numbers, dropped by the HTML
        "x &#95;1&#95; 23",  # a character reference keeps its digits
        "$$\n\\mathrm{1 2} = x^{3}_{4}\n$$",  # digits run together in text, scripts reordered
        "a \u0663 b 4",  # digits of another script in user text
        "$\\overline{12} = 3$",  # LaTeX for latex2mathml
        "$$\n" + " + ".join(f"{k}.{k}" for k in range(2500)) + "\n$$",  # more runs than holes
    ]
    for block in blocks:
        md_html._skeleton.cache_clear()
        whole = md_html._direct(block)
        assert md_html.direct(block) == whole, block
        assert whole is None or whole == _python_markdown(block), block
    # the variants of a block share one skeleton
    md_html._skeleton.cache_clear()
    first, second = "| v |\n| --- |\n| $w_1 = 0.25$ |", "| v |\n| --- |\n| $w_3 = 12.5$ |"
    assert "<mn>0.25</mn>" in (md_html.direct(first) or "") and "<mn>12.5</mn>" in (md_html.direct(second) or "")
    info = md_html._skeleton.cache_info()
    assert (info.misses, info.hits) == (1, 1)


def _same(a: float, b: float) -> bool:
    """Equal, where a NaN equals a NaN: a diverging spec must diverge the same way on both paths."""
    return a == b or (a != a and b != b)


@settings(max_examples=30, deadline=None, derandomize=True, suppress_health_check=[HealthCheck.too_slow])
@given(specs())
def test_finite_differences_on_the_compiled_path_equal_the_expression_trees(spec: dict) -> None:
    from bptrace.engines.scalar import ScalarEngine
    from bptrace.gradcheck import gradient_check

    engine = ScalarEngine(bptrace.load_spec(spec))
    params = engine.initial_params()
    for p in engine.trainable:
        for h in (1e-6, -1e-6, 0.25):
            moved = engine.error_moved(params, p, h, engine.samples)
            general = engine.error({**params, p: params[p] + h}, engine.samples)
            assert _same(moved, general), p
    tr = bptrace.trace(spec)
    if tr.gradcheck is not None:

        class TreeWalk(ScalarEngine):
            def error_moved(self, params: dict, name: str, h: float, samples: list) -> float:
                return self.error({**params, name: params[name] + h}, samples)

        walked = gradient_check(TreeWalk(bptrace.load_spec(spec)), params, tr.steps)
        assert json.dumps(walked, sort_keys=True) == json.dumps(tr.gradcheck, sort_keys=True)  # NaN equals NaN


@settings(max_examples=20, deadline=None, derandomize=True, suppress_health_check=[HealthCheck.too_slow])
@given(specs())
def test_records_written_late_equal_records_written_at_once(spec: dict) -> None:
    from bptrace import formula, names

    tr = bptrace.trace(spec, detail="all")
    seen = 0
    for step in tr.steps:
        for rec in step.records:
            plan = rec.__dict__.get("_pending")
            if plan is None:
                continue
            shape, numbers = plan
            values = dict(zip(shape.variables, numbers))
            lhs = names.symbol(rec.key)
            filled = formula.fill(shape.expr, values)
            assert rec.expr == filled
            assert rec.formula == f"{lhs} = {formula.latex(shape.expr)}"
            assert rec.substituted == f"{lhs} = {formula.latex(filled, formula.exact_latex)}"
            for key, x in values.items():  # the numbers put in are those of the records they name
                earlier = step.get(key)
                if earlier is not None and step.records.index(earlier) < step.records.index(rec):
                    assert _same(earlier.value, x), key
                    seen += 1
    assert seen > 0


@settings(max_examples=40, deadline=None, derandomize=True, suppress_health_check=[HealthCheck.too_slow])
@given(specs(), st.sampled_from([1.0, 60.0]))
def test_matrix_untraced_loop_equals_the_general_one_bit_for_bit(spec: dict, scale: float) -> None:
    from array import array

    import numpy as np

    from bptrace.engines.matrix import MatrixEngine

    # the flat loop stands in for the original variant; large rates make some runs diverge
    spec = {**spec, "learning_rate": spec["learning_rate"] * scale, "hidden_delta_weights": "original"}
    engine = MatrixEngine(bptrace.load_spec(spec))
    start = engine.initial_params()
    kept = start.copy()
    runs = []
    for loop in (engine._fast_flat, engine._fast_general):
        history: array = array("d")
        with np.errstate(all="ignore"):
            bad, after = loop(start, 40, history)
        runs.append((bad, history.tobytes(), [a.tobytes() for a in (*after.W, *after.b)]))
    assert runs[0] == runs[1]
    assert all(np.array_equal(a, b) for a, b in zip((*start.W, *start.b), (*kept.W, *kept.b)))


def _final_by_tree_walk(engine: Any, params: dict) -> dict:
    from bptrace.tracedata import mean

    envs = [engine.forward(params, s) for s in engine.samples]
    return {
        "params": {k: float(params[k]) for k in engine.all_params},
        "outputs": [[float(env[f"out.{n}"]) for n in engine.targets] for env in envs],
        "total_error": float(mean([env["total_error"] for env in envs])),
    }


FINAL_CASES = [
    ("article", {"rounding": "hand:3"}),
    ("article", {"rounding": "sig:4"}),
    ("article", {"dtype": "float32"}),
    ("softmax", {}),
    ("xor", {"mode": "batch"}),
]


def _final_compiled(engine: Any, params: dict) -> dict:
    from bptrace.tracedata import mean

    outs, errs = engine.final_compiled(params)
    return {
        "params": {k: float(params[k]) for k in engine.all_params},
        "outputs": [[float(x) for x in row] for row in outs],
        "total_error": float(mean(errs)),
    }


@pytest.mark.parametrize("name, kw", FINAL_CASES)
def test_the_compiled_final_pass_equals_the_expression_trees_for_each_spec_kind(name: str, kw: dict) -> None:
    from bptrace.engines.scalar import ScalarEngine

    engine = ScalarEngine(bptrace.load_spec(name, **kw))
    _, params = engine.traced_iteration(engine.initial_params(), 1, [])
    walked = json.dumps(_final_by_tree_walk(engine, params))
    assert json.dumps(_final_compiled(engine, params)) == walked
    assert json.dumps(engine.final(params)) == walked  # a few samples: walked


@settings(max_examples=30, deadline=None, derandomize=True, suppress_health_check=[HealthCheck.too_slow])
@given(specs())
def test_the_compiled_final_pass_equals_the_expression_trees(spec: dict) -> None:
    from bptrace.engines.scalar import ScalarEngine

    engine = ScalarEngine(bptrace.load_spec(spec))
    params = engine.initial_params()
    walked = json.dumps(_final_by_tree_walk(engine, params))  # NaN equals NaN
    assert json.dumps(_final_compiled(engine, params)) == walked
    assert json.dumps(engine.final(params)) == walked


def test_the_final_pass_of_a_few_samples_compiles_nothing(monkeypatch: pytest.MonkeyPatch) -> None:
    from bptrace.engines import compiled
    from bptrace.engines.scalar import FINAL_WALK_SAMPLES, ScalarEngine

    spec = bptrace.load_spec("article").to_dict()
    spec["samples"] = spec["samples"] * FINAL_WALK_SAMPLES
    engine = ScalarEngine(bptrace.load_spec(spec))
    params = engine.initial_params()
    expected = _final_compiled(engine, params)

    def compiling(*args: object, **kw: object) -> None:
        raise AssertionError("the final pass compiled a function")

    monkeypatch.setattr(compiled, "_compile", compiling)
    assert engine.final(params) == expected


def test_the_final_pass_over_many_samples_walks_no_expression_tree(monkeypatch: pytest.MonkeyPatch) -> None:
    from bptrace import formula
    from bptrace.engines.scalar import ScalarEngine

    spec = bptrace.load_spec("article").to_dict()
    spec["samples"] = [{"input": [0.01 * (k % 97), 0.1], "target": [0.01, 0.99]} for k in range(2000)]
    engine = ScalarEngine(bptrace.load_spec(spec))
    params = engine.initial_params()
    expected = _final_by_tree_walk(engine, params)

    def walked(*args: object, **kw: object) -> float:
        raise AssertionError("the final pass walked an expression tree")

    monkeypatch.setattr(formula, "evaluate", walked)
    final = engine.final(params)
    assert len(final["outputs"]) == 2000 and final == expected


def _general_normalise(text: str) -> str:
    text = re.sub(r"[ \t]+\n", "\n", text)
    text = re.sub(r"\n{3,}", "\n\n", text)
    return text.strip("\n") + "\n"


@settings(derandomize=True, max_examples=300)
@given(st.text(alphabet=" \t\nab", max_size=60))
def test_markdown_normalised_line_by_line_as_by_the_regexes(text: str) -> None:
    assert reports._normalise_md(text) == _general_normalise(text)


def test_report_markdown_normalised_as_by_the_regexes(documents: list[str]) -> None:
    env = reports.make_env()
    rep = reports.Report(bptrace.trace("softmax"), "zh", None, reports.messages(env, "zh"))
    raw = env.get_template("report.md.j2").render(r=rep, t=rep.t)
    assert "\n\n\n" in raw and reports._normalise_md(raw) == _general_normalise(raw)


def _regex_fit(page: str) -> str:
    def wrap(m: re.Match[str]) -> str:
        return f'<div class="table" style="--em: {reports.tables.width(m.group(1)):.1f}">\n{m.group(0)}\n</div>'

    return re.sub(r"<table>\n(.*?)\n</table>", wrap, page, flags=re.S)


def test_tables_found_by_find_as_by_the_regex(documents: list[str]) -> None:
    pages = [md_html.markdown_to_html(d) for d in documents]
    pages += ["<table>\n<tr>\n<td>1</td></tr>\n</table> and <table>\nno end", "<table><tr></tr></table>", ""]
    for page in pages:
        assert reports.tables.fit(page) == _regex_fit(page)
    assert sum(p.count('<div class="table"') for p in map(reports.tables.fit, pages)) > 20


def test_rows_and_cells_found_by_find_as_by_the_regexes(documents: list[str]) -> None:
    tables = [t for d in documents for t in re.findall(r"<table>\n(.*?)\n</table>", md_html.markdown_to_html(d), re.S)]
    assert len(tables) > 20
    for t in tables:
        assert reports.tables._rows(t) == reports.tables._ROW.findall(t)
        for row in reports.tables._rows(t):
            assert reports.tables._cells(row) == reports.tables._CELL.findall(row)


@settings(derandomize=True, max_examples=500)
@given(
    st.lists(st.sampled_from(["<tr>\n", "</tr>", "<td>", "</td>", "<th", "</th>", "<thead>", ">", "<td_", "a", "\n"]))
)
def test_rows_and_cells_of_any_tag_soup_as_by_the_regexes(parts: list[str]) -> None:
    text = "".join(parts)
    assert reports.tables._rows(text) == reports.tables._ROW.findall(text)
    assert reports.tables._cells(text) == reports.tables._CELL.findall(text)


def test_a_table_estimate_ignores_which_digits_it_holds() -> None:
    a = "<tr>\n<td>0.123</td><td>−7</td></tr>\n<tr>\n<td>w<sub>5</sub></td><td>٣</td></tr>"
    b = a.replace("0.123", "9.876").replace("−7", "−1").replace("5", "8")
    assert reports.tables.width(a) == reports.tables.width(b)
    assert reports.tables.width(a) < reports.tables.width(a.replace("0.123", "0.1234"))


def test_the_built_in_templates_context_passes_what_jinja_would() -> None:
    """Calls from built-in templates skip Jinja's question to each callable only where the answer
    is no: a function that asks for the context or environment still gets it, inside loops too."""
    import jinja2

    env = reports.make_env()

    @jinja2.pass_context
    def seen(ctx: Any, name: str) -> Any:
        return ctx.get(name)

    class View:
        def twice(self, x: int) -> int:
            return 2 * x

        @jinja2.pass_environment
        def env_is(self, e: Any) -> bool:
            return e is env

        def stop(self) -> int:
            raise StopIteration

    source = (
        "{% macro m(x) %}<{{ x }}>{% endmacro %}"
        "{% for k in [1, 2] %}{{ v.twice(k) }}{{ m(k) }}{{ seen('top') }}{{ v.env_is() }}{% endfor %}"
        "[{{ v.stop() is undefined }}]"
    )
    out = env.from_string(source).render(v=View(), seen=seen, top="t")
    plain = jinja2.Environment().from_string(source).render(v=View(), seen=seen, top="t")
    assert out == "2<1>tTrue4<2>tTrue[True]"
    assert plain == out.replace("True", "False", 2)  # another environment is not this one

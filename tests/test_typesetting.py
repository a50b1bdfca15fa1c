"""Typesetting: primes and signs in MathML, equations that wrap on a narrow screen instead of
hiding their result, and print rules (paper size, headings kept with what follows)."""

from __future__ import annotations

import base64
import re
import shutil
import subprocess
from pathlib import Path

import pytest

import bptrace
from bptrace.reports import linebreak, mathml

from browser import CHROMIUM, Browser, needs_chromium


def test_prime_is_a_prime_not_a_superscript() -> None:
    fast = mathml.fast(r"\sigma'(x) = \sigma(x)(1 - \sigma(x))", False)
    assert '<mi>σ</mi><mo lspace="0" rspace="0">′</mo><mo stretchy="false">(</mo>' in fast
    assert "<msup>" not in fast
    other = mathml.convert(r"f'(x) = \hat{x}", False)  # beyond the fast path: latex2mathml, then the same fix
    assert '<mi>f</mi><mo lspace="0" rspace="0">′</mo>' in other and "&#x02032;</mi></msup>" not in other


@pytest.mark.parametrize(
    ("tex", "signs", "binary"),
    [
        ("-a - b", 1, 1),
        (r"y = -0.5 \cdot (-2) - 1", 2, 1),
        (r"e^{-x} + \frac{-1}{2}", 2, 0),
        (r"\left(-1\right) - (a) - x\,-y", 1, 3),
        (r"a_{1} - b", 0, 1),
    ],
)
def test_unary_minus_is_a_prefix_sign(tex: str, signs: int, binary: int) -> None:
    out = mathml.fast(tex, False)
    assert out.count('<mo form="prefix">−</mo>') == signs
    assert out.count("<mo>−</mo>") == binary


def test_reports_use_prefix_signs_and_primes() -> None:
    html = bptrace.render(bptrace.trace("article"), "html")
    assert html.count('<mo form="prefix">−</mo>') >= 5
    # a binary minus never follows "=", "(" or another operator
    assert not re.search(r"<mo>=</mo><mo>−</mo>|\(</mo><mo>−</mo>|<mo>⋅</mo><mo>−</mo>", html)
    assert '<mo lspace="0" rspace="0">′</mo>' in html and not re.search(r"<msup>[^/]*</mi><mo>′", html)


def test_a_chain_of_equalities_is_cut_before_each_later_equals() -> None:
    tex = r"\mathrm{out}_{h1} = \frac{1}{1 + e^{-x}} = \frac{1}{1 + e^{-0.3775}} = 0.593269992"
    block = mathml.display_block(tex)
    assert block.startswith('<div class="math chain">') and block.count("<math ") == 3
    assert block.rsplit("<math ", 1)[1].endswith("<mo>=</mo><mn>0.593269992</mn></mrow></math></div>")
    assert mathml.display_block("a = b").startswith('<div class="math"><math ')
    aligned = "\\begin{align*}\na &= b \\\\\n&= c\n\\end{align*}"
    assert mathml.display_block(aligned).count("<math ") == 1
    assert mathml._chain_pieces(r"\left(a = b\right) = c = d") == [r"\left(a = b\right) = c", "= d"]


def test_paper_size_by_language_and_by_choice(tmp_path: Path) -> None:
    tr = bptrace.trace("article")
    assert "@page { size: A4; }" in bptrace.render(tr, "html", lang="zh")
    assert "@page { size: auto; }" in bptrace.render(tr, "html", lang="en")
    (tmp_path / "report.html.j2").write_text(
        '{% extends "default/report.html.j2" %}{% block page %}@page { size: letter; }{% endblock %}', encoding="utf-8"
    )
    assert "@page { size: letter; }" in bptrace.render(tr, "html", lang="zh", templates=tmp_path)
    css = (Path(bptrace.reports.env.BUILTIN_TEMPLATES) / "style.css").read_text(encoding="utf-8")
    assert re.search(r"h1, h2, h3, h4, h5, summary \{ break-after: avoid; \}", css)
    assert "p:has(> strong:first-child)" in css and "p:has(+ div.math)" in css


NARROW = """(() => {
  const vw = document.documentElement.clientWidth;
  const bad = [];
  for (const div of document.querySelectorAll('div.math.chain')) {
    const last = div.lastElementChild.getBoundingClientRect();
    if (last.right > vw + 0.5) bad.push('chain result off screen: ' + div.textContent.slice(0, 40));
  }
  for (const div of document.querySelectorAll('div.math:not(.chain)')) {
    const box = div.getBoundingClientRect();
    const rows = div.querySelectorAll('mtr');
    const last = rows.length ? rows[rows.length - 1].lastElementChild.lastElementChild : div.querySelector('math');
    const r = last.getBoundingClientRect();
    if (box.right > vw + 0.5) bad.push('equation wider than the screen');
    if (rows.length > 1 && r.right > box.right + 0.5) bad.push('aligned result hidden: ' + div.textContent.slice(0, 40));
  }
  return {bad, page: document.documentElement.scrollWidth, vw, chains: document.querySelectorAll('div.math.chain').length};
})()"""


@needs_chromium
@pytest.mark.parametrize("spec", ["article", "softmax"])
def test_narrow_screen_keeps_every_result_in_view(spec: str, browser: Browser, tmp_path: Path) -> None:
    page = tmp_path / "report.html"
    page.write_text(bptrace.render(bptrace.trace(spec), "html"), encoding="utf-8")
    browser.open(page.as_uri())
    metrics = {"width": 420, "height": 900, "deviceScaleFactor": 1, "mobile": True}
    browser.send("Emulation.setDeviceMetricsOverride", metrics)
    # load the page again at the narrow width, so its layout is the narrow one from the start
    # rather than whatever the resize had reached when the measurement ran
    browser.events.clear()
    browser.send("Page.reload")
    browser.wait_for("Page.loadEventFired")
    info = browser.evaluate(NARROW)
    assert info["chains"] >= 10 and info["vw"] <= 420
    assert info["bad"] == []
    assert info["page"] <= info["vw"]  # the page itself never scrolls sideways


def _pdf(html: str, tmp_path: Path) -> bytes:
    """The page printed by a Chromium of its own: a second print in one browser fails."""
    assert CHROMIUM is not None
    page = tmp_path / "report.html"
    page.write_text(html, encoding="utf-8")
    b = Browser(CHROMIUM)
    try:
        b.open(page.as_uri())
        data = b.send("Page.printToPDF", {"preferCSSPageSize": True, "displayHeaderFooter": False}, timeout=120)
    finally:
        b.close()
    return base64.b64decode(data["data"])


@needs_chromium
def test_chinese_prints_on_a4(tmp_path: Path) -> None:
    pdf = _pdf(bptrace.render(bptrace.trace("article"), "html", lang="zh"), tmp_path)
    sizes = {tuple(round(float(v)) for v in m) for m in re.findall(rb"/MediaBox \[0 0 ([\d.]+) ([\d.]+)\]", pdf)}
    assert sizes == {(595, 842)}  # A4 in points


@needs_chromium
@pytest.mark.skipif(shutil.which("pdftotext") is None, reason="pdftotext (poppler-utils) is not installed")
@pytest.mark.parametrize(("spec", "lang"), [("article", "en"), ("article", "zh"), ("softmax", "zh"), ("xor", "zh")])
def test_no_heading_or_lead_in_ends_a_page(spec: str, lang: str, tmp_path: Path) -> None:
    html = bptrace.render(bptrace.trace(spec), "html", lang=lang)
    heads = {re.sub(r"<[^>]+>", "", h).strip() for h in re.findall(r"<(?:h[1-4]|summary)>(.*?)</", html)}
    (tmp_path / "r.pdf").write_bytes(_pdf(html, tmp_path))
    text = subprocess.run(["pdftotext", "-layout", str(tmp_path / "r.pdf"), "-"], capture_output=True, text=True).stdout
    pages = [p for p in text.split("\f") if p.strip()]
    assert len(pages) > 5
    for k, p in enumerate(pages[:-1]):
        last = [ln.strip() for ln in p.splitlines() if ln.strip()][-1]
        assert last not in heads, f"page {k + 1} ends with the heading {last!r}"
        assert not last.endswith((":", "：")), f"page {k + 1} ends with a sentence that introduces the next: {last!r}"


def test_a_long_sum_is_cut_at_its_outer_signs() -> None:
    tex = r"0 \cdot 0.20901802 + \left(-3.05862319\right) \cdot \left(-0.097285581\right) + 0 \cdot \left(-0.111732439\right)"
    assert linebreak.terms(tex) == [
        r"0 \cdot 0.20901802",
        r"+ \left(-3.05862319\right) \cdot \left(-0.097285581\right)",
        r"+ 0 \cdot \left(-0.111732439\right)",
    ]
    assert linebreak.lines(tex, 100) == [tex]
    assert linebreak.lines(tex, 50) == [
        r"0 \cdot 0.20901802 + \left(-3.05862319\right) \cdot \left(-0.097285581\right)",
        r"+ 0 \cdot \left(-0.111732439\right)",
    ]
    # a sum in brackets times a factor: the cut goes inside, the brackets become plain ones
    product = r"\left(a_{1} + b_{1} + c_{1}\right) \cdot x"
    assert linebreak.lines(product, 8) == [r"(a_{1} + b_{1}", r"+ c_{1}) \cdot x"]
    # a bracketed sum that does not open the term is left whole: there is no place to cut
    assert linebreak.lines(r"x \cdot \left(a + b\right)", 3) == [r"x \cdot \left(a + b\right)"]
    # a fraction is as wide as its wider line, a subscript narrower than its base
    assert linebreak.width(r"\frac{\partial E}{\partial w_{5}}") < linebreak.width(r"\partial E \partial w_{5}")


def test_cuts_are_planned_once_for_equations_that_differ_only_in_their_digits() -> None:
    # the cut of one equation is remembered by its digits zeroed: another equation of that
    # shape must come out cut at the same places with its own digits, brackets and all
    first = r"\left(0.25 \cdot 0.5 + 0.75 \cdot 0.5 + 0.125 \cdot 0.5\right) \cdot 0.36"
    other = r"\left(0.31 \cdot 0.2 + 0.98 \cdot 0.4 + 0.672 \cdot 0.9\right) \cdot 0.17"
    assert linebreak.lines(first, 30) == [r"(0.25 \cdot 0.5 + 0.75 \cdot 0.5", r"+ 0.125 \cdot 0.5) \cdot 0.36"]
    assert linebreak.lines(other, 30) == [r"(0.31 \cdot 0.2 + 0.98 \cdot 0.4", r"+ 0.672 \cdot 0.9) \cdot 0.17"]
    assert linebreak.terms(other) == [r"\left(0.31 \cdot 0.2 + 0.98 \cdot 0.4 + 0.672 \cdot 0.9\right) \cdot 0.17"]
    assert linebreak.width(first) == linebreak.width(other)


def test_the_softmax_delta_sum_continues_on_a_second_line() -> None:
    text = bptrace.render(bptrace.trace("softmax"), "md")
    assert (
        "&= 0 \\cdot 0.192817722 + \\left(-2.281315753\\right) \\cdot \\left(-0.114351483\\right) \\\\\n"
        "&\\quad + 0 \\cdot \\left(-0.07846624\\right) \\\\\n"
    ) in text


OVERFLOW = """(() => {
  document.querySelectorAll('details').forEach(d => { d.open = true; });
  return [...document.querySelectorAll('div.math, div.math.chain > math')]
    .filter(d => d.scrollWidth > d.clientWidth + 1)
    .map(d => d.textContent.replace(/\\s+/g, '').slice(0, 60));
})()"""


@needs_chromium
@pytest.mark.parametrize(("spec", "lang"), [("softmax", "en"), ("softmax", "zh"), ("softmax-mse", "en")])
def test_no_display_runs_past_its_box_at_1000px(spec: str, lang: str, browser: Browser, tmp_path: Path) -> None:
    # the softmax δ as a sum over three outputs and the merged rule of a softmax layer under squared
    # error are the widest displays: each breaks into lines rather than running under the box edge
    source = spec if spec == "softmax" else str(Path(__file__).parent / "specs" / "teach" / f"{spec}.toml")
    page = tmp_path / "report.html"
    page.write_text(bptrace.render(bptrace.trace(source, iterations=1), "html", lang=lang), encoding="utf-8")
    browser.events.clear()
    browser.open(page.as_uri())
    assert browser.evaluate("window.innerWidth") == 1000
    assert browser.evaluate(OVERFLOW) == []
    # a display that must still scroll carries a shadow on its hidden side
    shaded = "getComputedStyle(document.querySelector('div.math:not(.chain)')).backgroundImage"
    assert browser.evaluate(shaded).count("gradient") == 4


@needs_chromium
def test_a_printed_lecture_holds_every_slide_and_no_unlit_weight(tmp_path: Path) -> None:
    # the script shows one slide at a time; a print of that page must still hold them all
    page = bptrace.reports.render_files(bptrace.trace("xor"), ["lecture"])["lecture.html"]
    titles = [t.strip() for t in re.findall(r"<h2[^>]*>(.*?)</h2>", page, re.S) if "<" not in t]  # plain text ones
    assert len(titles) > 5
    (tmp_path / "lecture.pdf").write_bytes(_pdf(page, tmp_path))
    text = subprocess.run(["pdftotext", str(tmp_path / "lecture.pdf"), "-"], capture_output=True, text=True).stdout
    assert titles[-1] in text and titles[len(titles) // 2] in text
    # edge values show only on lit edges (none, on paper): they would pile up where edges cross
    assert "w1 = 0.5" not in text.replace("₁", "1") and "= 0.5" not in text.split(titles[0])[0]

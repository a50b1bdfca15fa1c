"""The notebook path, for real: a small notebook run by a Jupyter kernel, then converted to HTML by
nbconvert with and without --sanitize-html, as a notebook is published."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

import bptrace

nbformat = pytest.importorskip("nbformat")
nbclient = pytest.importorskip("nbclient")
pytest.importorskip("ipykernel")

MATH = [
    r"\(E_{\mathrm{total}} = 0.298371109 \to ",
    r"\frac{\partial E_{\mathrm{total}}}{\partial w_{5}} = 0.082167041",
]


@pytest.fixture(scope="module")
def notebook(tmp_path_factory: pytest.TempPathFactory) -> Path:
    nb = nbformat.v4.new_notebook()
    nb.cells = [
        nbformat.v4.new_code_cell("import bptrace\ntr = bptrace.trace('article', iterations=100)\ntr"),
        nbformat.v4.new_code_cell("print(repr(tr.value('grad.w5')))\ntr.history_array()[-1]"),
        nbformat.v4.new_code_cell("print(bptrace.render(tr, 'md', lang='zh').splitlines()[0])"),
        nbformat.v4.new_code_cell("tr.report()"),
        nbformat.v4.new_code_cell("tr.report('md')"),
    ]
    nbclient.NotebookClient(nb, timeout=120, kernel_name="python3").execute()
    path = tmp_path_factory.mktemp("nb") / "trace.ipynb"
    nbformat.write(nb, path)
    return path


def test_notebook_shows_a_compact_view_and_the_summary(notebook: Path) -> None:
    nb = nbformat.read(notebook, as_version=4)
    display = nb.cells[0].outputs[0]
    assert display.output_type == "execute_result"
    assert display.data["text/plain"].startswith("<Trace 'A step-by-step backpropagation example': 100 iterations")
    html, md = display.data["text/html"], display.data["text/markdown"]
    # compact: a few KB per displayed trace, not the whole report
    assert len(html) < 3000 and len(md) < 10_000
    assert "<iframe" not in html and "<svg" not in html and "<math" not in html
    assert "i1 0.05    →  h1 0.593269992  →  o1 0.75136507" in html  # the network, drawn as text
    assert all(m in html for m in MATH)
    assert md.startswith("**A step-by-step backpropagation example**")
    assert "<svg" in md and "$\\frac{\\partial E_{\\mathrm{total}}}{\\partial w_{5}} = 0.082167041" in md
    printed = nb.cells[1].outputs[0]
    assert printed.text.strip() == "0.08216704056423078"
    value = nb.cells[1].outputs[1].data["text/plain"]  # numpy 2 writes np.float64(...), numpy 1 the bare number
    assert (
        float(value.removeprefix("np.float64(").removesuffix(")"))
        == bptrace.trace("article", iterations=100).history[-1]
    )
    assert nb.cells[2].outputs[0].text.strip() == "# 反向传播逐步计算实例"  # the title in the report's language


def test_the_full_report_is_one_call_away(notebook: Path) -> None:
    nb = nbformat.read(notebook, as_version=4)
    page = nb.cells[3].outputs[0].data
    assert page["text/html"].startswith("<iframe srcdoc=") and "&lt;math" in page["text/html"]
    md = nb.cells[4].outputs[0].data
    assert "text/html" not in md and md["text/markdown"].startswith("# A step-by-step backpropagation example")
    tr = bptrace.trace("article")
    assert str(tr.report("md", lang="zh")) == bptrace.render(tr, "md", lang="zh")


def _output_of_first_cell(page: str) -> str:
    m = re.search(r'data-mime-type="text/html"[^>]*>(.*?)</div>\s*</div>\s*</div>', page, re.S)
    assert m, "no HTML output in the converted page"
    return m.group(1)


@pytest.mark.parametrize("sanitize", [False, True])
def test_nbconvert_shows_the_math_sanitized_or_not(notebook: Path, sanitize: bool, tmp_path: Path) -> None:
    pytest.importorskip("nbconvert")
    out = tmp_path / "page.html"
    cmd = [sys.executable, "-m", "nbconvert", "--to", "html", str(notebook), "--output", str(out)]
    subprocess.run([*cmd, *(["--sanitize-html"] if sanitize else [])], check=True, capture_output=True, timeout=120)
    page = out.read_text(encoding="utf-8")
    shown = _output_of_first_cell(page)
    assert all(m in shown for m in MATH)  # LaTeX for the page's MathJax, which nbconvert includes
    assert "MathJax" in page
    assert "&lt;" not in shown  # no markup escaped into visible text
    assert "i1 0.05    →  h1 0.593269992" in shown and "<pre>" in shown

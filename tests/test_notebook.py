"""The notebook path, for real: a small notebook run by a Jupyter kernel."""

from __future__ import annotations

import pytest

nbformat = pytest.importorskip("nbformat")
nbclient = pytest.importorskip("nbclient")
pytest.importorskip("ipykernel")


def test_notebook_shows_the_report_and_the_summary() -> None:
    nb = nbformat.v4.new_notebook()
    nb.cells = [
        nbformat.v4.new_code_cell("import bptrace\ntr = bptrace.trace('article', iterations=100)\ntr"),
        nbformat.v4.new_code_cell("print(repr(tr.value('grad.w5')))\ntr.history_array()[-1]"),
        nbformat.v4.new_code_cell("print(bptrace.render(tr, 'md', lang='zh').splitlines()[0])"),
    ]
    nbclient.NotebookClient(nb, timeout=120, kernel_name="python3").execute()
    display = nb.cells[0].outputs[0]
    assert display.output_type == "execute_result"
    html = display.data["text/html"]
    assert html.startswith("<iframe srcdoc=") and "&lt;math" in html and "&lt;svg" in html
    assert display.data["text/plain"].startswith("<Trace 'A step-by-step backpropagation example': 100 iterations")
    printed = nb.cells[1].outputs[0]
    assert printed.text.strip() == "0.08216704056423078"
    value = nb.cells[1].outputs[1].data["text/plain"]
    assert value.startswith("np.float64(") or value[0].isdigit()
    assert nb.cells[2].outputs[0].text.strip() == "# 反向传播逐步计算实例"  # the title in the report's language

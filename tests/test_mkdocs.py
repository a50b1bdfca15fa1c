"""The README's MkDocs set-up works: report.md converted by Python-Markdown with exactly the
extensions it names (plus the ones MkDocs always loads) leaves no raw Markdown or TeX behind,
inside the collapsible derivations too, and the table of contents shows no TeX."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import markdown
import pytest

import bptrace

README = (Path(__file__).parent.parent / "README.md").read_text(encoding="utf-8")
DEEP: dict[str, Any] = {
    "learning_rate": 0.5,
    "layers": [
        {"name": "x", "size": 2},
        {"name": "h1", "size": 2, "activation": "tanh", "weights": [[0.1, 0.2], [0.3, -0.4]], "bias": [0.01, 0.02]},
        {"name": "h2", "size": 2, "activation": "relu", "weights": [[0.1, 0.2], [-0.3, 0.4]], "bias": 0.1},
        {"name": "o", "size": 1, "weights": [[0.7, 0.8]], "bias": [0.3]},
    ],
    "samples": [{"input": [0.05, 0.1], "target": [0.9]}],
}


def _readme_extensions() -> tuple[list[str], dict[str, dict[str, Any]]]:
    """The markdown_extensions of the README's mkdocs.yml snippet."""
    block = re.search(r"```yaml\n(\s*# mkdocs\.yml.*?)```", README, re.S)
    assert block, "the README shows its mkdocs.yml"
    names = re.findall(r"^\s*- ([\w.]+):?", block.group(1), re.M)
    configs = {"pymdownx.arithmatex": {"generic": True}} if re.search(r"generic: true", block.group(1)) else {}
    return names, configs


def test_readme_names_md_in_html_and_generic_arithmatex() -> None:
    names, configs = _readme_extensions()
    assert names == ["md_in_html", "pymdownx.arithmatex"]
    assert configs == {"pymdownx.arithmatex": {"generic": True}}


@pytest.mark.parametrize("lang", ["en", "zh"])
@pytest.mark.parametrize("spec", ["article", "softmax", "xor", "deep"])
def test_mkdocs_shows_no_raw_markdown_or_tex(spec: str, lang: str) -> None:
    tr = bptrace.trace(DEEP if spec == "deep" else spec)
    md = bptrace.render(tr, "md", lang=lang, figures="files")
    names, configs = _readme_extensions()
    conv = markdown.Markdown(extensions=[*names, "toc", "tables", "fenced_code"], extension_configs=configs)
    html = conv.convert(md)
    assert "<details" in html and "<table>" in html
    visible = re.sub(r"<code>.*?</code>|<(span|div) class=\"arithmatex\">.*?</\1>", "", html, flags=re.S)
    for raw in ("**", "$$", "$", "\\(", "\\[", "\\frac", "\\mathrm", 'markdown="1"'):
        assert raw not in visible, (raw, visible[max(0, visible.find(raw) - 200) : visible.find(raw) + 100])
    # derivations inside <details> were converted, not left as text
    inside = "".join(re.findall(r"<details.*?</details>", html, re.S))
    assert "<strong>" in inside and 'class="arithmatex"' in inside
    # the table of contents holds the headings' words, no TeX
    toc = [t["name"] for t in _flat(conv.toc_tokens)]  # type: ignore[attr-defined]
    assert len(toc) > 8
    assert not [t for t in toc if re.search(r"[\\$_{}]", t)]


def _flat(tokens: list[dict[str, Any]]) -> list[dict[str, Any]]:
    out = []
    for t in tokens:
        out += [t, *_flat(t["children"])]
    return out

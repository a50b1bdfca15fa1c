"""A teacher's template folder, as the README shows it: one sentence, one macro, one block. The
files are taken from the README itself, so its examples stay true."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

import bptrace

README = (Path(__file__).resolve().parents[1] / "README.md").read_text(encoding="utf-8")


def _readme_file(name: str) -> str:
    """The README code block whose first line names DIR/<name>."""
    for block in re.findall(r"```(?:toml|jinja)\n(.*?)```", README, flags=re.S):
        block = re.sub(r"(?m)^  ", "", block)  # blocks inside a list item are indented
        if re.match(rf"(#|\{{#) DIR/{re.escape(name)}\b", block):
            return block
    raise AssertionError(f"the README shows no DIR/{name}")


@pytest.fixture()
def folder(tmp_path: Path) -> Path:
    return tmp_path


def test_one_line_catalogue_changes_one_sentence(folder: Path, article: bptrace.Trace) -> None:
    (folder / "i18n").mkdir()
    (folder / "i18n" / "en.toml").write_text(_readme_file("i18n/en.toml"), encoding="utf-8")
    plain = bptrace.render(article, "md").splitlines()
    mine = bptrace.render(article, "md", templates=folder).splitlines()
    changed = [(a, b) for a, b in zip(plain, mine) if a != b]
    assert len(plain) == len(mine) and len(changed) == 1
    assert changed[0][1] == "In this week's exercise we follow one training step of the network below."
    # the Chinese report keeps its own sentence for that key
    assert bptrace.render(article, "md", lang="zh", templates=folder) == bptrace.render(article, "md", lang="zh")


def test_one_macro_is_replaced_where_every_other_macro_calls_it(folder: Path, article: bptrace.Trace) -> None:
    (folder / "macros.md.j2").write_text(_readme_file("macros.md.j2"), encoding="utf-8")
    plain = bptrace.render(article, "md")
    mine = bptrace.render(article, "md", templates=folder)
    assert "**h**" in plain and "**h**" not in mine
    assert mine.count("layer *h*") == plain.count("**h**") > 1
    assert mine.replace("layer *h*", "**h**").replace("layer *o*", "**o**").replace("layer *i*", "**i**") == plain


def test_one_block(folder: Path, article: bptrace.Trace) -> None:
    (folder / "report.md.j2").write_text(_readme_file("report.md.j2"), encoding="utf-8")
    mine = bptrace.render(article, "md", templates=folder)
    assert "In this week's exercise we follow one training step of ..." in mine
    assert mine.split("\n## ", 1)[1] == bptrace.render(article, "md").split("\n## ", 1)[1]

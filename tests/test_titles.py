"""Titles per language: one text, one per language or none (the catalogue's default), checked
like every field, escaped everywhere, and the report's language decides which one shows."""

from __future__ import annotations

import json
import re
from importlib import resources
from pathlib import Path
from typing import Any

import jsonschema
import pytest

import bptrace
from bptrace import titles
from bptrace.exercises import make_set

from conftest import run_cli

BASE: dict[str, Any] = json.loads(json.dumps(bptrace.load_spec("article").data))


def _spec(title: Any = None) -> dict[str, Any]:
    d = json.loads(json.dumps(BASE))
    if title is None:
        d.pop("title")
    else:
        d["title"] = title
    return d


def _first_line(tr: bptrace.Trace, lang: str) -> str:
    return bptrace.render(tr, "md", lang=lang).splitlines()[0]


def _page_title(tr: bptrace.Trace, lang: str) -> str:
    m = re.search(r"<title>(.*?)</title>", bptrace.render(tr, "html", lang=lang))
    assert m
    return m.group(1)


@pytest.mark.parametrize(
    ("title", "en", "zh"),
    [
        ("One title", "One title", "One title"),
        ({"en": "English", "zh": "中文标题"}, "English", "中文标题"),
        ({"zh": "只有中文"}, "只有中文", "只有中文"),
        (None, "Backpropagation, step by step", "反向传播逐步演算"),
    ],
)
def test_the_report_language_picks_the_title(title: Any, en: str, zh: str) -> None:
    tr = bptrace.trace(_spec(title))
    assert _first_line(tr, "en") == f"# {en}" and _page_title(tr, "en") == en
    assert _first_line(tr, "zh") == f"# {zh}" and _page_title(tr, "zh") == zh


def test_built_in_examples_have_both_titles() -> None:
    for name in bptrace.spec.example_names():
        t = bptrace.load_spec(name)["title"]
        assert set(t) == {"en", "zh"} and all(t.values()), name
        assert re.search(r"[\u4e00-\u9fff]", t["zh"]) and t["en"].isascii()


@pytest.mark.parametrize(
    ("title", "path", "message"),
    [
        (42, "title", 'expected text or a table of languages ({en = "…", zh = "…"}), got the number 42'),
        (["a"], "title", "expected text or a table of languages"),
        ({}, "title", "expected at least one language (en, zh)"),
        ({"en": "x", "fr": "y"}, "title.fr", "unknown language 'fr' (expected en or zh)"),
        ({"zh": 3}, "title.zh", "expected text, got the number 3"),
        ({"en": "x" * 301}, "title.en", "too long (301 characters, at most 300)"),
    ],
)
def test_bad_titles_are_refused_naming_the_field(title: Any, path: str, message: str, tmp_path: Path) -> None:
    with pytest.raises(bptrace.SpecError) as e:
        bptrace.load_spec(_spec(title))
    assert e.value.path == path and message in str(e.value)
    f = tmp_path / "bad.json"
    f.write_text(json.dumps(_spec(title)), encoding="utf-8")
    res = run_cli("validate", str(f))
    assert res.code == 2 and res.err.count("\n") == 1
    assert res.err.startswith(f"bptrace: {f}: {path}: ") and message in res.err


def test_toml_inline_table_title(tmp_path: Path) -> None:
    f = tmp_path / "t.toml"
    text = bptrace.spec.example_text("article").replace(
        'title = { en = "A step-by-step backpropagation example", zh = "反向传播逐步计算实例" }',
        'title = { zh = "我的例子" }',
    )
    f.write_text(text, encoding="utf-8")
    assert bptrace.load_spec(f)["title"] == {"zh": "我的例子"}


HOSTILE = {"en": "<script>alert(1)</script> *bold* $x$ | a_b", "zh": "<b>粗</b> **星** $y$ | `c`"}


def test_titles_are_escaped_everywhere(tmp_path: Path) -> None:
    tr = bptrace.trace(_spec(HOSTILE))
    for lang in ("en", "zh"):
        html = bptrace.render(tr, "html", lang=lang)
        assert "<script>" not in html and "<b>" not in html
        assert {"en": "&lt;script&gt;", "zh": "&lt;b&gt;"}[lang] in html  # the page's own title, escaped
        md = bptrace.render(tr, "md", lang=lang)
        first = md.splitlines()[0]
        assert "<" not in first and "$" not in first and "**" not in first and "|" not in first
    spec = tmp_path / "spec.json"
    spec.write_text(json.dumps(_spec(HOSTILE)), encoding="utf-8")
    make_set(str(spec), tmp_path / "set", 1, seed=1, lang="zh", jobs=1)
    for index in ("students/index.md", "teachers/index.md", "teachers/class-summary.md"):
        text = (tmp_path / "set" / index).read_text(encoding="utf-8")
        assert text.startswith("# ") and "<b>" not in text and "**星**" not in text and "&#60;b&#62;粗" in text
    question = (tmp_path / "set" / "students" / "001" / "question.html").read_text(encoding="utf-8")
    assert "<b>粗" not in question and "&lt;b&gt;粗&lt;/b&gt;" in question and "(001)" in question


def test_exercise_sets_title_each_language(tmp_path: Path) -> None:
    make_set("article", tmp_path / "zh", 2, seed=3, lang="zh", jobs=1)
    index = (tmp_path / "zh" / "students" / "index.md").read_text(encoding="utf-8")
    assert index.startswith("# 练习：反向传播逐步计算实例\n")
    make_set("article", tmp_path / "en", 2, seed=3, lang="en", jobs=1)
    assert (
        "A step-by-step backpropagation example"
        in (tmp_path / "en" / "students" / "index.md").read_text(encoding="utf-8").splitlines()[0]
    )
    variant = json.loads((tmp_path / "zh" / "students" / "002" / "spec.json").read_text(encoding="utf-8"))
    assert variant["title"] == {
        "en": "A step-by-step backpropagation example (002)",
        "zh": "反向传播逐步计算实例 (002)",
    }
    answer = (tmp_path / "zh" / "teachers" / "002" / "answer.html").read_text(encoding="utf-8")
    assert "<title>反向传播逐步计算实例 (002)</title>" in answer


def test_trace_json_keeps_a_string_title_and_validates_the_others() -> None:
    schema = json.loads(resources.files("bptrace").joinpath("schema/trace.schema.json").read_text())
    for title, stored in (("Plain", "Plain"), ({"zh": "中"}, {"zh": "中"}), (None, None)):
        tr = bptrace.trace(_spec(title))
        doc = json.loads(tr.to_json())
        assert doc["spec"]["title"] == stored
        jsonschema.validate(doc, schema)
        again = bptrace.Trace.from_json(tr.to_json())
        assert bptrace.render(again, "html", lang="zh") == bptrace.render(tr, "html", lang="zh")


def test_an_older_trace_with_a_file_name_title_still_renders() -> None:
    doc = json.loads(bptrace.trace(_spec(None)).to_json())
    doc["spec"]["title"] = "my"  # what traces held for untitled specs before
    tr = bptrace.Trace.from_json(json.dumps(doc))
    assert _first_line(tr, "zh") == "# my"


def test_text_outside_reports_uses_english() -> None:
    tr = bptrace.trace("article")
    assert repr(tr).startswith("<Trace 'A step-by-step backpropagation example':")
    assert titles.text_in(None, "zh") == "反向传播逐步演算"
    assert titles.suffixed(None, " (001)") == {
        "en": "Backpropagation, step by step (001)",
        "zh": "反向传播逐步演算 (001)",
    }

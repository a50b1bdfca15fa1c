"""A spec's title: one text for every language, one per language (``{en = "…", zh = "…"}``), or
none, when a report takes its language's default from the catalogue.

Import-light on purpose: traces, answer keys and check feedback name their spec too, without
loading the renderer.
"""

from __future__ import annotations

from functools import cache

from .errors import SpecError
from .fields import text, type_name

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

LANGS = ("en", "zh")
MAX_TITLE = 300
Title = str | dict[str, str] | None


def check(val: Any) -> Title:
    """The title of a spec as it is normalised; None when the spec has none."""
    if val is None:
        return None
    if isinstance(val, dict):
        if not val:
            raise SpecError("expected at least one language (en, zh)", "title")
        for k in val:
            if k not in LANGS:
                raise SpecError(f"unknown language {str(k)[:20]!r} (expected en or zh)", f"title.{str(k)[:20]}")
        return {k: _one(val[k], f"title.{k}") for k in LANGS if k in val}
    if not isinstance(val, str):
        raise SpecError(
            f'expected text or a table of languages ({{en = "…", zh = "…"}}), got {type_name(val)}', "title"
        )
    return _one(val, "title")


def _one(val: Any, path: str) -> str:
    s = text(val, path)
    try:
        s.encode("utf-8")
    except UnicodeEncodeError:
        raise SpecError("not valid Unicode text (it holds a lone surrogate)", path) from None
    if len(s) > MAX_TITLE:
        raise SpecError(f"too long ({len(s)} characters, at most {MAX_TITLE})", path)
    return s


def text_in(title: Title, lang: str, default: str | None = None) -> str:
    """The title in one language: its own text, the other language's when it has only that, or
    the default (the catalogue's, unless one is given)."""
    if isinstance(title, str):
        return title
    if title:
        return title.get(lang) or next(title[k] for k in LANGS if k in title)
    return default if default is not None else builtin_default(lang)


@cache
def builtin_default(lang: str) -> str:
    import tomllib  # only a spec without a title needs the catalogue
    from pathlib import Path

    package = Path(__file__).parent
    # the folder reports.env loads templates from: inside the package in a wheel, beside it in a source tree
    catalogues = (package / "templates" if (package / "templates").is_dir() else package.parent / "templates") / "i18n"
    path = catalogues / f"{lang if lang in LANGS else 'en'}.toml"
    return str(tomllib.loads(path.read_text(encoding="utf-8"))["default_title"])


def suffixed(title: Title, suffix: str) -> dict[str, str] | str:
    """The title with a suffix in every language (an exercise variant's number)."""
    if isinstance(title, str):
        return title + suffix
    return {k: text_in(title, k) + suffix for k in LANGS if title is None or k in title}

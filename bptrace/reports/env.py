"""The Jinja environment a report is rendered in: the user's template folder first, the built-ins
after it (also as ``default/...``), and the catalogues and stylesheet found through it."""

from __future__ import annotations

import os
import stat
import tomllib
from pathlib import Path
from types import MethodType
from typing import Any

import jinja2
import jinja2.runtime
import jinja2.sandbox

from ..errors import SpecError
from .defaultmacro import DefaultMacroExtension
from .escape import code_span, md_escape

_HERE = Path(__file__).parent.parent  # the bptrace package
# in a wheel the templates sit inside the package; in a source tree or editable install, beside it
BUILTIN_TEMPLATES = _HERE / "templates" if (_HERE / "templates").is_dir() else _HERE.parent / "templates"
LANGS = ("en", "zh")


def make_env(templates: str | os.PathLike[str] | None = None) -> jinja2.Environment:
    """A fresh environment: the user's folder first, then the built-ins (also as "default/...")."""
    builtin = jinja2.FileSystemLoader(str(BUILTIN_TEMPLATES))
    loaders: list[jinja2.BaseLoader] = []
    if templates is not None:
        if not Path(templates).is_dir():  # a typo would otherwise fall back to the built-ins silently
            raise SpecError("not a folder of templates", "templates", os.fspath(templates))
        loaders.append(jinja2.FileSystemLoader(os.fspath(templates)))
    loaders += [jinja2.PrefixLoader({"default": builtin}), builtin]
    # a user's folder is sandboxed: it is text a teacher may have been handed, and in a plain
    # environment {{ r.__init__.__globals__ }} reaches os and runs anything. The built-in templates
    # ship with the package, like its code; the sandbox's check on every attribute and call would
    # cost them a tenth of their rendering time and guard against nothing.
    kind = _Sandbox if templates is not None else _Trusted
    env = kind(
        loader=jinja2.ChoiceLoader(loaders),
        bytecode_cache=_bytecode_cache("sandboxed" if templates is not None else "builtin"),
        extensions=[DefaultMacroExtension],
        autoescape=jinja2.select_autoescape(enabled_extensions=("html.j2",), default_for_string=False),
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
    )
    env.filters["md"] = md_escape
    env.filters["capfirst"] = lambda s: s[:1].upper() + s[1:]
    env.filters["code"] = code_span
    return env


class _Context(jinja2.runtime.Context):
    """Jinja asks every callable, on every call, what it wants passed before its arguments (the
    context, the evaluation context, the environment, or nothing): several attribute lookups a
    call, a fifth of a report's rendering. Most calls go to the view's methods and to macros, whose
    answer never changes: it is remembered per function (per class for macros)."""

    def call(self, obj: Any, /, *args: Any, **kwargs: Any) -> Any:
        kind = type(obj)
        if kind is MethodType:
            key = obj.__func__
        elif kind is jinja2.runtime.Macro:
            key = kind
        else:
            return super().call(obj, *args, **kwargs)
        wants = _WANTS.get(key, _UNKNOWN)
        if wants is _UNKNOWN:
            wants = _WANTS[key] = _wants(obj)
        if wants == "eval_context":
            args = (self.eval_ctx, *args)
        elif wants == "environment":
            args = (self.environment, *args)
        elif wants is not None:  # the context itself, derived inside loops and blocks
            return super().call(obj, *args, **kwargs)
        kwargs.pop("_block_vars", None)
        kwargs.pop("_loop_vars", None)
        try:
            return obj(*args, **kwargs)
        except StopIteration:
            return self.environment.undefined("value was undefined because a callable raised a StopIteration exception")


def _wants(obj: Any) -> str | None:
    """What Context.call passes a callable first, as Jinja decides it: its __call__'s mark, else its own."""
    mark = getattr(type(obj).__call__, "jinja_pass_arg", None)  # only methods and macros come here
    if mark is None:
        mark = getattr(obj, "jinja_pass_arg", None)
    return None if mark is None else str(mark.name)


_UNKNOWN = object()
_WANTS: dict[Any, Any] = {}


class _Trusted(jinja2.Environment):
    context_class = _Context


class _Sandbox(jinja2.sandbox.SandboxedEnvironment):
    """The sandbox, with its verdict on an attribute remembered per type of object and name: the
    verdict depends on nothing else (is_internal_attribute decides by isinstance checks and the
    name), and a report asks the same questions some ten thousand times."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._verdicts: dict[tuple[type, str], bool] = {}

    def is_safe_attribute(self, obj: Any, attr: str, value: Any) -> bool:
        key = (type(obj), attr)
        verdict = self._verdicts.get(key)
        if verdict is None:
            verdict = self._verdicts[key] = super().is_safe_attribute(obj, attr, value)
        return verdict


class _QuietCache(jinja2.FileSystemBytecodeCache):
    """The bytecode cache, where a cache that cannot be read or written only costs a compile."""

    def load_bytecode(self, bucket: jinja2.bccache.Bucket) -> None:
        try:
            super().load_bytecode(bucket)
        except (OSError, ValueError, EOFError):
            bucket.reset()

    def dump_bytecode(self, bucket: jinja2.bccache.Bucket) -> None:
        try:
            super().dump_bytecode(bucket)
        except (OSError, ValueError):
            pass


def _cache_dir() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base) / "bptrace" / "templates"


def _bytecode_cache(kind: str) -> jinja2.BytecodeCache | None:
    """Compiled templates kept between runs: compiling the report templates costs more than
    rendering them. Keyed by each template's source, so an edited template is compiled again.
    The cache lives in the user's own cache folder (not a shared temporary folder, where another
    user could plant a link or a file of compiled code); one that is not a private folder of
    this user is not used. Sandboxed and plain environments compile a template to different code,
    and Jinja's cache key knows only the template, so each kind keeps its own files."""
    if os.environ.get("BPTRACE_NO_TEMPLATE_CACHE"):
        return None
    folder = _cache_dir()
    try:
        folder.mkdir(mode=0o700, parents=True, exist_ok=True)
        st = os.lstat(folder)
        if not stat.S_ISDIR(st.st_mode) or (hasattr(os, "getuid") and st.st_uid != os.getuid()):
            return None
        if st.st_mode & 0o077:
            os.chmod(folder, 0o700)
        return _QuietCache(str(folder), f"{kind}-%s.cache")
    except OSError:
        return None


def source(env: jinja2.Environment, name: str) -> str:
    """A file found through the template loader (so a user's folder can replace it), read once
    per environment: catalogues and the stylesheet are needed by every render."""
    cache: dict[str, str] = env.globals.setdefault("_bptrace_sources", {})  # type: ignore[assignment]
    if name not in cache:
        assert env.loader is not None
        cache[name] = env.loader.get_source(env, name)[0]
    return cache[name]


def messages(env: jinja2.Environment, lang: str) -> dict[str, str]:
    """The message catalogue of a language, merged key by key: the built-in English, a user's
    English over it, then the built-in and the user's catalogue of the language. So a one-line
    file in a user's template folder changes one sentence, and English fills in any gap."""
    if lang not in LANGS:
        raise SpecError(f"unknown language {lang!r}; expected one of {', '.join(LANGS)}", "lang")
    parsed: dict[str, dict[str, str]] = env.globals.setdefault("_bptrace_messages", {})  # type: ignore[assignment]
    if lang not in parsed:
        merged: dict[str, str] = {}
        for code in dict.fromkeys(("en", lang)):
            builtin = source(env, f"default/i18n/{code}.toml")
            chosen = source(env, f"i18n/{code}.toml")  # the user's file where there is one
            merged.update(tomllib.loads(builtin))
            if chosen is not builtin and chosen != builtin:
                merged.update(tomllib.loads(chosen))
        parsed[lang] = merged
    return parsed[lang]


def css(env: jinja2.Environment) -> str:
    return source(env, "style.css")

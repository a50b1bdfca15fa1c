"""What `bptrace check` says about a graded file: plain lines, Markdown, or JSON, in English or Chinese."""

from __future__ import annotations

import json
import re
import tomllib
from functools import lru_cache
from typing import Any

from . import diagnosis as dg
from . import numfmt
from .grading import FEW, MARKS, REL_TOL, UNKNOWN, WRONG, Diagnosis, Grade, Verdict

DEFAULT_DIGITS = numfmt.DEFAULT_DIGITS


@lru_cache(maxsize=4)
def words(lang: str) -> dict[str, str]:
    """The grader's catalogue; English fills in what another language lacks."""
    from .reports.env import BUILTIN_TEMPLATES

    base = tomllib.loads((BUILTIN_TEMPLATES / "i18n" / "check.en.toml").read_text(encoding="utf-8"))
    if lang != "en":
        base.update(tomllib.loads((BUILTIN_TEMPLATES / "i18n" / f"check.{lang}.toml").read_text(encoding="utf-8")))
    return base


_SIMPLE = {
    r"\left(": "(", r"\right)": ")", r"\left[": "[", r"\right]": "]", r"\cdot": "·", r"\times": "×",
    r"\partial ": "∂", r"\delta": "δ", r"\eta": "η", r"\sigma": "σ", r"\ln": "ln", r"\tanh": "tanh",
    r"\max": "max", r"\cdots": "…", r"\le": "≤",
}  # fmt: skip


def plain_formula(tex: str) -> str:
    """A formula readable in a terminal: out_o1 = 1/(1 + e^(-net_o1))."""
    s = tex
    for a, b in _SIMPLE.items():
        s = s.replace(a, b)
    s = re.sub(r"\\mathrm\{([^{}]*)\}", r"\1", s)
    s = re.sub(r"_\{([^{}]*)\}", r"_\1", s)
    while True:  # innermost first: \frac{a}{b} -> (a)/(b), ^{x} -> ^(x)
        t = re.sub(r"\\frac\{([^{}]*)\}\{([^{}]*)\}", r"(\1)/(\2)", s)
        t = re.sub(r"\^\{([^{}]*)\}", r"^(\1)", t)
        if t == s:
            break
        s = t
    s = re.sub(r"\(([^()\s]+)\)/", r"\1/", s)  # (1)/(x) -> 1/(x)
    s = re.sub(r"([/^])\(([^()\s-][^()\s]*)\)", r"\1\2", s)  # x^(2) -> x^2, 1/(2) -> 1/2
    return s.replace("{", "(").replace("}", ")").replace("\\", "")


def note(v: Verdict, g: Grade, lang: str) -> str:
    """The few words beside an answer's line."""
    w = words(lang)
    if v.status == UNKNOWN:
        return w["note_unknown_hint"].format(hint=v.suggestion) if v.suggestion else w["note_unknown"]
    if v.status == FEW:
        return w["note_few"]
    if v.status == WRONG:
        d = g.diagnoses[v.answer.key]
        if d.cause == dg.CARRIED:
            return w["note_carried"].format(keys=w["list_sep"].join(d.wrong_inputs))
        if d.misconception is not None:
            return d.misconception.words[lang]["short"]
        return w[f"note_{d.cause}"]
    return w["note_exact"] if v.matched == "exact" else ""


def explain(d: Diagnosis, lang: str, digits: int) -> str:
    w = words(lang)
    sep = w["list_sep"]

    def num(x: float) -> str:
        return numfmt.plain(x, digits)

    if d.cause == dg.CARRIED:
        return w["explain_carried"].format(keys=sep.join(d.wrong_inputs))
    if d.cause == dg.SIGN:
        return w["explain_sign"].format(expected=num(d.verdict.expected or 0.0))
    if d.misconception is not None:
        return w["explain_misconception"].format(says=d.misconception.words[lang]["says"], value=num(d.value or 0.0))
    if d.cause == dg.ROUNDING:
        a = d.verdict.answer
        mode = f"hand:{a.places}" if a.places >= 1 else "hand:N"
        if d.value is not None and d.value == d.recomputed:
            return w["explain_rounding_own"].format(mode=mode)
        return w["explain_rounding_run"].format(mode=mode, value=num(d.value or 0.0))
    wrong = [i.key for i in d.inputs if i.how == "given_wrong"]
    missing = [i for i in d.inputs if i.how in ("recomputed", "exact")]
    if wrong:
        return w["explain_new_slip"].format(keys=sep.join(wrong), value=num(d.recomputed))
    if missing:
        n = "one" if len(missing) == 1 else "many"
        which = "explain_not_given_exact" if all(i.how == "exact" for i in missing) else "explain_not_given"
        return w[which].format(
            keys=sep.join(i.key for i in missing), key=d.verdict.answer.key, they=w[f"they_{n}"],
            are=w[f"are_{n}"], them=w[f"them_{n}"], value=num(d.recomputed),
        )  # fmt: skip
    return w["explain_inputs_right"]


def _summary(g: Grade, lang: str) -> str:
    w = words(lang)
    parts = [w["summary_right"].format(right=g.count("right"), total=len(g.verdicts))]
    if g.count(FEW):
        parts.append(w["summary_few"].format(n=g.count(FEW), k=g.min_digits))
    if g.count(UNKNOWN):
        parts.append(w["summary_unknown"].format(n=g.count(UNKNOWN)))
    return w["summary_sep"].join(parts) + w["summary_end"]


def _full_precision(g: Grade) -> bool:
    return any(v.answer.sig >= 12 for v in g.verdicts)


def _expected(v: Verdict, digits: int, fmt: Any = numfmt.plain) -> str:
    return "" if v.expected is None else str(fmt(v.expected, digits))


def text_report(g: Grade, digits: int = DEFAULT_DIGITS, lang: str = "en") -> str:
    w = words(lang)
    lines = []
    width = max(len(v.answer.key) for v in g.verdicts)
    for v in g.verdicts:
        n = note(v, g, lang)
        exp = f" {w['expected']} {_expected(v, digits)}" if v.expected is not None else ""
        line = f"{MARKS[v.status]} {v.answer.key:<{width}}  {w['given']} {v.answer.text:<14}{exp}"
        lines.append(f"{line}  ({n})" if n else line)
    lines += ["", _summary(g, lang)]
    if _full_precision(g):
        lines.append(w["full_precision"].format(tol=f"{REL_TOL:g}"))
    for v in g.verdicts:
        if v.status != WRONG:
            continue
        d = g.diagnoses[v.answer.key]
        lines += [
            "",
            w["mistake"].format(key=v.answer.key, given=v.answer.text, expected=_expected(v, digits)),
            f"  {w['formula']}{plain_formula(d.symbolic)}",
            f"  {w['with_inputs']}{plain_formula(d.with_your_inputs)} = {numfmt.plain(d.recomputed, digits)}",
            "  " + explain(d, lang, digits),
        ]
    return "\n".join(lines) + "\n"


def markdown_report(g: Grade, title: str, digits: int = DEFAULT_DIGITS, lang: str = "en") -> str:
    from .reports import md_escape

    w = words(lang)
    lines = [f"# {w['md_title'].format(title=md_escape(title))}", "", _summary(g, lang), ""]
    if _full_precision(g):
        lines += [w["full_precision"].format(tol=f"{REL_TOL:g}"), ""]
    lines += [
        f"| | {w['col_key']} | {w['col_given']} | {w['col_expected']} | {w['col_note']} |",
        "| --- | --- | ---: | ---: | --- |",
    ]
    for v in g.verdicts:
        lines.append(
            f"| {MARKS[v.status]} | `{v.answer.key}` | {v.answer.text} | {_expected(v, digits, numfmt.text)} | "
            f"{md_escape(note(v, g, lang))} |"
        )
    wrong = [v for v in g.verdicts if v.status == WRONG]
    if wrong:
        lines += ["", f"## {w['md_mistakes']}"]
    for v in wrong:
        d = g.diagnoses[v.answer.key]
        lines += [
            "",
            f"### `{v.answer.key}`",
            "",
            w["mistake"].format(
                key=f"`{v.answer.key}`", given=md_escape(v.answer.text), expected=_expected(v, digits, numfmt.text)
            ),
            "",
            "$$",
            d.symbolic,
            "$$",
            "",
            w["md_with_inputs"],
            "",
            "$$",
            f"{d.with_your_inputs} = {numfmt.latex(d.recomputed, digits)}",
            "$$",
            "",
            md_escape(explain(d, lang, digits)),
        ]
    return "\n".join(lines) + "\n"


def json_answers(g: Grade, digits: int = DEFAULT_DIGITS, lang: str = "en") -> list[dict[str, Any]]:
    """One object per answer: key, given, expected, verdict, diagnosis (null when right)."""
    out = []
    for v in g.verdicts:
        diag: dict[str, Any] | None = None
        if v.status == UNKNOWN:
            diag = {"cause": "unknown", "suggestion": v.suggestion or None, "message": note(v, g, lang)}
        elif v.status == FEW:
            diag = {"cause": "too_few_digits", "min_digits": g.min_digits, "message": note(v, g, lang)}
        elif v.status == WRONG:
            d = g.diagnoses[v.answer.key]
            diag = {
                "cause": d.cause,
                "words": note(v, g, lang),
                "message": explain(d, lang, digits),
                "formula": d.symbolic,
                "with_your_inputs": d.with_your_inputs,
                "recomputed": d.recomputed,
                "from": d.wrong_inputs,
                "value": d.value,
            }
        out.append(
            {
                "key": v.answer.key,
                "given": v.answer.value,
                "written": v.answer.text,
                "expected": v.expected,
                "verdict": v.status,
                "diagnosis": diag,
            }
        )
    return out


def json_report(g: Grade, digits: int = DEFAULT_DIGITS, lang: str = "en") -> str:
    return json.dumps(json_answers(g, digits, lang), ensure_ascii=False, indent=1) + "\n"

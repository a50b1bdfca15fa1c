"""Grade a student's values against a trace, and find the first mistake.

An answer counts as right when it agrees with the trace to the precision it was written with:
0.7514 stands for anything in [0.75135, 0.75145], so it is right for 0.75136507 and 0.7513 is
not. For the first wrong answer the formula is evaluated again with the student's own inputs,
which tells a slip in this step from an error carried over from an earlier one.
"""

from __future__ import annotations

import difflib
import json
import math
import re
import tomllib
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any

from . import formula, names, numfmt
from .errors import SpecError
from .tracedata import Record, Step, Trace

RIGHT, WRONG = "✓", "✗"


@dataclass
class Answer:
    key: str  # as written, e.g. "sample2.net.h1"
    text: str  # the number as written
    value: float
    tolerance: float  # half a unit in the last written place


@dataclass
class Verdict:
    answer: Answer
    record: Record
    right: bool
    expected: float
    matched: str = ""  # "carried" or "exact" when the spec rounds by hand


@dataclass
class Diagnosis:
    verdict: Verdict
    symbolic: str
    with_your_inputs: str
    recomputed: float
    wrong_inputs: list[str] = field(default_factory=list)  # keys of earlier wrong answers it used
    carried: bool = False  # the answer follows from the wrong inputs
    follows: bool = False  # the answer follows from the student's own (maybe rounded) inputs


@dataclass
class Grade:
    verdicts: list[Verdict]
    diagnoses: dict[str, Diagnosis]  # for every wrong answer, by its key as written

    @property
    def all_right(self) -> bool:
        return all(v.right for v in self.verdicts)

    @property
    def diagnosis(self) -> Diagnosis | None:
        """The first mistake, in the order the quantities are computed."""
        first = next((v for v in self.verdicts if not v.right), None)
        return self.diagnoses[first.answer.key] if first else None


# ---------------------------------------------------------------- reading answers


def _precision(d: Decimal) -> float:
    """Half a unit in the last place written: 0.7514 -> 0.00005, 3.5e-5 -> 5e-7, 2 -> 0.5."""
    exp = d.as_tuple().exponent
    assert isinstance(exp, int)
    return 0.5 * 10.0**exp


def _flatten(data: Any, prefix: str, source: str, out: list[Answer]) -> None:
    if isinstance(data, dict):
        for k, v in data.items():
            _flatten(v, f"{prefix}.{k}" if prefix else str(k), source, out)
        return
    if isinstance(data, bool) or not isinstance(data, (int, Decimal)):
        what = "a table" if isinstance(data, dict) else type(data).__name__
        raise SpecError(f"expected a number, got {what}", prefix, source)
    d = Decimal(data)
    if not d.is_finite():
        raise SpecError(f"expected a finite number, got {data}", prefix, source)
    out.append(Answer(prefix, str(data), float(d), _precision(d)))


def read_answers(path: Path) -> list[Answer]:
    """The answers file (TOML, or JSON by its suffix or first character) as key/number pairs.

    Numbers are read as decimals, so the places a student wrote are kept (0.7510 has four).
    """
    source = str(path)
    try:
        raw = path.read_bytes()
    except OSError as e:
        raise SpecError(f"cannot read: {e.strerror or e}", source=source) from None
    if not raw.strip():
        raise SpecError("file is empty", source=source)
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise SpecError("not UTF-8 text", source=source) from None
    try:
        if path.suffix.lower() == ".json" or text.lstrip()[:1] == "{":
            data = json.loads(text, parse_float=Decimal)
        else:
            data = tomllib.loads(text, parse_float=Decimal)
    except tomllib.TOMLDecodeError as e:
        raise SpecError(f"invalid TOML: {e}", source=source) from None
    except json.JSONDecodeError as e:
        raise SpecError(f"invalid JSON at line {e.lineno}, column {e.colno}: {e.msg}", source=source) from None
    except RecursionError:
        raise SpecError("nesting is too deep", source=source) from None
    if not isinstance(data, dict):
        raise SpecError("answers are a table of quantity keys and numbers", source=source)
    out: list[Answer] = []
    _flatten(data, "", source, out)
    if not out:
        raise SpecError("no answers in the file", source=source)
    return out


# ---------------------------------------------------------------- finding the quantity


def _scopes(trace: Trace) -> dict[str, list[Step]]:
    """Where a key without a prefix is looked up (the first step, then the rest of iteration 1),
    and the steps "sampleN." and "batch." name."""
    first = [s for s in trace.steps if s.iteration == trace.steps[0].iteration] if trace.steps else []
    scopes: dict[str, list[Step]] = {"": first}
    for s in first:
        scopes[f"sample{s.sample}" if s.sample else "batch"] = [s]
    return scopes


def _locate(trace: Trace, key: str, source: str) -> tuple[Record, Step]:
    scopes = _scopes(trace)
    scope, rest = "", key
    head, _, tail = key.partition(".")
    if head in scopes and head:
        scope, rest = head, tail
    # a hidden neuron's share may be written either way (dE_o1/dout_h1 as the article does, or
    # dE_total/dnet_o1*dnet_o1/dout_h1), so answer files written for either spelling grade
    kind, _, pid = rest.partition(".")
    spellings = [rest] + ([f"partial.{a}" for a in names.share_aliases(pid)] if kind == "partial" else [])
    for spelling in spellings:
        for step in scopes[scope]:
            rec = step.get(spelling)
            if rec is not None and not rec.is_array:
                return rec, step
    known = sorted({r.key for s in scopes[""] for r in s.records if not r.is_array})
    hint = difflib.get_close_matches(rest, known, n=1)
    did = f" (did you mean {hint[0]!r}?)" if hint else ""
    raise SpecError(
        f"no quantity of this key in the first step{did}; the report's last appendix lists the keys", key, source
    )


# ---------------------------------------------------------------- grading


def grade(trace: Trace, answers: list[Answer], source: str = "answers") -> Grade:
    exact = trace.spec["rounding"] == "exact"
    located: list[tuple[Answer, Record, Step]] = []
    for a in answers:
        rec, step = _locate(trace, a.key, source)
        located.append((a, rec, step))
    order = {id(r): k for k, r in enumerate(r for s in trace.steps for r in s.records)}
    located.sort(key=lambda t: order[id(t[1])])
    verdicts = []
    for a, rec, _ in located:
        expected = float(rec.value)
        right = _agrees(a, expected)
        matched = ""
        if not exact:
            if right:
                matched = "carried"
            elif rec.exact is not None and _agrees(a, float(rec.exact)):
                right, matched = True, "exact"
        verdicts.append(Verdict(a, rec, right, expected, matched))
    diagnoses = {v.answer.key: _diagnose(v, verdicts, located) for v in verdicts if not v.right}
    return Grade(verdicts, diagnoses)


def _agrees(a: Answer, expected: float) -> bool:
    # the tolerance of the written places, and a hair more for binary fractions at the boundary
    return math.isfinite(expected) and abs(a.value - expected) <= a.tolerance * (1 + 1e-9) + 1e-15


def _diagnose(wrong: Verdict, verdicts: list[Verdict], located: list[tuple[Answer, Record, Step]]) -> Diagnosis:
    rec = wrong.record
    step = next(s for a, r, s in located if r is rec)
    given = {v.record.key: v for v in verdicts if _same_step(v, step, located)}
    env: dict[str, float] = {}
    used_wrong: list[str] = []

    def yours(key: str, exact: float) -> float:
        """The student's value of a quantity, also through one that merely equals another
        (the partial dnet_o1/dw5 is out_h1); else the exact value."""
        if key in given:
            if not given[key].right:
                used_wrong.append(key)
            return given[key].answer.value
        other = step.get(key)
        if other is not None and isinstance(other.expr, list) and other.expr[0] == "v":
            return yours(other.expr[1], exact)
        return exact

    assert rec.expr is not None
    for node in formula.variables(rec.expr):
        env[node[1]] = yours(node[1], node[2])
    filled = formula.fill(rec.expr, env)
    recomputed = formula.evaluate(rec.expr, env)
    lhs = names.symbol(rec.key)
    follows = abs(wrong.answer.value - recomputed) <= wrong.answer.tolerance * (1 + 1e-9) + 1e-15
    carried = bool(used_wrong) and follows
    return Diagnosis(
        wrong,
        f"{lhs} = {formula.latex(rec.expr)}",
        f"{lhs} = {formula.latex(filled, numfmt.latex)}",
        recomputed,
        sorted(set(used_wrong), key=used_wrong.index),
        carried,
        follows,
    )


def _same_step(v: Verdict, step: Step, located: list[tuple[Answer, Record, Step]]) -> bool:
    return any(r is v.record and s is step for _, r, s in located)


# ---------------------------------------------------------------- saying it


_SIMPLE = {
    r"\left(": "(", r"\right)": ")", r"\left[": "[", r"\right]": "]", r"\cdot": "·", r"\times": "×",
    r"\partial ": "∂", r"\delta": "δ", r"\eta": "η", r"\sigma": "σ", r"\ln": "ln", r"\tanh": "tanh",
    r"\max": "max", r"\cdots": "…", r"\le": "≤",
}  # fmt: skip


def _plain_formula(tex: str) -> str:
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


def text_report(g: Grade, digits: int = numfmt.DEFAULT_DIGITS) -> str:
    lines = []
    width = max(len(v.answer.key) for v in g.verdicts)
    for v in g.verdicts:
        mark = RIGHT if v.right else WRONG
        note = "  (matches the exact value)" if v.matched == "exact" else ""
        if not v.right and v is not (g.diagnosis.verdict if g.diagnosis else None):
            note = "  " + _short_note(g.diagnoses[v.answer.key])
        lines.append(
            f"{mark} {v.answer.key:<{width}}  given {v.answer.text:<14} expected {numfmt.plain(v.expected, digits)}{note}"
        )
    right = sum(v.right for v in g.verdicts)
    lines.append("")
    lines.append(f"{right} of {len(g.verdicts)} right.")
    d = g.diagnosis
    if d:
        lines.append("")
        lines.append(
            f"First mistake: {d.verdict.answer.key} (you wrote {d.verdict.answer.text}, the value is {numfmt.plain(d.verdict.expected, digits)})."
        )
        lines.append(f"  formula:          {_plain_formula(d.symbolic)}")
        lines.append(f"  with your inputs: {_plain_formula(d.with_your_inputs)} = {numfmt.plain(d.recomputed, digits)}")
        lines.append("  " + _explain(d, digits))
    return "\n".join(lines) + "\n"


def _short_note(d: Diagnosis) -> str:
    if d.carried:
        return f"(carried from {', '.join(d.wrong_inputs)})"
    if d.follows:
        return "(follows from your rounded inputs)"
    return "(a slip of its own)"


def _explain(d: Diagnosis, digits: int) -> str:
    wrong_in = ", ".join(d.wrong_inputs)
    if d.carried:
        return f"Your value follows from your earlier wrong value of {wrong_in}: the error was carried over; fix that step first."
    if d.wrong_inputs:
        return (
            f"It uses your wrong value of {wrong_in}, but even from that it should be {numfmt.plain(d.recomputed, digits)}: "
            "there is a new slip in this step too."
        )
    if d.follows:
        return (
            "It does follow from your own inputs, which you rounded: the rounding drifted past the places you wrote. "
            "Carry more places, or check with --rounding hand:N for the places you used."
        )
    return "Its inputs are right, so the slip is in this step: redo this calculation."


def markdown_report(g: Grade, title: str, digits: int = numfmt.DEFAULT_DIGITS) -> str:
    from .reports import md_escape

    right = sum(v.right for v in g.verdicts)
    lines = [f"# Feedback: {md_escape(title)}", "", f"{right} of {len(g.verdicts)} answers are right.", ""]
    lines += ["| | key | given | expected | |", "| --- | --- | ---: | ---: | --- |"]
    first = g.diagnosis.verdict if g.diagnosis else None
    for v in g.verdicts:
        note = _short_note(g.diagnoses[v.answer.key]) if not v.right and v is not first else ""
        lines.append(
            f"| {RIGHT if v.right else WRONG} | `{v.answer.key}` | {v.answer.text} | {numfmt.text(v.expected, digits)} | {note} |"
        )
    d = g.diagnosis
    if d:
        lines += [
            "",
            "## The first mistake",
            "",
            f"`{d.verdict.answer.key}`: you wrote {d.verdict.answer.text}; the value is {numfmt.text(d.verdict.expected, digits)}.",
            "",
            "$$",
            d.symbolic,
            "$$",
            "",
            "With your own inputs put in:",
            "",
            "$$",
            f"{d.with_your_inputs} = {numfmt.latex(d.recomputed, digits)}",
            "$$",
            "",
            _explain(d, digits),
        ]
    return "\n".join(lines) + "\n"

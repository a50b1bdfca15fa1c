"""Grade a student's values against a trace, and explain every wrong one.

An answer is right when it agrees with the trace to the places it was written with (0.7514 stands
for anything in [0.75135, 0.75145]) and carries at least `min_digits` significant digits (default
3): "0" or "1" agree with almost anything to no places, so they are "too few digits to judge", not
right. A written sign must be right. An answer within a relative 1e-12 of the value is right
whatever its digits (0.4 for 0.4, a full-precision copy of the value).

Every wrong answer gets a cause from the diagnosis table (see diagnosis.py).
"""

from __future__ import annotations

import difflib
import json
import math
import sys
import tomllib
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any

from . import diagnosis as dg
from . import formula, names, numfmt
from .errors import SpecError
from .spec import number_too_long, read_limited
from .tracedata import Record, Trace

RIGHT, WRONG, FEW, UNKNOWN = "right", "wrong", "too_few_digits", "unknown"
MARKS = {RIGHT: "✓", WRONG: "✗", FEW: "?", UNKNOWN: "!"}
MIN_DIGITS = 3
MAX_ANSWERS_BYTES = 1024 * 1024  # a class's answers fit many times over
REL_TOL = 1e-12  # an answer this close to the value is right whatever digits it carries


@dataclass
class Answer:
    key: str  # as written, e.g. "sample2.net.h1"
    text: str  # the number as written
    value: float
    tolerance: float  # half a unit in the last written place
    places: int = 0  # decimal places written (negative for 1e3-style integers)
    sig: int = 0  # significant digits written: 0.0822 has 3, 0.7510 has 4, 0 has none


@dataclass
class Verdict:
    answer: Answer
    status: str  # RIGHT, WRONG, FEW or UNKNOWN
    record: Record | None = None
    expected: float | None = None
    at: str = ""  # the quantity's key in full (sample 1's keys without a prefix)
    matched: str = ""  # with hand rounding: "carried" or "exact", which value it agrees with
    suggestion: str = ""  # for an unknown key: the nearest known one

    @property
    def right(self) -> bool:
        return self.status == RIGHT


@dataclass
class Input:
    """A value a formula reads, as the student's run has it."""

    key: str
    value: float
    how: str  # "given" (right), "given_wrong", not written: "recomputed" (from the student's values)
    # or "exact" (from none of them); "question": a value the question gives


@dataclass
class Diagnosis:
    verdict: Verdict
    cause: str  # carried, sign, a misconception's name, rounding or slip
    symbolic: str
    with_your_inputs: str
    recomputed: float  # the formula with the student's inputs
    inputs: list[Input] = field(default_factory=list)
    wrong_inputs: list[str] = field(default_factory=list)  # the student's wrong values it follows from
    misconception: dg.Misconception | None = None
    value: float | None = None  # what the named cause gives (a misconception's value, a rounded run's)


@dataclass
class Grade:
    verdicts: list[Verdict]
    diagnoses: dict[str, Diagnosis]  # every wrong answer's, by its key as written
    min_digits: int = MIN_DIGITS
    source: str = ""

    @property
    def all_right(self) -> bool:
        return all(v.right for v in self.verdicts)

    def count(self, status: str) -> int:
        return sum(v.status == status for v in self.verdicts)

    @property
    def diagnosis(self) -> Diagnosis | None:
        """The first mistake, in the order the quantities are computed."""
        first = next((v for v in self.verdicts if v.status == WRONG), None)
        return self.diagnoses[first.answer.key] if first else None


# ---------------------------------------------------------------- reading answers


def _answer(key: str, d: Decimal, text: str) -> Answer:
    t = d.as_tuple()
    assert isinstance(t.exponent, int)
    digits = "".join(map(str, t.digits)).lstrip("0")
    return Answer(key, text, float(d), 0.5 * 10.0**t.exponent, -t.exponent, len(digits))


def _flatten(data: Any, prefix: str, source: str, out: list[Answer]) -> None:
    if isinstance(data, dict):
        for k, v in data.items():
            _flatten(v, f"{prefix}.{k}" if prefix else str(k), source, out)
        return
    if isinstance(data, bool) or not isinstance(data, (int, Decimal)):
        what = "a table" if isinstance(data, dict) else type(data).__name__
        raise SpecError(f"expected a number, got {what}", prefix, source)
    d = Decimal(data)
    if not d.is_finite() or not math.isfinite(float(d)):
        raise SpecError(f"expected a finite number, got {data}", prefix, source)
    out.append(_answer(prefix, d, str(data)))


def read_answers(path: Path, meta: dict[str, int] | None = None) -> list[Answer]:
    """The answers file (TOML, or JSON by its suffix or first character) as key/number pairs.

    Numbers are read as decimals, so the places a student wrote are kept (0.7510 has four). A
    whole number under `variant` names the exercise variant the file answers (into `meta`).
    """
    source = str(path)
    raw = (
        sys.stdin.buffer.read(MAX_ANSWERS_BYTES + 1) if source == "-" else read_limited(path, source, MAX_ANSWERS_BYTES)
    )
    if len(raw) > MAX_ANSWERS_BYTES:
        raise SpecError(f"too large (over {MAX_ANSWERS_BYTES} bytes)", source=source)
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
    except ValueError as e:
        raise SpecError(number_too_long(e), source=source) from None
    if not isinstance(data, dict):
        raise SpecError("answers are a table of quantity keys and numbers", source=source)
    if isinstance(data.get("variant"), int) and not isinstance(data["variant"], bool):
        if meta is not None:
            meta["variant"] = data["variant"]
        del data["variant"]
    out: list[Answer] = []
    try:
        _flatten(data, "", source, out)
    except SpecError:
        raise
    except (ValueError, ArithmeticError) as e:  # a number Decimal or float cannot hold
        raise SpecError(
            number_too_long(e) if isinstance(e, ValueError) else "a number out of range", source=source
        ) from None
    if not out:
        raise SpecError("no answers in the file", source=source)
    return out


# ---------------------------------------------------------------- the rules


def agrees(a: Answer, value: float) -> bool:
    """Whether the value rounds to what was written (a hair more for binary fractions at the edge)."""
    return math.isfinite(value) and abs(a.value - value) <= a.tolerance * (1 + 1e-9)


def judge(a: Answer, expected: float, min_digits: int = MIN_DIGITS) -> str:
    if not math.isfinite(expected):
        return WRONG
    if a.value != 0 and expected != 0 and (a.value < 0) != (expected < 0):
        return WRONG  # a written sign must be right, whatever the places
    if abs(a.value - expected) <= REL_TOL * abs(expected):
        return RIGHT
    if not agrees(a, expected):
        return WRONG
    return RIGHT if a.sig >= min_digits else FEW


# ---------------------------------------------------------------- grading


class Grader:
    """Grades answer files against one trace; the runs a diagnosis needs (a misconception's spec,
    a hand-rounded run) are made once and shared by every file graded."""

    def __init__(
        self,
        trace: Trace,
        *,
        min_digits: int = MIN_DIGITS,
        table: list[dg.Misconception] | None = None,
        retrace: Callable[[Mapping[str, Any]], Trace | None] | None = None,
    ) -> None:
        self.trace = trace
        self.min_digits = min_digits
        self.table = dg.load_table() if table is None else table
        self.graph = dg.Graph(trace, _carry(trace.spec["rounding"]))
        self._retrace = retrace or _retrace(trace)
        self._graphs: dict[str, dg.Graph | None] = {}

    def variant(self, overrides: Mapping[str, Any]) -> dg.Graph | None:
        """The graph of the same spec with some keys changed, or None where they do not apply."""
        k = json.dumps(overrides, sort_keys=True)
        if k not in self._graphs:
            tr = self._retrace(overrides)
            self._graphs[k] = None if tr is None else dg.Graph(tr, _carry(tr.spec["rounding"]))
        return self._graphs[k]

    def locate(self, key: str) -> tuple[str | None, str]:
        """The full key of an answer's quantity, or None and the nearest known key."""
        g = self.graph
        head, _, rest = key.partition(".")
        first = next(iter(g.sample_prefix), None)
        if head == f"sample{first}" and rest:  # sample 1's keys are also written without a prefix
            key = rest
        scoped = head in {p[:-1] for p in g.sample_prefix.values() if p} and key != rest
        prefix, bare = (head + ".", rest) if scoped else ("", key)
        # a hidden neuron's share may be written either way (dE_o1/dout_h1 as the article does, or
        # dE_total/dnet_o1*dnet_o1/dout_h1), so answer files written for either spelling grade
        kind, _, pid = bare.partition(".")
        spellings = [bare] + ([f"partial.{a}" for a in names.share_aliases(pid)] if kind == "partial" else [])
        for spelling in spellings:
            if prefix + spelling in g.records:
                return prefix + spelling, ""
        if not scoped:
            for spelling in spellings:
                for p in g.sample_prefix.values():  # a plain key only a later step of the iteration has
                    if p + spelling in g.records:
                        return p + spelling, ""
        return None, _nearest(key, g.records)

    def grade(self, answers: list[Answer], source: str = "answers") -> Grade:
        verdicts: list[Verdict] = []
        for a in answers:
            at, hint = self.locate(a.key)
            if at is None:
                verdicts.append(Verdict(a, UNKNOWN, suggestion=hint))
                continue
            rec = self.graph.records[at]
            expected = float(rec.value)
            v = Verdict(a, judge(a, expected, self.min_digits), rec, expected, at)
            if self.trace.spec["rounding"] != "exact":
                if v.right:
                    v.matched = "carried"
                elif rec.exact is not None and judge(a, float(rec.exact), self.min_digits) == RIGHT:
                    v.status, v.matched = RIGHT, "exact"
            verdicts.append(v)
        order = self.graph.order
        verdicts.sort(key=lambda v: order[v.at] if v.at else len(order))
        given: dict[str, float] = {}
        status: dict[str, str] = {}
        self._tolerance: dict[str, float] = {}
        for v in verdicts:
            if v.at and v.at not in given:
                given[v.at], status[v.at] = v.answer.value, v.status
                self._tolerance[v.at] = v.answer.tolerance
        diagnoses = {v.answer.key: self._diagnose(v, given, status) for v in verdicts if v.status == WRONG}
        return Grade(verdicts, diagnoses, self.min_digits, source)

    # ------------------------------------------------------------ why a value is wrong

    def _diagnose(self, v: Verdict, given: dict[str, float], status: dict[str, str]) -> Diagnosis:
        a, c, g = v.answer, v.at, self.graph
        assert v.record is not None and v.expected is not None
        rec = v.record
        own = dg.Run(g, given, c)
        recomputed = own.value(c)
        inputs = self._inputs(c, own, given, status)
        filled = formula.fill(rec.expr, {i.key: i.value for i in inputs})
        lhs = names.symbol(rec.key)
        d = Diagnosis(
            v,
            dg.SLIP,
            f"{lhs} = {formula.latex(rec.expr)}",
            f"{lhs} = {formula.latex(filled, numfmt.latex)}",
            recomputed,
            inputs,
        )
        wrong_used = [k for k in own.used if status.get(k) != RIGHT]
        differs = not agrees(a, v.expected)  # a cause must explain the difference
        slack = self._slack(c, given, own.used, recomputed)
        follows = math.isfinite(recomputed) and abs(a.value - recomputed) <= a.tolerance * (1 + 1e-9) + slack
        if wrong_used and follows and differs:
            d.cause, d.wrong_inputs, d.value = dg.CARRIED, wrong_used, recomputed
            return d
        for flipped in (-v.expected, -recomputed):
            if flipped != 0 and agrees(a, flipped):
                d.cause, d.value = dg.SIGN, flipped
                return d
        # from all the student's values, then from their right ones only, then from exact ones:
        # another slip upstream, or inputs written rounded, should not hide a misconception
        right_only = {k: x for k, x in given.items() if status[k] == RIGHT}
        tries: list[Mapping[str, float]] = [given, right_only, {}] if wrong_used else [given, {}]
        for m in self.table:
            for tried in tries:
                for value in dg.candidates(m, g, c, tried, lambda m: self.variant(m.spec or {})):
                    if agrees(a, value) and differs:
                        d.cause, d.misconception, d.value = m.name, m, value
                        return d
        if follows:  # right inputs, written rounded: the drift passed the places
            d.cause, d.value = dg.ROUNDING, recomputed
            return d
        for mode in _hand_modes(a):
            h = self.variant({"rounding": mode})
            if h is not None and c in h.records and agrees(a, float(h.records[c].value)):
                d.cause, d.value = dg.ROUNDING, float(h.records[c].value)
                return d
        d.wrong_inputs = wrong_used
        return d

    def _slack(self, c: str, given: dict[str, float], used: list[str], value: float) -> float:
        """How far the value can move while each given input stays within the places written
        (to first order): a product of two values written to 6 digits is good to about 6."""
        total = 0.0
        for k in used:
            moved = dict(given)
            moved[k] = given[k] + self._tolerance[k]
            try:
                total += abs(dg.Run(self.graph, moved, c).value(c) - value)
            except (ZeroDivisionError, OverflowError, ValueError):
                return 0.0
        return total

    def _inputs(self, c: str, run: dg.Run, given: Mapping[str, float], status: Mapping[str, str]) -> list[Input]:
        g = self.graph
        out: list[Input] = []
        for node in formula.variables(g.records[c].expr):
            key = node[1]
            if any(i.key == key for i in out):
                continue
            t = g.resolve(key, g.prefix[c])
            if t is None:
                out.append(Input(key, float(node[2]), "question"))
            elif t in given:
                out.append(Input(key, given[t], "given" if status[t] == RIGHT else "given_wrong"))
            else:
                alone = dg.Run(g, {}, c)  # without any of the student's values: are they the exact ones?
                value = run.value(t)
                out.append(Input(key, value, "exact" if value == alone.value(t) else "recomputed"))
        return out


def _nearest(key: str, known: Mapping[str, Any]) -> str:
    hint = difflib.get_close_matches(key, list(known), n=1)
    return hint[0] if hint else ""


def _hand_modes(a: Answer) -> list[str]:
    """The hand-rounded runs a student writing this answer may have carried: the places and
    significant figures people carry, those of the answer first."""
    first = [f"hand:{a.places}"] if 1 <= a.places <= 15 else []
    first += [f"sig:{a.sig}"] if 2 <= a.sig <= 15 else []
    return first + [m for n in range(2, 7) for m in (f"hand:{n}", f"sig:{n}") if m not in first]


def _carry(rounding: str) -> Callable[[float], float] | None:
    from .rounding import carrier

    return carrier(rounding)


def _retrace(trace: Trace) -> Callable[[Mapping[str, Any]], Trace | None]:
    def run(overrides: Mapping[str, Any]) -> Trace | None:
        from .spec import load_spec
        from .tracer import trace as do_trace

        spec = dict(trace.spec)
        spec.update(overrides)
        spec["iterations"] = 1
        try:
            return do_trace(load_spec(spec), detail=1)
        except (SpecError, ValueError):
            return None  # a variant this spec cannot have (updated weights in batch mode)

    return run


def grade(trace: Trace, answers: list[Answer], source: str = "answers", min_digits: int = MIN_DIGITS) -> Grade:
    return Grader(trace, min_digits=min_digits).grade(answers, source)


def answer_files(paths: list[str]) -> list[Path]:
    """The answer files named, a folder standing for its .toml and .json files in name order."""
    out: list[Path] = []
    for p in map(Path, paths):
        if p.is_dir():
            found = sorted(x for x in p.iterdir() if x.is_file() and x.suffix.lower() in (".toml", ".json"))
            if not found:
                raise SpecError("no .toml or .json answer files in this folder", source=str(p))
            out += found
        else:
            out.append(p)
    return out


def variant_specs(folder: Path) -> dict[int, Path]:
    """The variants of an exercise set by number: NNN/spec.json in the folder, or in its teachers/."""
    for base in (folder / "teachers", folder):
        found = {int(p.parent.name): p for p in base.glob("[0-9][0-9][0-9]*/spec.json") if p.parent.name.isdigit()}
        if found:
            return found
    raise SpecError("no exercise variants here (NNN/spec.json, as bptrace exercises writes them)", source=str(folder))


def variant_of(path: Path, meta: Mapping[str, int], known: Mapping[int, Path]) -> int:
    """The variant an answer file belongs to: `variant = N` in it, or the number its name starts with."""
    import re

    n = meta.get("variant")
    if n is None:
        m = re.match(r"(\d+)", path.name)
        n = int(m.group(1)) if m else None
    if n is None:
        raise SpecError(
            "which variant? start the name with its number (007-lee.toml) or write variant = 7", source=str(path)
        )
    if n not in known:
        raise SpecError(f"there is no variant {n} in this set", "variant", str(path))
    return n

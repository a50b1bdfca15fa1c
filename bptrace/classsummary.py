"""A class at once: one row per answer file, one column per key, the score, and the causes of the
mistakes counted over the class (CSV for a spreadsheet, Markdown to read, a table to print)."""

from __future__ import annotations

import csv
import io
from collections import Counter
from pathlib import Path

from . import diagnosis as dg
from .feedback import words
from .grading import MARKS, RIGHT, WRONG, Grade

_FIXED = (dg.CARRIED, dg.SIGN)
_LAST = (dg.ROUNDING, dg.SLIP)


def causes(grades: list[Grade]) -> list[str]:
    """Every cause the table can name, in the order it is tried."""
    names = [dg.CARRIED, dg.SIGN]
    for g in grades:
        for d in g.diagnoses.values():
            if d.misconception is not None and d.misconception.name not in names:
                names.append(d.misconception.name)
    return names + list(_LAST)


def _keys(grades: list[Grade]) -> list[str]:
    seen: dict[str, tuple[int, int]] = {}
    for g in grades:
        for k, v in enumerate(g.verdicts):
            seen.setdefault(v.answer.key, (0 if v.at else 1, k))
    return sorted(seen, key=lambda key: seen[key])


def _cells(g: Grade) -> dict[str, str]:
    out = {}
    for v in g.verdicts:
        cell = v.status
        if v.status == WRONG:
            cell += f":{g.diagnoses[v.answer.key].cause}"
        out[v.answer.key] = cell
    return out


def counts(grades: list[Grade]) -> tuple[Counter[str], Counter[str]]:
    """Per cause: how many answers it explains, and how many files have at least one."""
    answers: Counter[str] = Counter()
    students: Counter[str] = Counter()
    for g in grades:
        here = Counter(d.cause for d in g.diagnoses.values())
        answers.update(here)
        students.update(here.keys())
    return answers, students


def to_csv(files: list[Path], grades: list[Grade], table: list[dg.Misconception] | None = None) -> str:
    names = _all_causes(grades, table)
    keys = _keys(grades)
    answers, _ = counts(grades)
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(["file", "right", "answers", *names, *keys])
    for f, g in zip(files, grades):
        per = Counter(d.cause for d in g.diagnoses.values())
        cells = _cells(g)
        w.writerow(
            [f.name, g.count(RIGHT), len(g.verdicts), *(per[n] for n in names), *(cells.get(k, "") for k in keys)]
        )
    right_per_key = Counter(v.answer.key for g in grades for v in g.verdicts if v.right)
    total = sum(g.count(RIGHT) for g in grades)
    w.writerow(
        [
            "(class)",
            total,
            sum(len(g.verdicts) for g in grades),
            *(answers[n] for n in names),
            *(right_per_key[k] for k in keys),
        ]
    )
    return buf.getvalue()


def _all_causes(grades: list[Grade], table: list[dg.Misconception] | None) -> list[str]:
    if table is None:
        return causes(grades)
    return [*_FIXED, *(m.name for m in table), *_LAST]


def _cause_label(name: str, grades: list[Grade], lang: str) -> str:
    for g in grades:
        for d in g.diagnoses.values():
            if d.cause == name and d.misconception is not None:
                return d.misconception.words[lang]["short"]
    return words(lang).get(f"cause_{name}", name)


def frequent(grades: list[Grade], lang: str) -> list[tuple[str, int, int]]:
    """(the cause in words, files, answers), most frequent first; "carried" last, as it follows
    from a cause above it rather than being one."""
    answers, students = counts(grades)
    order = sorted(answers, key=lambda n: (n == dg.CARRIED, -students[n], -answers[n], n))
    return [(_cause_label(n, grades, lang), students[n], answers[n]) for n in order]


def to_markdown(title: str, files: list[Path], grades: list[Grade], lang: str = "en") -> str:
    from .reports import md_escape

    w = words(lang)
    keys = _keys(grades)
    lines = [f"# {w['class_title'].format(title=md_escape(title))}", ""]
    lines.append(f"| {w['class_file']} | {w['class_score']} | " + " | ".join(f"`{k}`" for k in keys) + " |")
    lines.append("| --- | ---: |" + " :-: |" * len(keys))
    for f, g in zip(files, grades):
        marks = {v.answer.key: MARKS[v.status] for v in g.verdicts}
        score = w["class_right"].format(right=g.count(RIGHT), total=len(g.verdicts))
        lines.append(f"| {md_escape(f.name)} | {score} | " + " | ".join(marks.get(k, "") for k in keys) + " |")
    lines += ["", w["class_legend"], "", f"## {w['class_frequent']}", ""]
    rows = frequent(grades, lang)
    if rows:
        lines += [f"| {w['class_cause']} | {w['class_students']} | {w['class_answers']} |", "| --- | ---: | ---: |"]
        lines += [f"| {md_escape(label)} | {s} | {a} |" for label, s, a in rows]
    else:
        lines.append(w["class_none"])
    return "\n".join(lines) + "\n"


def to_text(title: str, files: list[Path], grades: list[Grade], lang: str = "en") -> str:
    w = words(lang)
    width = max(len(f.name) for f in files)
    lines = [w["class_title"].format(title=title), ""]
    for f, g in zip(files, grades):
        score = w["class_right"].format(right=g.count(RIGHT), total=len(g.verdicts))
        marks = "".join(MARKS[v.status] for v in g.verdicts)
        lines.append(f"{f.name:<{width}}  {score:<12}  {marks}")
    lines += ["", w["class_frequent"] + ":"]
    rows = frequent(grades, lang)
    if not rows:
        lines.append("  " + w["class_none"])
    for label, s, a in rows:
        lines.append(f"  {s:>3} {w['class_students']}, {a:>3} {w['class_answers']}: {label}")
    return "\n".join(lines) + "\n"


def summary_files(
    target: Path, title: str, files: list[Path], grades: list[Grade], lang: str = "en",
    table: list[dg.Misconception] | None = None,
) -> dict[Path, str]:  # fmt: skip
    """The class summary as CSV at `target` and as Markdown beside it (same name, .md)."""
    md = target.with_suffix(".md") if target.suffix != ".md" else target.with_name(target.name + ".md")
    return {target: to_csv(files, grades, table), md: to_markdown(title, files, grades, lang)}

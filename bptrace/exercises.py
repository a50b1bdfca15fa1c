"""Exercise sets: variants of a spec with new numbers, each with a question, a worked answer and an
answer key for ``bptrace check``.

A set is two folders: students/ (the questions, to print and write on) and teachers/ (the worked
answers, the answer keys, the index and a class summary sheet). Every variant draws from its own
seeded stream (the set's seed and the variant's number), so the same seed gives the same bytes,
and one variant can be made again alone.
"""

from __future__ import annotations

import fnmatch
import json
import math
import os
import random
from collections.abc import Callable
from pathlib import Path
from typing import Any

from . import titles
from .collection import held
from .errors import SpecError
from .output import write_staged
from .spec import MAX_SPREAD, Spec, load_spec
from .tracedata import Trace

DEFAULT_SPREAD = 0.1
DEFAULT_DECIMALS = 2
MIN_INPUT = 0.05  # a drawn input this close to 0 would zero the gradients it feeds
# where an output activation's values live; targets are kept inside
_TARGET_RANGE: dict[str, tuple[float, float]] = {"sigmoid": (0.0, 1.0), "tanh": (-1.0, 1.0)}


def _settings(spec: Spec, spread: float | None, decimals: int | None) -> dict[str, Any]:
    vary = dict(spec.data.get("vary", {}))
    if spread is not None:
        if not 0 <= spread <= MAX_SPREAD:
            raise SpecError(f"expected a spread from 0 to {MAX_SPREAD:g}, got {spread!r}", "--spread")
        vary["spread"] = spread
    if decimals is not None:
        vary["decimals"] = decimals
    vary.setdefault("spread", DEFAULT_SPREAD)
    vary.setdefault("decimals", DEFAULT_DECIMALS)
    return vary


def variant(spec: Spec, seed: int, number: int, vary: dict[str, Any]) -> dict[str, Any]:
    """The spec with new weights, biases, inputs and targets, drawn for variant `number`."""
    rng = random.Random(f"bptrace exercise {seed} {number}")
    d = spec.to_dict()
    full = spec.data
    places = int(vary["decimals"])

    def draw(group: str, value: float, lo_hi: tuple[float, float] | None = None) -> float:
        rule = vary.get(group)
        if rule is False:
            return value
        lo, hi = rule if rule else (value - vary["spread"], value + vary["spread"])
        if lo_hi:
            lo, hi = max(lo, lo_hi[0]), min(hi, lo_hi[1])
        x = round(rng.uniform(lo, hi), places) + 0.0  # + 0.0: no "-0.0" in a question
        if group == "inputs":
            x = _away_from_zero(x, lo, hi, places)
        return x

    for idx, layer in enumerate(d["layers"][1:], start=1):
        src = full["layers"][idx]
        layer["weights"] = [[draw("weights", w) for w in row] for row in src["weights"]]
        b = src["bias"]
        layer["bias"] = [draw("biases", x) for x in b] if isinstance(b, list) else draw("biases", b)
        d["layers"][idx] = {k: layer[k] for k in ("name", "size", "activation", "weights", "bias")}
    out_act = full["layers"][-1]["activation"]
    keep_targets = out_act == "softmax"  # a softmax target is a distribution; new numbers would break it
    for s in d["samples"]:
        s["input"] = [draw("inputs", x) for x in s["input"]]
        if not keep_targets:
            s["target"] = [draw("targets", t, _TARGET_RANGE.get(out_act)) for t in s["target"]]
    d.pop("init", None)  # every weight is now written out
    d.pop("vary", None)
    d["iterations"] = 1  # a sheet is one step by hand
    d["title"] = titles.suffixed(full["title"], f" ({number:03d})")
    return d


def _away_from_zero(x: float, lo: float, hi: float, places: int) -> float:
    """An input at least MIN_INPUT from 0: moved out to ±MIN_INPUT on its side (the other side when
    the range has no room on this one), staying on the grid of the decimals drawn."""
    if abs(x) >= MIN_INPUT:
        return x
    step = 10.0**-places
    edge = math.ceil(MIN_INPUT / step - 1e-9) * step
    up, down = round(edge, places), round(-edge, places)
    if x >= 0:
        return up if up <= hi + 1e-12 or down < lo - 1e-12 else down
    return down if down >= lo - 1e-12 or up > hi + 1e-12 else up


def asked_keys(trace: Trace, ask: str = "default") -> list[str] | None:
    """The keys a sheet asks for, in the order they are computed; None for every quantity.

    "default": the first sample's forward pass and error, the output layer's deltas, one hidden
    delta, and two gradients (a weight into the output layer and one into the layer before it,
    each with a non-zero input) and their updates: a sheet of about half an hour. "all": every
    quantity of the first iteration. Else a comma-separated list of keys or patterns (grad.*).
    """
    from .diagnosis import Graph

    if ask == "all":
        return None
    graph = Graph(trace)
    if ask != "default":
        patterns = [p.strip() for p in ask.split(",") if p.strip()]
        keys = [k for k in graph.records if any(fnmatch.fnmatchcase(k, p) for p in patterns)]
        if not patterns or not keys:
            raise SpecError(
                f"no quantity of this spec matches {ask!r}; try 'default', 'all' or keys such as grad.*", "ask"
            )
        return _as_answered(keys, trace)
    first = [k for k in graph.records if graph.prefix[k] == ""]
    recs = {k: graph.records[k] for k in first}
    layers = [lay["name"] for lay in trace.network["layers"]]
    chosen = {
        k
        for k, r in recs.items()
        if r.phase in ("forward", "loss") and r.kind in ("net", "out", "error", "total_error")
    }
    chosen |= {k for k, r in recs.items() if r.kind == "delta" and r.layer == layers[-1]}
    for layer in layers[-1:-3:-1] if len(layers) > 2 else layers[-1:]:
        grad = next((k for k, r in recs.items() if _weight_grad(r, layer)), None)
        if grad is None:
            continue
        rec = recs[grad]
        chosen.add(grad)
        chosen.add(rec.expr[1][1])  # its delta
        if f"update.{rec.name}" in recs:
            chosen.add(f"update.{rec.name}")
    return _as_answered([k for k in first if k in chosen], trace)


def _as_answered(keys: list[str], trace: Trace) -> list[str]:
    """The keys as answers.toml writes them: in batch mode sample 1's own gradient is
    sample1.grad.NAME (a plain grad.NAME reads as the batch's), as in the report's appendix."""
    if trace.spec["mode"] != "batch":
        return keys
    return [f"sample1.{k}" if k.startswith("grad.") else k for k in keys]


def _weight_grad(r: Any, layer: str) -> bool:
    """A weight's gradient in this layer whose input is not zero (a zero input teaches nothing)."""
    if r.kind != "grad" or r.layer != layer or not r.name.startswith("w"):
        return False  # before the expression, which a trace writes out only when it is read
    e = r.expr
    return (
        isinstance(e, list) and e[0] == "mul" and len(e) == 3 and isinstance(e[1], list)
        and e[1][1].startswith("delta.") and isinstance(e[2], list) and len(e[2]) > 2 and e[2][2] != 0
    )  # fmt: skip


def answer_key(trace: Trace, lang: str = "en") -> str:
    """answers.toml: every scalar quantity of the first iteration at full precision, under a
    comment in the set's language."""
    from .feedback import words

    title = json.dumps(titles.text_in(trace.spec["title"], lang), ensure_ascii=False)
    lines = ["# " + words(lang)["key_header"].format(title=title, command="bptrace check spec.json answers.toml")]
    first = [s for s in trace.steps if s.iteration == 1]
    batch = trace.spec["mode"] == "batch"
    written: set[str] = set()
    for k, step in enumerate(first):
        prefix = "" if k == 0 else (f"sample{step.sample}." if step.sample else "batch.")
        for r in step.records:
            # in batch mode a plain grad.NAME is the mean the update uses; a sample's own is named
            own = f"sample{step.sample}." if batch and step.sample and r.kind == "grad" else prefix
            if r.is_array or own + r.key in written:
                continue  # a later batch's batch.* repeats the first's keys: the first is the one graded
            written.add(own + r.key)
            lines.append(f"{json.dumps(own + r.key)} = {_toml_float(r.value)}")
    return "\n".join(lines) + "\n"


def _toml_float(x: float) -> str:
    s = repr(float(x))
    return s if ("." in s or "e" in s or "inf" in s or "nan" in s) else s + ".0"


def _one(args: tuple[Any, ...]) -> list[str]:
    with held(sweep=True):
        return _variant_files(*args)


def _variant_files(
    spec: Spec, seed: int, number: int, vary: dict[str, Any], folder: Path, lang: str, digits: int | None,
    templates: str | None, ask: str,
) -> list[str]:  # fmt: skip
    from .reports import make_env, render_files
    from .tracer import trace

    env = _env_cache.get(templates)
    if env is None:
        env = _env_cache[templates] = make_env(templates)
    d = variant(spec, seed, number, vary)
    tr = trace(d, detail=1)
    if tr.diverged:  # a sheet whose answers are NaN is no exercise, and check would refuse its key
        ranges = [f"vary.{g}" for g in ("weights", "biases", "inputs", "targets") if isinstance(vary.get(g), list)]
        field = "--spread" if vary.get("_from_option") else (ranges[0] if ranges else "vary.spread")
        raise SpecError(
            f"variant {number} diverges with these drawn numbers ({tr.diverged['message']}); "
            "draw closer to the spec's numbers (a smaller spread or narrower ranges)",
            field,
            spec.source,
        )
    v = f"{number:03d}"
    spec_json = json.dumps(tr.spec, indent=1, ensure_ascii=False) + "\n"
    asked = asked_keys(tr, ask)
    context: dict[str, Any] = {"sheet": True} | ({} if asked is None else {"asked": asked})
    student = {"spec.json": spec_json}
    student.update(
        render_files(
            tr, ["md", "html"], lang=lang, digits=digits, env=env, stem="question", template="question", context=context
        )
    )
    teacher = {"spec.json": spec_json, "answers.toml": answer_key(tr, lang)}
    # the answer opens with the values the sheet asks for (a sheet that asks for every quantity
    # has them in the answer's last appendix), then works everything out
    answers = {} if asked is None else {"asked": asked}
    teacher.update(render_files(tr, ["md", "html"], lang=lang, digits=digits, env=env, stem="answer", context=answers))
    sides = (("students", student), ("teachers", teacher))
    # no fsync: the staged folder is renamed into place whole; 200 fsyncs would only cost time
    return write_staged(folder, {f"{side}/{v}/{name}": text for side, files in sides for name, text in files.items()})


def _quiet_worker() -> None:
    """Signals as a pool worker needs them. A forked worker inherits the command's SIGTERM handler,
    and the pool stops its workers with SIGTERM when the set is done: each would die printing a
    traceback. Ctrl-C is the parent's to handle; it stops the pool."""
    import signal

    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    signal.signal(signal.SIGINT, signal.SIG_IGN)


_env_cache: dict[Any, Any] = {}
START_METHOD: str | None = None  # None: the platform's default


def make_set(
    source: str | Path | Spec,
    folder: Path,
    count: int,
    seed: int = 0,
    *,
    spread: float | None = None,
    decimals: int | None = None,
    lang: str = "en",
    digits: int | None = None,
    templates: str | None = None,
    jobs: int | None = None,
    ask: str = "default",
    progress: Callable[[int], None] | None = None,
) -> list[str]:
    """Write `count` variants into folder/students/NNN/ and folder/teachers/NNN/, with the indexes
    and the class summary sheet; returns the paths written."""
    spec = load_spec(source)
    if count < 1:
        raise SpecError(f"expected a count of at least 1, got {count}", "count")
    if count > 10_000:
        raise SpecError(f"{count} variants is absurd here (at most 10000)", "count")
    vary = _settings(spec, spread, decimals)
    if spread is not None:
        vary["_from_option"] = True
    first = load_spec(variant(spec, seed, 1, vary))  # the drawn numbers must make a valid spec (ranges, targets)
    from .tracer import trace

    asked = asked_keys(trace(first, detail=1), ask)  # a bad --ask fails before anything is written
    from .output import staged

    with staged(folder, ("students", "teachers")) as stage:
        written = _write_set(spec, stage, count, seed, vary, lang, digits, templates, jobs, ask, asked, progress)
    return [str(folder / Path(p).relative_to(stage)) for p in written]


def _write_set(
    spec: Spec,
    folder: Path,
    count: int,
    seed: int,
    vary: dict[str, Any],
    lang: str,
    digits: int | None,
    templates: str | None,
    jobs: int | None,
    ask: str,
    asked: list[str] | None,
    progress: Callable[[int], None] | None,
) -> list[str]:
    tasks = [(spec, seed, n, vary, folder, lang, digits, templates, ask) for n in range(1, count + 1)]
    jobs = jobs if jobs is not None else min(os.cpu_count() or 1, 4)
    written: list[str] = []
    if jobs > 1 and count >= 20:
        import multiprocessing

        # the platform's own start method: fork is unsafe in threaded processes (Python 3.12 warns) and
        # missing on Windows; each variant draws from its own seeded stream, so any method gives the same bytes
        with multiprocessing.get_context(START_METHOD).Pool(jobs, initializer=_quiet_worker) as pool:
            for k, paths in enumerate(pool.imap(_one, tasks, chunksize=max(1, count // (4 * jobs))), start=1):
                written += paths
                if progress:
                    progress(k)
    else:
        for k, t in enumerate(tasks, start=1):
            written += _one(t)
            if progress:
                progress(k)
    from .feedback import words

    w = words(lang)
    extra = {
        "teachers/index.md": _index(w, spec, seed, count, lang, teachers=True),
        "students/index.md": _index(w, spec, seed, count, lang, teachers=False),
        "teachers/class-summary.md": _summary_sheet(w, spec, count, asked, lang),
    }
    return [*written, *write_staged(folder, extra)]


def _index(w: dict[str, str], spec: Spec, seed: int, count: int, lang: str, teachers: bool) -> str:
    from .reports import md_escape

    title = md_escape(titles.text_in(spec["title"], lang))
    if teachers:
        lines = [f"# {w['set_title'].format(title=title)}", "", w["set_teachers"].format(count=count, seed=seed), ""]
        lines += [f"| {w['set_variant']} | {w['set_question']} | {w['set_answer']} | {w['set_key']} |"]
        lines += ["| --- | --- | --- | --- |"]
        for n in range(1, count + 1):
            v = f"{n:03d}"
            lines.append(
                f"| {v} | [question.md](../students/{v}/question.md) | [answer.md]({v}/answer.md) | "
                f"[answers.toml]({v}/answers.toml) |"
            )
    else:
        lines = [f"# {w['set_title'].format(title=title)}", "", w["set_students"], ""]
        lines += [f"| {w['set_variant']} | {w['set_question']} |", "| --- | --- |"]
        for n in range(1, count + 1):
            v = f"{n:03d}"
            lines.append(f"| {v} | [question.md]({v}/question.md) · [question.html]({v}/question.html) |")
    return "\n".join(lines) + "\n"


def _summary_sheet(w: dict[str, str], spec: Spec, count: int, asked: list[str] | None, lang: str) -> str:
    """A page for the teacher: how to grade the class at once, and a table to fill in by hand."""
    from .reports import md_escape

    lines = [
        f"# {w['sheet_title'].format(title=md_escape(titles.text_in(spec['title'], lang)))}",
        "",
        w["sheet_how"],
        "",
    ]
    lines += ["```text", "bptrace check teachers answers/ --summary class.csv", "```", "", w["sheet_files"], ""]
    keys = asked if asked is not None else []
    head = [w["class_file"], w["set_variant"], w["class_score"], *(f"`{k}`" for k in keys)]
    lines += ["| " + " | ".join(head) + " |", "| " + " | ".join("---" for _ in head) + " |"]
    lines += ["| " + " | ".join([""] * len(head)) + " |" for _ in range(min(count, 40))]
    return "\n".join(lines) + "\n"

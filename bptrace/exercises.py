"""Exercise sets: variants of a spec with new numbers, each with a question, a worked answer and an
answer key for ``bptrace check``.

Every variant draws from its own seeded stream (the set's seed and the variant's number), so the
same seed gives the same bytes, and one variant can be made again alone.
"""

from __future__ import annotations

import json
import os
import random
from collections.abc import Callable
from pathlib import Path
from typing import Any

from .errors import SpecError
from .output import write_atomic
from .spec import Spec, load_spec
from .tracedata import Trace

DEFAULT_SPREAD = 0.1
DEFAULT_DECIMALS = 2
# where an output activation's values live; targets are kept inside
_TARGET_RANGE: dict[str, tuple[float, float]] = {"sigmoid": (0.0, 1.0), "tanh": (-1.0, 1.0)}


def _settings(spec: Spec, spread: float | None, decimals: int | None) -> dict[str, Any]:
    vary = dict(spec.data.get("vary", {}))
    if spread is not None:
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
        return round(rng.uniform(lo, hi), places) + 0.0  # + 0.0: no "-0.0" in a question

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
    d["title"] = f"{full['title']} ({number:03d})"
    return d


def answer_key(trace: Trace) -> str:
    """answers.toml: every scalar quantity of the first iteration at full precision."""
    lines = [
        f"# The answer key of {json.dumps(trace.spec['title'], ensure_ascii=False)}: bptrace check spec.json answers.toml"
    ]
    first = [s for s in trace.steps if s.iteration == 1]
    for k, step in enumerate(first):
        prefix = "" if k == 0 else (f"sample{step.sample}." if step.sample else "batch.")
        seen = set()
        for r in step.records:
            if r.is_array or r.key in seen:
                continue
            seen.add(r.key)
            lines.append(f"{json.dumps(prefix + r.key)} = {_toml_float(r.value)}")
    return "\n".join(lines) + "\n"


def _toml_float(x: float) -> str:
    s = repr(float(x))
    return s if ("." in s or "e" in s or "inf" in s or "nan" in s) else s + ".0"


def _one(args: tuple[Any, ...]) -> list[str]:
    spec, seed, number, vary, folder, lang, digits, templates = args
    from .reports import make_env, render_files
    from .tracer import trace

    env = _env_cache.get(templates)
    if env is None:
        env = _env_cache[templates] = make_env(templates)
    d = variant(spec, seed, number, vary)
    tr = trace(d, detail=1)
    here = folder / f"{number:03d}"
    files: dict[str, str] = {"spec.json": json.dumps(tr.spec, indent=1, ensure_ascii=False) + "\n"}
    for stem in ("question", "answer"):
        files.update(
            render_files(
                tr,
                ["md", "html"],
                lang=lang,
                digits=digits,
                env=env,
                stem=stem,
                template="question" if stem == "question" else "report",
            )
        )
    files["answers.toml"] = answer_key(tr)
    for name, text in files.items():
        # durable=False: renaming keeps every file whole; 200 fsyncs would only cost time
        write_atomic(here / name, text, durable=False)
    return [str(here / n) for n in files]


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
    progress: Callable[[int], None] | None = None,
) -> list[str]:
    """Write `count` variants into folder/NNN/ and an index; returns the paths written."""
    spec = load_spec(source)
    if count < 1:
        raise SpecError(f"expected a count of at least 1, got {count}", "count")
    if count > 10_000:
        raise SpecError(f"{count} variants is absurd here (at most 10000)", "count")
    vary = _settings(spec, spread, decimals)
    load_spec(variant(spec, seed, 1, vary))  # the drawn numbers must make a valid spec (ranges, targets)
    tasks = [(spec, seed, n, vary, folder, lang, digits, templates) for n in range(1, count + 1)]
    jobs = jobs if jobs is not None else min(os.cpu_count() or 1, 4)
    written: list[str] = []
    if jobs > 1 and count >= 20:
        import multiprocessing

        # the platform's own start method: fork is unsafe in threaded processes (Python 3.12 warns) and
        # missing on Windows; each variant draws from its own seeded stream, so any method gives the same bytes
        with multiprocessing.get_context(START_METHOD).Pool(jobs) as pool:
            for k, paths in enumerate(pool.imap(_one, tasks, chunksize=max(1, count // (4 * jobs))), start=1):
                written += paths
                if progress:
                    progress(k)
    else:
        for k, t in enumerate(tasks, start=1):
            written += _one(t)
            if progress:
                progress(k)
    index = folder / "index.md"
    write_atomic(index, _index(spec, seed, count))
    return [*written, str(index)]


def _index(spec: Spec, seed: int, count: int) -> str:
    from .reports import md_escape

    lines = [
        f"# Exercises: {md_escape(spec['title'])}",
        "",
        f"{count} variants drawn with seed {seed}. Each folder holds the question, the worked answer, the spec and the "
        "answer key; a student checks their values with `bptrace check NNN/spec.json my-answers.toml`.",
        "",
        "| variant | question | answer | answer key |",
        "| --- | --- | --- | --- |",
    ]
    for n in range(1, count + 1):
        v = f"{n:03d}"
        lines.append(
            f"| {v} | [question]({v}/question.md) | [answer]({v}/answer.md) | [answers.toml]({v}/answers.toml) |"
        )
    return "\n".join(lines) + "\n"

"""Why an answer is wrong: a small table of causes tried in order.

A student's run is the first iteration computed again from the student's own values: every
quantity they wrote stands as written, every one they skipped is recomputed from the nearest ones
they gave. A wrong answer that agrees with that run follows from their earlier values (carried);
otherwise the sign is tried, then each known misconception (bptrace/misconceptions.toml, data a
teacher can extend), then a hand-rounded run, and what is left is a slip of its own.
"""

from __future__ import annotations

import fnmatch
import tomllib
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from . import formula
from .errors import SpecError
from .tracedata import Record, Trace

if TYPE_CHECKING:
    from .ops import Node

TABLE = Path(__file__).with_name("misconceptions.toml")
_WAYS = ("spec", "rename", "drop", "drop_one", "other_step")

CARRIED, SIGN, ROUNDING, SLIP = "carried", "sign", "rounding", "slip"


@dataclass(frozen=True)
class Misconception:
    name: str
    words: Mapping[str, Mapping[str, str]]  # by language: short (a few words) and says (a sentence)
    keys: tuple[str, ...] = ("*",)
    spec: Mapping[str, Any] | None = None
    rename: Mapping[str, str] = field(default_factory=dict)
    drop: tuple[str, ...] = ()
    drop_one: bool = False
    other_step: bool = False

    def matches(self, key: str) -> bool:
        return any(fnmatch.fnmatchcase(key, p) for p in self.keys)


def load_table(path: Path | None = None) -> list[Misconception]:
    """The misconceptions of a TOML file of [[misconception]] entries (default: the built-in table)."""
    path = path or TABLE
    source = str(path)
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except OSError as e:
        raise SpecError(f"cannot read: {e.strerror or e}", source=source) from None
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as e:
        raise SpecError(f"invalid TOML: {e}", source=source) from None
    entries = data.get("misconception")
    if not isinstance(entries, list) or not entries:
        raise SpecError("expected [[misconception]] entries", "misconception", source)
    return [_entry(e, f"misconception[{k}]", source) for k, e in enumerate(entries)]


def _entry(e: Any, where: str, source: str) -> Misconception:
    if not isinstance(e, dict):
        raise SpecError("expected a table", where, source)
    allowed = {"name", "en", "zh", "keys", *_WAYS}
    for k in e:
        if k not in allowed:
            raise SpecError(f"unknown key; expected one of {', '.join(sorted(allowed))}", f"{where}.{k}", source)
    if not isinstance(e.get("name"), str) or not e["name"].strip():
        raise SpecError("expected a non-empty text", f"{where}.name", source)
    for lang in ("en", "zh"):
        w = e.get(lang)
        if not isinstance(w, dict) or not all(isinstance(w.get(k), str) and w[k].strip() for k in ("short", "says")):
            raise SpecError('expected { short = "...", says = "..." }', f"{where}.{lang}", source)
    ways = [w for w in _WAYS if e.get(w) not in (None, False)]
    if len(ways) != 1:
        raise SpecError(f"expected exactly one of {', '.join(_WAYS)}", where, source)
    keys = e.get("keys", ["*"])
    if not isinstance(keys, list) or not keys or not all(isinstance(p, str) for p in keys):
        raise SpecError("expected a list of key patterns", f"{where}.keys", source)
    spec, rename, drop = e.get("spec"), e.get("rename", {}), e.get("drop", [])
    if spec is not None and not isinstance(spec, dict):
        raise SpecError("expected a table of spec keys", f"{where}.spec", source)
    if not isinstance(rename, dict) or not all(isinstance(v, str) for v in rename.values()):
        raise SpecError("expected a table of key prefixes", f"{where}.rename", source)
    if not isinstance(drop, list) or not all(isinstance(p, str) for p in drop):
        raise SpecError("expected a list of key prefixes", f"{where}.drop", source)
    return Misconception(
        e["name"], {"en": e["en"], "zh": e["zh"]}, tuple(keys), spec, rename, tuple(drop),
        e.get("drop_one") is True, e.get("other_step") is True,
    )  # fmt: skip


# ---------------------------------------------------------------- the first iteration as a graph


class Graph:
    """The first iteration's quantities under their answer keys (sample 2's net.h1 is
    "sample2.net.h1", the batch step's "batch.grad.w5"), and the variables each formula reads."""

    def __init__(self, trace: Trace, carry: Callable[[float], float] | None = None) -> None:
        self.trace = trace
        self.carry = carry  # hand rounding applied to every recomputed value, as the trace did
        self.records: dict[str, Record] = {}
        self.prefix: dict[str, str] = {}
        self.sample_prefix: dict[int | None, str] = {}
        first = [s for s in trace.steps if s.iteration == trace.steps[0].iteration] if trace.steps else []
        for k, step in enumerate(first):
            p = "" if k == 0 else (f"sample{step.sample}." if step.sample else "batch.")
            self.sample_prefix[step.sample] = p
            for r in step.records:
                if r.is_array or (p + r.key) in self.records:
                    continue
                self.records[p + r.key] = r
                self.prefix[p + r.key] = p
        self.order = {c: i for i, c in enumerate(self.records)}

    def resolve(self, var: str, prefix: str) -> str | None:
        """The answer key of a variable read in a formula of the step with this prefix, or None
        for a value given in the question (a weight, an input, a target, η)."""
        key, _, sample = var.partition("@")
        if sample:
            p = self.sample_prefix.get(int(sample))
            return p + key if p is not None and p + key in self.records else None
        return prefix + key if prefix + key in self.records else None


class NotApplicable(Exception):
    """A rewrite that does not fit this quantity (it reads a variable that is not there)."""


if TYPE_CHECKING:
    Rewrite = Callable[[str, Record, Node], Node]


class Run:
    """One student's run: their values where given (except the one being judged), everything else
    recomputed from them; a rewrite changes chosen formulas (a misconception)."""

    def __init__(self, graph: Graph, given: Mapping[str, float], skip: str, rewrite: Rewrite | None = None) -> None:
        self.graph, self.given, self.skip, self.rewrite = graph, given, skip, rewrite
        self.memo: dict[str, float] = {}
        self.used: list[str] = []  # the given values the run read, nearest first met

    def expr(self, c: str) -> Node:
        rec = self.graph.records[c]
        return self.rewrite(c, rec, rec.expr) if self.rewrite else rec.expr

    def value(self, c: str) -> float:
        if c != self.skip and c in self.given:
            if c not in self.used:
                self.used.append(c)
            return self.given[c]
        if c in self.memo:
            return self.memo[c]
        rec = self.graph.records[c]
        if rec.expr is None:
            v = float(rec.value)
        else:
            e = self.expr(c)
            v = formula.evaluate(e, self.env(c, e))
            if self.graph.carry is not None:
                v = self.graph.carry(v)
        self.memo[c] = v
        return v

    def env(self, c: str, e: Node) -> dict[str, float]:
        p = self.graph.prefix[c]
        env: dict[str, float] = {}
        for node in formula.variables(e):
            target = self.graph.resolve(node[1], p)
            if target is None and len(node) < 3:
                raise NotApplicable(node[1])
            env[node[1]] = self.value(target) if target is not None else float(node[2])
        return env


def closure(graph: Graph, c: str, given: Mapping[str, float]) -> list[str]:
    """The quantities the value of c is computed from, down to the nearest given ones."""
    seen: list[str] = []
    todo = [c]
    while todo:
        x = todo.pop()
        if x in seen:
            continue
        seen.append(x)
        if x != c and x in given:
            continue
        rec = graph.records[x]
        if rec.expr is not None:
            for node in formula.variables(rec.expr):
                t = graph.resolve(node[1], graph.prefix[x])
                if t is not None:
                    todo.append(t)
    return seen


# ---------------------------------------------------------------- rewrites


def _rename(node: Node, table: Mapping[str, str]) -> Node:
    if not isinstance(node, list):
        return node
    if node[0] == "v":
        for old, new in table.items():
            if node[1].startswith(old):
                return ["v", new + node[1][len(old) :]]  # no value: it must be found in the run
        return node
    if node[0] == "fn":
        return ["fn", node[1], *(_rename(a, table) for a in node[2:])]
    return [node[0], *(_rename(a, table) for a in node[1:])]


def _holds(node: Node, prefixes: Iterable[str]) -> bool:
    return any(v[1].startswith(p) for v in formula.variables(node) for p in prefixes)


def _drop(node: Node, prefixes: tuple[str, ...]) -> Node:
    if not isinstance(node, list) or node[0] == "v":
        return node
    if node[0] == "add":
        kept = [_drop(a, prefixes) for a in node[1:] if not _holds(a, prefixes)]
        if len(kept) == len(node) - 1:
            return node
        return ["add", *kept] if len(kept) > 1 else (kept[0] if kept else 0.0)
    if node[0] == "fn":
        return ["fn", node[1], *(_drop(a, prefixes) for a in node[2:])]
    return [node[0], *(_drop(a, prefixes) for a in node[1:])]


def candidates(
    m: Misconception, graph: Graph, c: str, given: Mapping[str, float], variant: Callable[[Misconception], Graph | None]
) -> list[float]:
    """The values a student holding misconception m would write for c, from their own inputs."""
    out: list[float] = []

    def run(g: Graph, rewrite: Rewrite | None, at: str = c) -> None:
        try:
            out.append(Run(g, given, c, rewrite).value(at))
        except (NotApplicable, KeyError, ZeroDivisionError, OverflowError, ValueError):
            pass

    if m.spec is not None:
        g = variant(m)
        if g is not None and c in g.records:
            run(g, None)
        return out
    if m.other_step:
        if not m.matches(graph.records[c].key):
            return out
        key = graph.records[c].key
        for p in dict.fromkeys(graph.sample_prefix.values()):
            if p + key in graph.records and p + key != c:
                run(graph, None, p + key)
        return out
    hits = [x for x in closure(graph, c, given) if m.matches(graph.records[x].key) and graph.records[x].expr]
    if m.drop_one:
        for x in hits:
            e = graph.records[x].expr
            if isinstance(e, list) and e[0] == "add" and len(e) > 2:
                for j in range(1, len(e)):
                    rest = [a for i, a in enumerate(e[1:], start=1) if i != j]
                    new: Node = ["add", *rest] if len(rest) > 1 else rest[0]
                    run(graph, _only({x}, _constant(new)))
        return out

    def change(e: Node) -> Node:
        return _rename(e, m.rename) if m.rename else _drop(e, m.drop)

    changed = [x for x in hits if change(graph.records[x].expr) != graph.records[x].expr]
    if changed:
        run(graph, _only(set(changed), change))
        if len(changed) > 1:  # a student may slip in one place only
            for x in changed:
                run(graph, _only({x}, change))
    return out


def _constant(new: Node) -> Callable[[Node], Node]:
    return lambda _e: new


def _only(targets: set[str], change: Callable[[Node], Node]) -> Rewrite:
    def rewrite(c: str, rec: Record, e: Node) -> Node:
        return change(e) if c in targets else e

    return rewrite

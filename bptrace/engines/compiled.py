"""The fast path for small networks: a step's expressions compiled into one Python function.

numpy's per-call overhead dominates arrays of two elements, so for article-sized networks the
untraced iterations run as straight-line float code generated from the same Entry list that the
traced steps evaluate. Same expressions, same order of operations: the fast path reproduces the
traced values bit for bit.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Iterable
from functools import lru_cache
from itertools import takewhile

from .. import formula
from ..plan import Entry
from ..valueclass import FrozenFields

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any


def _needed(entries: list[Entry], roots: set[str]) -> set[str]:
    """Keys that the roots depend on (entries whose values are only displayed are dropped)."""
    need = set(roots)
    for e in reversed(entries):
        if e.key in need:
            need.update(n[1] for n in formula.variables(e.expr))
    return need


class Namer:
    def __init__(self, params: list[str], inputs: list[str], targets: list[str]) -> None:
        self.map: dict[str, str] = {"eta": "eta"}
        for i, p in enumerate(params):
            self.map[f"param.{p}"] = f"p{i}"
            self.map[f"update.{p}"] = f"u{i}"
            self.map[f"grad.{p}"] = f"g{i}"
        for i, n in enumerate(inputs):
            self.map[f"input.{n}"] = f"x{i}"
        for i, n in enumerate(targets):
            self.map[f"target.{n}"] = f"t{i}"

    def __call__(self, key: str) -> str:
        if key not in self.map:
            self.map[key] = f"v{len(self.map)}"
        return self.map[key]


class Plan(FrozenFields):
    """What the generated function needs to know besides the entries."""

    params: list[str]  # every parameter, trainable or not
    trainable: list[str]
    inputs: list[str]
    targets: list[str]
    state: list[str]  # optimizer state keys (m.w5), then opt.t
    settings: list[str]  # optimizer setting keys (opt.beta1)
    batch_sum: bool  # a batch's gradient is the sum of its samples' (else the mean)
    mean_error: bool  # the iteration's error is the batch step's rounded mean (one full batch)
    _fields = ("params", "trainable", "inputs", "targets", "state", "settings", "batch_sum", "mean_error")

    def __init__(
        self,
        params: list[str],
        trainable: list[str],
        inputs: list[str],
        targets: list[str],
        state: list[str] | None = None,
        settings: list[str] | None = None,
        batch_sum: bool = False,
        mean_error: bool = True,
    ) -> None:
        self._set(
            params=params, trainable=trainable, inputs=inputs, targets=targets, state=[] if state is None else state,
            settings=[] if settings is None else settings, batch_sum=batch_sum, mean_error=mean_error,
        )  # fmt: skip


def source(sample_entries: list[Entry], batch_entries: list[Entry] | None, plan: Plan, rounding: bool) -> str:
    """Python source of ``run(P, batches, n_iter, hist, eta, S) -> iteration that diverged or 0``.

    P holds the parameters then the optimizer state; ``batches`` lists the batches of (input,
    target) pairs (online: one list of all samples); S the optimizer's settings.
    """
    params, trainable, inputs, targets = plan.params, plan.trainable, plan.inputs, plan.targets
    name = Namer(params, inputs, targets)
    r = "R" if rounding else ""
    ind = " " * 16
    online = batch_entries is None
    state = [k for k in plan.state if k != "opt.t"]
    roots = {"total_error"} | ({f"update.{p}" for p in trainable} if online else {f"grad.{p}" for p in trainable})
    if online:
        roots |= set(state)
    need = _needed(sample_entries, roots)
    body = []
    for e in sample_entries:
        if e.key not in need:
            continue
        if (
            not rounding
            and isinstance(e.expr, list)
            and e.expr[0] == "v"
            and not e.key.startswith(("update.", "grad."))
        ):
            name.map[e.key] = name(e.expr[1])  # a quantity equal to another is the same variable
            continue
        body.append(f"{ind}{name(e.key)} = {r}({formula.to_python(e.expr, name)})")
    carried = [name(f"param.{p}") for p in params] + [name(k) for k in plan.state]
    pvars = _unpack(carried)
    lines = [
        "def run(P, batches, n_iter, hist, eta, S):",
        f"    {pvars} = P",
    ]
    if plan.settings:
        lines.append(f"    {_unpack(name(k) for k in plan.settings)} = S")
    lines += [
        "    N = sum(len(b) for b in batches)",
        "    for _it in range(n_iter):",
        "        Esum = -0.0",
        "        _bad = 0.0",
        "        for samples in batches:",
    ]

    def new_step(ind: str) -> list[str]:
        out = [f"{ind}{name('opt.t')} = {name('opt.t')} + 1.0"] if "opt.t" in plan.state else []
        return out + [f"{ind}{name('prev_' + k)} = {name(k)}" for k in state]

    if not online:
        lines += [f"            a{i} = -0.0" for i in range(len(trainable))]
    lines += _sample_loop(name, inputs, targets, " " * 12)
    if online:
        lines += new_step(ind)
    lines += body
    # every quantity the traced step would record, tested as the traced path tests it: 0 * x is 0
    # for a finite x and NaN otherwise, so the sum is NaN exactly when some x is not finite, and no
    # sum of large finite values can overflow on the way
    seen = [v for v in dict.fromkeys(_assigned(body)) if v]
    if seen:
        lines.append(f"{ind}_bad = _bad + " + " + ".join(f"0.0 * {v}" for v in seen))
    lines.append(f"{ind}Esum = Esum + {name('total_error')}")
    if online:
        lines += [f"{ind}{name(f'param.{p}')} = {name(f'update.{p}')}" for p in trainable]
        lines.append("        E = Esum / N")
    else:
        lines += [f"{ind}a{i} = a{i} + {name(f'grad.{p}')}" for i, p in enumerate(trainable)]
        lines.append("            nb = len(samples)")
        if plan.batch_sum:
            lines += [f"            {name(f'grad.{p}')} = {r}(a{i})" for i, p in enumerate(trainable)]
        else:
            lines += [f"            {name(f'grad.{p}')} = {r}(a{i} / nb)" for i, p in enumerate(trainable)]
        lines += new_step(" " * 12)
        for e in batch_entries or []:
            if e.mean_of is None:
                lines.append(f"            {name(e.key)} = {r}({formula.to_python(e.expr, name)})")
        lines += [f"            {name(f'param.{p}')} = {name(f'update.{p}')}" for p in trainable]
        lines.append(f"        E = {r}(Esum / N)" if plan.mean_error else "        E = Esum / N")
    pzero = " + ".join("0.0 * " + name(f"param.{p}") for p in params)
    lines += [
        "        hist.append(E)",
        f"        if not _isfinite(E + _bad + {pzero}):",
        f"            P[:] = [{pvars}]",
        "            return _it + 1",
        f"    P[:] = [{pvars}]",
        "    return 0",
    ]
    return "\n".join(lines) + "\n"


def _assigned(body: list[str]) -> list[str]:
    """The variables the generated lines assign, in order."""
    return [line.split(" = ", 1)[0].strip() for line in body]


def _unpack(names: Iterable[str]) -> str:
    """The left side of a tuple assignment: a tuple of one needs its trailing comma."""
    ns = list(names)
    return ", ".join(ns) + ("," if len(ns) == 1 else "")


def _sample_loop(name: Namer, inputs: list[str], targets: list[str], ind: str = " " * 4) -> list[str]:
    """The head of a loop over ``samples``, indented by ``ind``, each sample's inputs and targets unpacked."""
    return [
        f"{ind}for X, T in samples:",
        f"{ind}    {_unpack(name(f'input.{x}') for x in inputs)} = X",
        f"{ind}    {_unpack(name(f'target.{t}') for t in targets)} = T",
    ]


def _forward_body(name: Namer, forward: list[Entry], wanted: set[str], rounding: bool) -> list[str]:
    """The loop body computing ``wanted`` from one sample: only the entries they need, each value
    carried (rounded) when ``rounding``; a plain copy becomes another name for its source."""
    need = _needed(forward, wanted)
    r = "R" if rounding else ""
    body = []
    for e in forward:
        if e.key not in need:
            continue
        if not rounding and isinstance(e.expr, list) and e.expr[0] == "v":
            name.map[e.key] = name(e.expr[1])
            continue
        body.append(f"        {name(e.key)} = {r}({formula.to_python(e.expr, name)})")
    return body


def error_source(sample_entries: list[Entry], params: list[str], inputs: list[str], targets: list[str]) -> str:
    """Python source of ``error(P, samples) -> mean total error``: the forward pass and the loss
    alone, unrounded, in the order the traced step evaluates them (for finite differences)."""
    name = Namer(params, inputs, targets)
    entries = list(takewhile(lambda e: e.phase in ("forward", "loss"), sample_entries))
    body = _forward_body(name, entries, {"total_error"}, rounding=False)
    pvars = _unpack(name(f"param.{p}") for p in params)
    return (
        "\n".join(
            [
                "def error(P, samples):",
                f"    {pvars} = P",
                "    Esum = -0.0",
                *_sample_loop(name, inputs, targets),
                *body,
                f"        Esum = Esum + {name('total_error')}",
                "    return Esum / len(samples)",
            ]
        )
        + "\n"
    )


def error_function(
    sample_entries: list[Entry], params: list[str], inputs: list[str], targets: list[str]
) -> Callable[[list[float], list[tuple[tuple[float, ...], tuple[float, ...]]]], float]:
    # writing the source costs as much as the finite differences themselves
    forward = list(takewhile(lambda e: e.phase in ("forward", "loss"), sample_entries))
    src = _source("error", forward, params, inputs, targets, lambda: error_source(forward, params, inputs, targets))
    return _compile(src, None, "error")


_SOURCES: dict[str, str] = {}


def _source(
    kind: str, forward: list[Entry], params: list[str], inputs: list[str], targets: list[str], write: Callable[[], str]
) -> str:
    """A generated source, written once per network: the same network traced again (an exercise
    set, a notebook) has the same entries, which JSON spells out exactly and at C speed."""
    key = json.dumps([kind, [[e.key, e.expr] for e in forward], params, inputs, targets])
    src = _SOURCES.get(key)
    if src is None:
        src = write()
        if len(_SOURCES) >= 32:
            _SOURCES.clear()
        _SOURCES[key] = src
    return src


def final_source(forward: list[Entry], params: list[str], inputs: list[str], targets: list[str], rounding: bool) -> str:
    """Python source of ``final(P, samples) -> (outputs, errors)``: every sample's output values and
    error with the final parameters, each value carried (rounded) as the traced step carries it."""
    name = Namer(params, inputs, targets)
    outs = [f"out.{t}" for t in targets]
    body = _forward_body(name, forward, {"total_error", *outs}, rounding)
    pvars = _unpack(name(f"param.{p}") for p in params)
    return (
        "\n".join(
            [
                "def final(P, samples):",
                f"    {pvars} = P",
                "    outs, errs = [], []",
                *_sample_loop(name, inputs, targets),
                *body,
                f"        outs.append([{', '.join(name(k) for k in outs)}])",
                f"        errs.append({name('total_error')})",
                "    return outs, errs",
            ]
        )
        + "\n"
    )


def final_function(
    sample_entries: list[Entry],
    params: list[str],
    inputs: list[str],
    targets: list[str],
    round_mode: str | None,
    float32: bool,
) -> Callable[..., tuple[list[list[float]], list[float]]]:
    forward = list(takewhile(lambda e: e.phase in ("forward", "loss"), sample_entries))
    rounding = round_mode is not None
    kind = "final, rounded" if rounding else "final"
    src = _source(
        kind, forward, params, inputs, targets, lambda: final_source(forward, params, inputs, targets, rounding)
    )
    return _compile(src, round_mode, "final", float32)


@lru_cache(maxsize=64)
def _compile(src: str, round_mode: str | None, entry: str = "run", float32: bool = False) -> Callable[..., Any]:
    from ..rounding import carrier

    ns: dict[str, Any] = formula.python_namespace(float32)
    ns["_isfinite"] = math.isfinite
    if round_mode is not None:
        ns["R"] = carrier(round_mode)
    exec(compile(src, "<bptrace fast path>", "exec"), ns)
    return ns[entry]  # type: ignore[no-any-return]


def runner(
    sample_entries: list[Entry],
    batch_entries: list[Entry] | None,
    plan: Plan,
    round_mode: str | None,
    float32: bool = False,
) -> Callable[..., int]:
    src = source(sample_entries, batch_entries, plan, round_mode is not None)
    return _compile(src, round_mode, "run", float32)

"""The fast path for small networks: a step's expressions compiled into one Python function.

numpy's per-call overhead dominates arrays of two elements, so for article-sized networks the
untraced iterations run as straight-line float code generated from the same Entry list that the
traced steps evaluate. Same expressions, same order of operations: the fast path reproduces the
traced values bit for bit.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from functools import lru_cache
from itertools import takewhile
from typing import Any

from .. import formula
from ..plan import Entry


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


def source(
    sample_entries: list[Entry],
    batch_entries: list[Entry] | None,
    params: list[str],
    trainable: list[str],
    inputs: list[str],
    targets: list[str],
    rounding: bool,
) -> str:
    """Python source of ``run(P, samples, n_iter, hist, eta) -> iteration that diverged or 0``."""
    name = Namer(params, inputs, targets)
    r = "R" if rounding else ""
    ind = " " * 12
    online = batch_entries is None
    roots = {"total_error"} | ({f"update.{p}" for p in trainable} if online else {f"grad.{p}" for p in trainable})
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
    pvars = ", ".join(name(f"param.{p}") for p in params)
    n = len(params)
    lines = [
        "def run(P, samples, n_iter, hist, eta):",
        f"    {pvars}{',' if n == 1 else ''} = P",
        "    N = len(samples)",
        "    for _it in range(n_iter):",
        "        Esum = -0.0",
    ]
    if not online:
        lines += [f"        a{i} = -0.0" for i in range(len(trainable))]
    lines += [
        "        for X, T in samples:",
        f"            {', '.join(name(f'input.{x}') for x in inputs)}{',' if len(inputs) == 1 else ''} = X",
        f"            {', '.join(name(f'target.{t}') for t in targets)}{',' if len(targets) == 1 else ''} = T",
    ]
    lines += body
    lines.append(f"            Esum = Esum + {name('total_error')}")
    if online:
        lines += [f"            {name(f'param.{p}')} = {name(f'update.{p}')}" for p in trainable]
        lines.append("        E = Esum / N")
    else:
        lines += [f"            a{i} = a{i} + {name(f'grad.{p}')}" for i, p in enumerate(trainable)]
        agg = {e.key: e for e in batch_entries or []}
        lines.append(f"        E = {r}(Esum / N)")
        lines += [f"        {name(f'grad.{p}')} = {r}(a{i} / N)" for i, p in enumerate(trainable)]
        for p in trainable:
            e = agg[f"update.{p}"]
            lines.append(f"        {name(f'param.{p}')} = {r}({formula.to_python(e.expr, name)})")
    lines += [
        "        hist.append(E)",
        f"        if not _isfinite(E + {' + '.join(name(f'param.{p}') for p in params)}):",
        f"            P[:] = [{pvars}]",
        "            return _it + 1",
        f"    P[:] = [{pvars}]",
        "    return 0",
    ]
    return "\n".join(lines) + "\n"


def error_source(sample_entries: list[Entry], params: list[str], inputs: list[str], targets: list[str]) -> str:
    """Python source of ``error(P, samples) -> mean total error``: the forward pass and the loss
    alone, unrounded, in the order the traced step evaluates them (for finite differences)."""
    name = Namer(params, inputs, targets)
    entries = list(takewhile(lambda e: e.phase in ("forward", "loss"), sample_entries))
    need = _needed(entries, {"total_error"})
    ind = " " * 8
    body = []
    for e in entries:
        if e.key not in need:
            continue
        if isinstance(e.expr, list) and e.expr[0] == "v":
            name.map[e.key] = name(e.expr[1])
            continue
        body.append(f"{ind}{name(e.key)} = {formula.to_python(e.expr, name)}")
    pvars = ", ".join(name(f"param.{p}") for p in params)
    return (
        "\n".join(
            [
                "def error(P, samples):",
                f"    {pvars}{',' if len(params) == 1 else ''} = P",
                "    Esum = -0.0",
                "    for X, T in samples:",
                f"        {', '.join(name(f'input.{x}') for x in inputs)}{',' if len(inputs) == 1 else ''} = X",
                f"        {', '.join(name(f'target.{t}') for t in targets)}{',' if len(targets) == 1 else ''} = T",
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
    return _compile(error_source(sample_entries, params, inputs, targets), None, "error")


@lru_cache(maxsize=64)
def _compile(src: str, round_mode: str | None, entry: str = "run") -> Callable[..., Any]:
    from ..rounding import carrier

    ns: dict[str, Any] = formula.python_namespace()
    ns["_isfinite"] = math.isfinite
    if round_mode is not None:
        ns["R"] = carrier(round_mode)
    exec(compile(src, "<bptrace fast path>", "exec"), ns)
    return ns[entry]  # type: ignore[no-any-return]


def runner(
    sample_entries: list[Entry],
    batch_entries: list[Entry] | None,
    params: list[str],
    trainable: list[str],
    inputs: list[str],
    targets: list[str],
    round_mode: str | None,
) -> Callable[..., int]:
    src = source(sample_entries, batch_entries, params, trainable, inputs, targets, round_mode is not None)
    return _compile(src, round_mode)

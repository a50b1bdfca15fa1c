"""Check that a JSON document is a bptrace trace before anything renders it.

A trace is user input too (it can be edited, truncated or come from another version), so every
field a renderer reads is checked here and a bad one raises SpecError naming its path.
"""

from __future__ import annotations

import math
from array import array

from ..errors import SpecError
from ..fields import integer, list_of, table, text, type_name
from ..spec import normalise_full, portable
from .fit import check_fit
from .format import EXTENSION_PREFIX, KINDS, KINDS_V1, PHASES, READS, unpack, version_for

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

TOP = ("format_version", "generator", "spec", "network", "steps", "history", "final", "gradcheck", "diverged")
OPTIONAL_TOP = ("first_update",)
STEP = ("iteration", "sample", "records")
RECORD = (
    "phase", "kind", "name", "key", "layer", "shape", "value", "old", "grad", "new", "exact",
    "formula", "substituted", "expr",
)  # fmt: skip
_NONFINITE = {"NaN": math.nan, "Infinity": math.inf, "-Infinity": -math.inf}


def _num(val: Any, path: str) -> Any:
    if isinstance(val, str) and val in _NONFINITE:
        return _NONFINITE[val]
    if isinstance(val, bool) or not isinstance(val, (int, float)):
        raise SpecError(f"expected a number, got {type_name(val)}", path)
    if isinstance(val, int) and not -(2**1023) < val < 2**1023:
        raise SpecError(f"expected a number within float64's range, got {type_name(val)}", path)
    return val  # an int stays an int, so a trace reads back to the same JSON


def _nums(val: Any, path: str, depth: int = 0) -> Any:
    """A number, or (for array records) nested lists of numbers, maybe packed."""
    if isinstance(val, dict) and depth == 0:
        try:
            return unpack(val)
        except ValueError as e:
            raise SpecError(f"a packed array: {e}", path) from None
    if isinstance(val, list):
        if depth >= 2:
            raise SpecError("expected a number or a list of numbers, nested too deep", path)
        return [_nums(x, f"{path}[{i}]", depth + 1) for i, x in enumerate(val)]
    return _num(val, path)


def _known(raw: Any, top: bool = False) -> Any:
    """The object without the keys a reader ignores: extensions (x-...) and, at the top, $schema."""
    if not isinstance(raw, dict):
        return raw
    return {k: v for k, v in raw.items() if not (str(k).startswith(EXTENSION_PREFIX) or (top and k == "$schema"))}


def check_trace(raw: Any) -> dict[str, Any]:
    if not isinstance(raw, dict):
        raise SpecError(f"a trace is a JSON object, got {type_name(raw)}")
    if "$schema" in raw:
        text(raw["$schema"], "$schema")
    raw = _known(raw, top=True)
    table(raw, "", TOP + OPTIONAL_TOP, "a trace object")
    for k in TOP:
        if k not in raw:
            raise SpecError("missing (is this a bptrace trace?)", k)
    version = raw["format_version"]
    if isinstance(version, bool) or not isinstance(version, int) or version not in READS:
        known = " and ".join(map(str, READS))
        raise SpecError(f"unknown format_version {version!r} (this bptrace reads {known})", "format_version")
    try:
        # the normal limits, and no weights drawn: a trace is checked, not run
        spec = portable(*normalise_full(raw["spec"], draw=False))
    except SpecError as e:
        detail = e.detail.replace("; pass --no-limit (limits=False) to lift the limit", "")
        raise SpecError(detail, f"spec.{e.path}" if e.path else "spec") from None
    if version_for(spec) > version:
        raise SpecError(f"the spec uses keys of format 2, but the trace says format {version}", "format_version")
    kinds = KINDS if version >= 2 else KINDS_V1
    doc = {
        "format_version": version,
        "generator": text(raw["generator"], "generator"),
        "spec": spec,
        "network": table(raw["network"], "network", ("layers",)),
        "steps": [_step(s, f"steps[{i}]", kinds) for i, s in enumerate(list_of(raw["steps"], "steps"))],
        "history": _history(raw["history"]),
        "final": _final(raw["final"]),
        "gradcheck": _gradcheck(raw["gradcheck"]),
        "diverged": _diverged(raw["diverged"]),
    }
    if "first_update" in raw:
        doc["first_update"] = _first_update(raw["first_update"], len(spec["samples"]))
    if doc["diverged"] is None:
        _all_finite(doc)
    check_fit(doc)
    return doc


def _all_finite(doc: dict[str, Any]) -> None:
    """Only a diverged run holds non-finite values; anywhere else NaN or Infinity means an edited
    file (and could not be written back: a trace that did not diverge is strict JSON)."""

    def finite(x: Any) -> bool:
        if isinstance(x, list):
            return all(map(finite, x))
        return not isinstance(x, float) or math.isfinite(x)

    if not all(map(math.isfinite, doc["history"]["total_error"])):
        raise SpecError("holds a value that is not finite, but the run did not diverge", "history.total_error")
    for si, step in enumerate(doc["steps"]):
        for ri, rec in enumerate(step["records"]):
            for k in ("value", "old", "grad", "new", "exact"):
                if k in rec and not finite(rec[k]):
                    raise SpecError("not finite, but the run did not diverge", f"steps[{si}].records[{ri}].{k}")
    for part in ("final", "gradcheck", "first_update"):
        if doc.get(part) is not None and not finite([v for v in _numbers(doc[part])]):
            raise SpecError("holds a value that is not finite, but the run did not diverge", part)


def _numbers(x: Any) -> list[Any]:
    if isinstance(x, dict):
        return [n for v in x.values() for n in _numbers(v)]
    if isinstance(x, list):
        return [n for v in x for n in _numbers(v)]
    return [x] if isinstance(x, float) else []


def _step(raw: Any, path: str, kinds: tuple[str, ...]) -> dict[str, Any]:
    t = table(_known(raw), path, STEP, "a step object")
    sample = t.get("sample")
    return {
        "iteration": integer(t.get("iteration"), f"{path}.iteration", 1),
        "sample": None if sample is None else integer(sample, f"{path}.sample", 1),
        "records": [
            _record(r, f"{path}.records[{i}]", kinds)
            for i, r in enumerate(list_of(t.get("records"), f"{path}.records"))
        ],
    }


def _record(raw: Any, path: str, kinds: tuple[str, ...] = KINDS) -> dict[str, Any]:
    t = table(_known(raw), path, RECORD, "a record object")
    for k in ("phase", "kind", "name", "value"):
        if k not in t:
            raise SpecError("missing", f"{path}.{k}")
    phase, kind = text(t["phase"], f"{path}.phase"), text(t["kind"], f"{path}.kind")
    if phase not in PHASES:
        raise SpecError(f"unknown phase {phase!r}", f"{path}.phase")
    if kind not in kinds:
        raise SpecError(f"unknown kind {kind!r}", f"{path}.kind")
    out: dict[str, Any] = {
        "phase": phase,
        "kind": kind,
        "name": text(t["name"], f"{path}.name"),
        "value": _nums(t["value"], f"{path}.value"),
        "formula": text(t.get("formula", ""), f"{path}.formula"),
        "substituted": text(t.get("substituted", ""), f"{path}.substituted"),
    }
    if "key" in t:
        out["key"] = text(t["key"], f"{path}.key")
    if t.get("layer") is not None:
        out["layer"] = text(t["layer"], f"{path}.layer")
    if t.get("shape") is not None:
        out["shape"] = [integer(x, f"{path}.shape[{i}]", 1) for i, x in enumerate(list_of(t["shape"], f"{path}.shape"))]
    for k in ("old", "grad", "new", "exact"):
        if t.get(k) is not None:
            out[k] = _nums(t[k], f"{path}.{k}")
    needs = ("old",) if "shape" in out else ("old", "grad", "new")
    if kind == "update" and any(k not in out for k in needs):
        raise SpecError(f"an update record needs {', '.join(needs)}", path)
    if t.get("expr") is not None:
        out["expr"] = _expr(t["expr"], f"{path}.expr", 0, kinds is KINDS)
    return out


def _expr(node: Any, path: str, depth: int = 0, v2: bool = True) -> Any:
    from ..ops import FUNCTIONS

    if depth > 64:
        raise SpecError("expression nested too deep", path)
    if not isinstance(node, list):
        return _num(node, path)
    if not node or not isinstance(node[0], str):
        raise SpecError('expected an operation list such as ["add", ...]', path)
    op = node[0]
    if op == "v":
        if len(node) != 3 or not isinstance(node[1], str):
            raise SpecError('expected ["v", key, value]', path)
        return ["v", node[1], _num(node[2], f"{path}[2]")]
    if op == "fn":
        if len(node) < 3 or node[1] not in FUNCTIONS:
            raise SpecError(f"unknown function {node[1:2]!r}", path)
        return ["fn", node[1], *(_expr(a, f"{path}[{i + 2}]", depth + 1, v2) for i, a in enumerate(node[2:]))]
    arity = {"add": None, "mul": None, "sub": 2, "div": 2, "neg": 1, "half": 1, "sq": 1}
    if v2:
        arity["pow"] = 2
    if op not in arity:
        raise SpecError(f"unknown operation {op!r}", path)
    n = arity[op]
    if (n is not None and len(node) - 1 != n) or len(node) < 2:
        raise SpecError(f"{op} takes {n or 'one or more'} operands, got {len(node) - 1}", path)
    return [op, *(_expr(a, f"{path}[{i + 1}]", depth + 1, v2) for i, a in enumerate(node[1:]))]


def _history(raw: Any) -> dict[str, Any]:
    t = table(raw, "history", ("total_error",))
    vals = t.get("total_error")
    if isinstance(vals, array) and vals.typecode == "d":  # read apart from a long file: numbers already
        return {"total_error": vals}
    vals = list_of(vals, "history.total_error")
    if set(map(type, vals)) <= {float, int}:  # the usual case, checked at C speed: a run writes floats
        return {"total_error": array("d", vals)}
    return {"total_error": array("d", [_num(x, f"history.total_error[{i}]") for i, x in enumerate(vals)])}


def _final(raw: Any) -> dict[str, Any] | None:
    if raw is None:
        return None
    t = table(raw, "final", ("params", "outputs", "total_error"))
    params = t.get("params")
    if not isinstance(params, dict):
        raise SpecError(f"expected a table of parameter values, got {type_name(params)}", "final.params")
    outputs = list_of(t.get("outputs"), "final.outputs")
    return {
        "params": {str(k): _nums(x, f"final.params.{k}") for k, x in params.items()},
        "outputs": [
            [_num(x, f"final.outputs[{i}][{j}]") for j, x in enumerate(list_of(row, f"final.outputs[{i}]"))]
            for i, row in enumerate(outputs)
        ],
        "total_error": _num(t.get("total_error"), "final.total_error"),
    }


def _first_update(raw: Any, n_samples: int) -> dict[str, Any]:
    t = table(raw, "first_update", ("samples", "total_error"))
    samples = [
        integer(x, f"first_update.samples[{i}]", 1, n_samples)
        for i, x in enumerate(list_of(t.get("samples"), "first_update.samples"))
    ]
    if not samples:
        raise SpecError(
            "expected the numbers of the samples the first update used, got an empty list", "first_update.samples"
        )
    return {"samples": samples, "total_error": _num(t.get("total_error"), "first_update.total_error")}


def _gradcheck(raw: Any) -> dict[str, Any] | None:
    if raw is None:
        return None
    t = table(raw, "gradcheck", ("epsilon", "max_rel_diff", "worst", "checked", "of", "params"))
    rows = []
    for i, r in enumerate(list_of(t.get("params"), "gradcheck.params")):
        rt = table(r, f"gradcheck.params[{i}]", ("name", "traced", "numeric", "rel_diff"))
        rows.append(
            {
                "name": text(rt.get("name"), f"gradcheck.params[{i}].name"),
                **{k: _num(rt.get(k), f"gradcheck.params[{i}].{k}") for k in ("traced", "numeric", "rel_diff")},
            }
        )
    worst = t.get("worst")
    return {
        "epsilon": _num(t.get("epsilon"), "gradcheck.epsilon"),
        "max_rel_diff": _num(t.get("max_rel_diff"), "gradcheck.max_rel_diff"),
        "worst": None if worst is None else text(worst, "gradcheck.worst"),
        "checked": integer(t.get("checked"), "gradcheck.checked", 0),
        "of": integer(t.get("of"), "gradcheck.of", 0),
        "params": rows,
    }


def _diverged(raw: Any) -> dict[str, Any] | None:
    if raw is None:
        return None
    t = table(raw, "diverged", ("iteration", "sample", "quantity", "message"))
    sample = t.get("sample")
    return {
        "iteration": integer(t.get("iteration"), "diverged.iteration", 1),
        "sample": None if sample is None else integer(sample, "diverged.sample", 1),
        "quantity": text(t.get("quantity"), "diverged.quantity"),
        "message": text(t.get("message"), "diverged.message"),
    }

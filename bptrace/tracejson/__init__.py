"""The trace's JSON: one document builder feeding both ``to_dict`` and the streamed writer, and
the reader, which checks a document (``validate``) before anything is built from it.

The document is deterministic: fixed key order, one record per line, floats as the shortest text
that reads back as the same float64. A diverged run writes non-finite values as strings.
"""

from __future__ import annotations

import json
import math
from array import array
from collections.abc import Iterator

from ..errors import SpecError
from .format import (
    EXTENSION_PREFIX,
    FORMAT_VERSION,
    KINDS,
    PACK_LIMIT,
    PHASES,
    SCHEMA_ID,
    pack_bytes,
    pack_large,
    unpack,
)
from .validate import check_trace

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

    from ..tracedata import Trace

__all__ = [
    "EXTENSION_PREFIX",
    "FORMAT_VERSION",
    "KINDS",
    "PACK_LIMIT",
    "PHASES",
    "SCHEMA_ID",
    "iter_json",
    "pack_bytes",
    "pack_large",
    "read",
    "to_dict",
    "unpack",
]

HISTORY_CHUNK = 65536  # history values per piece of the streamed text


def _parts(trace: Trace) -> tuple[dict[str, Any], dict[str, Any]]:
    """What comes before the steps and history, and what comes after them, as the document holds them."""
    encode = _encode_nonfinite if trace.diverged else _same
    head = {
        "$schema": SCHEMA_ID,
        "format_version": trace.format_version,
        "generator": trace.generator,
        "spec": encode(trace.spec),
        "network": encode(trace.network),
    }
    final = trace.final and {**trace.final, "params": {k: pack_large(x) for k, x in trace.final["params"].items()}}
    tail = {"final": encode(final), "gradcheck": encode(trace.gradcheck), "diverged": encode(trace.diverged)}
    if trace.first_update is not None:  # optional: left out where unknown, so older traces read back unchanged
        tail = {"first_update": encode(trace.first_update), **tail}
    return head, tail


def _records(trace: Trace, step_index: int) -> list[dict[str, Any]]:
    encode = _encode_nonfinite if trace.diverged else _same
    return [encode(r.to_dict()) for r in trace.steps[step_index].records]


def to_dict(trace: Trace) -> dict[str, Any]:
    """The whole document as Python data."""
    head, tail = _parts(trace)
    encode = _encode_nonfinite if trace.diverged else _same
    steps = [
        {"iteration": s.iteration, "sample": s.sample, "records": _records(trace, k)} for k, s in enumerate(trace.steps)
    ]
    return {**head, "steps": steps, "history": {"total_error": encode(list(trace.history))}, **tail}


def iter_json(trace: Trace) -> Iterator[str]:
    """The same document as JSON text in pieces, so a long history is never held as one string."""
    head, tail = _parts(trace)
    encode = _encode_nonfinite if trace.diverged else _same
    yield "{\n"
    for k, val in head.items():
        yield f"  {json.dumps(k)}: {_dump(val)},\n"
    yield '  "steps": ['
    for si, s in enumerate(trace.steps):
        yield "," if si else ""
        yield f'\n    {{"iteration": {_dump(s.iteration)}, "sample": {_dump(s.sample)}, "records": [\n'
        recs = _records(trace, si)
        for ri, r in enumerate(recs):
            yield f"      {_dump(r)}{',' if ri < len(recs) - 1 else ''}\n"
        yield "    ]}"
    yield "\n  ],\n" if trace.steps else "],\n"
    yield '  "history": {"total_error": ['
    h = trace.history
    for i in range(0, len(h), HISTORY_CHUNK):
        chunk = _dump(encode(list(h[i : i + HISTORY_CHUNK])))[1:-1]
        yield (", " if i else "") + chunk
    yield "]},\n"
    for i, (k, val) in enumerate(tail.items()):
        yield f"  {json.dumps(k)}: {_dump(val)}{',' if i < len(tail) - 1 else ''}\n"
    yield "}\n"


def read(text: str | bytes, source: str = "<trace>") -> dict[str, Any]:
    """A trace document parsed and checked: plain data a Trace is built from. Raises SpecError."""
    try:
        raw = json.loads(text)
    except RecursionError:
        raise SpecError("nesting is too deep to be a trace", source=source) from None
    except (json.JSONDecodeError, UnicodeDecodeError) as e:
        where = f" at line {e.lineno}, column {e.colno}" if isinstance(e, json.JSONDecodeError) else ""
        raise SpecError(f"invalid JSON{where}: {getattr(e, 'msg', e)}", source=source) from None
    return check(raw, source)


def check(raw: Any, source: str | None = None) -> dict[str, Any]:
    try:
        return check_trace(raw)
    except SpecError as e:
        raise (e.at(source) if source else e) from None


def _same(x: Any) -> Any:
    return x


def _dump(x: Any) -> str:
    return json.dumps(x, ensure_ascii=False, allow_nan=False, separators=(", ", ": "))


def _encode_nonfinite(x: Any) -> Any:
    if isinstance(x, float) and not math.isfinite(x):
        return "NaN" if x != x else ("Infinity" if x > 0 else "-Infinity")
    if isinstance(x, dict):
        return {k: _encode_nonfinite(v) for k, v in x.items()}
    if isinstance(x, (list, tuple, array)):
        return [_encode_nonfinite(v) for v in x]
    return x

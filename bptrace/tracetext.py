"""A trace as diff-friendly text: one record per line, exact values; what trace snapshots store."""

from __future__ import annotations

import hashlib
from itertools import chain
from typing import Any

from . import titles
from .tracedata import Record, Trace
from .tracejson import pack_large


def _value_text(value: Any) -> str:
    if not isinstance(value, list):
        return repr(value)
    flat = list(chain.from_iterable(value)) if value and isinstance(value[0], list) else value
    if len(flat) <= 8:
        return repr(value)
    packed = pack_large(value)
    raw = packed["base64"] if isinstance(packed, dict) else repr(value)
    digest = hashlib.sha256(raw.encode()).hexdigest()[:16]
    return f"[{len(flat)} values: first {flat[0]!r}, last {flat[-1]!r}, sha256 {digest}]"


def _record_line(r: Record) -> str:
    line = f"{r.phase:8} {r.kind:11} {r.name:24} {_value_text(r.value)}"
    if r.kind == "update" and not r.is_array:
        line += f"  (old {r.old!r}, grad {r.grad!r})"
    return line


def trace_text(trace: Trace) -> str:
    """A trace as diff-friendly text: one record per line, exact values, history and final state."""
    lines = [f"# bptrace trace, format {trace.format_version}: {titles.text_in(trace.spec['title'], 'en')}"]
    for s in trace.steps:
        lines.append(f"## iteration {s.iteration}, " + (f"sample {s.sample}" if s.sample else "batch"))
        lines += [_record_line(r) for r in s.records]
    h = trace.history
    lines.append(f"## history: {len(h)} iterations")
    if len(h):
        lines.append(f"history  total_error first {h[0]!r} last {h[-1]!r}")
    if trace.final:
        lines.append("## final")
        lines.append(f"final    total_error {trace.final['total_error']!r}")
        lines += [f"final    param       {k:24} {_value_text(v)}" for k, v in trace.final["params"].items()]
    if trace.diverged:
        lines.append(f"## diverged: {trace.diverged['message']}")
    return "\n".join(lines) + "\n"

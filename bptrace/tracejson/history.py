"""Reading a trace file whose history is too long to parse as one JSON document.

A run keeps its history as 8 bytes per iteration, so it can write a trace far larger than the
limit on documents read whole (a 3,000,000-iteration run writes about 60 MB). The history array
is cut out of the text and parsed piece by piece into an ``array('d')``; the rest of the document
is read as usual, under the usual limit. What comes out is what ``json.loads`` would give, with
the history as an array instead of a list.
"""

from __future__ import annotations

import json
import mmap
import re
from array import array
from pathlib import Path
from typing import Any

from ..errors import SpecError
from ..fields import type_name

# the history array as the writer lays it out, or laid out any other way JSON allows: the key
# cannot occur inside a string, where its quotes would be escaped
_HISTORY = re.compile(rb'"history"\s*:\s*\{\s*"total_error"\s*:\s*\[')
PIECE = 1 << 22  # bytes of history text parsed at a time
_NONFINITE = {"NaN": float("nan"), "Infinity": float("inf"), "-Infinity": float("-inf")}


def read_long(path: Path, source: str, limit: int) -> Any:
    """The document in ``path`` as plain data, its history an ``array('d')``; the text outside the
    history may hold at most ``limit`` bytes. Raises SpecError."""
    try:
        with path.open("rb") as f, mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_READ) as text:
            found = list(_HISTORY.finditer(text))
            if len(found) != 1:
                raise SpecError("too large to read whole, and no single history array to read apart", source=source)
            start = found[0].end()
            end = text.find(b"]", start)
            if end < 0:
                raise SpecError("the history array is not closed", source=source)
            if len(text) - (end - start) > limit:
                raise SpecError(f"file is too large (more than {limit} bytes besides the history)", source=source)
            rest = text[:start] + text[end:]
            history = _numbers(text, start, end, source)
    except OSError as e:
        raise SpecError(f"cannot read: {e.strerror or e}", source=source) from None
    from ..spec import parse_text

    raw = parse_text(rest, source, ".json")
    try:
        raw["history"]["total_error"] = history
    except (TypeError, KeyError):
        raise SpecError("the history array is not where a trace keeps it", source=source) from None
    return raw


def _numbers(text: Any, start: int, end: int, source: str) -> array[float]:
    out: array[float] = array("d")
    at = start
    while at < end:
        cut = end if end - at <= PIECE else text.rfind(b",", at, at + PIECE) + 1
        if cut <= at:
            cut = end
        piece = bytes(text[at:cut]).rstrip().rstrip(b",")
        at = cut
        if not piece.strip():
            continue
        try:
            values = json.loads(b"[" + piece + b"]")
        except (json.JSONDecodeError, UnicodeDecodeError, RecursionError):
            raise SpecError(f"not a list of numbers from item {len(out)} on", "history.total_error", source) from None
        kinds = set(map(type, values))
        if kinds <= {float, int}:
            out.extend(values)
            continue
        for x in values:
            if type(x) in (float, int):
                out.append(x)
            elif isinstance(x, str) and x in _NONFINITE:
                out.append(_NONFINITE[x])
            else:
                raise SpecError(f"expected a number, got {type_name(x)}", f"history.total_error[{len(out)}]", source)
    return out

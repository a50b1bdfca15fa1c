"""The trace format's constants, its version history, and how large arrays are packed.

Format history (``format_version``; the README's "Format history" says the same):

1. First published format: ``spec``, ``network``, ``steps`` of records (``phase``, ``kind``,
   ``name``, ``key``, ``value``, ``formula``, ``substituted``, ``expr``; updates add ``old``,
   ``grad``, ``new``; array records add ``shape``; hand rounding adds ``exact``), ``history``,
   ``final``, ``gradcheck``, ``diverged``.
2. The conventions beyond the article's: spec keys ``loss_options``, ``batch_size``,
   ``batch_reduction``, ``optimizer``, ``dtype`` and ``record_input_gradients``; the optimizer's
   state as records of kinds ``decayed_grad``, ``velocity``, ``moment1``, ``moment2``,
   ``moment1_hat``, ``moment2_hat`` and ``square_avg`` (keys ``g.w5``, ``v.w5``, ``m.w5``,
   ``mhat.w5``, ``vhat.w5``, ``s.w5``), in phase update; input gradients as grad records named by
   input neuron (``grad.i1``); the expression operation ``pow`` and the function ``sqrt``. A trace
   that uses none of these is still written as version 1.

Additions that readers of either version need not know: a ``$schema`` key first in the document
(SCHEMA_ID); the rule that keys starting with ``x-`` (at the top, in a step or in a record)
are extensions every reader ignores; and the optional top-level ``first_update`` (the samples of
the first update and their error measured again after it), written before ``final`` where known.

How the format grows: a field a reader may ignore is added as an ``x-`` key, or in the schema as
an optional field, within the same version; a change that would make an old reader misread a
trace (a field removed, renamed or with a new meaning) takes the next format_version.
"""

from __future__ import annotations

import math
import sys
from array import array
from itertools import chain

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

FORMAT_VERSION = 2  # the newest format this bptrace writes and reads
READS = (1, 2)
SCHEMA_ID = (
    "urn:bptrace:schema:trace"  # the trace schema's $id (one schema for every version), and every trace's $schema
)
EXTENSION_PREFIX = "x-"  # keys that start with it are extensions: readers ignore them
PACK_LIMIT = 4096  # arrays with more elements are written packed (base64 of float64)
PHASES = ("forward", "loss", "backward", "update")
KINDS_V1 = ("net", "out", "error", "total_error", "partial", "delta", "grad", "update")
STATE_KINDS = ("decayed_grad", "velocity", "moment1", "moment2", "moment1_hat", "moment2_hat", "square_avg")
KINDS = KINDS_V1 + STATE_KINDS
SPEC_KEYS_V2 = ("loss_options", "batch_size", "batch_reduction", "optimizer", "dtype", "record_input_gradients")


def version_for(spec: dict[str, Any]) -> int:
    """The format a trace of this normalised spec is written in: 1 unless it uses a key of 2."""
    return 2 if any(k in spec for k in SPEC_KEYS_V2) else 1


def _shape(value: Any) -> list[int]:
    shape = []
    while isinstance(value, list):
        shape.append(len(value))
        value = value[0] if value else None
    return shape


def pack_large(value: Any) -> Any:
    """A nested list of more than PACK_LIMIT numbers as packed float64; anything else as it is.

    The numbers are little-endian float64 in row-major order (row 0 first, as the nested list
    reads), base64-encoded.
    """
    if not isinstance(value, list) or not value:
        return value
    flat = list(chain.from_iterable(value)) if isinstance(value[0], list) else value
    if len(flat) <= PACK_LIMIT:
        return value
    a = array("d", flat)
    if sys.byteorder == "big":
        a.byteswap()
    return pack_bytes(a.tobytes(), _shape(value))


def pack_bytes(raw: bytes, shape: list[int]) -> dict[str, Any]:
    """Packed float64 from its little-endian bytes in row-major order: how an engine that holds
    its numbers in an array packs them, without making them a list of numbers first."""
    import base64  # only a layer of more than PACK_LIMIT numbers needs it, and small runs have none

    return {"dtype": "float64", "shape": shape, "base64": base64.b64encode(raw).decode("ascii")}


def unpack(obj: dict[str, Any]) -> list[Any]:
    """The nested list a packed array stands for (raises ValueError if it is not one)."""
    if set(obj) != {"dtype", "shape", "base64"} or obj["dtype"] != "float64":
        raise ValueError('expected {"dtype": "float64", "shape": [...], "base64": ...}')
    shape = obj["shape"]
    if (
        not isinstance(shape, list)
        or not 1 <= len(shape) <= 2
        or not all(isinstance(n, int) and not isinstance(n, bool) and n > 0 for n in shape)
    ):
        raise ValueError("shape must be one or two positive whole numbers")
    import base64

    try:
        raw = base64.b64decode(obj["base64"], validate=True)
    except (ValueError, TypeError):
        raise ValueError("base64 is not valid") from None
    size = math.prod(shape)
    if len(raw) != 8 * size:
        raise ValueError(f"base64 holds {len(raw) // 8} numbers, shape {shape} needs {size}")
    a = array("d", raw)
    if sys.byteorder == "big":
        a.byteswap()
    flat = a.tolist()
    if len(shape) == 1:
        return flat
    n = shape[1]
    return [flat[k : k + n] for k in range(0, size, n)]

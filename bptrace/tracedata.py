"""The trace: plain data that records every quantity of a run, and its JSON form.

This module imports neither numpy nor jinja2. Renderers read only a Trace, so a trace saved as JSON
and read back renders to the same bytes as the run that made it.

Format history (``format_version``):

1. First published format: ``spec``, ``network``, ``steps`` of records (``phase``, ``kind``,
   ``name``, ``key``, ``value``, ``formula``, ``substituted``, ``expr``; updates add ``old``,
   ``grad``, ``new``; array records add ``shape``; hand rounding adds ``exact``), ``history``,
   ``final``, ``gradcheck``, ``diverged``.
"""

from __future__ import annotations

import base64
import json
import math
import sys
from array import array
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from itertools import chain
from typing import Any

from . import names
from .errors import SpecError

FORMAT_VERSION = 1
PACK_LIMIT = 4096  # arrays with more elements are written packed (base64 of float64)
PHASES = ("forward", "loss", "backward", "update")
KINDS = ("net", "out", "error", "total_error", "partial", "delta", "grad", "update")

Value = Any  # float, or nested lists of floats for an array record


@dataclass
class Record:
    phase: str
    kind: str
    name: str
    value: Value
    formula: str = ""
    substituted: str = ""
    layer: str | None = None
    expr: Any = None
    old: Value = None
    grad: Value = None
    new: Value = None
    shape: list[int] | None = None
    exact: Value = None

    @property
    def key(self) -> str:
        return names.record_key(self.kind, self.name)

    @property
    def is_array(self) -> bool:
        return self.shape is not None

    def to_dict(self) -> dict[str, Any]:
        d: dict[str, Any] = {"phase": self.phase, "kind": self.kind, "name": self.name, "key": self.key}
        if self.layer is not None:
            d["layer"] = self.layer
        if self.shape is not None:
            d["shape"] = self.shape
        d["value"] = pack_large(self.value)
        if self.kind == "update":
            d["old"] = pack_large(self.old)
            if self.shape is None:  # an array update's gradient is its step's grad record
                d["grad"], d["new"] = self.grad, self.new
        if self.exact is not None:
            d["exact"] = pack_large(self.exact)
        d["formula"] = self.formula
        d["substituted"] = self.substituted
        if self.expr is not None:
            d["expr"] = self.expr
        return d


@dataclass
class Step:
    iteration: int
    sample: int | None  # None: the batch step that averages the samples and updates
    records: list[Record] = field(default_factory=list)

    def get(self, key: str) -> Record | None:
        """The record of a key; the index is rebuilt when records were added since."""
        index = self.__dict__.get("_index")
        if index is None or index[0] != len(self.records):
            table: dict[str, Record] = {}
            for r in self.records:
                table.setdefault(r.key, r)
            index = (len(self.records), table)
            self.__dict__["_index"] = index
        return index[1].get(key)


@dataclass
class Trace:
    spec: dict[str, Any]
    steps: list[Step]
    history: array[float]
    final: dict[str, Any] | None
    gradcheck: dict[str, Any] | None
    diverged: dict[str, Any] | None = None
    network: dict[str, Any] = field(default_factory=dict)
    generator: str = "bptrace"
    format_version: int = FORMAT_VERSION

    # ------------------------------------------------------------ access

    def records(
        self,
        kind: str | None = None,
        name: str | None = None,
        phase: str | None = None,
        step: int | None = 0,
    ) -> list[Record]:
        """Records matching every given filter; ``step=None`` searches all detailed steps."""
        steps = self.steps if step is None else self.steps[step : step + 1]
        return [
            r
            for s in steps
            for r in s.records
            if (kind is None or r.kind == kind)
            and (name is None or r.name == name)
            and (phase is None or r.phase == phase)
        ]

    def value(self, key: str, step: int = 0) -> float:
        """The value of a quantity key (``out.o1``, ``grad.w5``) in a detailed step.

        Keys of single neurons and parameters also reach into array records (``out.o7`` is
        element 7 of ``out.o`` when the layer was traced in matrix form).
        """
        found = element(self.steps[step], key, names.layout(self.spec))
        if found is None:
            raise KeyError(key)
        return found

    def full_spec(self) -> dict[str, Any]:
        """The spec with every weight explicit: the one the run used, or redrawn from init."""
        cached = self.__dict__.get("_full_spec")
        if cached is None:
            from .spec import normalise

            cached = normalise(self.spec, limits=False)
            self.__dict__["_full_spec"] = cached
        return cached

    def final_params(self) -> dict[str, float]:
        """The final parameters by name (w1, b2, b_h1), also where they are stored per layer."""
        if not self.final:
            return {}
        out: dict[str, float] = {}
        layers = {lay.name: lay for lay in names.layout(self.spec)}
        for key, val in self.final["params"].items():
            if not isinstance(val, list):
                out[key] = val
            elif key.startswith("W_"):
                out.update(zip(layers[key[2:]].weight_names(), chain.from_iterable(val)))
            else:
                out.update(zip(layers[key[2:]].biases, val))
        return out

    def history_array(self) -> Any:
        """The per-iteration total error as a numpy array (shares memory with the trace)."""
        import numpy as np

        return np.frombuffer(self.history, dtype=np.float64)

    def __repr__(self) -> str:
        n = len(self.history)
        final = self.final["total_error"] if self.final else float("nan")
        status = " DIVERGED" if self.diverged else ""
        return (
            f"<Trace {self.spec['title']!r}: {n} iteration{'s' * (n != 1)}, {len(self.steps)} detailed "
            f"step{'s' * (len(self.steps) != 1)}, E {self.history[0] if n else float('nan'):.9g} -> {final:.9g}{status}>"
        )

    def _repr_html_(self) -> str:
        """The HTML report in a notebook, inside an iframe so its styles stay its own."""
        import html

        from .reports import render

        page = render(self, "html")
        return (
            f'<iframe srcdoc="{html.escape(page, quote=True)}" title="{html.escape(self.spec["title"], quote=True)}" '
            'style="width: 100%; height: 640px; border: 1px solid #e5e7eb; border-radius: 6px;"></iframe>'
        )

    # ------------------------------------------------------------ JSON

    def to_dict(self) -> dict[str, Any]:
        return {
            "format_version": self.format_version,
            "generator": self.generator,
            "spec": self.spec,
            "network": self.network,
            "steps": [
                {"iteration": s.iteration, "sample": s.sample, "records": [r.to_dict() for r in s.records]}
                for s in self.steps
            ],
            "history": {"total_error": list(self.history)},
            "final": self.final,
            "gradcheck": self.gradcheck,
            "diverged": self.diverged,
        }

    def to_json(self) -> str:
        """Deterministic JSON: fixed key order, one record per line, shortest round-trip floats."""
        return "".join(self.iter_json())

    def iter_json(self) -> Iterator[str]:
        """The JSON text in pieces, so a long history is never held as one string."""
        encode = _encode_nonfinite if self.diverged else (lambda x: x)
        yield "{\n"
        head = {
            "format_version": self.format_version,
            "generator": self.generator,
            "spec": self.spec,
            "network": self.network,
        }
        for k, val in head.items():
            yield f"  {json.dumps(k)}: {_dump(encode(val))},\n"
        yield '  "steps": ['
        for si, s in enumerate(self.steps):
            yield "," if si else ""
            yield f'\n    {{"iteration": {_dump(s.iteration)}, "sample": {_dump(s.sample)}, "records": [\n'
            for ri, r in enumerate(s.records):
                yield f"      {_dump(encode(r.to_dict()))}{',' if ri < len(s.records) - 1 else ''}\n"
            yield "    ]}"
        yield "\n  ],\n" if self.steps else "],\n"
        yield '  "history": {"total_error": ['
        h = self.history
        for i in range(0, len(h), 65536):
            chunk = _dump(encode(list(h[i : i + 65536])))[1:-1]
            yield (", " if i else "") + chunk
        yield "]},\n"
        final = self.final and {**self.final, "params": {k: pack_large(x) for k, x in self.final["params"].items()}}
        tail = {"final": final, "gradcheck": self.gradcheck, "diverged": self.diverged}
        for i, (k, val) in enumerate(tail.items()):
            yield f"  {json.dumps(k)}: {_dump(encode(val))}{',' if i < len(tail) - 1 else ''}\n"
        yield "}\n"

    @classmethod
    def from_json(cls, text: str | bytes, source: str = "<trace>") -> Trace:
        """Read a trace; anything that is not a trace of a known format raises SpecError."""
        try:
            raw = json.loads(text)
        except RecursionError:
            raise SpecError("nesting is too deep to be a trace", source=source) from None
        except (json.JSONDecodeError, UnicodeDecodeError) as e:
            where = f" at line {e.lineno}, column {e.colno}" if isinstance(e, json.JSONDecodeError) else ""
            raise SpecError(f"invalid JSON{where}: {getattr(e, 'msg', e)}", source=source) from None
        try:
            return cls.from_dict(raw)
        except SpecError as e:
            raise e.at(source) from None

    @classmethod
    def from_dict(cls, raw: Any) -> Trace:
        from .tracecheck import check_trace

        d = check_trace(raw)
        steps = [Step(s["iteration"], s["sample"], [_record(r) for r in s["records"]]) for s in d["steps"]]
        return cls(
            spec=d["spec"],
            steps=steps,
            history=array("d", d["history"]["total_error"]),
            final=d["final"],
            gradcheck=d["gradcheck"],
            diverged=d["diverged"],
            network=d["network"],
            generator=d["generator"],
            format_version=d["format_version"],
        )


_RECORD_FIELDS = (
    "phase",
    "kind",
    "name",
    "value",
    "formula",
    "substituted",
    "layer",
    "expr",
    "old",
    "grad",
    "new",
    "shape",
    "exact",
)


def _record(r: dict[str, Any]) -> Record:
    return Record(**{k: r[k] for k in _RECORD_FIELDS if k in r})


def _shape(value: Any) -> list[int]:
    shape = []
    while isinstance(value, list):
        shape.append(len(value))
        value = value[0] if value else None
    return shape


def pack_large(value: Any) -> Any:
    """A nested list of more than PACK_LIMIT numbers as packed float64; anything else as it is."""
    if not isinstance(value, list) or not value:
        return value
    flat = list(chain.from_iterable(value)) if isinstance(value[0], list) else value
    if len(flat) <= PACK_LIMIT:
        return value
    a = array("d", flat)
    if sys.byteorder == "big":
        a.byteswap()
    return {"dtype": "float64", "shape": _shape(value), "base64": base64.b64encode(a.tobytes()).decode("ascii")}


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


def element(step: Step, key: str, layers: list[names.LayerLayout]) -> float | None:
    """A scalar quantity of a step: its own record, or its element of a layer's array record."""
    rec = step.get(key)
    if rec is not None and not rec.is_array:
        return rec.value  # type: ignore[no-any-return]
    kind, _, name = key.partition(".")
    for lay in layers[1:]:
        if kind in ("net", "out", "delta", "error") and name.startswith(lay.name) and name[len(lay.name) :].isdigit():
            arr = step.get(f"{kind}.{lay.name}")
            j = int(name[len(lay.name) :]) - 1
            if arr is not None and arr.is_array and 0 <= j < lay.size:
                return arr.value[j]  # type: ignore[no-any-return]
        if kind in ("grad", "update"):
            pos = lay.weight_position(name)
            if pos is not None:
                arr = step.get(f"{kind}.W_{lay.name}")
                return None if arr is None else arr.value[pos[0]][pos[1]]
            if name.startswith("b_") and name[2:] in lay.neurons:
                arr = step.get(f"{kind}.b_{lay.name}")
                return None if arr is None else arr.value[lay.neurons.index(name[2:])]
    return None


def mean(values: Sequence[float]) -> float:
    """The mean as every path of bptrace computes it: summed in order from -0.0, then divided."""
    s = -0.0
    for x in values:
        s = s + x
    return s / len(values)

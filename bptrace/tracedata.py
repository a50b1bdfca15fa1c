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

import json
import math
from array import array
from dataclasses import dataclass, field
from typing import Any, Iterator, Sequence

from . import names
from .errors import SpecError

FORMAT_VERSION = 1
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
        d["value"] = self.value
        if self.kind == "update":
            d["old"] = self.old
            if self.shape is None:  # an array update's gradient is its step's grad record
                d["grad"], d["new"] = self.grad, self.new
        if self.exact is not None:
            d["exact"] = self.exact
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
        for r in self.records:
            if r.key == key:
                return r
        return None


@dataclass
class Trace:
    spec: dict[str, Any]
    steps: list[Step]
    history: "array[float]"
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
            if (kind is None or r.kind == kind) and (name is None or r.name == name) and (phase is None or r.phase == phase)
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
        from .reports import render

        return render(self, "html")

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
        d = self.to_dict()
        if self.diverged:
            d = _encode_nonfinite(d)
        lines = ["{"]
        for k in ("format_version", "generator", "spec", "network"):
            lines.append(f"  {json.dumps(k)}: {_dump(d[k])},")
        lines.append('  "steps": [')
        for si, s in enumerate(d["steps"]):
            head = f'    {{"iteration": {_dump(s["iteration"])}, "sample": {_dump(s["sample"])}, "records": ['
            lines.append(head)
            recs = s["records"]
            for ri, r in enumerate(recs):
                lines.append(f"      {_dump(r)}{',' if ri < len(recs) - 1 else ''}")
            lines.append(f"    ]}}{',' if si < len(d['steps']) - 1 else ''}")
        lines.append("  ],")
        tail = ("history", "final", "gradcheck", "diverged")
        for i, k in enumerate(tail):
            lines.append(f"  {json.dumps(k)}: {_dump(d[k])}{',' if i < len(tail) - 1 else ''}")
        lines.append("}")
        return "\n".join(lines) + "\n"

    @classmethod
    def from_json(cls, text: "str | bytes", source: str = "<trace>") -> "Trace":
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
    def from_dict(cls, raw: Any) -> "Trace":
        from .validate_trace import check_trace

        d = check_trace(raw)
        steps = [
            Step(s["iteration"], s["sample"], [_record(r) for r in s["records"]]) for s in d["steps"]
        ]
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


_RECORD_FIELDS = ("phase", "kind", "name", "value", "formula", "substituted", "layer", "expr", "old", "grad", "new", "shape", "exact")


def _record(r: dict[str, Any]) -> Record:
    return Record(**{k: r[k] for k in _RECORD_FIELDS if k in r})


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


def element(step: Step, key: str, layers: "list[names.LayerLayout]") -> float | None:
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
                return None if arr is None else arr.value[pos[0]][pos[1]]  # type: ignore[no-any-return]
            if name.startswith("b_") and name[2:] in lay.neurons:
                arr = step.get(f"{kind}.b_{lay.name}")
                return None if arr is None else arr.value[lay.neurons.index(name[2:])]  # type: ignore[no-any-return]
    return None


def iter_values(v: Value) -> Iterator[float]:
    if isinstance(v, list):
        for x in v:
            yield from iter_values(x)
    else:
        yield v


def mean(values: Sequence[float]) -> float:
    """The mean as every path of bptrace computes it: summed in order from -0.0, then divided."""
    s = -0.0
    for x in values:
        s = s + x
    return s / len(values)

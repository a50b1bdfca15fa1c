"""The trace: plain data that records every quantity of a run, and its JSON form.

This module imports neither numpy nor jinja2. Renderers read only a Trace, so a trace saved as JSON
and read back renders to the same bytes as the run that made it.

The JSON form is built and read in ``tracejson``.
"""

from __future__ import annotations

from array import array
from collections import namedtuple
from collections.abc import Callable, Iterator, Sequence
from itertools import chain

from . import names, titles, tracejson
from .tracejson import FORMAT_VERSION, pack_large
from .valueclass import Fields

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any, Literal, NamedTuple

    import numpy as np
    import numpy.typing as npt

    from .reports.notebook import FullReport

    Value = Any  # float, or nested lists of floats for an array record

# How a Trace shows itself in a notebook: views by MIME type ("text/html", "text/markdown"), and
# "report", which makes the full report. The renderer lives downstream of this module (it reads
# traces), so the package registers its views here instead of this module importing it.
NOTEBOOK_VIEWS: dict[str, Callable[..., Any]] = {}


class Record(Fields):
    phase: str
    kind: str
    name: str
    value: Value
    formula: str
    substituted: str
    layer: str | None
    expr: Any
    old: Value
    grad: Value
    new: Value
    shape: list[int] | None
    exact: Value
    _fields = (
        "phase", "kind", "name", "value", "formula", "substituted", "layer", "expr", "old", "grad", "new", "shape",
        "exact",
    )  # fmt: skip

    def __init__(
        self,
        phase: str,
        kind: str,
        name: str,
        value: Value,
        formula: str = "",
        substituted: str = "",
        layer: str | None = None,
        expr: Any = None,
        old: Value = None,
        grad: Value = None,
        new: Value = None,
        shape: list[int] | None = None,
        exact: Value = None,
    ) -> None:
        self.phase = phase
        self.kind = kind
        self.name = name
        self.value = value
        self.formula = formula
        self.substituted = substituted
        self.layer = layer
        self.expr = expr
        self.old = old
        self.grad = grad
        self.new = new
        self.shape = shape
        self.exact = exact

    @property
    def key(self) -> str:
        return names.record_key(self.kind, self.name)

    @property
    def is_array(self) -> bool:
        return self.shape is not None

    # "value" and "old" already packed by the engine that made them (see pack_bytes): not a field,
    # only a shortcut for writing, set where the arrays are at hand
    packed: dict[str, Any] | None = None

    def _packed(self, name: str) -> Any:
        done = self.packed.get(name) if self.packed else None
        return done if done is not None else pack_large(getattr(self, name))

    def to_dict(self) -> dict[str, Any]:
        d: dict[str, Any] = {"phase": self.phase, "kind": self.kind, "name": self.name, "key": self.key}
        if self.layer is not None:
            d["layer"] = self.layer
        if self.shape is not None:
            d["shape"] = self.shape
        d["value"] = self._packed("value")
        if self.kind == "update":
            d["old"] = self._packed("old")
            if self.shape is None:  # an array update's gradient is its step's grad record
                d["grad"], d["new"] = self.grad, self.new
        if self.exact is not None:
            d["exact"] = pack_large(self.exact)
        d["formula"] = self.formula
        d["substituted"] = self.substituted
        if self.expr is not None:
            d["expr"] = self.expr
        return d


class Step(Fields):
    iteration: int
    sample: int | None  # None: the batch step that averages the samples and updates
    records: list[Record]
    _fields = ("iteration", "sample", "records")

    def __init__(self, iteration: int, sample: int | None, records: list[Record] | None = None) -> None:
        self.iteration = iteration
        self.sample = sample
        self.records = [] if records is None else records

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


if TYPE_CHECKING:

    class Row(NamedTuple):  # what mypy reads; the namedtuple below is the same at run time
        iteration: int
        sample: int | None  # None: the batch step
        phase: str
        kind: str
        name: str
        key: str
        value: float

else:  # collections' namedtuple: typing's would load the typing module for this one class
    Row = namedtuple("Row", ["iteration", "sample", "phase", "kind", "name", "key", "value"])
    Row.__doc__ = "One number of a detailed step, flat: what ``Trace.rows()`` yields (pandas takes them as columns)."


class Trace(Fields):
    spec: dict[str, Any]
    steps: list[Step]
    history: array[float]
    final: dict[str, Any] | None
    gradcheck: dict[str, Any] | None
    diverged: dict[str, Any] | None
    # the error of the samples the first update used, again after that update (see tracer)
    first_update: dict[str, Any] | None
    network: dict[str, Any]
    generator: str
    format_version: int
    _fields = (
        "spec", "steps", "history", "final", "gradcheck", "diverged", "first_update", "network", "generator",
        "format_version",
    )  # fmt: skip

    def __init__(
        self,
        spec: dict[str, Any],
        steps: list[Step],
        history: array[float],
        final: dict[str, Any] | None,
        gradcheck: dict[str, Any] | None,
        diverged: dict[str, Any] | None = None,
        first_update: dict[str, Any] | None = None,
        network: dict[str, Any] | None = None,
        generator: str = "bptrace",
        format_version: int = FORMAT_VERSION,
    ) -> None:
        self.spec = spec
        self.steps = steps
        self.history = history
        self.final = final
        self.gradcheck = gradcheck
        self.diverged = diverged
        self.first_update = first_update
        self.network = {} if network is None else network
        self.generator = generator
        self.format_version = format_version

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

    def rows(self) -> Iterator[Row]:
        """Every number of every detailed step as a flat row, in the trace's order.

        An array record (a layer traced in matrix form) gives one row per element, named as a scalar
        record would be (``out.h7``, ``grad.w12``), and each quantity of a step appears once, so
        ``pandas.DataFrame(trace.rows())`` has one number per cell whatever the network's size.
        (``records()`` gives the Record objects themselves.)
        """
        layers = {lay.name: lay for lay in names.layout(self.spec)}
        for s in self.steps:
            yield from step_rows(s, layers)

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

    def history_array(self) -> npt.NDArray[np.float64]:
        """The per-iteration total error as a read-only numpy array (shares memory with the trace)."""
        import numpy as np

        return np.frombuffer(self.history, dtype=np.float64)

    def __repr__(self) -> str:
        n = len(self.history)
        final = self.final["total_error"] if self.final else float("nan")
        status = " DIVERGED" if self.diverged else ""
        return (
            f"<Trace {titles.text_in(self.spec['title'], 'en')!r}: {n} iteration{'s' * (n != 1)}, {len(self.steps)} detailed "
            f"step{'s' * (len(self.steps) != 1)}, E {self.history[0] if n else float('nan'):.9g} -> {final:.9g}{status}>"
        )

    def _repr_html_(self) -> str:
        """A compact view for notebooks, drawn by the view the package registers (see NOTEBOOK_VIEWS)."""
        view = NOTEBOOK_VIEWS.get("text/html")
        if view:
            return str(view(self))
        import html  # only a notebook without the renderer gets here; runs never do

        return html.escape(repr(self))

    def _repr_mimebundle_(self, include: Any = None, exclude: Any = None) -> dict[str, str]:
        """The compact view as HTML and as Markdown (``$`` math), and the one-line summary."""
        bundle = {"text/plain": repr(self)}
        for mime, view in NOTEBOOK_VIEWS.items():
            if "/" in mime and (not include or mime in include) and not (exclude and mime in exclude):
                bundle[mime] = str(view(self))
        return bundle

    def report(
        self, fmt: Literal["html", "md"] = "html", *, lang: Literal["en", "zh"] = "en", digits: int | None = None
    ) -> FullReport:
        """The full worked example; a notebook shows it (HTML in an iframe, or Markdown), ``str()`` is its text."""
        return NOTEBOOK_VIEWS["report"](self, fmt, lang=lang, digits=digits)  # type: ignore[no-any-return]

    # ------------------------------------------------------------ JSON (built and read in tracejson)

    def to_dict(self) -> dict[str, Any]:
        """The JSON document as Python data: what ``json.loads(self.to_json())`` gives."""
        return tracejson.to_dict(self)

    def to_json(self) -> str:
        """Deterministic JSON: fixed key order, one record per line, shortest round-trip floats."""
        return "".join(tracejson.iter_json(self))

    def iter_json(self) -> Iterator[str]:
        """The JSON text in pieces, so a long history is never held as one string."""
        return tracejson.iter_json(self)

    @classmethod
    def from_json(cls, text: str | bytes, source: str = "<trace>") -> Trace:
        """Read a trace; anything that is not a trace of a known format raises SpecError."""
        return cls._built(tracejson.read(text, source))

    @classmethod
    def from_dict(cls, raw: Any) -> Trace:
        return cls._built(tracejson.check(raw))

    @classmethod
    def _built(cls, d: dict[str, Any]) -> Trace:
        steps = [Step(s["iteration"], s["sample"], [_record(r) for r in s["records"]]) for s in d["steps"]]
        return cls(
            spec=d["spec"],
            steps=steps,
            history=array("d", d["history"]["total_error"]),
            final=d["final"],
            gradcheck=d["gradcheck"],
            diverged=d["diverged"],
            first_update=d.get("first_update"),
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


def step_rows(s: Step, layers: dict[str, names.LayerLayout]) -> Iterator[Row]:
    """The rows of one step, in the order the step computed them (see Trace.rows)."""
    # a matrix-form step also derives its first weight scalar by scalar: one row per quantity
    seen: set[str] = set()
    for r in s.records:
        pairs = zip(_element_names(r, layers), _flat(r.value)) if r.is_array else [(r.name, r.value)]
        for name, value in pairs:
            key = names.record_key(r.kind, name)
            if key not in seen:
                seen.add(key)
                yield Row(s.iteration, s.sample, r.phase, r.kind, name, key, value)


def _flat(value: Any) -> Iterator[float]:
    for x in value:
        if isinstance(x, list):
            yield from x
        else:
            yield x


def _element_names(r: Record, layers: dict[str, names.LayerLayout]) -> list[str]:
    """The scalar names of an array record's elements, in row-major order."""
    shape = r.shape or []
    size = shape[0] * (shape[1] if len(shape) > 1 else 1) if shape else 0
    lay = layers.get(r.name[2:]) if r.name[:2] in ("W_", "b_") else layers.get(r.name)
    found: list[str] = []
    if lay is not None and r.name.startswith("W_"):
        found = lay.weight_names()
    elif lay is not None and r.name.startswith("b_"):
        found = lay.biases
    elif lay is not None:
        found = lay.neurons
    elif r.kind == "partial":  # dE_total/dout_h -> dE_total/dout_h1, dout_h/dnet_h -> dout_h1/dnet_h1
        parts = [p.rpartition("_") for p in r.name.split("/")]
        indexed = [p[0] != "dE" and p[2] in layers for p in parts]
        if len(shape) == 1 and indexed[-1]:
            found = [
                "/".join(f"{a}_{layers[t].neuron(j)}" if x else a + s + t for (a, s, t), x in zip(parts, indexed))
                for j in range(size)
            ]
    if len(found) == size:
        return list(found)
    if len(shape) == 2:
        return [f"{r.name}[{j},{i}]" for j in range(shape[0]) for i in range(shape[1])]
    return [f"{r.name}[{j}]" for j in range(size)]


def element(step: Step, key: str, layers: list[names.LayerLayout]) -> float | None:
    """A scalar quantity of a step: its own record, or its element of a layer's array record."""
    rec = step.get(key)
    if rec is not None and not rec.is_array:
        return rec.value  # type: ignore[no-any-return]
    kind, _, name = key.partition(".")
    own = names.split_neuron(name)
    if kind == "grad" and own is not None and own[0] == layers[0].name:
        arr = step.get(f"grad.{layers[0].name}")  # dE/d input of a layer traced in matrix form
        if arr is not None and arr.is_array and 0 <= own[1] < layers[0].size:
            return arr.value[own[1]]  # type: ignore[no-any-return]
    for lay in layers[1:]:
        if kind in ("net", "out", "delta", "error") and own is not None and own[0] == lay.name:
            arr = step.get(f"{kind}.{lay.name}")
            j = own[1]
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

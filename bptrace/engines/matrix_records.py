"""The matrix engine's records: the arrays of one traced sample become one array record per
quantity of a layer, with the first weight of every layer derived in full beside them."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np

from .. import formula, names
from ..errors import Diverged
from ..names import LayerLayout
from ..ops import ACTIVATIONS, v
from ..plan import Entry, StepBuilder
from ..tracedata import Record, Step
from ..tracejson import PACK_LIMIT, pack_bytes
from . import layers_np
from .scalar import run_entries

if TYPE_CHECKING:
    from .matrix import MatrixEngine


def _bold(kind: str, layer: str) -> str:
    return {
        "net": rf"\mathbf{{net}}_{{{layer}}}",
        "out": rf"\mathbf{{out}}_{{{layer}}}",
        "target": r"\mathbf{target}",
        "error": rf"\mathbf{{E}}_{{{layer}}}",
        "delta": rf"\boldsymbol{{\delta}}_{{{layer}}}",
    }[kind]


def vector_symbol(key: str) -> str:
    """Bold vector symbols for a scalar key: out.o1 -> out_o (the layer's vector)."""
    kind, _, name = key.partition(".")
    parsed = names.split_neuron(name)
    layer = parsed[0] if parsed else name
    return _bold(kind, layer) if kind in ("net", "out", "target", "error", "delta") else names.symbol(key)


def vector_latex(entry: Entry) -> str:
    """An elementwise entry of neuron 1, printed for the whole layer (products as ⊙)."""
    return formula.latex(entry.expr, symbol=vector_symbol, times=r"\odot")


def _input_vec(lay: LayerLayout, layers: list[LayerLayout]) -> str:
    prev = layers[lay.index - 1]
    return rf"\mathbf{{{prev.name}}}" if prev.index == 0 else _bold("out", prev.name)


def _bias_sym(lay: LayerLayout) -> str:
    return names.param_symbol(lay.bias_name) if lay.bias_name else rf"\mathbf{{b}}_{{{lay.name}}}"


class ArrayEnv(dict):  # type: ignore[type-arg]
    """Values for showcase expressions: set entries first, then anything the arrays hold."""

    def __init__(self, engine: MatrixEngine, base: dict[str, float]) -> None:
        super().__init__(base)
        self.engine = engine
        self.arrays: dict[str, dict[int, np.ndarray]] = {
            k: {} for k in ("net", "out", "delta", "error", "W+", "b+", "gW", "gb")
        }
        self.x: np.ndarray = np.zeros(0)
        self.t: np.ndarray = np.zeros(0)
        self.params: layers_np.Params | None = None

    def __missing__(self, key: str) -> float:
        kind, _, name = key.partition(".")
        eng = self.engine
        if kind in ("input", "target"):
            _, j = eng.neuron(name)
            return float((self.x if kind == "input" else self.t)[j])
        if kind in ("net", "out", "delta", "error"):
            k, j = eng.neuron(name)
            return float(self.arrays[kind][k][j])
        if kind in ("param", "update", "grad"):
            assert self.params is not None
            k, j, i = eng.param_position(name)
            if kind == "grad":
                return float(self.arrays["gb"][k][j] if i is None else self.arrays["gW"][k][j, i])
            if kind == "update":
                if i is None:
                    return float(self.arrays["b+"][k][j])
                return float(self.arrays["W+"][k][j, i])
            if i is None:
                return float(self.params.b[k - 1][j])
            return float(self.params.W[k - 1][j, i])
        raise KeyError(key)


class Hook:
    """Turns the arrays of one traced sample into records, with the showcase chain beside them."""

    def __init__(
        self,
        eng: MatrixEngine,
        step: Step,
        p: layers_np.Params,
        x: np.ndarray,
        t: np.ndarray,
        it: int,
        sample: int | None,
        with_updates: bool,
    ) -> None:
        self.eng, self.step, self.p, self.it, self.sample = eng, step, p, it, sample
        self.with_updates = with_updates
        self.env = ArrayEnv(eng, {"eta": eng.eta})
        self.env.x, self.env.t, self.env.params = x, t, p

    def _add(
        self,
        phase: str,
        kind: str,
        name: str,
        value: np.ndarray | float,
        formula_: str,
        layer: str | None,
        **extra: Any,
    ) -> None:
        arr = np.asarray(value)
        packed = {"value": _pack(arr)}
        old = extra.get("old")
        if isinstance(old, np.ndarray):  # the weights before the update, an array as the value is
            extra["old"], packed["old"] = old.tolist(), _pack(old)
        rec = Record(
            phase, kind, name, arr.tolist(), formula_, "", layer, shape=list(arr.shape) if arr.ndim else None, **extra
        )
        if any(p is not None for p in packed.values()):
            rec.packed = packed
        self.step.records.append(rec)
        if not np.isfinite(arr).all():
            bad = int(np.flatnonzero(~np.isfinite(arr.ravel()))[0])
            raise Diverged(self.it, self.sample, f"{rec.key}[{bad}]" if arr.ndim else rec.key)

    def _showcase(self, entries: list[Entry]) -> None:
        run_entries(entries, self.env, self.step, self.it, self.sample, None)

    def forward(self, nets: list[np.ndarray], outs: list[np.ndarray]) -> None:
        eng = self.eng
        for lay, net, out in zip(eng.layers[1:], nets, outs[1:]):
            k = lay.index
            self.env.arrays["net"][k], self.env.arrays["out"][k] = net, out
            act = ACTIVATIONS[lay.activation or "sigmoid"]
            self._add(
                "forward",
                "net",
                lay.name,
                net,
                rf"{_bold('net', lay.name)} = W_{{{lay.name}}} {_input_vec(lay, eng.layers)} + {_bias_sym(lay)}",
                lay.name,
            )
            self._add(
                "forward",
                "out",
                lay.name,
                out,
                rf"{_bold('out', lay.name)} = {act.latex_name}\left({_bold('net', lay.name)}\right)",
                lay.name,
            )
            self._showcase(eng.builder.forward(lay, only=[0]))

    def loss(self, errors: np.ndarray, E: float) -> None:
        out_lay = self.eng.layers[-1]
        self.env.arrays["error"][out_lay.index] = errors
        err_entry = self.eng.builder.loss()[0]
        self._add(
            "loss",
            "error",
            out_lay.name,
            errors,
            f"{_bold('error', out_lay.name)} = {vector_latex(err_entry)}",
            out_lay.name,
        )
        total = Entry("loss", "total_error", "total", None, ["add", *(v(f"error.{n}") for n in out_lay.neurons)])
        self._showcase([total])

    def backward(
        self, k: int, dE: np.ndarray, dd: np.ndarray | None, delta: np.ndarray, gW: np.ndarray, gb: np.ndarray
    ) -> None:
        eng = self.eng
        lay = eng.layers[k]
        n = lay.name
        self.env.arrays["delta"][k] = delta
        last = k == len(eng.layers) - 1
        if last:
            entries = eng.builder.output_deltas(only=[0])
            by_kind = {e.name.split("/")[0][1:]: e for e in entries if e.kind == "partial"}
            dE_tex = vector_latex(by_kind["E_total"]) if "E_total" in by_kind else ""
            self._add(
                "backward",
                "partial",
                f"dE_total/dout_{n}",
                dE,
                rf"\frac{{\partial E_{{\mathrm{{total}}}}}}{{\partial {_bold('out', n)}}} = {dE_tex}",
                n,
            )
            if dd is not None:
                self._slope_record(lay, dd, entries)
            d_entry = next(e for e in entries if e.kind == "delta")
            d_tex = (
                vector_latex(d_entry)
                if d_entry.expr[0] != "add"
                else rf"J_{{{n}}}^{{\top}} \frac{{\partial E_{{\mathrm{{total}}}}}}{{\partial {_bold('out', n)}}}"
            )
            self._add("backward", "delta", n, delta, rf"{_bold('delta', n)} = {d_tex}", n)
            self._showcase(entries)
        else:
            up = eng.layers[k + 1]
            entries = eng.builder.hidden_deltas(lay, only=[0])
            wsym = rf"W_{{{up.name}}}^{{{'+' if eng.updated_variant else ''}\top}}"
            self._add(
                "backward",
                "partial",
                f"dE_total/dout_{n}",
                dE,
                rf"\frac{{\partial E_{{\mathrm{{total}}}}}}{{\partial {_bold('out', n)}}} = {wsym} {_bold('delta', up.name)}",
                n,
            )
            assert dd is not None
            self._slope_record(lay, dd, entries)
            self._add(
                "backward",
                "delta",
                n,
                delta,
                rf"{_bold('delta', n)} = \frac{{\partial E_{{\mathrm{{total}}}}}}{{\partial {_bold('out', n)}}} \odot \frac{{\partial {_bold('out', n)}}}{{\partial {_bold('net', n)}}}",
                n,
            )
            self._showcase(entries)
        self.grad_records(k, gW, gb, showcase=True)

    def input_gradients(self, gx: np.ndarray) -> None:
        """dE/d input for the whole input layer: the first layer's weights, transposed, times its δ."""
        first, down = self.eng.layers[0], self.eng.layers[1]
        tex = (
            rf"\frac{{\partial E_{{\mathrm{{total}}}}}}{{\partial \mathbf{{{first.name}}}}} = "
            rf"W_{{{down.name}}}^{{\top}} {_bold('delta', down.name)}"
        )
        self._add("backward", "grad", first.name, gx, tex, first.name)
        self._showcase(self.eng.builder.input_grads(only=[0]))

    def _slope_record(self, lay: LayerLayout, dd: np.ndarray, entries: list[Entry]) -> None:
        """d out / d net of a whole layer, written as its first neuron's formula in vector form."""
        n = lay.name
        first = next(e for e in entries if e.name == f"dout_{lay.neuron(0)}/dnet_{lay.neuron(0)}")
        tex = rf"\frac{{\partial {_bold('out', n)}}}{{\partial {_bold('net', n)}}} = {vector_latex(first)}"
        self._add("backward", "partial", f"dout_{n}/dnet_{n}", dd, tex, n)

    def grad_records(
        self, k: int, gW: np.ndarray, gb: np.ndarray, showcase: bool, mean_of: int = 0, summed: bool = False
    ) -> None:
        eng = self.eng
        lay = eng.layers[k]
        n = lay.name
        self.env.arrays["gW"][k], self.env.arrays["gb"][k] = gW, gb
        dW = rf"\frac{{\partial E_{{\mathrm{{total}}}}}}{{\partial W_{{{n}}}}}"
        if mean_of or summed:
            frac = "" if summed else rf"\frac{{1}}{{{mean_of}}} "
            self._add("backward", "grad", f"W_{n}", gW, rf"{dW} = {frac}\sum_{{s}} {dW}^{{(s)}}", n)
        else:
            self._add(
                "backward",
                "grad",
                f"W_{n}",
                gW,
                rf"{dW} = {_bold('delta', n)} \, {_input_vec(lay, eng.layers)}^{{\top}}",
                n,
            )
        if eng.update_biases:
            bname = lay.bias_name or f"b_{n}"
            bsym = _bias_sym(lay)
            rhs = rf"\sum_{{j}} \delta_{{{n}j}}" if lay.bias_name else _bold("delta", n)
            value: Any = float(gb[0]) if lay.bias_name else gb
            self._add(
                "backward",
                "grad",
                bname,
                value,
                rf"\frac{{\partial E_{{\mathrm{{total}}}}}}{{\partial {bsym}}} = {rhs}",
                n,
            )
        if showcase:
            self._showcase(eng.builder.gradients(lay, only_first=True))

    def updated(self, k: int, newp: layers_np.Params) -> None:
        self.env.arrays["W+"][k] = newp.W[k - 1]
        self.env.arrays["b+"][k] = newp.b[k - 1]

    def updates(
        self,
        old: layers_np.Params,
        new: layers_np.Params,
        gW: list[np.ndarray],
        gb: list[np.ndarray],
        keep: dict[str, Any] | None = None,
    ) -> None:
        if keep:
            self._optimizer_updates(old, new, keep)
            return
        eng = self.eng
        for lay in eng.layers[1:]:
            k = lay.index
            self.env.arrays["W+"][k], self.env.arrays["b+"][k] = new.W[k - 1], new.b[k - 1]
            n = lay.name
            # an array update keeps its value (the new weights) and old; its gradient is the grad
            # record of the same step, not stored twice
            g = rf"\frac{{\partial E_{{\mathrm{{total}}}}}}{{\partial W_{{{n}}}}}"
            self._add(
                "update", "update", f"W_{n}", new.W[k - 1], rf"W_{{{n}}}^{{+}} = W_{{{n}}} - \eta \, {g}", n,
                old=old.W[k - 1],
            )  # fmt: skip
            if eng.update_biases:
                bname = lay.bias_name or f"b_{n}"
                bsym = _bias_sym(lay)
                shared = lay.bias_name is not None
                b_formula = (
                    rf"{bsym}^{{+}} = {bsym} - \eta \, \frac{{\partial E_{{\mathrm{{total}}}}}}{{\partial {bsym}}}"
                )
                if shared:
                    old_b, g_b, new_b = float(old.b[k - 1][0]), float(gb[k - 1][0]), float(new.b[k - 1][0])
                    self._add("update", "update", bname, new_b, b_formula, n, old=old_b, grad=g_b, new=new_b)
                else:
                    self._add("update", "update", bname, new.b[k - 1], b_formula, n, old=old.b[k - 1])
            self._showcase([StepBuilder.update(lay.first_weight, n)])

    def _optimizer_updates(self, old: layers_np.Params, new: layers_np.Params, keep: dict[str, Any]) -> None:
        """An optimizer's step: each state array and the new parameters, with the first weight's
        step derived in full beside them."""
        eng = self.eng
        opt_env = {k: x for k, x in keep.items() if k.startswith("opt.")}
        for lay in eng.layers[1:]:
            k = lay.index
            self.env.arrays["W+"][k], self.env.arrays["b+"][k] = new.W[k - 1], new.b[k - 1]
            wn, bn = eng.array_names(lay)
            for name in (wn, bn) if eng.update_biases else (wn,):
                for e in eng.builder.updates(name, lay.name):
                    value = keep[e.key]
                    tex = f"{names.symbol(e.key)} = {formula.latex(e.expr)}"
                    if e.kind != "update":
                        self._add("update", e.kind, name, value, tex, lay.name)
                        continue
                    old_v = old.W[k - 1] if name == wn else old.b[k - 1]
                    if name == lay.bias_name:  # the shared bias is one number
                        o, g, nv = float(old_v[0]), float(keep[f"grad.{name}"][0]), float(value[0])
                        self._add("update", "update", name, nv, tex, lay.name, old=o, grad=g, new=nv)
                    else:
                        self._add("update", "update", name, value, tex, lay.name, old=old_v)
            w = lay.first_weight
            j, i = 0, 0
            self.env.update(opt_env)
            for prefix in eng.builder.optimizer.state:
                self.env[f"prev_{prefix}.{w}"] = float(old.state[f"{prefix}.{wn}"][j, i])
            self._showcase(eng.builder.updates(w, lay.name))


def _pack(arr: np.ndarray) -> dict[str, Any] | None:
    """An array of more than PACK_LIMIT numbers packed for the trace file straight from its bytes
    (pack_large would take the list the record also holds, number by number); None for a smaller
    one, which the file holds as a list."""
    if arr.ndim == 0 or arr.size <= PACK_LIMIT:
        return None
    return pack_bytes(np.ascontiguousarray(arr, dtype="<f8").tobytes(), list(arr.shape))

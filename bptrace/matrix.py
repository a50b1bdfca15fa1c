"""Tracing in matrix form, for networks with a layer of more than a few dozen weights.

Each quantity of a layer becomes one array record (net, out, δ, ∂E/∂W, ...). The first weight of
every layer is still derived in full: its chain of scalar records is built by the same StepBuilder
as small networks, evaluated against the arrays, and stored beside the array records.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable
from typing import Any

import numpy as np

from . import formula, names, network
from .engine import EngineBase
from .errors import Diverged
from .names import LayerLayout
from .ops import ACTIVATIONS, LOSSES, v
from .spec import Spec
from .steps import Entry, StepBuilder
from .tracedata import Record, Step, mean

_NEURON = re.compile(r"([A-Za-z](?:[A-Za-z0-9]*[A-Za-z])?)(\d+)")


def _quiet(f: Callable[..., Any]) -> Callable[..., Any]:
    """numpy overflow is not an error here: a non-finite value is caught and reported as divergence."""

    def g(*args: Any, **kw: Any) -> Any:
        with np.errstate(over="ignore", invalid="ignore", divide="ignore", under="ignore"):
            return f(*args, **kw)

    g.__name__, g.__doc__ = f.__name__, f.__doc__
    return g


# ---------------------------------------------------------------- vector LaTeX


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
    m = _NEURON.fullmatch(name)
    layer = m.group(1) if m else name
    return _bold(kind, layer) if kind in ("net", "out", "target", "error", "delta") else names.symbol(key)


def vector_latex(entry: Entry) -> str:
    """An elementwise entry of neuron 1, printed for the whole layer (products as ⊙)."""
    return formula.latex(entry.expr, symbol=vector_symbol, times=r"\odot")


def _input_vec(lay: LayerLayout, layers: list[LayerLayout]) -> str:
    prev = layers[lay.index - 1]
    return rf"\mathbf{{{prev.name}}}" if prev.index == 0 else _bold("out", prev.name)


def _bias_sym(lay: LayerLayout) -> str:
    return names.param_symbol(lay.bias_name) if lay.bias_name else rf"\mathbf{{b}}_{{{lay.name}}}"


# ---------------------------------------------------------------- the engine


class ParamNames:
    """The trainable parameter names as a sequence, without building 100,000 strings."""

    def __init__(self, layers: list[LayerLayout], with_biases: bool) -> None:
        self.parts: list[tuple[int, LayerLayout | list[str]]] = []
        for lay in layers[1:]:
            self.parts.append((lay.weight_count, lay))
            if with_biases:
                self.parts.append((len(lay.biases), lay.biases))
        self.n = sum(n for n, _ in self.parts)

    def __len__(self) -> int:
        return self.n

    def __getitem__(self, k: int) -> str:
        for n, part in self.parts:
            if k < n:
                return part[k] if isinstance(part, list) else f"w{part.weight_offset + k + 1}"
            k -= n
        raise IndexError(k)

    def __iter__(self) -> Any:
        return (self[k] for k in range(self.n))


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
        self.params: network.Params | None = None

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


class MatrixEngine(EngineBase):
    def __init__(self, spec: Spec) -> None:
        super().__init__(spec)
        self.acts = network.activations(self.layers)
        out_act = self.layers[-1].activation or "sigmoid"
        form = LOSSES[self.data["loss"]].form(out_act)
        assert form is not None
        self.form = form
        self.update_biases: bool = self.data["update_biases"]
        self.updated_variant = self.data["hidden_delta_weights"] == "updated"
        self.trainable = ParamNames(self.layers, self.update_biases)
        self.by_name = {lay.name: lay.index for lay in self.layers}
        self.round_digits = None
        self._xs = [np.array(s["input"], dtype=np.float64) for s in self.samples]
        self._ts = [np.array(s["target"], dtype=np.float64) for s in self.samples]

    # ------------------------------------------------------------ names

    def neuron(self, name: str) -> tuple[int, int]:
        m = _NEURON.fullmatch(name)
        if not m or m.group(1) not in self.by_name:
            raise KeyError(name)
        return self.by_name[m.group(1)], int(m.group(2)) - 1

    def param_position(self, name: str) -> tuple[int, int, int | None]:
        """(layer, row, column) of a weight, or (layer, index, None) of a bias."""
        for lay in self.layers[1:]:
            pos = lay.weight_position(name)
            if pos is not None:
                return lay.index, pos[0], pos[1]
            if lay.bias_name == name:
                return lay.index, 0, None
        if name.startswith("b_"):
            k, j = self.neuron(name[2:])
            return k, j, None
        raise KeyError(name)

    # ------------------------------------------------------------ state

    def initial_params(self) -> network.Params:
        return network.params_from_spec(self.data)

    def error_moved(self, p: network.Params, name: str, h: float, samples: list[dict[str, Any]]) -> float:
        """The mean error with one parameter moved by h; moved in place and put back, since
        copying a large weight matrix per finite difference costs more than the forward pass."""
        k, j, i = self.param_position(name)
        arr, idx = (p.b[k - 1], j) if i is None else (p.W[k - 1], (j, i))
        old = arr[idx]
        arr[idx] = old + h
        try:
            return float(self.error(p, samples))
        finally:
            arr[idx] = old

    def value_of(self, p: network.Params, name: str) -> float:
        k, j, i = self.param_position(name)
        return float(p.b[k - 1][j] if i is None else p.W[k - 1][j, i])

    # ------------------------------------------------------------ one sample

    def forward(self, p: network.Params, x: np.ndarray) -> tuple[list[np.ndarray], list[np.ndarray]]:
        nets, outs = [], [x]
        for W, b, s, act in zip(p.W, p.b, p.shared, self.acts):
            n, o = network.layer_forward(W, b, s, act, outs[-1])
            nets.append(n)
            outs.append(o)
        return nets, outs

    def sample_error(self, p: network.Params, x: np.ndarray, t: np.ndarray) -> float:
        _, outs = self.forward(p, x)
        return float(sum(self.form.verror(t, outs[-1]).tolist()))

    @_quiet
    def error(self, p: network.Params, samples: list[dict[str, Any]]) -> float:
        return mean([self.sample_error(p, np.array(s["input"], float), np.array(s["target"], float)) for s in samples])

    def gradients(
        self, p: network.Params, x: np.ndarray, t: np.ndarray, hook: Hook | None = None
    ) -> tuple[float, list[np.ndarray], list[np.ndarray], network.Params]:
        """E, weight gradients and bias gradients of one sample; with the updated variant also the
        parameters as updated during the step (else p itself)."""
        nets, outs = self.forward(p, x)
        if hook:
            hook.forward(nets, outs)
        errors = self.form.verror(t, outs[-1])
        E = sum(errors.tolist())
        if hook:
            hook.loss(errors, E)
        L = len(self.layers) - 1
        gW: list[np.ndarray] = [np.empty(0)] * L
        gb: list[np.ndarray] = [np.empty(0)] * L
        newp = p.copy() if self.updated_variant else p
        dE, dd, delta = network.output_factors(self.form, self.acts[-1], nets[-1], outs[-1], t)
        for k in range(L, 0, -1):
            if k < L:
                W_next = newp.W[k] if self.updated_variant else p.W[k]
                dE, dd, delta = network.hidden_factors(W_next, delta, self.acts[k - 1], nets[k - 1], outs[k])
            gW[k - 1] = np.outer(delta, outs[k - 1])
            gb[k - 1] = network.bias_grad(delta, p.shared[k - 1])
            if hook:
                hook.backward(k, dE, dd, delta, gW[k - 1], gb[k - 1])
            if self.updated_variant:
                newp.W[k - 1] = p.W[k - 1] - self.eta * gW[k - 1]
                if self.update_biases:
                    newp.b[k - 1] = p.b[k - 1] - self.eta * gb[k - 1]
                if hook:
                    hook.updated(k, newp)
        return E, gW, gb, newp

    def apply(self, p: network.Params, gW: list[np.ndarray], gb: list[np.ndarray]) -> network.Params:
        W = [w - self.eta * g for w, g in zip(p.W, gW)]
        b = [x - self.eta * g for x, g in zip(p.b, gb)] if self.update_biases else [x.copy() for x in p.b]
        return network.Params(W, b, p.shared)

    # ------------------------------------------------------------ untraced iterations

    @_quiet
    def fast(self, params: network.Params, n: int, history: Any) -> tuple[int, network.Params]:
        p = params
        data = list(zip(self._xs, self._ts))
        for it in range(n):
            if self.batch:
                Es, sW, sb = [], None, None
                for x, t in data:
                    E, gW, gb, _ = self.gradients(p, x, t)
                    Es.append(E)
                    sW = gW if sW is None else [a + g for a, g in zip(sW, gW)]
                    sb = gb if sb is None else [a + g for a, g in zip(sb, gb)]
                assert sW is not None and sb is not None
                N = len(data)
                p = self.apply(p, [g / N for g in sW], [g / N for g in sb])
                E_it = mean(Es)
            else:
                Es = []
                for x, t in data:
                    E, gW, gb, newp = self.gradients(p, x, t)
                    Es.append(E)
                    p = newp if self.updated_variant else self.apply(p, gW, gb)
                E_it = mean(Es)
            history.append(E_it)
            if not (math.isfinite(E_it) and p.finite()):
                return it + 1, p
        return 0, p

    # ------------------------------------------------------------ traced iterations

    @_quiet
    def traced_iteration(self, p: network.Params, it: int, steps: list[Step]) -> tuple[float, network.Params]:
        if not self.batch:
            errors = []
            for s, (x, t) in enumerate(zip(self._xs, self._ts), start=1):
                step = Step(it, s)
                steps.append(step)
                hook = Hook(self, step, p, x, t, it, s, with_updates=True)
                E, gW, gb, newp = self.gradients(p, x, t, hook)
                errors.append(E)
                p_next = newp if self.updated_variant else self.apply(p, gW, gb)
                hook.updates(p, p_next, gW, gb)
                p = p_next
            return mean(errors), p
        Es, sW, sb = [], None, None
        for s, (x, t) in enumerate(zip(self._xs, self._ts), start=1):
            step = Step(it, s)
            steps.append(step)
            E, gW, gb, _ = self.gradients(p, x, t, Hook(self, step, p, x, t, it, s, with_updates=False))
            Es.append(E)
            sW = gW if sW is None else [a + g for a, g in zip(sW, gW)]
            sb = gb if sb is None else [a + g for a, g in zip(sb, gb)]
        assert sW is not None and sb is not None
        N = len(Es)
        gW, gb = [g / N for g in sW], [g / N for g in sb]
        step = Step(it, None)
        steps.append(step)
        E = mean(Es)
        step.records.append(
            Record(
                "loss",
                "total_error",
                "total",
                E,
                r"E_{\mathrm{total}} = \frac{1}{N} \sum_{s} E^{(s)}_{\mathrm{total}}",
                "",
                None,
            )
        )
        p_next = self.apply(p, gW, gb)
        hook = Hook(self, step, p, self._xs[0], self._ts[0], it, None, with_updates=True)
        for k in range(1, len(self.layers)):
            hook.grad_records(k, gW[k - 1], gb[k - 1], showcase=False, mean_of=N)
        hook.updates(p, p_next, gW, gb)
        return E, p_next

    def traced_grad(self, step: Step, name: str) -> float | None:
        rec = step.get(f"grad.{name}")
        if rec is not None and not rec.is_array:
            return float(rec.value)
        k, j, i = self.param_position(name)
        lay = self.layers[k]
        key = f"grad.W_{lay.name}" if i is not None else f"grad.{lay.bias_name or 'b_' + lay.name}"
        rec = step.get(key)
        if rec is None:
            return None
        if i is not None:
            return float(rec.value[j][i])
        return float(rec.value if not isinstance(rec.value, list) else rec.value[j])

    @_quiet
    def final(self, p: network.Params) -> dict[str, Any]:
        outs, errs = [], []
        for x, t in zip(self._xs, self._ts):
            _, o = self.forward(p, x)
            outs.append(o[-1].tolist())
            errs.append(sum(self.form.verror(t, o[-1]).tolist()))
        return {"params": self.by_layer(p), "outputs": outs, "total_error": mean(errs)}

    def by_layer(self, p: network.Params) -> dict[str, Any]:
        """Final parameters as one matrix per layer (W_h) and its biases (b1, or the vector b_h)."""
        out: dict[str, Any] = {}
        for lay, W, b in zip(self.layers[1:], p.W, p.b):
            out[f"W_{lay.name}"] = W.tolist()
            out[lay.bias_name or f"b_{lay.name}"] = float(b[0]) if lay.bias_name else b.tolist()
        return out


class Hook:
    """Turns the arrays of one traced sample into records, with the showcase chain beside them."""

    def __init__(
        self,
        eng: MatrixEngine,
        step: Step,
        p: network.Params,
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
        rec = Record(
            phase, kind, name, arr.tolist(), formula_, "", layer, shape=list(arr.shape) if arr.ndim else None, **extra
        )
        self.step.records.append(rec)
        if not np.isfinite(arr).all():
            bad = int(np.flatnonzero(~np.isfinite(arr.ravel()))[0])
            raise Diverged(self.it, self.sample, f"{rec.key}[{bad}]" if arr.ndim else rec.key)

    def _showcase(self, entries: list[Entry]) -> None:
        from .tracer import run_entries

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

    def _slope_record(self, lay: LayerLayout, dd: np.ndarray, entries: list[Entry]) -> None:
        """d out / d net of a whole layer, written as its first neuron's formula in vector form."""
        n = lay.name
        first = next(e for e in entries if e.name == f"dout_{lay.neuron(0)}/dnet_{lay.neuron(0)}")
        tex = rf"\frac{{\partial {_bold('out', n)}}}{{\partial {_bold('net', n)}}} = {vector_latex(first)}"
        self._add("backward", "partial", f"dout_{n}/dnet_{n}", dd, tex, n)

    def grad_records(self, k: int, gW: np.ndarray, gb: np.ndarray, showcase: bool, mean_of: int = 0) -> None:
        eng = self.eng
        lay = eng.layers[k]
        n = lay.name
        self.env.arrays["gW"][k], self.env.arrays["gb"][k] = gW, gb
        dW = rf"\frac{{\partial E_{{\mathrm{{total}}}}}}{{\partial W_{{{n}}}}}"
        if mean_of:
            self._add("backward", "grad", f"W_{n}", gW, rf"{dW} = \frac{{1}}{{{mean_of}}} \sum_{{s}} {dW}^{{(s)}}", n)
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

    def updated(self, k: int, newp: network.Params) -> None:
        self.env.arrays["W+"][k] = newp.W[k - 1]
        self.env.arrays["b+"][k] = newp.b[k - 1]

    def updates(self, old: network.Params, new: network.Params, gW: list[np.ndarray], gb: list[np.ndarray]) -> None:
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
                old=old.W[k - 1].tolist(),
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
                    self._add("update", "update", bname, new.b[k - 1], b_formula, n, old=old.b[k - 1].tolist())
            self._showcase([StepBuilder.update(lay.first_weight, n)])

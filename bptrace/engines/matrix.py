"""Tracing in matrix form, for networks with a layer of more than a few dozen weights.

Each quantity of a layer becomes one array record (net, out, δ, ∂E/∂W, ...). The first weight of
every layer is still derived in full: its chain of scalar records is built by the same StepBuilder
as small networks, evaluated against the arrays, and stored beside the array records.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import numpy as np

from ..names import LayerLayout, split_neuron
from ..ops import LOSSES
from ..spec import Spec
from ..tracedata import Record, Step, mean
from . import layers_np as network
from .base import EngineBase
from .matrix_records import Hook


def _quiet(f: Callable[..., Any]) -> Callable[..., Any]:
    """numpy overflow is not an error here: a non-finite value is caught and reported as divergence."""

    def g(*args: Any, **kw: Any) -> Any:
        with np.errstate(over="ignore", invalid="ignore", divide="ignore", under="ignore"):
            return f(*args, **kw)

    g.__name__, g.__doc__ = f.__name__, f.__doc__
    return g


# ---------------------------------------------------------------- vector LaTeX


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
        self._xs = [np.array(s["input"], dtype=np.float64) for s in self.samples]
        self._ts = [np.array(s["target"], dtype=np.float64) for s in self.samples]

    # ------------------------------------------------------------ names

    def neuron(self, name: str) -> tuple[int, int]:
        parsed = split_neuron(name)
        if parsed is None or parsed[0] not in self.by_name:
            raise KeyError(name)
        return self.by_name[parsed[0]], parsed[1]

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
        """n untraced iterations: the 1-based index of a diverging one (or 0), and the parameters
        after them."""
        if self.updated_variant:
            return self._fast_general(params, n, history)
        return self._fast_flat(params, n, history)

    def _fast_flat(self, params: network.Params, n: int, history: Any) -> tuple[int, network.Params]:
        """The iterations of ``gradients`` and ``apply`` with the same arithmetic on every element
        (tested bit for bit), the parameters and the gradients each kept in one buffer: a step
        updates all parameters with one subtraction, and one call checks them all for a
        non-finite value."""
        arrays = (*params.W, *params.b)
        flat = np.concatenate([a.ravel() for a in arrays])
        grad, gsum = np.zeros_like(flat), np.zeros_like(flat)

        def views(buf: np.ndarray) -> list[np.ndarray]:
            out, at = [], 0
            for a in arrays:
                out.append(buf[at : at + a.size].reshape(a.shape))
                at += a.size
            return out

        L = len(params.W)
        Ws, bs, shared = views(flat)[:L], views(flat)[L:], params.shared
        gWs, gbs = views(grad)[:L], views(grad)[L:]
        layers = list(zip(Ws, bs, shared, [a.vforward for a in self.acts]))
        derivs = [a.vderivative for a in self.acts]
        form, out_act, eta = self.form, self.acts[-1], self.eta
        verror, update_biases, batch = form.verror, self.update_biases, self.batch
        data = list(zip(self._xs, self._ts))
        N = len(data)
        zeros = np.zeros_like(flat)
        for it in range(n):
            errors = []
            for s_index, (x, t) in enumerate(data):
                nets, outs = [], [x]
                for W, b, s, fwd in layers:
                    net = W @ outs[-1] + (b[0] if s else b)
                    nets.append(net)
                    outs.append(fwd(net))
                errors.append(sum(verror(t, outs[-1]).tolist()))
                _, _, delta = network.output_factors(form, out_act, nets[-1], outs[-1], t)
                for k in range(L, 0, -1):
                    if k < L:
                        dE = Ws[k].T @ delta
                        delta = dE * derivs[k - 1](nets[k - 1], outs[k])  # type: ignore[misc]
                    np.outer(delta, outs[k - 1], out=gWs[k - 1])
                    if update_biases:  # else the bias part of the buffer stays 0, and b - eta * 0 is b
                        if shared[k - 1]:
                            gbs[k - 1][0] = delta.sum()
                        else:
                            gbs[k - 1][...] = delta
                if not batch:
                    flat -= eta * grad
                elif s_index:
                    gsum += grad
                else:
                    gsum[...] = grad
            if batch:
                flat -= eta * (gsum / N)
            E_it = mean(errors)
            history.append(E_it)
            # a NaN or an infinity anywhere makes the dot product with zeros NaN: one call checks all
            if not math.isfinite(E_it + float(flat @ zeros)):
                return it + 1, network.Params(Ws, bs, list(shared))
        return 0, network.Params(Ws, bs, list(shared))

    def _fast_general(self, params: network.Params, n: int, history: Any) -> tuple[int, network.Params]:
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
                p = self.apply(p, [g / len(data) for g in sW], [g / len(data) for g in sb])
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

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
from ..spec import Spec, batches, reduction
from ..tracedata import Record, Step, mean
from . import layers_np as network
from .base import EngineBase
from .matrix_records import Hook


def sum_of(values: list[float]) -> float:
    s = -0.0
    for x in values:
        s = s + x
    return s


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
        form = LOSSES[self.data["loss"]].form(out_act, reduction(self.data), self.layers[-1].size)
        assert form is not None
        self.form = form
        self.update_biases: bool = self.data["update_biases"]
        self.updated_variant = self.data["hidden_delta_weights"] == "updated"
        self.trainable = ParamNames(self.layers, self.update_biases)
        self.by_name = {lay.name: lay.index for lay in self.layers}
        self._xs = [np.array(s["input"], dtype=np.float64) for s in self.samples]
        self._ts = [np.array(s["target"], dtype=np.float64) for s in self.samples]
        self.batch_list = batches(self.data)
        self.batch_sum = self.data.get("batch_reduction", "mean") == "sum"
        self.plain = self.builder.optimizer.name == "sgd" and not self.builder.decay
        self.settings = {f"opt.{k}": x for k, x in self.builder.opt_settings.items() if k != "name"}

    def array_names(self, lay: LayerLayout) -> tuple[str, str]:
        """The names of a layer's weight matrix and of its bias (vector, or the shared scalar)."""
        return f"W_{lay.name}", lay.bias_name or f"b_{lay.name}"

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
        p = network.params_from_spec(self.data)
        for lay, W, b in zip(self.layers[1:], p.W, p.b):
            for prefix in self.builder.optimizer.state:
                wn, bn = self.array_names(lay)
                p.state[f"{prefix}.{wn}"] = np.zeros_like(W)
                p.state[f"{prefix}.{bn}"] = np.zeros_like(b)
        return p

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
        self,
        p: network.Params,
        x: np.ndarray,
        t: np.ndarray,
        hook: Hook | None = None,
        watch: list[bool] | None = None,
    ) -> tuple[float, list[np.ndarray], list[np.ndarray], network.Params]:
        """E, weight gradients and bias gradients of one sample; with the updated variant also the
        parameters as updated during the step (else p itself). ``watch`` receives whether every net
        input was finite: a saturated activation can hide one that was not."""
        nets, outs = self.forward(p, x)
        if watch is not None:
            watch.append(all(np.isfinite(n).all() for n in nets))
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
        if hook and self.builder.input_gradients:
            hook.input_gradients(p.W[0].T @ delta)
        return E, gW, gb, newp

    def apply(
        self, p: network.Params, gW: list[np.ndarray], gb: list[np.ndarray], keep: dict[str, Any] | None = None
    ) -> network.Params:
        """The parameters after one update; ``keep`` receives every quantity of an optimizer's step by key."""
        if self.plain:
            W = [w - self.eta * g for w, g in zip(p.W, gW)]
            b = [x - self.eta * g for x, g in zip(p.b, gb)] if self.update_biases else [x.copy() for x in p.b]
            return network.Params(W, b, p.shared)
        new = network.Params([], [], p.shared, {}, p.t + 1.0)
        base: dict[str, Any] = {"eta": self.eta, **self.settings, "opt.t": new.t}
        for lay, w_k, b_k, g_w, g_b in zip(self.layers[1:], p.W, p.b, gW, gb):
            wn, bn = self.array_names(lay)
            parts = [(wn, w_k, g_w, new.W)] + ([(bn, b_k, g_b, new.b)] if self.update_biases else [])
            if not self.update_biases:
                new.b.append(b_k.copy())
            for name, arr, g, dest in parts:
                env = {**base, f"param.{name}": arr, f"grad.{name}": g}
                env.update(
                    (f"prev_{prefix}.{name}", p.state[f"{prefix}.{name}"]) for prefix in self.builder.optimizer.state
                )
                for e in self.builder.updates(name, lay.name):
                    env[e.key] = network.evaluate(e.expr, env)
                dest.append(env[f"update.{name}"])
                new.state.update(
                    (f"{prefix}.{name}", env[f"{prefix}.{name}"]) for prefix in self.builder.optimizer.state
                )
                if keep is not None:
                    keep.update(env)
        if not self.update_biases:
            new.state.update((k, x) for k, x in p.state.items() if k not in new.state)
        return new

    def batch_gradients(self, gWs: list[list[np.ndarray]], gbs: list[list[np.ndarray]]) -> tuple[list[Any], list[Any]]:
        """The gradients of a batch: the sum of its samples', divided by their number unless summed."""
        sW, sb = gWs[0], gbs[0]
        for gW, gb in zip(gWs[1:], gbs[1:]):
            sW = [a + g for a, g in zip(sW, gW)]
            sb = [a + g for a, g in zip(sb, gb)]
        if self.batch_sum:
            return sW, sb
        N = len(gWs)
        return [g / N for g in sW], [g / N for g in sb]

    # ------------------------------------------------------------ untraced iterations

    @_quiet
    def fast(self, params: network.Params, n: int, history: Any) -> tuple[int, network.Params]:
        """n untraced iterations: the 1-based index of a diverging one (or 0), and the parameters
        after them."""
        # the flat buffer does plain gradient descent over one mean batch (or online); an optimizer's
        # state, mini-batches and summed batches take the general loop
        flat_ok = (not self.batch_sum and len(self.batch_list) == 1) or not self.batch
        if self.updated_variant or not (self.plain and flat_ok):
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
        # a net input of inf can hide behind a saturated activation (sigmoid(inf) = 1) and leave every
        # parameter finite: net @ 0 is NaN exactly then, so the nets are checked too
        layers = list(zip(Ws, bs, shared, [a.vforward for a in self.acts], [np.zeros(W.shape[0]) for W in Ws]))
        derivs = [a.vderivative for a in self.acts]
        form, out_act, eta = self.form, self.acts[-1], self.eta
        verror, update_biases, batch = form.verror, self.update_biases, self.batch
        data = list(zip(self._xs, self._ts))
        N = len(data)
        zeros = np.zeros_like(flat)
        for it in range(n):
            errors = []
            seen = 0.0
            for s_index, (x, t) in enumerate(data):
                nets, outs = [], [x]
                for W, b, s, fwd, zero in layers:
                    net = W @ outs[-1] + (b[0] if s else b)
                    seen = seen + net @ zero
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
            if not math.isfinite(E_it + float(flat @ zeros) + float(seen)):
                return it + 1, network.Params(Ws, bs, list(shared))
        return 0, network.Params(Ws, bs, list(shared))

    def _fast_general(self, params: network.Params, n: int, history: Any) -> tuple[int, network.Params]:
        p = params
        for it in range(n):
            Es: list[float] = []
            nets_finite: list[bool] = []
            if self.batch:
                for batch in self.batch_list:
                    gWs, gbs = [], []
                    for s in batch:
                        E, gW, gb, _ = self.gradients(p, self._xs[s], self._ts[s], watch=nets_finite)
                        Es.append(E)
                        gWs.append(gW)
                        gbs.append(gb)
                    p = self.apply(p, *self.batch_gradients(gWs, gbs))
            else:
                for x, t in zip(self._xs, self._ts):
                    E, gW, gb, newp = self.gradients(p, x, t, watch=nets_finite)
                    Es.append(E)
                    p = newp if self.updated_variant else self.apply(p, gW, gb)
            E_it = mean(Es)
            history.append(E_it)
            if not (math.isfinite(E_it) and all(nets_finite) and p.finite()):
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
                keep: dict[str, Any] = {}
                p_next = newp if self.updated_variant else self.apply(p, gW, gb, keep)
                hook.updates(p, p_next, gW, gb, keep)
                p = p_next
            return mean(errors), p
        Es: list[float] = []
        for batch in self.batch_list:
            gWs, gbs, errs = [], [], []
            for s in batch:
                x, t = self._xs[s], self._ts[s]
                step = Step(it, s + 1)
                steps.append(step)
                E, gW, gb, _ = self.gradients(p, x, t, Hook(self, step, p, x, t, it, s + 1, with_updates=False))
                errs.append(E)
                gWs.append(gW)
                gbs.append(gb)
            Es += errs
            N = len(errs)
            gW, gb = self.batch_gradients(gWs, gbs)
            step = Step(it, None)
            steps.append(step)
            E = mean(errs) if not self.batch_sum else sum_of(errs)
            frac = "" if self.batch_sum else rf"\frac{{1}}{{{N}}} "
            step.records.append(
                Record(
                    "loss",
                    "total_error",
                    "total",
                    E,
                    rf"E_{{\mathrm{{total}}}} = {frac}\sum_{{s}} E^{{(s)}}_{{\mathrm{{total}}}}",
                    "",
                    None,
                )
            )
            keep = {}
            p_next = self.apply(p, gW, gb, keep)
            hook = Hook(self, step, p, self._xs[batch[0]], self._ts[batch[0]], it, None, with_updates=True)
            for k in range(1, len(self.layers)):
                hook.grad_records(k, gW[k - 1], gb[k - 1], showcase=False, mean_of=N, summed=self.batch_sum)
            hook.updates(p, p_next, gW, gb, keep)
            p = p_next
        return mean(Es), p

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

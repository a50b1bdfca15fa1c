"""The order of the chain rule: what one traced step computes, as a list of named expressions.

This is the only module that knows the article's order (forward layer by layer, errors, the
output layer's factors and deltas, the hidden layers' contributions through every downstream
neuron, gradients, updates). The list is built once per network; the tracer evaluates it to make
records, and the fast path compiles the very same expressions into Python.
"""

from __future__ import annotations

from collections.abc import Sequence

from .names import LayerLayout, param_names, per_output_errors, record_key, share_id
from .ops import ACTIVATIONS, DECAY, LOSSES, OPTIMIZERS, add, mul, sub, v
from .spec import optimizer, reduction
from .valueclass import FrozenFields

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

    from .ops import Node


class Entry(FrozenFields):
    phase: str
    kind: str
    name: str
    layer: str | None
    expr: Node
    # for a batch step: the value combines this key over the batch's samples (its mean or sum)
    mean_of: str | None
    _fields = ("phase", "kind", "name", "layer", "expr", "mean_of")

    def __init__(
        self, phase: str, kind: str, name: str, layer: str | None, expr: Node, mean_of: str | None = None
    ) -> None:
        self._set(phase=phase, kind=kind, name=name, layer=layer, expr=expr, mean_of=mean_of)

    @property
    def key(self) -> str:
        return record_key(self.kind, self.name)


def _partial(phase: str, pid: str, layer: str, expr: Node) -> Entry:
    return Entry(phase, "partial", pid, layer, expr)


class StepBuilder:
    def __init__(self, layers: list[LayerLayout], spec: dict[str, Any]) -> None:
        self.layers = layers
        self.spec = spec
        self.update_biases: bool = spec["update_biases"]
        self.updated_variant = spec["hidden_delta_weights"] == "updated"
        out_act = layers[-1].activation
        assert out_act is not None
        form = LOSSES[spec["loss"]].form(out_act, reduction(spec), layers[-1].size)
        assert form is not None
        self.form = form
        self.opt_settings = optimizer(spec)
        self.optimizer = OPTIMIZERS[self.opt_settings["name"]]
        self.decay = self.opt_settings["weight_decay"] != 0.0
        self.input_gradients: bool = spec.get("record_input_gradients", False)

    # ------------------------------------------------------------ pieces

    def _prev_out(self, lay: LayerLayout, i: int) -> Node:
        prev = self.layers[lay.index - 1]
        return v(f"input.{prev.neuron(i)}") if prev.index == 0 else v(f"out.{prev.neuron(i)}")

    def forward(self, lay: LayerLayout, only: Sequence[int] | None = None) -> list[Entry]:
        act = ACTIVATIONS[lay.activation or "sigmoid"]
        idx = range(lay.size) if only is None else only
        nets = []
        for j in idx:
            terms = [mul(v(f"param.{lay.weight(j, i)}"), self._prev_out(lay, i)) for i in range(lay.prev_size)]
            terms.append(mul(v(f"param.{lay.bias(j)}"), 1))
            nets.append(Entry("forward", "net", lay.neuron(j), lay.name, add(*terms)))
        net_nodes = [v(f"net.{n}") for n in lay.neurons]
        outs = [Entry("forward", "out", lay.neuron(j), lay.name, act.forward(net_nodes, j)) for j in idx]
        if act.elementwise:  # the article's order: net_h1, out_h1, net_h2, out_h2
            return [e for pair in zip(nets, outs) for e in pair]
        return nets + outs

    def loss(self) -> list[Entry]:
        lay = self.layers[-1]
        errs = [
            Entry("loss", "error", n, lay.name, self.form.error(v(f"target.{n}"), v(f"out.{n}"))) for n in lay.neurons
        ]
        total = Entry("loss", "total_error", "total", None, add(*(v(f"error.{n}") for n in lay.neurons)))
        return errs + [total]

    def _fused(self, n: str) -> Node:
        diff = sub(v(f"out.{n}"), v(f"target.{n}"))
        k = self.form.delta_divisor
        return diff if k == 1 else ["div", diff, k]

    def output_deltas(self, only: Sequence[int] | None = None) -> list[Entry]:
        lay = self.layers[-1]
        act = ACTIVATIONS[lay.activation or "sigmoid"]
        ns = lay.neurons
        idx = range(lay.size) if only is None else only
        dE = [
            _partial("backward", f"dE_total/dout_{n}", lay.name, self.form.dout(v(f"target.{n}"), v(f"out.{n}")))
            for n in ns
        ]
        fused = self.form.fused_delta
        out: list[Entry] = []
        if act.derivative is not None:
            for k in idx:
                n = ns[k]
                dd = _partial("backward", f"dout_{n}/dnet_{n}", lay.name, act.derivative(v(f"net.{n}"), v(f"out.{n}")))
                delta = self._fused(n) if fused else mul(v(dE[k].key), v(dd.key))
                out += [dE[k], dd, Entry("backward", "delta", n, lay.name, delta)]
            return out
        # an activation that mixes neurons (softmax): delta_k sums over every output it moves
        from .ops import softmax_jacobian

        outs = [v(f"out.{n}") for n in ns]
        out += dE
        for k in idx:
            n = ns[k]
            # the Jacobian column is recorded even when delta is fused, so the report can show the
            # sum that collapses to out - target (the fast path drops what nothing depends on)
            jac = [
                _partial("backward", f"dout_{m}/dnet_{n}", lay.name, softmax_jacobian(outs, j, k))
                for j, m in enumerate(ns)
            ]
            out += jac
            if fused:
                out.append(Entry("backward", "delta", n, lay.name, self._fused(n)))
                continue
            terms = [mul(v(dE[j].key), v(jac[j].key)) for j in range(len(ns))]
            out.append(Entry("backward", "delta", n, lay.name, add(*terms)))
        return out

    def hidden_deltas(self, lay: LayerLayout, only: Sequence[int] | None = None) -> list[Entry]:
        down = self.layers[lay.index + 1]
        act = ACTIVATIONS[lay.activation or "sigmoid"]
        assert act.derivative is not None  # softmax is refused on hidden layers
        weight_kind = "update" if self.updated_variant else "param"
        split = per_output_errors(self.layers, down)
        out: list[Entry] = []
        for j in range(lay.size) if only is None else only:
            n = lay.neuron(j)
            contrib = []
            for q, m in enumerate(down.neurons):
                w = _partial("backward", f"dnet_{m}/dout_{n}", lay.name, v(f"{weight_kind}.{down.weight(q, j)}"))
                c = _partial("backward", share_id(m, n, split), lay.name, mul(v(f"delta.{m}"), v(w.key)))
                out += [w, c]
                contrib.append(v(c.key))
            total = _partial("backward", f"dE_total/dout_{n}", lay.name, add(*contrib))
            dd = _partial("backward", f"dout_{n}/dnet_{n}", lay.name, act.derivative(v(f"net.{n}"), v(f"out.{n}")))
            delta = Entry("backward", "delta", n, lay.name, mul(v(total.key), v(dd.key)))
            out += [total, dd, delta]
        return out

    def gradients(self, lay: LayerLayout, only_first: bool = False) -> list[Entry]:
        """Gradient entries of every weight and bias of the layer (or of its first weight only)."""
        out: list[Entry] = []
        for j, n in enumerate(lay.neurons[:1] if only_first else lay.neurons):
            for i in range(1 if only_first else lay.prev_size):
                w = lay.weight(j, i)
                p = _partial("backward", f"dnet_{n}/d{w}", lay.name, self._prev_out(lay, i))
                out += [p, Entry("backward", "grad", w, lay.name, mul(v(f"delta.{n}"), v(p.key)))]
        if not self.update_biases or only_first:
            return out
        if lay.bias_name:
            parts = [_partial("backward", f"dnet_{n}/d{lay.bias_name}", lay.name, 1) for n in lay.neurons]
            terms = [mul(v(f"delta.{n}"), v(p.key)) for n, p in zip(lay.neurons, parts)]
            out += parts + [Entry("backward", "grad", lay.bias_name, lay.name, add(*terms))]
        else:
            for j, n in enumerate(lay.neurons):
                b = lay.bias(j)
                p = _partial("backward", f"dnet_{n}/d{b}", lay.name, 1)
                out += [p, Entry("backward", "grad", b, lay.name, mul(v(f"delta.{n}"), v(p.key)))]
        return out

    def layer_params(self, lay: LayerLayout) -> list[str]:
        ws = [lay.weight(j, i) for j in range(lay.size) for i in range(lay.prev_size)]
        return ws + (lay.biases if self.update_biases else [])

    def params(self) -> list[str]:
        return list(param_names(self.layers, self.update_biases))

    @staticmethod
    def update(p: str, layer: str) -> Entry:
        return Entry("update", "update", p, layer, sub(v(f"param.{p}"), mul(v("eta"), v(f"grad.{p}"))))

    def updates(self, p: str, layer: str) -> list[Entry]:
        """One parameter's update by the optimizer: its state variables in order, then the new value."""
        g: Node = v(f"grad.{p}")
        out: list[Entry] = []
        if self.decay:
            kind, prefix = DECAY
            out.append(Entry("update", kind, p, layer, add(g, mul(v("opt.weight_decay"), v(f"param.{p}")))))
            g = v(f"{prefix}.{p}")
        out += [Entry("update", kind, p, layer, expr) for kind, _, expr in self.optimizer.steps(p, g)]
        return out

    def state_keys(self, p: str) -> list[str]:
        """The keys of a parameter's optimizer state carried to the next step (m.w5, v.w5)."""
        return [f"{prefix}.{p}" for prefix in self.optimizer.state]

    def input_grads(self, only: Sequence[int] | None = None) -> list[Entry]:
        """dE/d input: the hidden-layer recursion taken one layer further, to the inputs."""
        first, down = self.layers[0], self.layers[1]
        out: list[Entry] = []
        for j in range(first.size) if only is None else only:
            n = first.neuron(j)
            contrib = []
            for q, m in enumerate(down.neurons):
                w = _partial("backward", f"dnet_{m}/din_{n}", first.name, v(f"param.{down.weight(q, j)}"))
                c = _partial("backward", f"dE_{m}/din_{n}", first.name, mul(v(f"delta.{m}"), v(w.key)))
                out += [w, c]
                contrib.append(v(c.key))
            out.append(Entry("backward", "grad", n, first.name, add(*contrib)))
        return out

    def _layer_of(self, p: str) -> str:
        owners = self.__dict__.get("_owners")
        if owners is None:  # asked once per parameter: a table, not a search through the layers
            owners = {q: lay.name for lay in reversed(self.layers[1:]) for q in self.layer_params(lay)}
            owners.update((b, lay.name) for lay in reversed(self.layers[1:]) for b in lay.biases)
            self.__dict__["_owners"] = owners
        return str(owners[p])

    # ------------------------------------------------------------ whole steps

    def sample_step(self, with_updates: bool) -> list[Entry]:
        """Forward, loss and backward for one sample; with the updates when online."""
        entries: list[Entry] = []
        for lay in self.layers[1:]:
            entries += self.forward(lay)
        entries += self.loss()
        entries += self.output_deltas()
        out_lay = self.layers[-1]
        entries += self.gradients(out_lay)
        if self.updated_variant and with_updates:
            entries += [self.update(p, out_lay.name) for p in self.layer_params(out_lay)]
        for lay in reversed(self.layers[1:-1]):
            entries += self.hidden_deltas(lay)
            entries += self.gradients(lay)
            if self.updated_variant and with_updates:
                entries += [self.update(p, lay.name) for p in self.layer_params(lay)]
        if self.input_gradients:
            entries += self.input_grads()
        if with_updates and not self.updated_variant:
            for p in self.params():
                entries += self.updates(p, self._layer_of(p))
        return entries

    def batch_step(self, samples: Sequence[int], how: str = "mean") -> list[Entry]:
        """The step after the samples of a batch (1-based numbers): the error and gradients over
        the batch (their mean, or their sum), then the updates."""

        def mean_entry(phase: str, kind: str, name: str, layer: str | None) -> Entry:
            key = kind if kind == "total_error" else f"{kind}.{name}"
            total = add(*(v(f"{key}@{s}") for s in samples))
            expr = ["div", total, len(samples)] if how == "mean" else total
            return Entry(phase, kind, name, layer, expr, mean_of=key)

        entries = [mean_entry("loss", "total_error", "total", None)]
        params = self.params()
        entries += [mean_entry("backward", "grad", p, self._layer_of(p)) for p in params]
        for p in params:
            entries += self.updates(p, self._layer_of(p))
        return entries

"""The scalar engine: traces a network one scalar at a time, evaluating the plan's expression trees
into records (a value, its formula and the formula with numbers put in)."""

from __future__ import annotations

import math
from array import array
from collections.abc import Mapping
from typing import Any

from .. import formula, names
from ..errors import Diverged
from ..plan import Entry
from ..rounding import hand_round
from ..spec import Spec
from ..tracedata import Record, Step, mean
from .base import EngineBase
from .compiled import runner


class ScalarEngine(EngineBase):
    """Traces a network one scalar at a time, from expression trees."""

    def __init__(self, spec: Spec) -> None:
        super().__init__(spec)
        self.all_params = list(names.param_names(self.layers, True))
        self.trainable = self.builder.params()
        self.sample_entries = self.builder.sample_step(with_updates=not self.batch)
        self.batch_entries = self.builder.batch_step(len(self.samples)) if self.batch else None
        self.inputs = self.layers[0].neurons
        self.targets = self.layers[-1].neurons
        self.round_digits = spec.rounding_digits

    # ------------------------------------------------------------ state

    def initial_params(self) -> dict[str, float]:
        p: dict[str, float] = {}
        for lay, raw in zip(self.layers[1:], self.data["layers"][1:]):
            for j in range(lay.size):
                for i in range(lay.prev_size):
                    p[lay.weight(j, i)] = raw["weights"][j][i]
            bias = raw["bias"]
            if lay.bias_name:
                p[lay.bias_name] = bias
            else:
                for j in range(lay.size):
                    p[lay.bias(j)] = bias[j]
        return p

    def _env(self, params: Mapping[str, float], sample: Mapping[str, Any]) -> dict[str, float]:
        env: dict[str, float] = {"eta": self.eta}
        env.update((f"param.{k}", x) for k, x in params.items())
        env.update((f"input.{n}", x) for n, x in zip(self.inputs, sample["input"]))
        env.update((f"target.{n}", x) for n, x in zip(self.targets, sample["target"]))
        return env

    # ------------------------------------------------------------ traced steps

    def _run(self, entries: list[Entry], env: dict[str, float], step: Step, it: int, sample: int | None) -> None:
        run_entries(entries, env, step, it, sample, self.round_digits)

    def traced_iteration(self, params: dict[str, float], it: int, steps: list[Step]) -> tuple[float, dict[str, float]]:
        """One iteration, every record kept: its error and the parameters after it."""
        params = dict(params)
        errors: list[float] = []
        agg: dict[str, float] = {}
        for s, sample in enumerate(self.samples, start=1):
            env = self._env(params, sample)
            step = Step(it, s)
            steps.append(step)
            self._run(self.sample_entries, env, step, it, s)
            errors.append(env["total_error"])
            if self.batch:
                agg[f"total_error@{s}"] = env["total_error"]
                agg.update((f"grad.{p}@{s}", env[f"grad.{p}"]) for p in self.trainable)
            else:
                params.update((p, env[f"update.{p}"]) for p in self.trainable)
        if self.batch:
            assert self.batch_entries is not None
            env = {"eta": self.eta, **{f"param.{k}": x for k, x in params.items()}, **agg}
            step = Step(it, None)
            steps.append(step)
            self._run(self.batch_entries, env, step, it, None)
            params.update((p, env[f"update.{p}"]) for p in self.trainable)
            return env["total_error"], params
        return mean(errors), params

    # ------------------------------------------------------------ untraced iterations

    def fast(self, params: dict[str, float], n: int, history: array[float]) -> tuple[int, dict[str, float]]:
        """n iterations on the compiled path: the 1-based index of a diverging one (or 0), and the
        parameters after them."""
        run = runner(
            self.sample_entries,
            self.batch_entries,
            self.all_params,
            self.trainable,
            self.inputs,
            self.targets,
            self.round_digits,
        )
        P = [params[p] for p in self.all_params]
        data = [(tuple(s["input"]), tuple(s["target"])) for s in self.samples]
        bad = run(P, data, n, history, self.eta)
        return int(bad), dict(zip(self.all_params, P))

    def error_moved(self, params: dict[str, float], name: str, h: float, samples: list[Mapping[str, Any]]) -> float:
        """The mean error with one parameter moved by h (for finite differences)."""
        return self.error({**params, name: params[name] + h}, samples)

    def value_of(self, params: dict[str, float], name: str) -> float:
        return params[name]

    def traced_grad(self, step: Step, name: str) -> float | None:
        rec = step.get(f"grad.{name}")
        return None if rec is None else float(rec.value)

    # ------------------------------------------------------------ plain forward passes

    def forward(self, params: Mapping[str, float], sample: Mapping[str, Any], exact: bool = False) -> dict[str, float]:
        """The forward and loss values for one sample (rounded like the trace unless exact)."""
        env = self._env(params, sample)
        for e in self.sample_entries:
            if e.phase not in ("forward", "loss"):
                break
            val = formula.evaluate(e.expr, env)
            if self.round_digits is not None and not exact:
                val = hand_round(val, self.round_digits)
            env[e.key] = val
        return env

    def error(self, params: Mapping[str, float], samples: list[Mapping[str, Any]]) -> float:
        return mean([self.forward(params, s, exact=True)["total_error"] for s in samples])

    def final(self, params: dict[str, float]) -> dict[str, Any]:
        envs = [self.forward(params, s) for s in self.samples]
        return {
            "params": dict(params),
            "outputs": [[env[f"out.{n}"] for n in self.targets] for env in envs],
            "total_error": mean([env["total_error"] for env in envs]),
        }


def run_entries(
    entries: list[Entry], env: dict[str, float], step: Step, it: int, sample: int | None, round_digits: int | None
) -> None:
    """Evaluate entries in order into env, appending a record for each; stop at a non-finite value."""
    for e in entries:
        val = formula.evaluate(e.expr, env)
        if round_digits is not None:
            val = hand_round(val, round_digits)
        env[e.key] = val
        step.records.append(_record(e, val, env))
        if not math.isfinite(val):
            raise Diverged(it, sample, e.key)


def _record(e: Entry, val: float, env: Mapping[str, float]) -> Record:
    filled = formula.fill(e.expr, env)
    lhs = names.symbol(e.key)
    rec = Record(
        phase=e.phase,
        kind=e.kind,
        name=e.name,
        value=val,
        formula=f"{lhs} = {formula.latex(e.expr)}",
        substituted=f"{lhs} = {formula.latex(filled, formula.exact_latex)}",
        layer=e.layer,
        expr=filled,
    )
    if e.kind == "update":
        rec.old, rec.grad, rec.new = env[f"param.{e.name}"], env[f"grad.{e.name}"], val
    return rec

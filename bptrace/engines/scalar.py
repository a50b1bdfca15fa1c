"""The scalar engine: traces a network one scalar at a time, evaluating the plan's expression trees
into records (a value, its formula and the formula with numbers put in)."""

from __future__ import annotations

import math
from array import array
from collections.abc import Callable, Mapping

from .. import formula, names
from ..errors import Diverged
from ..plan import Entry
from ..rounding import carrier
from ..spec import Spec, batches
from ..tracedata import Record, Step, mean
from .base import EngineBase
from .compiled import Plan, error_function, final_function, runner

# up to this many samples the final pass walks the expression trees instead of compiling them
FINAL_WALK_SAMPLES = 16

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any


class ScalarEngine(EngineBase):
    """Traces a network one scalar at a time, from expression trees."""

    def __init__(self, spec: Spec) -> None:
        super().__init__(spec)
        self.all_params = list(names.param_names(self.layers, True))
        self.trainable = self.builder.params()
        self.sample_entries = self.builder.sample_step(with_updates=not self.batch)
        self.batch_list = batches(self.data)
        self.batch_sum = self.data.get("batch_reduction", "mean") == "sum"
        self._batch_entries: dict[tuple[int, ...], list[Entry]] = {}
        self.batch_entries = self.entries_of_batch(self.batch_list[0]) if self.batch else None
        self.inputs = self.layers[0].neurons
        self.targets = self.layers[-1].neurons
        self.round_mode = spec.rounding_mode
        self.carry = carrier(self.round_mode) if self.round_mode else None
        opt = self.builder.optimizer
        self.state = [k for p in self.trainable for k in self.builder.state_keys(p)]
        if opt.state:
            self.state.append("opt.t")
        self.settings = {f"opt.{k}": x for k, x in self.builder.opt_settings.items() if k != "name"}
        self.float32 = self.data.get("dtype") == "float32"
        if self.float32:
            import numpy as np

            from ..ops import F32_SCALARS

            self.num: Any = np.float32
            self.fns: formula.Scalars | None = F32_SCALARS
        else:
            self.num, self.fns = float, None
        # the iteration's error is the batch step's own (rounded) mean when one batch holds every sample
        self.mean_error = self.batch and len(self.batch_list) == 1 and not self.batch_sum

    def entries_of_batch(self, batch: list[int]) -> list[Entry]:
        key = tuple(batch)
        if key not in self._batch_entries:
            how = "sum" if self.data.get("batch_reduction", "mean") == "sum" else "mean"
            self._batch_entries[key] = self.builder.batch_step([s + 1 for s in batch], how)
        return self._batch_entries[key]

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
        p.update((k, 0.0) for k in self.state)  # the optimizer's state starts at 0
        if self.float32:
            p = {k: self.num(x) for k, x in p.items()}
        return p

    def _env(self, params: Mapping[str, float], sample: Mapping[str, Any] | None) -> dict[str, float]:
        num = self.num
        env: dict[str, float] = {"eta": num(self.eta)}
        env.update((f"param.{k}", params[k]) for k in self.all_params)
        if sample is not None:
            env.update((f"input.{n}", num(x)) for n, x in zip(self.inputs, sample["input"]))
            env.update((f"target.{n}", num(x)) for n, x in zip(self.targets, sample["target"]))
        return env

    def _new_step(self, env: dict[str, float], params: Mapping[str, float]) -> None:
        """What an update step reads besides the gradients: settings, the step number, the state before it."""
        if not self.settings or (not self.state and self.settings == {"opt.weight_decay": 0.0}):
            return
        env.update((k, self.num(x)) for k, x in self.settings.items())
        for k in self.state:
            if k == "opt.t":
                env[k] = params[k] + 1.0
            else:
                env[f"prev_{k}"] = params[k]

    def _advance(self, params: dict[str, float], env: Mapping[str, float]) -> None:
        params.update((p, env[f"update.{p}"]) for p in self.trainable)
        params.update((k, env[k]) for k in self.state)

    # ------------------------------------------------------------ traced steps

    def _run(self, entries: list[Entry], env: dict[str, float], step: Step, it: int, sample: int | None) -> None:
        run_entries(entries, env, step, it, sample, self.carry, self.fns)

    def traced_iteration(self, params: dict[str, float], it: int, steps: list[Step]) -> tuple[float, dict[str, float]]:
        """One iteration, every record kept: its error and the parameters after it."""
        params = dict(params)
        errors: list[float] = []
        env: dict[str, float] = {}
        for batch in self.batch_list:
            agg: dict[str, float] = {}
            for s in batch:
                env = self._env(params, self.samples[s])
                if not self.batch:
                    self._new_step(env, params)
                step = Step(it, s + 1)
                steps.append(step)
                self._run(self.sample_entries, env, step, it, s + 1)
                errors.append(env["total_error"])
                if self.batch:
                    agg[f"total_error@{s + 1}"] = env["total_error"]
                    agg.update((f"grad.{p}@{s + 1}", env[f"grad.{p}"]) for p in self.trainable)
                else:
                    self._advance(params, env)
            if self.batch:
                env = {**self._env(params, None), **agg}
                self._new_step(env, params)
                step = Step(it, None)
                steps.append(step)
                self._run(self.entries_of_batch(batch), env, step, it, None)
                self._advance(params, env)
        if self.mean_error:
            return env["total_error"], params
        return mean(errors), params

    # ------------------------------------------------------------ untraced iterations

    def fast(self, params: dict[str, float], n: int, history: array[float]) -> tuple[int, dict[str, float]]:
        """n iterations on the compiled path: the 1-based index of a diverging one (or 0), and the
        parameters after them."""
        plan = Plan(
            self.all_params,
            self.trainable,
            self.inputs,
            self.targets,
            self.state,
            list(self.settings),
            self.batch_sum,
            self.mean_error,
        )
        run = runner(self.sample_entries, self.batch_entries, plan, self.round_mode, self.float32)
        keys = self.all_params + self.state
        P = [params[k] for k in keys]
        num = self.num
        data = [(tuple(num(x) for x in s["input"]), tuple(num(x) for x in s["target"])) for s in self.samples]
        groups = [[data[s] for s in b] for b in self.batch_list] if self.batch else [data]
        bad = run(P, groups, n, history, num(self.eta), [num(x) for x in self.settings.values()])
        return int(bad), dict(zip(keys, P))

    def error_moved(self, params: dict[str, float], name: str, h: float, samples: list[Mapping[str, Any]]) -> float:
        """The mean error with one parameter moved by h (for finite differences), on the compiled
        path: the same numbers as ``error`` (tested), without walking expression trees."""
        cached = self.__dict__.get("_moved")
        if cached is None or cached[0] is not params:
            error = error_function(self.sample_entries, self.all_params, self.inputs, self.targets)
            cached = (
                params,
                [params[p] for p in self.all_params],
                error,
                {p: i for i, p in enumerate(self.all_params)},
            )
            self.__dict__["_moved"] = cached
        _, base, error, index = cached
        P = base[:]
        k = index[name]
        P[k] = P[k] + h
        return error(P, [(tuple(s["input"]), tuple(s["target"])) for s in samples])

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
            val = formula.evaluate(e.expr, env, self.fns)
            if self.carry is not None and not exact:
                val = self.carry(val)
            env[e.key] = val
        return env

    def error(self, params: Mapping[str, float], samples: list[Mapping[str, Any]]) -> float:
        return mean([self.forward(params, s, exact=True)["total_error"] for s in samples])

    def final(self, params: dict[str, float]) -> dict[str, Any]:
        """The final parameters, and every sample's outputs and mean error with them: the values
        ``forward`` gives. Many samples go through a compiled pass (the same values, tested bit for
        bit), since walking expression trees for 100,000 samples took many times longer than
        training on them; a few are walked, which costs less than compiling the pass (the
        article's one sample: a twentieth)."""
        if len(self.samples) <= FINAL_WALK_SAMPLES:
            envs = [self.forward(params, s) for s in self.samples]
            outs = [[env[f"out.{n}"] for n in self.targets] for env in envs]
            errs = [env["total_error"] for env in envs]
        else:
            outs, errs = self.final_compiled(params)
        return {
            "params": {k: float(params[k]) for k in self.all_params},
            "outputs": [[float(x) for x in row] for row in outs],
            "total_error": float(mean(errs)),
        }

    def final_compiled(self, params: dict[str, float]) -> tuple[list[list[float]], list[float]]:
        """Every sample's outputs and error, by the compiled final pass."""
        final = final_function(
            self.sample_entries, self.all_params, self.inputs, self.targets, self.round_mode, self.float32
        )
        num = self.num
        data = [(tuple(num(x) for x in s["input"]), tuple(num(x) for x in s["target"])) for s in self.samples]
        return final([params[k] for k in self.all_params], data)


def run_entries(
    entries: list[Entry],
    env: dict[str, float],
    step: Step,
    it: int,
    sample: int | None,
    carry: Callable[[float], float] | None,
    fns: formula.Scalars | None = None,
) -> None:
    """Evaluate entries in order into env, appending a record for each; stop at a non-finite value."""
    append = step.records.append
    for e, shape in zip(entries, _shapes(entries)):
        val = formula.evaluate(e.expr, env, fns)
        if carry is not None:
            val = carry(val)
        env[e.key] = val
        if type(val) is float:
            rec = TracedRecord(e, shape, val, tuple(map(env.__getitem__, shape.variables)))
        else:  # a float32 trace: each value stored as the float64 of the same number
            rec = TracedRecord(e, shape, float(val), tuple(float(env[k]) for k in shape.variables))
        if shape.is_update:
            rec.old, rec.grad, rec.new = float(env[f"param.{e.name}"]), float(env[f"grad.{e.name}"]), rec.value
        append(rec)
        if not math.isfinite(val):
            raise Diverged(it, sample, e.key)


class _Shape:
    """What every record of one plan entry shares: its symbol, its formula (written when first
    read), the keys it reads."""

    __slots__ = ("_formula", "expr", "is_update", "key", "variables")

    def __init__(self, e: Entry) -> None:
        self.key, self.expr = e.key, e.expr
        self.variables = tuple(dict.fromkeys(n[1] for n in formula.variables(e.expr)))
        self.is_update = e.kind == "update"
        self._formula: tuple[str, str] | None = None

    @property
    def lhs_formula(self) -> tuple[str, str]:
        if self._formula is None:
            lhs = names.symbol(self.key)
            self._formula = (lhs, f"{lhs} = {formula.latex(self.expr)}")
        return self._formula


# The shapes of the last few entry lists, by identity: an engine traces the same list every step.
_SHAPES: dict[int, tuple[list[Entry], list[_Shape]]] = {}


def _shapes(entries: list[Entry]) -> list[_Shape]:
    hit = _SHAPES.get(id(entries))
    if hit is not None and hit[0] is entries:
        return hit[1]
    shapes = [_Shape(e) for e in entries]
    if len(_SHAPES) >= 16:
        _SHAPES.clear()
    _SHAPES[id(entries)] = (entries, shapes)
    return shapes


class TracedRecord(Record):
    """A record whose formulas (``formula``, ``substituted``, ``expr``) are written when first
    read: most records of a long trace reach no report, and writing them costs several times the
    arithmetic. What is read is the same either way."""

    def __init__(self, e: Entry, shape: _Shape, value: float, values: tuple[float, ...]) -> None:
        self.__dict__ = {
            "phase": e.phase, "kind": e.kind, "name": e.name, "value": value, "layer": e.layer,
            "old": None, "grad": None, "new": None, "shape": None, "exact": None, "_pending": (shape, values),
        }  # fmt: skip

    def _fill(self) -> dict[str, Any]:
        d = self.__dict__
        pending = d.pop("_pending", None)
        if pending is not None:
            shape, values = pending
            lhs, text = shape.lhs_formula
            filled = formula.fill(shape.expr, dict(zip(shape.variables, values)))
            d["_formula"], d["_expr"], d["_lhs"] = text, filled, lhs
        return d

    @property
    def formula(self) -> str:
        return self._fill()["_formula"]  # type: ignore[no-any-return]

    @formula.setter
    def formula(self, text: str) -> None:
        self._fill()["_formula"] = text

    @property
    def substituted(self) -> str:
        # only the JSON export reads it: a report, a sheet or a grader that reads the expression
        # does not pay for the exact numbers written out
        d = self._fill()
        if "_substituted" not in d:
            d["_substituted"] = f"{d['_lhs']} = {formula.latex(d['_expr'], formula.exact_latex)}"
        return d["_substituted"]  # type: ignore[no-any-return]

    @substituted.setter
    def substituted(self, text: str) -> None:
        self._fill()["_substituted"] = text

    @property
    def expr(self) -> Any:
        return self._fill()["_expr"]

    @expr.setter
    def expr(self, tree: Any) -> None:
        self._fill()["_expr"] = tree

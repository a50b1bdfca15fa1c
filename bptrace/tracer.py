"""Run a spec and record everything: detailed steps, per-iteration error, final state, gradient check.

The first ``detail`` iterations are traced record by record; the rest run on a fast path (compiled
floats for small networks, numpy for large ones) that keeps only the per-iteration error.
"""

from __future__ import annotations

import math
from array import array
from collections.abc import Callable, Mapping
from typing import Any

from . import formula, names
from .compiled import runner
from .engine import EngineBase
from .errors import Diverged, SpecError
from .guard import check_resources
from .ops import ACTIVATIONS
from .rounding import hand_round
from .spec import Spec, load_spec
from .steps import Entry
from .tracedata import Record, Step, Trace, mean

GRADCHECK_EPS = 1e-6
GRADCHECK_MAX_PARAMS = 64  # larger networks check an evenly spread sample of parameters
Progress = Callable[[int], None]


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


# ---------------------------------------------------------------- the gradient check


def _spread(items: list[str], n: int) -> list[str]:
    if len(items) <= n:
        return items
    return [items[round(i * (len(items) - 1) / (n - 1))] for i in range(n)]


def gradient_check(engine: Any, params: Any, steps: list[Step]) -> dict[str, Any]:
    """Central finite differences against the traced gradients of the first detailed step."""
    first = [s for s in steps if s.iteration == 1]
    grad_step = first[-1] if engine.batch else first[0]
    samples = engine.samples if engine.batch else engine.samples[:1]
    rows = []
    for p in _spread(engine.trainable, GRADCHECK_MAX_PARAMS):
        a = engine.traced_grad(grad_step, p)
        if a is None:
            continue
        h = GRADCHECK_EPS * max(1.0, abs(engine.value_of(params, p)))
        numeric = (engine.error_moved(params, p, h, samples) - engine.error_moved(params, p, -h, samples)) / (2 * h)
        rel = abs(a - numeric) / max(abs(a), abs(numeric), 1e-7)
        rows.append({"name": p, "traced": a, "numeric": numeric, "rel_diff": rel})
    worst = max(rows, key=lambda r: r["rel_diff"]) if rows else None
    return {
        "epsilon": GRADCHECK_EPS,
        "max_rel_diff": worst["rel_diff"] if worst else 0.0,
        "worst": worst["name"] if worst else None,
        "checked": len(rows),
        "of": len(engine.trainable),
        "params": rows,
    }


# ---------------------------------------------------------------- the whole run


def _detail_count(detail: int | str, iterations: int) -> int:
    if detail == "all":
        return iterations
    if isinstance(detail, bool) or not isinstance(detail, int) or detail < 0:
        raise SpecError(f"expected a count of at least 0 or 'all', got {detail!r}", "detail")
    return min(detail, iterations)


def network_summary(layers: list[names.LayerLayout]) -> dict[str, Any]:
    return {
        "layers": [
            {
                "name": lay.name,
                "size": lay.size,
                "activation": lay.activation,
                "neurons": lay.neurons if lay.size <= 64 else [lay.neuron(0), lay.neuron(lay.size - 1)],
                **(
                    {
                        "weights": [lay.first_weight, lay.last_weight],
                        "biases": lay.biases if lay.size <= 64 else lay.biases[:1],
                        # whether out_j depends on net_j alone (softmax mixes the layer)
                        "elementwise": ACTIVATIONS[lay.activation or "sigmoid"].elementwise,
                    }
                    if lay.index
                    else {}
                ),
            }
            for lay in layers
        ]
    }


def trace(
    spec: Spec | str | Mapping[str, Any] = "article",
    *,
    detail: int | str = 1,
    limits: bool = True,
    progress: Progress | None = None,
    **overrides: Any,
) -> Trace:
    """Run a spec and return its Trace.

    ``detail`` is how many iterations are traced in full (an int or "all"); keyword overrides
    replace spec keys (``iterations=10000``, ``learning_rate=0.1``). ``limits=False`` lifts the
    resource limits. ``progress`` is called with the number of iterations done so far.
    """
    spec = load_spec(spec, limits=limits, **overrides)
    n_detail = _detail_count(detail, spec["iterations"])
    if spec.rounding_digits is not None:
        if names.matrix_mode(names.layout(spec.data)):
            raise SpecError(
                "hand rounding follows a calculation by hand, scalar by scalar; this network has a layer of "
                "more than 64 weights, traced in matrix form",
                "rounding",
                spec.source,
            )
    check_resources(spec, n_detail, limits)
    result = _trace(spec, n_detail, progress)
    if spec.rounding_digits is not None:
        exact_spec = load_spec(spec, rounding="exact", limits=limits)
        exact = _trace(exact_spec, n_detail, None)
        _attach_exact(result, exact)
        result.gradcheck = exact.gradcheck
    return result


def _attach_exact(carried: Trace, exact: Trace) -> None:
    for s_c, s_e in zip(carried.steps, exact.steps):
        for r_c, r_e in zip(s_c.records, s_e.records):
            r_c.exact = r_e.value


def make_engine(spec: Spec) -> Any:
    if names.matrix_mode(names.layout(spec.data)):
        from .matrix import MatrixEngine

        return MatrixEngine(spec)
    return ScalarEngine(spec)


def _trace(spec: Spec, n_detail: int, progress: Progress | None) -> Trace:
    engine = make_engine(spec)
    params = engine.initial_params()
    start = params
    history: array[float] = array("d")
    steps: list[Step] = []
    diverged: dict[str, Any] | None = None
    iterations = spec["iterations"]
    try:
        for it in range(1, n_detail + 1):
            E, params = engine.traced_iteration(params, it, steps)
            history.append(E)
            if progress:
                progress(it)
        done = n_detail
        chunk = 1000
        while done < iterations:
            n = min(chunk, iterations - done)
            bad, after = engine.fast(params, n, history)
            if bad:
                # replay the diverging iteration traced, to name the quantity that broke
                del history[done:]
                if bad > 1:
                    _, params = engine.fast(params, bad - 1, history)
                engine.traced_iteration(params, done + bad, steps)
                raise AssertionError("fast path and traced path disagree about divergence")
            params = after
            done += n
            chunk = min(chunk * 2, 100_000)
            if progress:
                progress(done)
    except Diverged as d:
        diverged = {"iteration": d.iteration, "sample": d.sample, "quantity": d.quantity, "message": str(d)}
    broke_at_once = diverged is not None and diverged["iteration"] == 1
    gc = gradient_check(engine, start, steps) if steps and steps[0].iteration == 1 and not broke_at_once else None
    result = Trace(
        spec=spec.to_dict(),
        steps=steps,
        history=history,
        final=None if diverged else engine.final(params),
        gradcheck=gc,
        diverged=diverged,
        network=network_summary(engine.layers),
        generator=_generator(),
    )
    result.__dict__["_full_spec"] = spec.data  # what full_spec() would redraw, at hand already
    return result


def _generator() -> str:
    from . import __version__

    return f"bptrace {__version__}"

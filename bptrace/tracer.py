"""Run a spec and record everything: detailed steps, per-iteration error, final state, gradient check.

The first ``detail`` iterations are traced record by record; the rest run on a fast path (compiled
floats for small networks, numpy for large ones) that keeps only the per-iteration error.
"""

from __future__ import annotations

from array import array
from collections.abc import Callable

from . import names
from ._version import __version__
from .collection import held
from .engines import make_engine, uses_matrix
from .errors import Diverged, SpecError
from .gradcheck import gradient_check
from .guard import check_resources
from .spec import Spec, batches, load_spec
from .tracedata import Step, Trace
from .tracejson.fit import network_summary
from .tracejson.format import version_for

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any, Literal

    from .spec import SpecSource

Progress = Callable[[int], None]


def _detail_count(detail: int | str | None, spec: Spec) -> int:
    iterations: int = spec["iterations"]
    if detail is None:
        # an optimizer's report shows its first two steps; trace a second iteration when the
        # first holds only one update
        one_update = len(batches(spec.data)) == 1
        detail = 2 if "optimizer" in spec.data and one_update else 1
    if detail == "all":
        return iterations
    if isinstance(detail, bool) or not isinstance(detail, int) or detail < 0:
        raise SpecError(f"expected a count of at least 0 or 'all', got {detail!r}", "detail")
    return min(detail, iterations)


def trace(
    spec: SpecSource = "article",
    *,
    detail: int | Literal["all"] | None = None,
    limits: bool = True,
    progress: Progress | None = None,
    matrix_threshold: int = names.SCALAR_LIMIT,
    **overrides: Any,
) -> Trace:
    """Run a spec and return its Trace.

    ``detail`` is how many iterations are traced in full (an int or "all"; by default 1, or 2
    when an optimizer updates once per iteration, so that its second step shows); keyword overrides
    replace spec keys (``iterations=10000``, ``learning_rate=0.1``). ``limits=False`` lifts the
    resource limits. ``progress`` is called with the number of iterations done so far.
    ``matrix_threshold``: layers of more weights than this are traced in matrix form.
    """
    spec = load_spec(spec, limits=limits, **overrides)
    n_detail = _detail_count(detail, spec)
    if spec.data.get("dtype") == "float32" and uses_matrix(spec, matrix_threshold):
        raise SpecError(
            "float32 is traced scalar by scalar; this network has a layer of more than 64 weights, traced in "
            "matrix form in float64",
            "dtype",
            spec.source,
        )
    if spec.rounding_mode is not None:
        if uses_matrix(spec, matrix_threshold):
            raise SpecError(
                "hand rounding follows a calculation by hand, scalar by scalar; this network has a layer of "
                "more than 64 weights, traced in matrix form",
                "rounding",
                spec.source,
            )
    check_resources(spec, n_detail, limits, matrix_threshold)
    result = _trace(spec, n_detail, progress, matrix_threshold)
    first_done = result.diverged is None or result.diverged["iteration"] > 1
    if result.steps and result.steps[0].iteration == 1 and first_done:
        result.first_update = first_update(spec, limits, matrix_threshold, result)
    if spec.rounding_mode is not None:
        exact_spec = load_spec(spec, rounding="exact", limits=limits)
        exact = _trace(exact_spec, n_detail, None, matrix_threshold)
        _attach_exact(result, exact)
        result.gradcheck = exact.gradcheck
    return result


def first_update(spec: Spec, limits: bool, threshold: int, done: Trace | None = None) -> dict[str, Any] | None:
    """The error of the samples the first update used, measured again with the parameters that
    update made: what a worked example of that one update ends on. Neither the history (each
    sample measured before its own update) nor ``final`` (after the whole run) holds it once a run
    has several samples online or several iterations."""
    first = batches(spec.data)[0]
    whole = len(first) == len(spec.data["samples"])
    if done is not None and done.diverged is None and whole and spec.rounding_mode is None:
        # one batch holds every sample: the run itself measured that error, at its end after one
        # iteration, or as the next iteration's error; a second engine would cost more than the trace.
        # (Carried rounding rounds the next iteration's mean, and that one the end does not.)
        if spec["iterations"] == 1 and done.final is not None:
            return {"samples": [s + 1 for s in first], "total_error": done.final["total_error"]}
        if len(done.history) > 1:
            return {"samples": [s + 1 for s in first], "total_error": done.history[1]}
    # that one update alone: the same network and settings, only the first batch's samples, once
    alone = load_spec(spec, samples=[spec.data["samples"][s] for s in first], iterations=1, limits=limits)
    engine = make_engine(alone, threshold)
    bad, after = engine.fast(engine.initial_params(), 1, array("d"))
    if bad:
        return None
    return {"samples": [s + 1 for s in first], "total_error": float(engine.final(after)["total_error"])}


def _attach_exact(carried: Trace, exact: Trace) -> None:
    for s_c, s_e in zip(carried.steps, exact.steps):
        for r_c, r_e in zip(s_c.records, s_e.records):
            r_c.exact = r_e.value


def _trace(spec: Spec, n_detail: int, progress: Progress | None, threshold: int) -> Trace:
    # a traced step's many small objects all live on: a collection would find nothing to free
    with held():
        return _trace_collected_later(spec, n_detail, progress, threshold)


def _trace_collected_later(spec: Spec, n_detail: int, progress: Progress | None, threshold: int) -> Trace:
    engine = make_engine(spec, threshold)
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
                # the fast path saw a value the traced step did not record (a parameter, say)
                raise Diverged(done + bad, None, "total_error")
            params = after
            done += n
            chunk = min(chunk * 2, 100_000)
            if progress:
                progress(done)
    except Diverged as d:
        diverged = {"iteration": d.iteration, "sample": d.sample, "quantity": d.quantity, "message": str(d)}
    broke_at_once = diverged is not None and diverged["iteration"] == 1
    checked = None
    if steps and steps[0].iteration == 1 and not broke_at_once:
        checker, at = engine, start
        if spec.data.get("dtype") == "float32":
            # finite differences need float64: a float32 difference quotient is mostly rounding
            checker = make_engine(load_spec(spec, dtype="float64"), threshold)
            at = checker.initial_params()
        checked = gradient_check(checker, at, steps)
    result = Trace(
        spec=spec.to_dict(),
        steps=steps,
        history=history,
        final=None if diverged else engine.final(params),
        gradcheck=checked,
        diverged=diverged,
        network=network_summary(engine.layers),
        generator=_generator(),
        format_version=version_for(spec.data),
    )
    result.__dict__["_full_spec"] = spec.data  # what full_spec() would redraw, at hand already
    return result


def _generator() -> str:
    return f"bptrace {__version__}"

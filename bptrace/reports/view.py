"""What templates call: ``Report`` gives them numbers, formulas and figures, all read from one
trace; the templates decide what is said and where."""

from __future__ import annotations

import functools
import json
import math
import re
from collections.abc import Callable, Sequence
from typing import Any

from .. import formula, names, numfmt, titles
from ..ops import ACTIVATIONS, CLIP, LEAKY_SLOPE, LOSSES, OPTIMIZERS
from ..rounding import carrier, describe
from ..spec import reduction
from ..tracedata import Record, Step, Trace, element
from . import figures as drawing
from . import linebreak, rules
from .escape import md_escape, plain
from .md_html import FIGURE

# what one sample's pass computes: in batch mode its symbols carry the sample's number
# a general index in a subscript (W_{ji}, \sum_{k}) or an Iverson bracket ([k = j], [k = o1])
_INDEX_SUB = re.compile(r"_\{([ijk]{1,2})\}")
_INDEX_BRACKET = re.compile(r"\[([ijk]) = (\w+)")
# functions whose value is one of an activation's fixed slopes, chosen by a sign: no arithmetic to round
_PICKED = frozenset({"step", "leaky_step"})
_PER_SAMPLE = frozenset({"net", "out", "error", "delta", "partial", "input", "target"})
_SUBSCRIPT_DIGITS = str.maketrans("0123456789", "₀₁₂₃₄₅₆₇₈₉")
# Chinese sets no space between two Han characters (or full-width punctuation); a placeholder that
# sits behind a space for a Latin or numeric value ("是 {act}") must not leave one before Han text
_HAN = "\u3000-\u303f\u4e00-\u9fff\uff00-\uffef"
_HAN_GAP = f"(?<=[{_HAN}]) +(?=[{_HAN}])"  # compiled on first use by re's cache: only Chinese needs it
LONG_EQUATION = 150  # LaTeX characters; longer chains break into aligned lines
# column heads of the optimizer's table, by key prefix
STATE_HEADER = {
    "g": "g",
    "v": "v^{(t)}",
    "m": "m^{(t)}",
    "mhat": r"\hat{m}^{(t)}",
    "vhat": r"\hat{v}^{(t)}",
    "s": "s^{(t)}",
    "update": "w^{+}",
}


class Report:
    """Numbers, formulas and figures for the templates, all read from one trace."""

    def __init__(
        self, trace: Trace, lang: str, digits: int | None, msgs: dict[str, str], spec: dict[str, Any] | None = None
    ) -> None:
        self.trace = trace
        # the trace leaves out weights that init redraws; the report shows them, so redraw them
        self.spec = spec if spec is not None else trace.full_spec()
        self.lang = lang
        self.digits = digits or numfmt.DEFAULT_DIGITS
        self.msgs = msgs
        rounding = self.spec.get("rounding", "exact")
        # a carried value keeps its trailing zeros, so a reader sees it was rounded (0.2500)
        self.carry: tuple[str, int] | None = None if rounding == "exact" else describe(rounding)
        self.figures: dict[str, tuple[str, str]] = {}
        self.layers = names.layout(self.spec)
        # the title in the report's language (escaped for Markdown); plain_title for HTML, escaped there
        self.plain_title = plain(titles.text_in(self.spec["title"], lang, msgs.get("default_title")))
        self.title = md_escape(self.plain_title)
        first = [s for s in trace.steps if s.iteration == trace.steps[0].iteration] if trace.steps else []
        self.step: Step | None = first[0] if first else None
        self.steps1 = first
        self.agg: Step | None = next((s for s in first if s.sample is None), None)
        self.batch = self.spec["mode"] == "batch"
        d = trace.diverged
        # a run that broke inside its first traced step has no complete derivation to show
        self.broken = bool(d and self.step is not None and d["iteration"] == self.step.iteration)
        self.optimizer: dict[str, Any] | None = self.spec.get("optimizer")
        # the samples whose gradients the first batch step combines (all of them for a full batch)
        self.agg_steps = [s for s in first[: first.index(self.agg)] if s.sample] if self.agg else []
        self.rules = rules
        self.is_article = _is_article(self.spec)

    # ------------------------------------------------------------ what is derived in full

    def role(self, lay: names.LayerLayout) -> str:
        """input, hidden or output: the word the text uses for a layer."""
        if lay.index == 0:
            return "input"
        return "output" if lay.index == len(self.layers) - 1 else "hidden"

    def derived(self, layer_index: int) -> tuple[str, str, Step]:
        """The weight of a layer derived in full, its neuron, and the step (sample) it is derived in.

        The one the spec names under ``derive``; else the first weight whose gradient is not zero
        in the first sample where there is one (a derivation whose result is 0, because the input
        or the neuron's δ is 0, teaches little); else the first whose input is not zero; else the
        layer's first weight. Matrix-form layers show their first weight."""
        lay = self.layers[layer_index]
        assert self.step is not None
        steps = [s for s in self.steps1 if s.sample] or [self.step]
        if self.big(layer_index):
            return lay.first_weight, lay.neuron(0), self.step
        chosen = [w for w in self.spec.get("derive", []) if lay.weight_position(w) is not None]
        if chosen:
            j, _ = lay.weight_position(chosen[0]) or (0, 0)
            return chosen[0], lay.neuron(j), self.step
        for key in ("grad.{w}", "partial.dnet_{n}/d{w}"):
            for s in steps:
                for w in lay.weight_names():
                    j, _ = lay.weight_position(w) or (0, 0)
                    rec = s.get(key.format(w=w, n=lay.neuron(j)))
                    if rec is not None and rec.value != 0:
                        return w, lay.neuron(j), s
        return lay.first_weight, lay.neuron(0), self.step

    def per_output(self, layer_index: int) -> bool:
        """Whether the shares passed back to this layer can be written with per-output errors E_k."""
        return names.per_output_errors(self.layers, self.layers[layer_index + 1])

    def share_key(self, down_neuron: str, neuron: str, layer_index: int) -> str:
        return "partial." + names.share_id(down_neuron, neuron, self.per_output(layer_index))

    def softmax_sum(self, n: str, step: Step | None = None) -> str:
        """δ_n as the sum over every softmax output k of dE/dout_k · dout_k/dnet_n, with numbers."""
        return self.chain(self.softmax_sum_parts(n, step))

    def softmax_sum_parts(self, n: str, step: Step | None = None) -> list[str]:
        """softmax_sum's sides: the rule, its terms in symbols, in numbers, and the sum."""
        s = step or self.step
        assert s is not None
        outs = self.layers[-1].neurons
        pairs = [(f"partial.dE_total/dout_{k}", f"partial.dout_{k}/dnet_{n}") for k in outs]
        syms = " + ".join(f"{self.sym(a, s)} {self.sym(b, s)}" for a, b in pairs)
        nums = " + ".join(
            rf"{_paren_neg(self.tex_of(a, self.val(a, s)))} \cdot {_paren_neg(self.tex_of(b, self.val(b, s)))}"
            for a, b in pairs
        )
        total = sum(self.val(a, s) * self.val(b, s) for a, b in pairs)
        out_k, net_n = self.marked(r"\mathrm{out}_{k}", s), self.marked(rf"\mathrm{{net}}_{{{n}}}", s)
        lhs = rf"{self.sym('delta.' + n, s)} = \sum_{{k}} \frac{{\partial {self.etotal(s)}}}{{\partial {out_k}}} \frac{{\partial {out_k}}}{{\partial {net_n}}}"
        return [self.reindex(lhs), syms, nums, self.summary_tex(total)]

    def softmax_collapse(self, n: str, step: Step | None = None) -> str:
        """Why softmax with cross-entropy gives δ = out − target, for neuron n."""

        def mk(tex: str) -> str:
            return self.marked(tex, step)

        o, t = mk(rf"\mathrm{{out}}_{{{n}}}"), mk(rf"\mathrm{{target}}_{{{n}}}")
        out_k, target_k = mk(r"\mathrm{out}_{k}"), mk(r"\mathrm{target}_{k}")
        return self.chain(
            [
                mk(rf"\delta_{{{n}}}"),
                *(
                    self.reindex(part)
                    for part in (
                        rf"\sum_{{k}} \left(-\frac{{{target_k}}}{{{out_k}}}\right) {out_k} \left([k = {n}] - {o}\right)",
                        rf"-{t} + {o} \sum_{{k}} {target_k}",
                    )
                ),
                rf"{o} - {t}",
            ]
        )

    # ------------------------------------------------------------ conventions beyond the article's

    @property
    def mode_variant(self) -> str:
        """online, batch, or minibatch, with _sum when a batch sums its samples' gradients."""
        if self.spec["mode"] == "online":
            return "online"
        kind = "minibatch" if "batch_size" in self.spec else "batch"
        return kind + ("_sum" if self.spec.get("batch_reduction") == "sum" else "")

    @property
    def inline_update(self) -> bool:
        """Whether each derivation ends with its weight's update (plain online gradient descent)."""
        return not self.batch and self.optimizer is None

    def update_steps(self, count: int = 2) -> list[Step]:
        """The first detailed steps that update the parameters (an optimizer's steps t = 1, 2)."""
        return [s for s in self.trace.steps if any(r.kind == "update" for r in s.records)][:count]

    def optimizer_columns(self, step: Step) -> list[str]:
        """The key prefixes of one parameter's update, in order: g (with weight decay), v, m, ..., update."""
        first = next(r for r in step.records if r.phase == "update")
        return [r.key.split(".")[0] for r in step.records if r.phase == "update" and r.name == first.name]

    def optimizer_rows(self, step: Step) -> list[tuple[str, list[float]]]:
        """Each scalar parameter with its gradient and every quantity of its update, in column order."""
        rows: dict[str, list[float]] = {}
        for r in step.records:
            if r.phase == "update" and not r.is_array:
                if r.name not in rows:
                    rows[r.name] = [self.val(f"grad.{r.name}", step)]
                rows[r.name].append(r.value)
        return list(rows.items())

    def batch_end(self, step: Step) -> int:
        """The last sample of the batch a combining step belongs to."""
        k = self.trace.steps.index(step)
        return next((s.sample for s in reversed(self.trace.steps[:k]) if s.sample), 0)

    def updates_per_iteration(self) -> int:
        """How many updates one pass over the samples makes: one per sample online, one per batch."""
        n = len(self.spec["samples"])
        if self.spec["mode"] == "online":
            return n
        size = self.spec.get("batch_size") or n
        return -(-n // size)

    @property
    def total_updates(self) -> int:
        """Every update of the run: an optimizer's step number t runs up to this."""
        return int(self.spec["iterations"]) * self.updates_per_iteration()

    @property
    def torch_optimizer(self) -> str:
        """The torch.optim class whose conventions the optimizer follows."""
        assert self.optimizer is not None
        return {"adam": "Adam", "rmsprop": "RMSprop"}.get(self.optimizer["name"], "SGD")

    @property
    def several_batches(self) -> bool:
        """Mini-batches that split the samples, so one iteration makes more than one update."""
        return self.mode_variant.startswith("minibatch") and self.updates_per_iteration() > 1

    def iteration_updates(self) -> str:
        """The settings line that counts the updates: the batches, t over the run, which are worked
        and where the others are."""
        per = self.updates_per_iteration()
        total = per * self.spec["iterations"]
        worked = len(self.update_steps(2)) if self.optimizer else 1
        size = self.spec.get("batch_size") or len(self.spec["samples"])
        n = len(self.spec["samples"])
        if per <= 4:
            firsts = range(1, n + 1, size)
            batches = self.t("list_sep").join(
                self.t("batch_listed", n=k + 1, samples=self.sample_list(list(range(a, min(a + size, n + 1)))))
                for k, a in enumerate(firsts)
            )
        else:
            batches = self.t("batches_in_order", size=size, last=n - (per - 1) * size)
        one = "_one" if per - worked == 1 else ""
        rest = self.t(f"iteration_updates_rest{one}" + ("_later" if self.spec["iterations"] > 1 else ""))
        return self.t(
            "iteration_updates" if self.optimizer else "iteration_updates_plain",  # only an optimizer's steps carry t
            per=per,
            batches=batches,
            total=total,
            iterations=self.count("iteration", self.spec["iterations"]),
            rest=rest,
            # two worked steps may be all there are: then no others are summarised anywhere
            worked=self.t(
                "iteration_updates_worked_" + ("all" if worked >= total == 2 else "two" if worked > 1 else "one"),
                rest=rest,
            ),
        )

    def batch_samples(self, last: int) -> list[int]:
        """The samples of the batch that ends with sample `last` (batches run in order)."""
        size = self.spec.get("batch_size") or len(self.spec["samples"])
        first = (last - 1) // size * size + 1
        return list(range(first, last + 1))

    def sample_list(self, nums: Sequence[int]) -> str:
        """Samples by number as a reader says them: "samples 1 and 2", "samples 1 to 4"."""
        if len(nums) == 1:
            return self.t("samples_one", n=nums[0])
        key = "samples_two" if len(nums) == 2 else "samples_range"
        return self.t(key, first=nums[0], last=nums[-1])

    def weights_used(self, sample_step: Step) -> str:
        """Which weights a sample's forward pass used: the initial ones, or those after update t."""
        k = self.trace.steps.index(sample_step)
        done = sum(1 for s in self.trace.steps[:k] if any(r.kind == "update" for r in s.records))
        if not done:
            return self.t("weights_initial")
        # t numbers an optimizer's steps; without one the report has no t to refer to
        return self.t("weights_after" if self.optimizer else "weights_after_update", t=done)

    @functools.cached_property
    def appendices(self) -> dict[str, str]:
        """The letter of each appendix the report has, in their order: the text refers to an
        appendix before it comes."""
        have = {
            "gradcheck": bool(self.trace.gradcheck),
            "samples": len(self.steps1) > 1 and not self.broken,
            "carried": self.spec.get("rounding", "exact") != "exact" and self.step is not None,
            "keys": self.step is not None,
        }
        return {name: "ABCDEFGH"[k] for k, name in enumerate(n for n, on in have.items() if on)}

    def exact_constants(self) -> str:
        """The fixed constants this network's formulas use, which hand rounding leaves exact."""
        acts = {lay.activation for lay in self.layers[1:]}
        kinds = ["bias_input"] + [a for a in ("relu", "leaky_relu", "linear") if a in acts]
        return self.t("enum_sep").join(self.t(f"const_{k}") for k in kinds)

    def grad_column(self, samples: Sequence[Step] = ()) -> str:
        """The head of an update table's gradient column: in a batch, what the gradient is over."""
        if not self.batch:
            return self.t("col_grad")
        if len(samples) == 1:
            return self.t("col_grad_sample", sample=samples[0].sample)
        return self.t("col_grad_sum" if self.spec.get("batch_reduction") == "sum" else "col_grad_mean")

    @functools.cached_property
    def kinks(self) -> list[tuple[str, Step]]:
        """The (ReLU or leaky ReLU) neurons whose exact net input is 0 in a pass the gradient check
        differentiates, where the error has no derivative: the check cannot agree there."""
        steps = self.agg_steps if self.batch else [self.step]
        out = []
        for s in (s for s in steps if s is not None):
            for lay in self.layers[1:]:
                if lay.activation in ("relu", "leaky_relu"):
                    for q in lay.neurons:
                        rec = s.get(f"net.{q}")
                        if (
                            rec is not None
                            and not rec.is_array
                            and (rec.exact if rec.exact is not None else rec.value) == 0
                        ):
                            out.append((q, s))
        return out

    def kinks_are(self, kinks: Sequence[tuple[str, Step]]) -> str:
        """ "net_h1 is" / "net_h1, net_h2 are": the kinks as the subject of a sentence."""
        nets = self.t("enum_sep").join(f"${self.sym('net.' + q, s)}$" for q, s in kinks)
        return self.t("kink_is_one", net=nets) if len(kinks) == 1 else self.t("kink_are", nets=nets)

    def gradcheck_scaled(self) -> str:
        """The clause on a parameter larger than 1, whose finite-difference step is scaled with it."""
        gc = self.trace.gradcheck or {}
        first = self.update_steps(1)
        old = {u.name: u.old for u in first[0].records if u.kind == "update"} if first else {}
        checked = [p["name"] for p in gc.get("params", [])]
        return self.t("gradcheck_scaled") if any(abs(old.get(p) or 0.0) > 1 for p in checked) else ""

    def kink_sentence(self, max_text: str, worst: str) -> str:
        kinks = self.kinks
        failed = [p["name"] for p in (self.trace.gradcheck or {}).get("params", []) if p["rel_diff"] >= 1e-4]
        acts = {lay.activation for lay in self.layers[1:] if any(q in lay.neurons for q, _ in kinks)}
        act = "leaky_relu" if acts == {"leaky_relu"} else "relu"
        return self.t(
            "gradcheck_kink",
            max=max_text,
            worst=worst,
            at=self.kinks_are(kinks),
            failed=self.t("enum_sep").join(f"${self.name_sym(p)}$" for p in failed),
            act=re.split("[,，]", self.t(f"act_{act}"))[0],
            slope=f"$f'(0) = {self.given_tex(LEAKY_SLOPE if act == 'leaky_relu' else 0.0)}$",
        )

    def rounding_rule(self) -> str:
        """The settings line on hand rounding, with examples at the report's own places: a value
        with a 5 just past them, one positive and one negative, rounded away from zero."""
        unit, n = describe(self.spec["rounding"])
        up, down = ("3562" * 4)[:n], ("1690" * 4)[:n]  # no 9 at the end: rounding up carries nowhere
        return self.t(
            "rounding_rule" + ("_sig" if unit == "figures" else ""),
            digits=n,
            a=f"0.{up}5",
            a_r=f"0.{int(up) + 1:0{n}d}",
            b=f"-0.{down}5",
            b_r=f"-0.{int(down) + 1:0{n}d}",
        )

    def later_batches(self) -> list[tuple[Step, list[Step]]]:
        """Each batch step of the first iteration after the first, with the samples it combines."""
        out: list[tuple[Step, list[Step]]] = []
        pending: list[Step] = []
        for s in self.steps1:
            if s.sample:
                pending.append(s)
            else:
                out.append((s, pending))
                pending = []
        return out[1:]

    @property
    def uneven_weights(self) -> bool:
        """Whether the samples of the first iteration saw different weights (Appendix B says which)."""
        return len({self.weights_used(s) for s in self.sample_steps}) > 1

    def batch_intro(self) -> str:
        key = ("minibatch_intro" if "batch_size" in self.spec else "batch_intro") + (
            "_sum" if self.spec.get("batch_reduction") == "sum" else ""
        )
        nums = [s.sample for s in self.agg_steps if s.sample]
        return self.t(
            key,
            samples=self.count("sample_all", len(nums)),
            listed=self.sample_list(nums) if nums else "",
            first=nums[0] if nums else 0,
            last=nums[-1] if nums else 0,
            appendix=self.appendices.get("samples", ""),
        )

    def summed(self, key: str) -> str:
        """The catalogue key for a batch that sums its samples' gradients (key_sum), else key."""
        return key + "_sum" if self.spec.get("batch_reduction") == "sum" else key

    def column_sym(self, prefix: str) -> str:
        return STATE_HEADER.get(prefix, prefix)

    def setting_list(self) -> str:
        """The optimizer's settings, each named: momentum μ = 0.9, weight decay λ = 0.01."""
        if not self.optimizer:
            return ""
        parts = [
            f"{self.t('setting_word_' + k)} ${names.SETTING_SYMBOL[k]} = {self.tex(x)}$"
            for k, x in self.optimizer.items()
            if k != "name" and not (k == "weight_decay" and x == 0.0)
        ]
        return self.t("list_sep").join(parts)

    # ------------------------------------------------------------ words

    def t(self, key: str, **kw: Any) -> str:
        text = self.msgs[key]
        if not kw:
            return text
        text = text.format(**kw)
        return re.sub(_HAN_GAP, "", text) if self.lang == "zh" else text

    def count(self, noun: str, n: int) -> str:
        """A number with its noun, in the catalogue's form for it: count_NOUN_one, _two (English
        "both", Chinese 两), else _other ("{n} neurons", "{n} 个神经元")."""
        form = {1: "one", 2: "two"}.get(n, "other")
        key = f"count_{noun}_{form}"
        if key not in self.msgs:
            key = f"count_{noun}_other"
        return self.t(key, n=n)

    # ------------------------------------------------------------ numbers

    def num(self, x: float) -> str:
        return numfmt.text(x, self.digits, self.carry)

    def tex(self, x: float) -> str:
        return numfmt.latex(x, self.digits, self.carry)

    def summary(self, x: float) -> str:
        """A value the run works out but does not carry (an iteration's mean error, which the
        history keeps exact), shown by the run's own rule: rounded as every carried value is, so
        that a hand-rounded report writes no number at more places than it carries."""
        return self.num(self._as_carried(x))

    def summary_tex(self, x: float) -> str:
        return self.tex(self._as_carried(x))

    def _as_carried(self, x: float) -> float:
        return self._carrier(x) if self._carrier and math.isfinite(x) else x

    @functools.cached_property
    def _carrier(self) -> Callable[[float], float] | None:
        """The run's rounding of a carried value (hand:N, sig:N), or None for an exact run."""
        return carrier(self.spec.get("rounding", "exact"))

    def given(self, x: float) -> str:
        """A value nobody rounded (the spec's inputs, targets and η, an exact value): as it is."""
        return numfmt.text(x, self.digits)

    def given_tex(self, x: float) -> str:
        return numfmt.latex(x, self.digits)

    def tex_of(self, key: str, x: float) -> str:
        """A variable's value in a formula: a given one as given, a carried one at its places."""
        return self.given_tex(x) if self.is_given(key, x) else self.tex(x)

    def num_of(self, key: str, x: float) -> str:
        """A quantity's value in a table, by the same rule as tex_of."""
        return self.given(x) if self.is_given(key, x) else self.num(x)

    def is_given(self, key: str, x: float) -> bool:
        """Whether a value is one the problem gives, exactly, and so is written as given (0.05, 1) and
        not padded to the carried places: an input, a target, η, a weight or bias still at its
        initial value, the input 1 of a bias, a slope an activation picks by the sign of its net
        input (ReLU's 1 or 0), or a copy of one of these (∂net/∂w is an input, ∂net/∂out a weight).
        Every value computed from them was rounded and shows all its places (0.2500, 1.0000)."""
        if self.carry is None or key == "eta" or key.startswith(("input.", "target.")):
            return True
        kind, _, name = key.partition(".")
        if kind == "param":
            return self._initial.get(name) == x
        rec = self.rec(key)  # a quantity's expression has the same shape in every step
        if rec is None or rec.is_array:
            return False
        e = rec.expr
        if isinstance(e, int | float) and not isinstance(e, bool):
            return True
        if isinstance(e, list) and e[0] == "fn" and e[1] in _PICKED:
            return True
        return isinstance(e, list) and e[0] == "v" and self.is_given(e[1], x)

    @functools.cached_property
    def _initial(self) -> dict[str, float]:
        """Every weight and bias at the value the spec gives it."""
        out: dict[str, float] = {}
        for lay in self.layers[1:]:
            raw = self.spec["layers"][lay.index]
            for w in lay.weight_names():
                j, i = lay.weight_position(w) or (0, 0)
                out[w] = raw["weights"][j][i]
            out.update(zip(lay.biases, [raw["bias"]] if lay.bias_name else raw["bias"], strict=False))
        return out

    def two_figures(self, x: float) -> str:
        """A size, not a value to carry on with (a carried value minus the exact one, a relative
        difference): two significant figures, in the same ×10ⁿ notation as every other number."""
        return numfmt.figures(x, 2)

    def rec(self, key: str, step: Step | None = None) -> Record | None:
        s = step or self.step
        return s.get(key) if s else None

    def val(self, key: str, step: Step | None = None) -> float:
        s = step or self.step
        found = element(s, key, self.layers) if s else None
        if found is None:
            raise KeyError(key)
        return found

    def values(self, kind: str, lay: names.LayerLayout, step: Step | None = None) -> list[float]:
        """One quantity for every neuron of a layer, from scalar or array records."""
        return [self.val(f"{kind}.{n}", step) for n in lay.neurons]

    def sheet_rows(self, asked: Sequence[str] | None = None) -> list[tuple[str, Record, Step]]:
        """The first iteration's scalar quantities under the keys a sheet names them by (sample 1's
        plain, another sample's sampleN., the batch's batch.), as (key, record, step); only those
        asked for, when a list is given."""
        rows = []
        for s in self.steps1:
            for rec in s.records:
                key = self.key_of(rec.key, s)  # as answers.toml names it: sample1.grad.w5 in a batch
                if not rec.is_array and (asked is None or key in asked):
                    rows.append((key, rec, s))
        return rows

    @staticmethod
    def asks_updates(asked: Sequence[str] | None) -> bool:
        """Whether a sheet asks for an update (every quantity, or a key such as batch.update.w5)."""
        return asked is None or any(k.split(".")[-2:-1] == ["update"] for k in asked)

    @functools.cached_property
    def elementwise_indexes(self) -> list[int]:
        """The layers (by index) whose outputs each depend on their own net input alone."""
        return [lay.index for lay in self.layers[1:] if self.elementwise(lay.index)]

    @property
    def others_heading(self) -> str:
        """The heading of the section on the samples after the first (online)."""
        return self.tn("other_samples_heading", len(self.sample_steps) - 1)

    @functools.cached_property
    def switched(self) -> list[tuple[str, int]]:
        """(weight, sample) of each layer derived with a sample other than the first."""
        if self.step is None:
            return []
        out = []
        for lay in self.layers[1:]:
            w, _, s = self.derived(lay.index)
            if s is not self.step and s.sample:
                out.append((w, s.sample))
        return out

    @functools.cached_property
    def noise_shown(self) -> bool:
        """Whether a value of the worked steps is one that is written 0 (numfmt.NOISE)."""
        return any(
            isinstance(rec.value, float) and 0 < abs(rec.value) < numfmt.NOISE for s in self.steps1 for rec in s.records
        )

    def optimizer_rules(self) -> str:
        """The optimizer's rules for a parameter p, as a display: from the same expressions the
        tracer evaluates (ops.OPTIMIZERS), with g_p the gradient it works with."""
        assert self.optimizer is not None
        p = "p"
        g = names.symbol(f"g.{p}")
        lines = [
            rf"{g} &= {names.symbol(f'grad.{p}')}"
            + (r" + \lambda \cdot p" if self.optimizer.get("weight_decay") else "")
        ]
        for kind, prefix, expr in OPTIMIZERS[self.optimizer["name"]].steps(p, ["v", f"g.{p}", 0.0]):
            key = f"update.{p}" if kind == "update" else f"{prefix}.{p}"
            lines.append(f"{names.symbol(key)} &= {formula.latex(expr)}")
        return "$$\n\\begin{align*}\n" + " \\\\\n".join(lines) + "\n\\end{align*}\n$$"

    def later_steps(self) -> str:
        """What carries over into the updates after the two worked: the optimizer's state, by name."""
        assert self.optimizer is not None
        state = OPTIMIZERS[self.optimizer["name"]].state
        if not state:
            return self.t("optim_later_steps_sgd", total=self.total_updates)
        shown = [f"${s}$" for s in state]
        names_ = self.t("list_sep").join(shown[:-1]) + self.t("word_and") + shown[-1] if len(shown) > 1 else shown[0]
        kind = "optim_state_one" if len(state) == 1 else "optim_state_many"
        return self.t("optim_later_steps", total=self.total_updates, state=self.t(kind, names=names_))

    @property
    def new_here(self) -> bool:
        """Whether a layer's table of gradients shows each new value beside it: online with plain
        gradient descent, where new = old − η·gradient can be checked on the spot. In batch mode
        the update waits for the other samples; an optimizer's new values wait for its section."""
        return not self.batch and not self.optimizer

    def elementwise(self, layer_index: int) -> bool:
        """Whether each output of the layer depends on its own net input alone (not softmax)."""
        layers = self.trace.network.get("layers", [])
        if layer_index < len(layers):
            return bool(layers[layer_index].get("elementwise", True))
        return True

    def sym(self, key: str, step: Step | None = None) -> str:
        """A quantity's symbol in a step (the first step unless another is named). A sample's own
        gradient and error carry the sample number, E^(2), in batch mode (where the plain
        symbols name what the update uses) and for every sample after the first. In batch mode
        every other value of one sample is marked too, out^(1), δ^(1), so that no symbol of
        sample 1 looks like one of the batch."""
        s = step if step is not None else self.step
        kind = key.partition(".")[0]
        if s is not None and s.sample:
            other = self.step is not None and s.sample != self.step.sample
            if (kind in ("grad", "total_error", "error") and (self.batch or other)) or (
                self.batch and kind in _PER_SAMPLE
            ):
                return names.symbol(f"{key}@{s.sample}")
        if self.batch and s is not None and s.sample is None and kind in ("grad", "total_error"):
            # the batch's own error is a mean (or sum) of the samples' totals: E_batch, not E_total
            return names.symbol(key).replace(r"E_{\mathrm{total}}", r"E_{\mathrm{batch}}")
        return names.symbol(key)

    def symbols(self, step: Step | None = None) -> Callable[[str], str]:
        """sym for one step, as the formula printer takes it."""
        return lambda key: self.sym(key, step)

    def marked(self, tex: str, step: Step | None = None) -> str:
        """A symbol a template writes itself (\\mathrm{out}, a), with the sample mark that sym() gives
        one sample's values in batch mode, so that a column head reads like the values under it."""
        s = step if step is not None else self.step
        return names.sample_mark(tex, str(s.sample)) if self.batch and s is not None and s.sample else tex

    @functools.cached_property
    def ix(self) -> dict[str, str]:
        """The index letters of the general rules (w_ji, δ_j, Σ_k): i, j and k, unless a layer has
        that name. The article's input layer is i, and "a_i, here an input of layer i" would read
        as one letter for two things; such an index takes the first free letter instead."""
        taken = {lay.name for lay in self.layers}
        free = [c for c in "pqrcdz" if c not in taken]
        return {c: (c if c not in taken else free.pop(0)) for c in "ijk"}

    def reindex(self, tex: str) -> str:
        """A general rule's TeX with the report's index letters (ix) in its subscripts and brackets."""
        if all(k == v for k, v in self.ix.items()):
            return tex
        ix = self.ix
        tex = _INDEX_SUB.sub(lambda m: "_{" + "".join(ix[c] for c in m.group(1)) + "}", tex)
        return _INDEX_BRACKET.sub(lambda m: f"[{ix[m.group(1)]} = " + ix.get(m.group(2), m.group(2)), tex)

    def rule_marked(self, tex: str) -> str:
        """A symbol of a general rule: in batch mode any one sample's, marked (n)."""
        return names.sample_mark(tex, "n") if self.batch else tex

    def unmarked(self, key: str) -> str:
        """A quantity's symbol with no sample mark (a column head over every sample)."""
        return names.symbol(key)

    def etotal(self, step: Step | None = None) -> str:
        """E_total as the symbols of a step write it: E^(1)_total for one sample of a batch."""
        return self.sym("total_error", step)

    def plain(self, name: str) -> str:
        """A parameter name without TeX (w5 -> w₅), for headings: a table of contents shows
        their text as it is."""
        m = re.fullmatch(r"([wb])(\d+)", name)
        return m.group(1) + m.group(2).translate(_SUBSCRIPT_DIGITS) if m else md_escape(name)

    def key_of(self, key: str, step: Step | None = None) -> str:
        """The key a student writes for a quantity of a step (what ``bptrace check`` reads)."""
        s = step or self.step
        if s is None:
            return key
        kind = key.partition(".")[0]
        if s.sample is None:  # the batch step
            return f"batch.{key}"
        if (self.batch and kind == "grad") or (self.step is not None and s.sample != self.step.sample):
            return f"sample{s.sample}.{key}"
        return key

    @property
    def sample_steps(self) -> list[Step]:
        return [s for s in self.steps1 if s.sample]

    def sample_error(self, outputs: Sequence[float], sample: int) -> float:
        """The error of one sample's outputs, as the loss table defines it (for the final outputs,
        whose per-sample errors the trace keeps only as their mean)."""
        form = LOSSES[self.spec["loss"]].form(self.layers[-1].activation or "sigmoid")
        assert form is not None
        # a hand-rounded run carries each part and their sum, as the trace's own errors are
        carry = self._carrier or float
        total = 0.0
        for j, (o, t) in enumerate(zip(outputs, self.spec["samples"][sample]["target"])):
            e = carry(formula.evaluate(form.error(["v", "t"], ["v", "o"]), {"t": t, "o": o}))
            total = e if j == 0 else carry(total + e)
        return total

    def iteration_error(self) -> str:
        """The error of the first iteration in online mode: the mean of the samples' errors, each
        measured before its own update (what the history and the Repeat section quote)."""
        steps = self.sample_steps
        n = len(steps)
        shown = self.shown(n, 12)  # a long sum shows its first and last terms
        syms = _sum(["\\cdots" if k is None else names.symbol(f"total_error@{steps[k].sample}") for k in shown])
        nums = _sum(["\\cdots" if k is None else self.tex(self.val("total_error", steps[k])) for k in shown])
        return self.chain(
            [rf"\frac{{1}}{{{n}}} \left({syms}\right)", rf"\frac{{1}}{{{n}}} \left({nums}\right)",
             self.summary_tex(self.trace.history[0])]
        )  # fmt: skip

    def final_mean(self) -> str:
        """The mean error of a fresh forward pass with the final weights, from its per-sample parts."""
        final = self.trace.final
        assert final is not None
        outs = final["outputs"]
        n = len(outs)
        nums = _sum(
            ["\\cdots" if k is None else _paren_neg(self.tex(self.sample_error(outs[k], k))) for k in self.shown(n, 12)]
        )
        return self.chain([rf"\frac{{1}}{{{n}}} \left({nums}\right)", self.summary_tex(final["total_error"])])

    def classified(self) -> str:
        """Whether the final weights put each sample in its target's class, for a classifier: one-hot
        targets (the largest output) or a single output with targets 0 and 1 (which side of 0.5);
        "" for any other network, where "class" means nothing."""
        final = self.trace.final
        if not final or self.any_big:
            return ""
        targets = [s["target"] for s in self.spec["samples"]]
        one_hot = all(sorted(t) == [0.0] * (len(t) - 1) + [1.0] for t in targets) and len(targets[0]) > 1
        binary = len(targets[0]) == 1 and all(t[0] in (0.0, 1.0) for t in targets)
        if not (one_hot or binary):
            return ""
        outs = final["outputs"]
        if one_hot:
            right = [max(range(len(o)), key=o.__getitem__) == t.index(1.0) for o, t in zip(outs, targets)]
        else:
            right = [(o[0] > 0.5) == (t[0] == 1.0) for o, t in zip(outs, targets)]
        kind = "classified" if one_hot else "classified_binary"
        if all(right):
            return self.tn(f"{kind}_all", len(right))
        wrong = [k + 1 for k, ok in enumerate(right) if not ok]
        listed = self.sample_list(wrong) if len(wrong) <= 2 else self.count("sample", len(wrong))
        return self.t(f"{kind}_some", right=sum(right), n=len(right), wrong=listed)

    def builtin_name(self) -> str | None:
        """The built-in example this spec is (weights, samples and settings), if it is one."""
        return _builtin_name(self.spec)

    def name_sym(self, name: str) -> str:
        """A neuron or parameter name as math: w5 -> w_{5}, h1 -> h_{1}."""
        if re.fullmatch(r"[wb]\d+|b_.+", name):
            return names.param_symbol(name)
        return names.neuron_value_symbol(name)

    def parts(self, rec: Record, step: Step | None = None) -> list[str]:
        """lhs, the symbolic right side, the numbers put in, the result; repeats dropped."""
        lhs = self.sym(rec.key, step)
        out = [lhs]
        if rec.expr is not None:
            out.append(formula.latex(rec.expr, symbol=self.symbols(step), mean_first=True))
            sub = formula.latex(rec.expr, self.tex, number_of=self.tex_of, mean_first=True)
            # a lone value put in is the result again, only bracketed when negative: no step
            bare = sub.removeprefix(r"\left(").removesuffix(r"\right)")
            if sub != out[-1] and not (isinstance(rec.value, float) and bare == self.tex(rec.value)):
                out.append(sub)
        elif rec.formula:
            out.append(rec.formula.split(" = ", 1)[-1])
        # a copy of a given value (∂net/∂w = an input) stays as given, not padded
        result = self.tex_of(rec.key, rec.value) if not isinstance(rec.value, list) else None
        if result is not None and result != out[-1]:
            out.append(result)
        return out

    def chain(self, parts: Sequence[str]) -> str:
        """A display equation from its = parts: one line, or aligned lines when long."""
        parts = [p for p in parts if p]
        short = len(parts) <= 2 or sum(len(p) for p in parts) <= LONG_EQUATION
        if short and linebreak.width(" = ".join(parts)) <= linebreak.LINE_BUDGET:
            return "$$\n" + " = ".join(parts) + "\n$$"
        # a side too wide for the page continues on lines of its own, indented past the "="
        budget = linebreak.LINE_BUDGET - linebreak.width(parts[0]) - 2
        lines = []
        for k, p in enumerate(parts[1:]):
            first, *rest = linebreak.lines(p, budget)
            lines.append(f"{parts[0] if k == 0 else ''} &= {first}".lstrip())
            lines += [rf"&\quad {q}" for q in rest]
        return "$$\n\\begin{align*}\n" + " \\\\\n".join(lines) + "\n\\end{align*}\n$$"

    def eq(self, key: str | Record, step: Step | None = None) -> str:
        rec = key if isinstance(key, Record) else self.rec(key, step)
        if rec is None:
            return ""
        if rec.is_array:
            return "$$\n" + rec.formula + "\n$$"
        return self.chain(self.parts(rec, step or self.step))

    # ------------------------------------------------------------ large layers

    def big(self, layer_index: int) -> bool:
        """Whether this layer was traced in matrix form (one array record per quantity)."""
        if self.step is None or layer_index == 0:
            return False
        rec = self.step.get(f"net.{self.layers[layer_index].name}")
        return rec is not None and rec.is_array

    @property
    def any_big(self) -> bool:
        return any(self.big(k) for k in range(1, len(self.layers)))

    def shown(self, n: int, limit: int = 8) -> list[int | None]:
        """Indices to list out of n (None marks a gap): all of them, or the first few and the last."""
        if n <= limit:
            return list(range(n))
        return list(range(limit - 2)) + [None, n - 1]

    def left_out(self, n: int, limit: int = 12) -> str:
        """The sentence saying which of n samples a list of ``shown(n, limit)`` leaves out, or ""."""
        if n <= limit:
            return ""
        return self.t("samples_left_out", first=limit - 2, last=n, count=n - (limit - 1))

    def numbers(self, xs: Sequence[float], limit: int = 8) -> str:
        parts = ["…" if k is None else self.num(xs[k]) for k in self.shown(len(xs), limit)]
        return ", ".join(parts)

    def shape(self, key: str, step: Step | None = None) -> str:
        rec = self.rec(key, step)
        return "×".join(str(d) for d in rec.shape) if rec is not None and rec.shape else ""

    @property
    def drawn(self) -> list[int]:
        """Layers whose weights came from init (the trace leaves them to the seed)."""
        return [k for k, layer in enumerate(self.trace.spec["layers"]) if k and "weights" not in layer]

    def matrix_table(self, values: Sequence[Sequence[float]], rows: int = 5, cols: int = 7, given: bool = False) -> str:
        """A corner of a matrix as a Markdown table: row j holds the weights into neuron j. The
        spec's own weights are written as given, computed ones as carried."""
        fmt = self.given if given else self.num
        js, is_ = self.shown(len(values), rows), self.shown(len(values[0]), cols)
        head = "| j \\ i | " + " | ".join("…" if i is None else str(i + 1) for i in is_) + " |"
        lines = [head, "| ---: |" + " ---: |" * len(is_)]
        for j in js:
            if j is None:
                lines.append("| ⋮ |" + " ⋮ |" * len(is_))
                continue
            cells = ["…" if i is None else fmt(values[j][i]) for i in is_]
            lines.append(f"| {j + 1} | " + " | ".join(cells) + " |")
        return "\n".join(lines)

    def rhs(self, key: str, step: Step | None = None, numbers: bool = True) -> str:
        """The right side of a record, with numbers put in (or symbols), as inline math."""
        rec = self.rec(key, step)
        if rec is None or rec.expr is None:
            return ""
        return (
            "$"
            + formula.latex(
                rec.expr,
                self.tex if numbers else None,
                symbol=self.symbols(step),
                number_of=self.tex_of if numbers else None,
            )
            + "$"
        )

    def product(self, factors: Sequence[str], result: str, step: Step | None = None) -> str:
        """grad = f1 · f2 · f3 with symbols, then numbers, then the value."""
        syms = r" \cdot ".join(self.sym(k, step) for k in factors)
        nums = r" \cdot ".join(_paren_neg(self.tex_of(k, self.val(k, step))) for k in factors)
        return self.chain([self.sym(result, step or self.step), syms, nums, self.tex(self.val(result, step))])

    def records(self, kind: str, layer: str | None = None, step: Step | None = None) -> list[Record]:
        s = step or self.step
        if s is None:
            return []
        return [r for r in s.records if r.kind == kind and (layer is None or r.layer == layer)]

    def lost_updates(self, step: Step | None = None) -> str:
        """The parameters whose carried value an update leaves unchanged although the exact run
        moves them, as inline math joined for a sentence ("" when none, or nothing is carried)."""
        if self.carry is None:
            return ""
        lost = [
            f"${self.name_sym(u.name)}$"
            for u in self.records("update", step=step)
            if not u.is_array and u.new == u.old and u.exact is not None and u.exact != u.old
        ]
        return self.t("enum_sep").join(lost)  # symbols: 、 in Chinese, as any list of names

    # ------------------------------------------------------------ figures

    def _figure(self, name: str, svg: str, caption: str) -> str:
        # a marker now; place_figures() puts the figure in, linked or inline, so one rendering
        # of the template serves both the Markdown file and the HTML page
        self.figures[name] = (svg, caption)
        return f"\x00figure:{name}\x00"

    def figure_html(self, name: str) -> str:
        svg, caption = self.figures[name]
        return f'<figure class="figure">\n{svg}\n<figcaption>{caption}</figcaption>\n</figure>'

    def place_figures(self, text: str, inline: bool) -> str:
        def put(m: re.Match[str]) -> str:
            if inline:
                return self.figure_html(m.group(1))
            return f"![{self.figures[m.group(1)][1]}](figures/{m.group(1)}.svg)"

        return FIGURE.sub(put, text)

    def figure_files(self) -> dict[str, str]:
        return {f"figures/{name}.svg": svg + "\n" for name, (svg, _) in sorted(self.figures.items())}

    def act_t(self, lay: names.LayerLayout, role: str = "name", **kw: Any) -> str:
        """The words of a layer's activation (its table entry names the catalogue keys)."""
        return self.t(ACTIVATIONS[lay.activation or "sigmoid"].messages[role], **kw)

    def loss_t(self, role: str = "name", **kw: Any) -> str:
        return self.t(self._loss_key(role), **kw)

    def loss_note(self) -> str:
        """What a report (not an exercise sheet) adds to the loss's name: how it compares with PyTorch's."""
        key = self._loss_key("name") + "_note"
        n = self.layers[-1].size
        if n == 2 and f"{key}_two" in self.msgs:
            key += "_two"
        return self.t(key, n=n) if key in self.msgs else ""

    def _loss_key(self, role: str) -> str:
        loss = LOSSES[self.spec["loss"]]
        key = loss.messages[role]
        # the formula shown is the one form this output layer uses: a sigmoid output answers a
        # yes/no question per neuron, a softmax output one question over the whole layer
        if loss.name == "cross_entropy" and self.layers[-1].activation != "softmax":
            key += "_binary"
        red = reduction(self.spec)
        return self.counted_key(key if red == loss.default_reduction else f"{key}_{red}", self.layers[-1].size)

    def counted_key(self, key: str, n: int) -> str:
        """The catalogue key of a sentence about n things: KEY_one where n is 1 and the catalogue
        has it (no plurals, no "each" or "sum" over a single thing), else KEY."""
        return f"{key}_one" if n == 1 and f"{key}_one" in self.msgs else key

    def tn(self, key: str, n: int, **kw: Any) -> str:
        """A sentence about n things, in its counted_key form."""
        return self.t(self.counted_key(key, n), **kw)

    def layer_caption(self, lay: names.LayerLayout) -> str:
        if lay.index == 0:
            return self.count("input", lay.size)
        return self.t("layer_desc", neurons=self.count("neuron", lay.size), act=self.act_t(lay))

    def figure_caption(self, lay: names.LayerLayout) -> str:
        """A layer's line under the network figure: its name, the language's colon, what it holds."""
        return f"{lay.name}{self.t('colon')}{self.layer_caption(lay)}"

    def network_figure(self) -> str:
        title, captions = self.t("fig_network_title"), tuple(self.figure_caption(lay) for lay in self.layers)
        svg = _network_svg(repr(self.spec), self.digits, title, captions, self)
        # a layer pair with too many edges is drawn without its weights: the caption says what is there
        labels = svg.count('class="wlabel"')
        every = sum(lay.size * lay.prev_size for lay in self.layers[1:])
        key = "fig_network" if labels >= every else ("fig_network_some" if labels else "fig_network_none")
        caption = self.t(key)
        if any(lay.size > drawing.MAX_DRAWN for lay in self.layers):
            caption += self.t("fig_network_elided", n=drawing.MAX_DRAWN)
        return self._figure("network", svg, caption)

    @property
    def clipped_errors(self) -> bool:
        """Whether an iteration's error is large enough that cross-entropy's clipped ln may have made it:
        a mean over the samples at least one clipped term, -ln 1e-15, over their number."""
        if self.spec["loss"] != "cross_entropy" or not len(self.trace.history):
            return False
        return max(self.trace.history) * len(self.spec["samples"]) >= -math.log(CLIP) - 1e-9

    def chain_figure(self, layer_index: int) -> str:
        if self.step is None:
            return ""
        lay = self.layers[layer_index]
        down = self.layers[layer_index + 1 : layer_index + 2]
        w, _, step = self.derived(layer_index)
        j, i = lay.weight_position(w) or (0, 0)
        # in a batch every symbol of one sample carries its mark, in the figure as in the formulas
        mark = f"⁽{numfmt.superscript(str(step.sample))}⁾" if self.batch and step.sample else ""
        svg = drawing.chain(step, lay, down, j, i, self.num_of, self.t("fig_chain_title", weight=w), mark)
        # the caption tells which arrows make which factor of the text, as the figure is drawn
        if down:
            key = "fig_chain_hidden" if down[0].size > 1 else "fig_chain_hidden_one"
        else:
            key = "fig_chain" if lay.activation != "softmax" else "fig_chain_softmax"
        return self._figure(f"chain-{w}", svg, self.t(key, weight=w))

    def per_iteration(self, key: str) -> str:
        """A catalogue key for an iteration's error: over several samples it is their mean (a batch
        that sums its gradients still records the mean error per iteration), and E_total stays one
        sample's."""
        return f"{key}_mean" if len(self.spec["samples"]) > 1 else key

    def loss_figure(self) -> str:
        svg = drawing.loss_curve(
            self.trace.history,
            self.t(self.per_iteration("fig_loss_title")),
            self.t("fig_loss_x"),
            self.t(self.per_iteration("fig_loss_y")),
        )
        return self._figure("loss", svg, self.t(self.per_iteration("fig_loss")))

    # ------------------------------------------------------------ tables of the run

    def history_rows(self, head: int = 5, tail: int = 5) -> list[tuple[int, float] | None]:
        """(iteration, error) for the first and last iterations; None marks the gap."""
        h = self.trace.history
        n = len(h)
        if n <= head + tail:
            return [(k + 1, h[k]) for k in range(n)]
        return [(k + 1, h[k]) for k in range(head)] + [None] + [(k + 1, h[k]) for k in range(n - tail, n)]


# keys that do not change a run's numbers (or, for the article, select its published variant)
_SAME_RUN_IGNORES = frozenset({"title", "iterations", "derive", "vary", "record_input_gradients"})


def _fingerprint(spec: dict[str, Any], ignore: frozenset[str]) -> str:
    return json.dumps({k: val for k, val in spec.items() if k not in ignore}, sort_keys=True)


@functools.cache
def _builtins() -> dict[str, str]:
    from ..spec import example_names, load_spec

    return {name: _fingerprint(load_spec(name).data, _SAME_RUN_IGNORES) for name in example_names()}


def _builtin_name(spec: dict[str, Any]) -> str | None:
    mine = _fingerprint(spec, _SAME_RUN_IGNORES)
    return next((name for name, theirs in _builtins().items() if theirs == mine), None)


@functools.cache
def _article() -> str:
    from ..spec import load_spec

    return _fingerprint(load_spec("article").data, _SAME_RUN_IGNORES | {"hidden_delta_weights"})


def _is_article(spec: dict[str, Any]) -> bool:
    """Whether a spec is the built-in article's network, data and settings (the only report that
    speaks of the article: its sources, its open question, its published slips); the variant with
    updated weights in the hidden deltas is the article's too."""
    return _fingerprint(spec, _SAME_RUN_IGNORES | {"hidden_delta_weights"}) == _article()


def _sum(terms: list[str]) -> str:
    return " + ".join(terms)


def _paren_neg(s: str) -> str:
    return rf"\left({s}\right)" if s.startswith("-") or r"\times" in s else s


_NETWORK_SVGS: dict[tuple[str, int, str, tuple[str, ...]], str] = {}


def _network_svg(spec: str, digits: int, title: str, captions: tuple[str, ...], rep: Report) -> str:
    """The network figure, drawn once for the pages of one run (an exercise's question and answer
    show the same picture). Keyed by what the picture shows: the spec as text, the rounding and
    the words."""
    key = (spec, digits, title, captions)
    svg = _NETWORK_SVGS.get(key)
    if svg is None:
        if len(_NETWORK_SVGS) >= 4:
            _NETWORK_SVGS.clear()
        svg = _NETWORK_SVGS[key] = drawing.network(rep.layers, rep.spec, digits, title, lambda lay: captions[lay.index])
    return svg

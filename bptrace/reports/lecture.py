"""Lecture mode: the worked example as a sequence of slides on the network picture.

Each slide teaches one quantity of the first traced step (or a layer's remaining quantities as a
table), in the order the report derives them. It names the picture's elements to light up
(``focus``) and the texts to write onto the picture (``sets``): a neuron's net, out and δ as they
are computed, a weight's gradient on its edge, then its new value. The page's script replays the
``sets`` of every slide up to the current one, so going back is as exact as going forward; without
the script every slide shows in order, like the report.
"""

from __future__ import annotations

import base64
import hashlib
import json
import math
import re
from dataclasses import dataclass, field
from html import escape
from typing import Any

from .. import names
from ..tracedata import Record, Step
from . import linebreak, mathml
from .figures import FONT, _drawn, _f
from .view import Report

SLIDE_BUDGET = 52  # body-text characters across a slide's column of equations (its type is 120%)

ROW_H, COL_W, R = 140.0, 340.0, 26.0  # a row leaves a clear gap between a neuron's values and the next bias
SMALL_LAYER = 4  # neurons a layer may have for each of them to get slides of its own
TABLE_ROWS = 8  # rows a table slide shows before it says how many more there are


@dataclass
class Slide:
    key: str  # the quantity taught ("" for the opening, closing and table slides)
    phase: str
    title: str  # HTML
    sentence: str  # HTML (inline MathML inside)
    equations: list[str] = field(default_factory=list)  # MathML blocks
    table: list[tuple[str, str]] = field(default_factory=list)  # (MathML symbol, value)
    more: int = 0  # rows left out of the table
    focus: list[str] = field(default_factory=list)  # ids of picture elements to light up
    sample: int | None = None  # the sample a step computes, where there are several
    sets: dict[str, str] = field(default_factory=dict)  # picture text id -> its new text

    @property
    def focus_attr(self) -> str:
        return " ".join(self.focus)

    @property
    def sets_attr(self) -> str:
        return json.dumps(self.sets, ensure_ascii=False, sort_keys=True)


# ---------------------------------------------------------------- ids on the picture


def node_id(neuron: str) -> str:
    return f"n-{neuron}"


def edge_id(weight: str) -> str:
    return f"e-{weight}"


def text_id(owner: str, line: str) -> str:
    """A text on the picture: under a neuron (lines a, b, d: net, out, δ), on an edge (w: the
    weight, later its new value; g: its gradient) or a bias's value (v)."""
    return f"t-{owner}-{line}"


# ---------------------------------------------------------------- the slides


_PARTIAL = re.compile(r"partial\.d([^/]+)/d(.+)")
# one share of a hidden output's partial: the part that runs through the downstream neuron k
_SHARE = re.compile(r"partial\.dE_total/dnet_([^*/]+)\*dnet_\1/dout_(.+)")
# the same share written with an output's own error, as the article does: dE_o1/dout_h1
_SHARE_OF_ERROR = re.compile(r"partial\.dE_(?!total/)([^/]+)/dout_(.+)")


def _about(key: str) -> tuple[str | None, str | None]:
    """(neuron, parameter) a key speaks of: the neuron whose net/out/δ/error it is, or the weight
    or bias it differentiates by; for a partial, what it differentiates by."""
    kind, _, name = key.partition(".")
    if kind in ("net", "out", "delta", "error"):
        return name, None
    share = _SHARE.fullmatch(key)
    if share:
        return share.group(2), None
    if kind in ("grad", "update"):
        return None, name
    m = _PARTIAL.fullmatch(key)
    if m:
        by = m.group(2)
        for prefix in ("out_", "net_"):
            if by.startswith(prefix):
                return by[len(prefix) :], None
        return None, by
    return None, None


class Lecture:
    def __init__(self, report: Report) -> None:
        self.r = report
        self.layers = report.layers
        self.digits = report.digits
        self.owner: dict[str, names.LayerLayout] = {}
        self.weight_ends: dict[str, tuple[str, str]] = {}  # weight -> (from neuron, to neuron)
        for lay in self.layers:
            for n in lay.neurons if lay.size <= 64 else [lay.neuron(0)]:
                self.owner[n] = lay
        for lay in self.layers[1:]:
            prev = self.layers[lay.index - 1]
            for j in _drawn(lay.size):
                for i in _drawn(prev.size):
                    if j is not None and i is not None:
                        self.weight_ends[lay.weight(j, i)] = (prev.neuron(i), lay.neuron(j))
        # the biases the picture shows: one per layer when shared, else one per drawn neuron
        self.biases_drawn: set[str] = set()
        for lay in self.layers[1:]:
            if lay.bias_name:
                self.biases_drawn.add(lay.bias_name)
            else:
                self.biases_drawn.update(lay.bias(j) for j in _drawn(lay.size) if j is not None)
        self.slides: list[Slide] = []
        self.batch = report.batch
        self.several = len(report.spec["samples"]) > 1
        self.state_told = False  # the optimizer's state is defined on the first update slide that uses it

    # ------------------------------------------------------------ words and math

    def t(self, key: str, **math_args: str) -> str:
        """A catalogue sentence, escaped, with MathML put in for its placeholders."""
        text = escape(self.r.t(key))
        return text.format(**math_args) if math_args else text

    def inline(self, tex: str) -> str:
        return mathml.convert(tex, False)

    def block(self, tex: str) -> str:
        return mathml.convert(tex, True)

    def num(self, x: float) -> str:
        return self.r.num(x)

    def equation_lines(self, parts: list[str]) -> list[str]:
        """The formula, the numbers put in, the result: one line each, so none scrolls out of sight;
        a side too wide for the slide's column goes on at its outermost signs, on lines of its own."""
        if len(parts) < 2:
            return [self.block(p) for p in parts]
        out = []
        for k, side in enumerate(parts[1:]):
            head = f"{parts[0]} = " if k == 0 else "= "
            first, *rest = linebreak.lines(side, SLIDE_BUDGET - linebreak.width(head))
            out.append(self.block(head + first))
            out += [self.block(r"\quad " + line) for line in rest]
        return out

    # ------------------------------------------------------------ what a record puts on the picture

    def focus_of(self, key: str) -> list[str]:
        neuron, param = _about(key)
        out: list[str] = []
        if neuron and neuron in self.owner:
            out.append(node_id(neuron))
            if key.startswith("net."):
                out += [edge_id(w) for w, (_, dst) in self.weight_ends.items() if dst == neuron]
        if param and param in self.weight_ends:
            src, dst = self.weight_ends[param]
            out += [edge_id(param), node_id(src), node_id(dst)]
        m = _PARTIAL.fullmatch(key)
        if m:
            share = _SHARE.fullmatch(key)
            top = share.group(1) if share else m.group(1).split("_", 1)[-1]
            if neuron:  # a share: d(net_k or E_k)/d out_h lights the edge from h to k
                out += [edge_id(w) for w, ends in self.weight_ends.items() if ends == (neuron, top)]
            # a factor joins the neuron it differentiates by and the one it differentiates: both are
            # lit, also where no edge joins them (∂out_o2/∂net_o1 inside a softmax layer)
            if top in self.owner:
                out.append(node_id(top))
        if key == "total_error":
            out += [node_id(n) for n in self.layers[-1].neurons if n in self.owner]
        return list(dict.fromkeys(out))

    def sets_of(self, rec: Record, one_sample: bool = False) -> dict[str, str]:
        """What a step writes on the picture. ``one_sample``: a batch's record of sample 1 alone,
        whose gradient the picture marks (1), as the report does, so it is not taken for the batch's."""
        kind, name = rec.kind, rec.name
        value = rec.value
        if rec.is_array:  # a whole layer: the picture shows its first neuron's or weight's value
            lay = next((lay for lay in self.layers if lay.name == rec.layer), None)
            if lay is None or not value:
                return {}
            first = value[0][0] if isinstance(value[0], list) else value[0]
            if kind in ("net", "out", "delta"):
                name = lay.neuron(0)
            elif kind in ("grad", "update") and name.startswith("W_"):
                name = lay.first_weight
            else:
                return {}
            value = first
        if not isinstance(value, (int, float)):
            return {}
        v = self.num(value)
        if kind in ("net", "out", "delta") and name in self.owner:
            label = {"net": "net", "out": "out", "delta": "δ"}[kind]
            return {text_id(name, {"net": "a", "out": "b", "delta": "d"}[kind]): f"{label} = {v}"}
        if kind == "error" and name in self.owner:
            return {text_id(name, "d"): f"E = {v}"}
        if kind == "grad" and name in self.weight_ends:
            mark = "⁽¹⁾" if one_sample else ""
            return {text_id(name, "g"): f"∂E{mark}/∂{name} = {v}"}
        if kind == "update" and name in self.weight_ends:
            return {text_id(name, "w"): f"{name}⁺ = {v}"}
        if kind == "update" and name in self.biases_drawn:  # the name stays, typeset; only its value changes
            return {text_id(name, "v"): f"⁺ = {v}"}
        return {}

    # ------------------------------------------------------------ building

    def record_slide(self, rec: Record, step: Step, mean: bool = False) -> Slide:
        """One quantity's step. ``mean``: a batch step's record (the mean over the samples)."""
        # a batch's mean has the plain symbols; one sample's values carry its number, as in the report
        src = (self.r.agg or step) if mean else step
        parts = self.r.parts(rec, src)
        neuron, param = _about(rec.key)
        if rec.phase == "update":
            param = rec.name  # g, v, m, ... of a parameter are the steps of its update
        words: dict[str, str] = {}
        if neuron:
            words["neuron"] = self.inline(self.r.name_sym(neuron))
        if param:
            words["param"] = self.inline(self.r.name_sym(param))
        m = _PARTIAL.fullmatch(rec.key)
        share = _SHARE.fullmatch(rec.key)
        if share is None and self.layers[-1].size > 1:  # one output's error is the whole, not a share
            share = _SHARE_OF_ERROR.fullmatch(rec.key)
        # in a batch, one sample's quantities carry its mark in the words as in the formulas
        if share:
            words["down"] = self.inline(self.r.name_sym(share.group(1)))
            words["whole"] = self.inline(self.r.sym(f"partial.dE_total/dout_{share.group(2)}", src))
        elif m:
            words["top"] = self.inline(self.r.marked(names._quantity(m.group(1)), src))
            words["bottom"] = self.inline(self.r.marked(names._quantity(m.group(2)), src))
        sentence_key = "lecture_share" if share else f"lecture_{rec.kind}"
        if rec.kind == "error" and self.layers[-1].size == 1:
            sentence_key = "lecture_error_one"
        elif rec.kind == "total_error" and self.several and not mean:
            sentence_key = "lecture_total_error_sample"  # training lowers the samples' mean, not this one
        if mean:
            sentence_key = f"lecture_batch_{rec.kind}"
        if rec.kind == "update" and self.r.optimizer is not None:
            # not plain η × gradient: say so, not the SGD rule, and where its quantities are
            stepped = any(r.phase == "update" and r.name == rec.name and r.kind != "update" for r in step.records)
            sentence_key = "lecture_update_optimizer_steps" if stepped else "lecture_update_optimizer"
        elif rec.kind == "delta" and isinstance(rec.expr, list) and rec.expr[:1] == ["sub"]:
            # cross-entropy on sigmoid or softmax: out − target
            sentence_key = (
                "lecture_delta_fused"
                if not self.r.elementwise(self.layers[-1].index)
                else "lecture_delta_fused_sigmoid"
            )
        elif rec.kind == "out" and neuron in self.owner and not self.r.elementwise(self.owner[neuron].index):
            sentence_key = "lecture_out_softmax"  # every net input of the layer, not its own alone
        if rec.is_array:
            sentence_key = (
                f"lecture_array_{rec.kind}" if f"lecture_array_{rec.kind}" in self.r.msgs else "lecture_array"
            )
            words = {"layer": escape(rec.layer or "")}
        slide = Slide(
            key=rec.key,
            phase="batch" if mean else rec.phase,
            title=self.inline(self.r.sym(rec.key, src)) if not rec.is_array else escape(rec.key),
            sample=1 if self.several and not mean else None,
            sentence=self.t(
                sentence_key, **{k: v for k, v in words.items() if "{" + k + "}" in self.r.msgs[sentence_key]}
            ),
            focus=self.focus_of(rec.key) if not rec.is_array else self._layer_focus(rec.layer),
            sets=self.sets_of(rec, one_sample=self.batch and self.several and not mean),
        )
        state_key = f"lecture_state_{self.r.optimizer['name']}" if self.r.optimizer is not None else ""
        if rec.phase == "update" and rec.kind != "update":
            self.state_told = True  # the optimizer's quantities have slides of their own
        if rec.kind == "update" and state_key in self.r.msgs and not self.state_told:
            # the update's formula names v (m, s, ...): say what it is where it first appears
            slide.sentence += self.r.t("sentence_gap") + self.t(state_key)
            assert self.r.optimizer is not None
            if self.r.optimizer["name"] != "sgd" and self.r.optimizer.get("weight_decay"):
                # g is not the gradient the slides before showed: say what was added to it
                slide.sentence += self.r.t("sentence_gap") + self.t("lecture_state_sgd")
            self.state_told = True
        if rec.is_array:
            slide.equations = [self.block(rec.formula)] if rec.formula else []
            flat = _flat(rec.value)
            slide.table = [(escape(f"[{k}]"), self.num(x)) for k, x in enumerate(flat[:TABLE_ROWS])]
            slide.more = max(0, len(flat) - TABLE_ROWS)
        else:
            slide.equations = self.equation_lines(parts)
            if sentence_key == "lecture_delta_fused" and neuron:
                # the factors the slides before gave, summed over the layer, before the shortcut
                terms = self.r.softmax_sum_parts(neuron, src)
                slide.equations = self.equation_lines(terms) + slide.equations
        return slide

    def _layer_focus(self, layer: str | None) -> list[str]:
        lay = next((lay for lay in self.layers if lay.name == layer), None)
        if lay is None:
            return []
        return [node_id(n) for n in lay.neurons if n in self.owner][:64]

    def table_slide(self, recs: list[Record], title_key: str, layer: str, mean: bool = False) -> Slide:
        """The rest of a layer's quantities of one phase, as one step with a table."""
        sets: dict[str, str] = {}
        for rec in recs:
            sets.update(self.sets_of(rec, one_sample=self.batch and self.several and not mean))
        src = self.r.agg if mean else self.r.step
        rows = [
            (self.inline(self.r.sym(rec.key, src)), self.r.num_of(rec.key, rec.value))
            for rec in recs
            if not rec.is_array
        ]
        # where the biases are not trained, the picture's biases do not change: the sentence must not say so
        fixed = "_fixed" if title_key.startswith("lecture_rest_update") and not self.r.spec["update_biases"] else ""
        return Slide(
            key="",
            phase=recs[0].phase,
            title=self.t(title_key, layer=escape(layer)),
            sentence=self.t(f"{title_key}_sentence{fixed}"),
            table=rows[: TABLE_ROWS * 2],
            more=max(0, len(rows) - TABLE_ROWS * 2),
            focus=self._layer_focus(layer),
            sets=sets,
            sample=1 if self.several and not mean else None,
        )

    def derived_weights(self) -> set[str]:
        """The weights the report derives in full (one per layer), derived factor by factor here too."""
        return {self.r.derived(lay.index)[0] for lay in self.layers[1:]}

    def _where(self) -> str:
        """Where the picture puts the inputs and the biases: a shared bias above its layer, a
        neuron's own bias (and a one-neuron layer's) just above the neuron."""
        r = self.r
        shared = {lay.shares_bias for lay in self.layers[1:]}
        kind = "mixed" if len(shared) > 1 else ("shared" if True in shared else "own")
        return r.t(
            "lecture_where", inputs=r.tn("lecture_inputs", self.layers[0].size), biases=r.t(f"lecture_biases_{kind}")
        )

    def build(self) -> list[Slide]:
        r = self.r
        step = r.step
        intro = Slide(
            key="",
            phase="given",
            title=escape(r.plain_title),
            sentence=self.t(
                r.summed("lecture_intro_batch")
                if self.batch
                else ("lecture_intro_online" if self.several else "lecture_intro"),
                where=escape(self._where()),
            ),
            table=self._given_rows(),
        )
        rounding = r.spec.get("rounding", "exact")
        if rounding != "exact":  # else a carried 0.9116 for an exact 0.911625 looks like a slip
            kind, _, digits = rounding.partition(":")
            note = self.t("lecture_rounding_sig" if kind == "sig" else "lecture_rounding", digits=digits)
            intro.sentence += r.t("sentence_sep") + note
        intro.sentence += self.scope()
        intro.more = max(0, self._param_count() - len(intro.table))
        self.slides = [intro]
        if step is None or r.broken:
            return self.slides
        records = list(step.records)
        means = [rec for rec in r.agg.records if rec.kind in ("grad", "update", "total_error")] if r.agg else []
        derived = self.derived_weights()
        derived_neurons = {self.weight_ends[w][1] for w in derived if w in self.weight_ends}
        # a softmax neuron's δ sums ∂E/∂out over its whole layer: every term comes before that δ
        joint = {
            n
            for lay in self.layers[1:]
            if not r.elementwise(lay.index) and derived_neurons & set(lay.neurons)
            for n in lay.neurons
        }
        pending: dict[tuple[str, str], list[Record]] = {}

        def flush(phase: str | None = None) -> None:
            for (ph, layer), recs in list(pending.items()):
                if phase is None or ph == phase:
                    title = "lecture_rest_update" if ph == "update" else "lecture_rest"
                    if ph == "update" and r.optimizer is not None:
                        # the table also holds the derived weight's m, v, ...: not only "other parameters"
                        title += "_optimizer"
                    self.slides.append(self.table_slide(recs, title, layer))
                    del pending[(ph, layer)]

        group: tuple[str, str | None] = ("", None)  # the phase and layer of the records so far
        for rec in records:
            if group != (rec.phase, rec.layer):
                flush()  # a layer's table comes before the next layer's first step
                group = (rec.phase, rec.layer)
            if rec.is_array:
                self.slides.append(self.record_slide(rec, step))
                continue
            neuron, param = _about(rec.key)
            lay = self.owner.get(neuron or "") if neuron else None
            small = lay is None or lay.size <= SMALL_LAYER
            alone = (
                (rec.phase in ("forward", "loss") and (small or neuron == (lay.neuron(0) if lay else None)))
                or rec.key == "total_error"
                or (rec.phase == "backward" and (neuron in derived_neurons or param in derived))
                or (rec.key.startswith("partial.dE_total/dout_") and neuron in joint)
                or (rec.phase == "update" and rec.name in derived)
            )
            if alone:
                self.slides.append(self.record_slide(rec, step))
            else:
                pending.setdefault((rec.phase, rec.layer or ""), []).append(rec)
        flush()
        rest: dict[str, list[Record]] = {}
        for rec in means:  # the batch step: each derived weight's mean gradient and update, the rest as tables
            if rec.key == "total_error" or _about(rec.key)[1] in derived:
                self.slides.append(self.record_slide(rec, step, mean=True))
            elif rec.kind == "update":
                rest.setdefault(rec.layer or "", []).append(rec)
        for layer, recs in rest.items():
            slide = self.table_slide(recs, "lecture_rest_update", layer, mean=True)
            slide.phase = "batch"
            self.slides.append(slide)
        self.slides += self.closing()
        return self.slides

    def scope(self) -> str:
        """What the slides cover, said on the first one when the run makes more than one update: only
        the first update, and where in the report the others are."""
        r = self.r
        first = r.trace.first_update
        if first is None or r.total_updates <= 1:
            return ""
        said = [self.t("lecture_scope", total=str(r.total_updates), used=escape(r.sample_list(first["samples"])))]
        others = not r.batch and self.several and not r.any_big  # only then has the report that section
        if others:
            key = r.counted_key("lecture_scope_samples", len(r.sample_steps) - 1)
            said.append(self.t(key, section=escape(r.others_heading)))
        if r.optimizer is not None and len(r.update_steps(2)) > 1:
            # online over several samples, the report works step 2 under sample 2, not in the optimizer's section
            heading = (
                r.others_heading if others else r.t("optim_heading", name=r.t("optim_name_" + r.optimizer["name"]))
            )
            said.append(self.t("lecture_scope_optimizer", section=escape(heading)))
        if r.spec["iterations"] > 1 or r.several_batches:
            key = "lecture_scope_repeat" if r.spec["iterations"] > 1 else "lecture_scope_repeat_one"
            said.append(self.t(key, section=escape(r.t("repeat_heading"))))
        sep = r.t("sentence_sep")
        return sep + sep.join(said)

    def closing(self) -> list[Slide]:
        """The error after the update the slides showed, then (when the run goes on) what follows it."""
        r = self.r
        n_samples = len(r.spec["samples"])
        first = r.trace.first_update
        end = Slide(key="", phase="end", title=self.t("lecture_end_title"), sentence="")
        if first is not None:
            used = first["samples"]
            # the error the update set out to lower (sample 1's, or the batch's mean): did it?
            source = r.agg if len(used) > 1 else r.step
            before = source.get("total_error") if source is not None else None
            up = "_up" if before is not None and first["total_error"] > before.value else ""
            said_before = {"before": self.num(before.value)} if up and before is not None else {}
            end.sentence = (
                self.t("lecture_end_sample" + up, n=str(used[0]), **said_before)
                if len(used) == 1
                else self.t("lecture_end_batch" + up, **said_before)
            )
            # the batch's error after the update (E_batch), or the one sample's (E_total)
            error = r.etotal(r.agg) if len(used) > 1 and r.agg is not None else r"E_{\mathrm{total}}"
            end.equations = [self.block(error + "^{+} = " + self.r.summary_tex(first["total_error"]))]
            done = len(used)
        elif r.trace.final is not None:  # a trace written before first_update: say the value is the run's end
            end.sentence = self.t("lecture_end_run")
            end.equations = [self.block(r"E_{\mathrm{total}} = " + r.summary_tex(r.trace.final["total_error"]))]
            return [end]
        else:
            return [end]
        said: list[str] = []
        if done < n_samples:
            said.append(self.t("lecture_next_sample", n=str(done + 1)))
            if not r.batch and not r.any_big:  # only then has the report a section on the other samples
                said.append(self.t("lecture_next_samples_section", section=escape(r.others_heading)))
        if r.spec["iterations"] > 1:
            said.append(self.t("lecture_next_iterations", total=str(r.spec["iterations"])))
            said.append(self.t("lecture_next_repeat_section", section=escape(r.t("repeat_heading"))))
        if not said:
            return [end]
        then = Slide(key="", phase="end", title=self.t("lecture_next_title"), sentence=" ".join(said))
        return [end, then]

    # ------------------------------------------------------------ the picture

    def picture(self) -> str:
        layers = self.layers
        rows = max(len(_drawn(lay.size)) for lay in layers)
        width = COL_W * (len(layers) - 1) + 200
        height = ROW_H * rows + 90
        pos: dict[str, tuple[float, float]] = {}
        for lay in layers:
            idx = _drawn(lay.size)
            off = 50 + (rows - len(idx)) * ROW_H / 2 + ROW_H / 2 - 20
            for k, j in enumerate(idx):
                if j is not None:
                    pos[lay.neuron(j)] = (100 + lay.index * COL_W, off + k * ROW_H)
        body: list[str] = []
        values = self._given()
        for w, (src, dst) in self.weight_ends.items():
            if src not in pos or dst not in pos:
                continue
            (x1, y1), (x2, y2) = pos[src], pos[dst]
            d = math.hypot(x2 - x1, y2 - y1)
            ux, uy = (x2 - x1) / d, (y2 - y1) / d
            # an edge shows its labels only while lit, and the edges lit together meet at one neuron,
            # so at their midpoints they stand half a row apart
            lx, ly = (x1 + x2) / 2, (y1 + y2) / 2
            body.append(
                f'<g id="{edge_id(w)}" class="edge"><line x1="{_f(x1 + ux * R)}" y1="{_f(y1 + uy * R)}" '
                f'x2="{_f(x2 - ux * (R + 4))}" y2="{_f(y2 - uy * (R + 4))}"/>'
                f'<text id="{text_id(w, "w")}" class="wl" x="{_f(lx)}" y="{_f(ly - 6)}" text-anchor="middle">'
                f"{escape(values.get(w, ''))}</text>"
                f'<text id="{text_id(w, "g")}" class="wl gl" x="{_f(lx)}" y="{_f(ly + 17)}" text-anchor="middle"></text></g>'
            )
        for lay in layers:
            cls = "input" if lay.index == 0 else ("output" if lay.index == len(layers) - 1 else "hidden")
            idx = _drawn(lay.size)
            for k, j in enumerate(idx):
                if j is None:
                    x, y = pos[lay.neuron(idx[k - 1])]  # type: ignore[arg-type]
                    body.append(f'<text x="{_f(x)}" y="{_f(y + ROW_H / 2 + 6)}" text-anchor="middle">⋮</text>')
                    continue
                n = lay.neuron(j)
                x, y = pos[n]
                first = values.get(n, "")
                body.append(
                    f'<g id="{node_id(n)}" class="node {cls}"><circle cx="{_f(x)}" cy="{_f(y)}" r="{_f(R)}"/>'
                    f'<text x="{_f(x)}" y="{_f(y + 5)}" text-anchor="middle" class="nm">{escape(n)}</text>'
                    f'<text id="{text_id(n, "a")}" x="{_f(x)}" y="{_f(y + R + 16)}" text-anchor="middle" class="vl">{escape(first)}</text>'
                    f'<text id="{text_id(n, "b")}" x="{_f(x)}" y="{_f(y + R + 31)}" text-anchor="middle" class="vl"></text>'
                    f'<text id="{text_id(n, "d")}" x="{_f(x)}" y="{_f(y + R + 46)}" text-anchor="middle" class="vl dl"></text></g>'
                )
            if lay.index and lay.bias_name and lay.shares_bias:
                raw_b = self.r.spec["layers"][lay.index]["bias"]
                body.append(_bias_text(lay.bias_name, self.r.given(raw_b), 100 + lay.index * COL_W, 26))
            elif lay.index:  # a bias per neuron (or a one-neuron layer's): above its neuron, so none runs off
                raw = self.r.spec["layers"][lay.index]["bias"]
                for j in _drawn(lay.size):
                    if j is not None:
                        x, y = pos[lay.neuron(j)]
                        value = raw if lay.bias_name else raw[j]
                        body.append(_bias_text(lay.bias(j), self.r.given(value), x, y - R - 7))
        return (
            f'<svg xmlns="http://www.w3.org/2000/svg" id="net" viewBox="0 0 {_f(width)} {_f(height)}" '
            f'role="img" {FONT}><title>{escape(self.r.t("lecture_picture"))}</title>' + "".join(body) + "</svg>"
        )

    def _given(self) -> dict[str, str]:
        """The values the picture starts with: inputs on their neurons, weights on their edges."""
        spec = self.r.spec
        out = {}
        for n, x in zip(self.layers[0].neurons, spec["samples"][0]["input"]):
            out[n] = f"{n} = {self.r.given(x)}"
        for lay in self.layers[1:]:
            raw = spec["layers"][lay.index]["weights"]
            for w in self.weight_ends:
                pos = lay.weight_position(w)
                if pos is not None:
                    out[w] = f"{w} = {self.r.given(raw[pos[0]][pos[1]])}"
        return out

    def _given_rows(self) -> list[tuple[str, str]]:
        rows = []
        for lay in self.layers[1:]:
            raw = self.r.spec["layers"][lay.index]
            for k, w in enumerate(lay.weight_names()[: TABLE_ROWS * 2]):
                rows.append(
                    (
                        self.inline(names.param_symbol(w)),
                        self.r.given(raw["weights"][k // lay.prev_size][k % lay.prev_size]),
                    )
                )
            biases = [raw["bias"]] if lay.bias_name else raw["bias"]
            for b, x in zip(lay.biases, biases):
                rows.append((self.inline(names.param_symbol(b)), self.r.given(x)))
        return rows[: TABLE_ROWS * 2]

    def _param_count(self) -> int:
        return sum(lay.weight_count + len(lay.biases) for lay in self.layers[1:])


def _bias_text(name: str, value: str, x: float, y: float) -> str:
    """A bias on the picture, b with its subscript set as one (b_h1 → b over h1); the value sits in
    a text of its own, so a step can replace it without touching the typeset name."""
    sub_ = name[2:] if name.startswith("b_") else name[1:]
    return (
        f'<text x="{_f(x)}" y="{_f(y)}" text-anchor="middle" class="bl">b'
        f'<tspan class="sub" dy="4">{escape(sub_)}</tspan><tspan dy="-4" id="{text_id(name, "v")}"> = {escape(value)}</tspan></text>'
    )


def _flat(value: Any) -> list[float]:
    if isinstance(value, list) and value and isinstance(value[0], list):
        return [x for row in value for x in row]
    return list(value) if isinstance(value, list) else [value]


def script_hash(script: str) -> str:
    """The CSP source that allows exactly this inline script."""
    return "'sha256-" + base64.b64encode(hashlib.sha256(script.encode("utf-8")).digest()).decode("ascii") + "'"

"""SVG figures drawn from a trace: the network, the chain-rule path of a weight, the loss curve.

Plain string building, no plotting library: the figures must be byte-stable and self-contained.
Names from a spec are identifiers (checked when the spec is loaded) and every text is escaped.
"""

from __future__ import annotations

import functools
import itertools
import math
import re
from collections.abc import Callable, Sequence
from html import escape
from typing import Any

from .. import names, numfmt
from ..names import LayerLayout
from ..tracedata import Step

FONT = 'font-family="DejaVu Sans, Helvetica, Arial, sans-serif"'
MAX_DRAWN = 8  # neurons drawn per column; larger layers show the first and last with an ellipsis
MAX_LABELLED_EDGES = 16  # above this many edges between two layers, edge labels are left out
MAX_WIDTH = 1000.0  # the widest a network picture grows to make room for its labels
CLEAR = 4.0  # the least gap between a label and any other edge or label
ROOM = 12.0  # the gap around a weight label beyond which another edge no longer draws the eye


def _f(x: float) -> str:
    """Coordinates with one decimal: stable text, small files."""
    s = f"{x:.1f}"
    return "0" if s == "-0.0" else s[:-2] if s.endswith(".0") else s


_RUN = re.compile(r"(_\{[^{}]*\}|_[A-Za-z0-9+]+)")


def _runs(text: str) -> list[tuple[str, bool]]:
    """Plain text with subscripts ('net_{o1}', 'w_5') as (text, is_subscript) runs."""
    out = []
    for part in _RUN.split(text):
        if part.startswith("_"):
            out.append((part[1:].strip("{}"), True))
        elif part:
            out.append((part, False))
    return out


def label(text: str) -> str:
    """Plain text with subscripts as SVG tspans."""
    return "".join(
        f'<tspan baseline-shift="sub" font-size="75%">{escape(t)}</tspan>' if sub else escape(t)
        for t, sub in _runs(text)
    )


# advance widths in em, generous, for DejaVu Sans and its fallbacks: layout reserves at least this
_WIDE = dict.fromkeys("=+−×mwMW@", 0.9) | dict.fromkeys("∂δ", 0.65) | dict.fromkeys(" .,:;'|il!", 0.36)


def _em(c: str) -> float:
    if ord(c) >= 0x2E80:  # CJK and full-width punctuation
        return 1.0
    return _WIDE.get(c, 0.78 if c.isupper() else 0.66)


@functools.lru_cache(maxsize=8192)  # layout measures the same labels again and again
def text_width(text: str, size: float, bold: bool = False) -> float:
    w = sum(sum(_em(c) for c in t) * (0.75 if sub else 1.0) for t, sub in _runs(text))
    return w * size * (1.08 if bold else 1.0)


def _text(
    x: float,
    y: float,
    s: str,
    size: int = 13,
    anchor: str = "middle",
    weight: str = "normal",
    cls: str = "",
    shown: str | None = None,
) -> str:
    """A text element; ``shown`` is written in place of ``s`` (a label with a slot for its number)."""
    c = f' class="{cls}"' if cls else ""
    w = f' font-weight="{weight}"' if weight != "normal" else ""
    text = label(s if shown is None else shown)
    return f'<text x="{_f(x)}" y="{_f(y)}" font-size="{size}" text-anchor="{anchor}"{w}{c}>{text}</text>'


def _svg(width: float, height: float, body: list[str], title: str) -> str:
    return (
        f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {_f(width)} {_f(height)}" width="{_f(width)}" '
        f'height="{_f(height)}" role="img" {FONT}><title>{escape(title)}</title>' + "".join(body) + "</svg>"
    )


def _drawn(size: int) -> list[int | None]:
    """Indices of the neurons drawn in a column; None marks the ellipsis."""
    if size <= MAX_DRAWN:
        return list(range(size))
    return [0, 1, 2, None, size - 1]


def _neuron_text(neuron: str) -> str:
    """h1 -> h_{1}, h1_2 -> h_{1,2}: as the formulas write a neuron."""
    base, sub = names.neuron_parts(neuron)
    return f"{base}_{{{sub}}}" if sub else base


def _param_text(name: str) -> str:
    """w5 -> w_{5}, b1 -> b_{1}, b_h1 -> b_{h1}, b_h1_2 -> b_{h1,2}."""
    if name.startswith("b_"):
        return f"b_{{{names.subscript(name[2:])}}}"
    m = re.fullmatch(r"([wb])(\d+)", name)
    return f"{m.group(1)}_{{{m.group(2)}}}" if m else name


# ---------------------------------------------------------------- geometry

Box = tuple[float, float, float, float]  # x0, y0, x1, y1
Seg = tuple[float, float, float, float]  # x1, y1, x2, y2


def _text_box(x: float, y: float, s: str, size: float, bold: bool = False, pad: float = 3.0) -> Box:
    """The box a centred text at baseline y covers (descenders and subscripts included)."""
    w = text_width(s, size, bold)
    return (x - w / 2 - pad, y - size * 0.85 - pad, x + w / 2 + pad, y + size * 0.3 + pad)


def _overlap(a: Box, b: Box) -> bool:
    return a[0] < b[2] and b[0] < a[2] and a[1] < b[3] and b[1] < a[3]


def _clip(seg: Seg, box: Box) -> tuple[float, float] | None:
    """The parameter range [t0, t1] of a segment inside a box (Liang-Barsky), or None."""
    x1, y1, x2, y2 = seg
    # wholly to one side: most of the edges a label is tried against, answered at once
    if (x1 < box[0] and x2 < box[0]) or (x1 > box[2] and x2 > box[2]):
        return None
    if (y1 < box[1] and y2 < box[1]) or (y1 > box[3] and y2 > box[3]):
        return None
    dx, dy = x2 - x1, y2 - y1
    t0, t1 = 0.0, 1.0
    for p, q in ((-dx, x1 - box[0]), (dx, box[2] - x1), (-dy, y1 - box[1]), (dy, box[3] - y1)):
        if p == 0:
            if q < 0:
                return None
        else:
            r = q / p
            if p < 0:
                t0 = max(t0, r)
            else:
                t1 = min(t1, r)
    return (t0, t1) if t0 < t1 else None


def _point_gap(x: float, y: float, box: Box) -> float:
    return math.hypot(max(box[0] - x, 0.0, x - box[2]), max(box[1] - y, 0.0, y - box[3]))


def _point_seg(x: float, y: float, seg: Seg) -> float:
    x1, y1, x2, y2 = seg
    dx, dy = x2 - x1, y2 - y1
    t = max(0.0, min(1.0, ((x - x1) * dx + (y - y1) * dy) / (dx * dx + dy * dy or 1.0)))
    return math.hypot(x - x1 - t * dx, y - y1 - t * dy)


def _seg_gap(seg: Seg, box: Box) -> float:
    """The least distance between a segment and a box (0 where the segment enters it)."""
    if _clip(seg, box):
        return 0.0
    corners = ((box[0], box[1]), (box[2], box[1]), (box[0], box[3]), (box[2], box[3]))
    return min(
        _point_gap(seg[0], seg[1], box), _point_gap(seg[2], seg[3], box), *(_point_seg(x, y, seg) for x, y in corners)
    )


def _box_gap(a: Box, b: Box) -> float:
    return math.hypot(max(0.0, a[0] - b[2], b[0] - a[2]), max(0.0, a[1] - b[3], b[1] - a[3]))


def _room(box: Box, own: int, segs: list[Seg], boxes: list[Box]) -> float:
    """How far a label's box lies from every edge but its own and from every other box, up to ROOM."""
    near = (box[0] - ROOM, box[1] - ROOM, box[2] + ROOM, box[3] + ROOM)
    room = ROOM
    for k, seg in enumerate(segs):
        if k == own or max(seg[0], seg[2]) < near[0] or min(seg[0], seg[2]) > near[2]:
            continue
        if max(seg[1], seg[3]) < near[1] or min(seg[1], seg[3]) > near[3]:
            continue
        room = min(room, _seg_gap(seg, box))
    for b in boxes:
        if _overlap(near, b):
            room = min(room, _box_gap(box, b))
    return room


def _line(seg: Seg, attrs: str) -> str:
    x1, y1, x2, y2 = seg
    return f'<line x1="{_f(x1)}" y1="{_f(y1)}" x2="{_f(x2)}" y2="{_f(y2)}" {attrs}/>'


# ---------------------------------------------------------------- the network


def _port(rank: int, count: int) -> float:
    """The angle (from the horizontal, downwards positive) of the rank-th of count ports."""
    return (rank - (count - 1) / 2) * min(0.5, 2.8 / count)


BIAS_LINE = 'stroke="#9ca3af" stroke-width="1" stroke-dasharray="4 3"'
BIAS_LINK = 14.0  # the length of the dashed link from a neuron's own bias box to its circle


def _bias_box(box: Box) -> str:
    x0, y0, x1, y1 = box
    return (
        f'<rect x="{_f(x0)}" y="{_f(y0)}" width="{_f(x1 - x0)}" height="{_f(y1 - y0)}" rx="5" '
        'fill="#fef3c7" stroke="#b45309"/>'
    )


class _Crowded(Exception):
    """Labels do not fit at this spacing."""


def network(
    layers: list[LayerLayout], spec: dict[str, Any], digits: int, title: str, caption: Callable[[LayerLayout], str]
) -> str:
    """Neurons in columns, every edge labelled with its weight where no other edge or label is.

    Each label sits on its own edge, which is cut around it; a label that cannot be placed
    without another edge crossing it makes the picture wider and taller until every one fits
    (a layer pair with too many edges to label is drawn without labels).

    The layout reads no digit's value (every digit is as wide as any other): it is worked out
    for the numbers' skeletons, digits zeroed, with a slot where each number goes, and the
    numbers are put in afterwards. The variants of an exercise set, which differ in their digits,
    share one layout.
    """
    printed = _printed(layers, spec, digits)
    captions = tuple(caption(lay) for lay in layers)
    key = (tuple(layers), captions, title, tuple((slot, text.translate(_ZEROS)) for slot, text in printed.items()))
    template = _LAYOUTS.get(key)
    if template is None:
        if len(_LAYOUTS) >= 32:
            _LAYOUTS.clear()
        template = _LAYOUTS[key] = _laid_out(layers, dict(key[3]), title, captions)
    slots = list(printed.values())
    return _SLOT.sub(lambda m: escape(slots[int(m.group(1))]), template)


_ZEROS = str.maketrans("123456789", "000000000")
_SLOT = re.compile("\x00(\\d+)\x00")
_LAYOUTS: dict[Any, str] = {}
Slot = tuple[int, ...]  # (layer, j) for a bias, (layer, j, i) for a weight; j = -1 for a layer's one bias


def _printed(layers: list[LayerLayout], spec: dict[str, Any], digits: int) -> dict[Slot, str]:
    """The text of every number the picture can show, by slot, in a fixed order."""
    out: dict[Slot, str] = {}
    for lay in layers[1:]:
        raw = spec["layers"][lay.index]
        drawn = [j for j in _drawn(lay.size) if j is not None]
        if lay.bias_name:
            out[(lay.index, -1)] = numfmt.text(raw["bias"], digits)
        else:
            out.update(((lay.index, j), numfmt.text(raw["bias"][j], digits)) for j in drawn)
        if lay.index:
            src = [i for i in _drawn(lay.prev_size) if i is not None]
            out.update(((lay.index, j, i), numfmt.text(raw["weights"][j][i], digits)) for j in drawn for i in src)
    return out


def _laid_out(layers: list[LayerLayout], shapes: dict[Slot, str], title: str, captions: tuple[str, ...]) -> str:
    """The picture with a slot (\\x00k\\x00) where the k-th number goes, laid out for numbers of these shapes."""
    widest = max(len(_drawn(lay.size)) for lay in layers[:-1])
    caps = [text_width(c, 12) for c in captions]
    col_w0 = max(230.0, 80.0 * (widest + 1), *((a + b) / 2 + 24 for a, b in itertools.pairwise(caps)))
    labelled = {lay.index for lay in layers[1:] if lay.size * lay.prev_size <= MAX_LABELLED_EDGES}
    # a neuron's own bias box sits between it and its neighbour: rows far enough apart that the
    # box is plainly nearer its own neuron
    row_h0 = 114.0 if any(not lay.shares_bias for lay in layers[1:]) else 96.0
    while True:
        col_w, row_h = col_w0, row_h0
        while col_w * (len(layers) - 1) <= max(MAX_WIDTH, col_w0 * (len(layers) - 1)):
            try:
                return _network(layers, shapes, title, captions, col_w, row_h, labelled)
            except _Crowded as e:
                crowded = e.args[0]
            col_w, row_h = col_w * 1.12, row_h * 1.05
        # too wide to read once scaled to a page: this layer's weights stay in the tables only
        if crowded in labelled:
            labelled.discard(crowded)
        elif labelled:
            labelled.clear()
        else:
            # no room beside the neurons even without weight labels: biases go under the captions
            return _network(layers, shapes, title, captions, col_w0, 96.0, labelled, listed=True)


def _network(
    layers: list[LayerLayout],
    shapes: dict[Slot, str],
    title: str,
    captions: tuple[str, ...],
    col_w: float,
    row_h: float,
    labelled: set[int],
    listed: bool = False,
) -> str:
    order = {slot: k for k, slot in enumerate(shapes)}

    def value(name: str, slot: Slot) -> tuple[str, str]:
        """A parameter's label as measured (its number's shape) and as written (a slot for the number)."""
        return f"{name} = {shapes[slot]}", f"{name} = \x00{order[slot]}\x00"

    r = max(24.0, *(text_width(_neuron_text(lay.neuron(lay.size - 1)), 15, True) / 2 + 5 for lay in layers))
    # circles widened for long names need rows further apart, or the lowest port of one neuron
    # and the highest of the next meet
    row_h = max(row_h, 2 * r + 48)
    rows = max(len(_drawn(lay.size)) for lay in layers)
    margin = max(80.0, r + 12, *(text_width(captions[k], 12) / 2 + 8 for k in (0, -1)))
    top = 76.0
    width = col_w * (len(layers) - 1) + 2 * margin
    below = max(
        (len([j for j in _drawn(lay.size) if j is not None]) for lay in layers[1:] if not lay.shares_bias), default=0
    )
    height = top + row_h * rows + 56 + (16 * below if listed else 0)
    cap_y = top + row_h * rows + 40
    pos: dict[tuple[int, int], tuple[float, float]] = {}
    for lay in layers:
        idx = _drawn(lay.size)
        off = top + (rows - len(idx)) * row_h / 2 + row_h / 2
        for k, j in enumerate(idx):
            if j is not None:
                pos[(lay.index, j)] = (margin + lay.index * col_w, off + k * row_h)
    obstacles: list[Box] = [(x - r, y - r, x + r, y + r) for x, y in pos.values()]
    for lay, cap in zip(layers, captions):
        obstacles.append(_text_box(margin + lay.index * col_w, cap_y, cap, 12))
    # every edge first, so that each label can be checked against all of them
    wedges: list[tuple[LayerLayout, int, int, Seg]] = []
    others: list[str] = []  # bias boxes and their dashed lines
    bias_segs: list[Seg] = []
    texts: list[str] = []
    for lay in layers[1:]:
        prev = layers[lay.index - 1]
        src = [i for i in _drawn(prev.size) if i is not None]
        dst = [j for j in _drawn(lay.size) if j is not None]
        for a, i in enumerate(src):
            for b, j in enumerate(dst):
                # each edge leaves and arrives at a port of its own on the circle, spread by the
                # rank of the neuron at the other end, so that arrowheads never meet
                (x1, y1), (x2, y2) = pos[(prev.index, i)], pos[(lay.index, j)]
                out_a, in_a = _port(b, len(dst)), _port(a, len(src))
                px, py = x1 + r * math.cos(out_a), y1 + r * math.sin(out_a)
                qx, qy = x2 - (r + 3) * math.cos(in_a), y2 + (r + 3) * math.sin(in_a)
                wedges.append((lay, j, i, (px, py, qx, qy)))
        if lay.bias_name and lay.shares_bias:
            cx, by = margin + (lay.index - 0.5) * col_w, top - 40
            s, shown = value(_param_text(lay.bias_name), (lay.index, -1))
            bw = text_width(s, 12) + 16
            for j in (j for j in _drawn(lay.size) if j is not None):
                x2, y2 = pos[(lay.index, j)]
                seg = (cx + bw / 2 * 0.6, by + 12, x2 - r * 0.8, y2 - r * 0.6)
                bias_segs.append(seg)
                others.append(_line(seg, BIAS_LINE))
            others.append(_bias_box((cx - bw / 2, by - 13, cx + bw / 2, by + 11)))
            texts.append(_text(cx, by + 4, s, 12, cls="blabel", shown=shown))
            obstacles.append((cx - bw / 2, by - 13, cx + bw / 2, by + 11))
    segs = [e[3] for e in wedges] + bias_segs
    placed: list[Box] = []

    def free(box: Box, own: int | None = None) -> bool:
        x0, y0, x1, y1 = box = (
            box[0] - CLEAR,
            box[1] - CLEAR,
            box[2] + CLEAR,
            box[3] + CLEAR,
        )  # room to see which edge
        # written out, not with any() and _overlap: the layout tries this thousands of times a figure
        for boxes in (obstacles, placed):
            for b in boxes:
                if x0 < b[2] and b[0] < x1 and y0 < b[3] and b[1] < y1:
                    return False
        return not any(k != own and _clip(seg, box) for k, seg in enumerate(segs))

    # a neuron's own bias: a box like a shared bias's, right above (or below) its neuron and tied
    # to it by a short dashed link, so that it cannot be read as the neighbour's
    for lay in layers[1:]:
        if lay.shares_bias:
            continue
        drawn = [j for j in _drawn(lay.size) if j is not None]
        for j in drawn:
            x, y = pos[(lay.index, j)]
            s, shown = value(_param_text(lay.bias(j)), (lay.index, -1) if lay.bias_name else (lay.index, j))
            if listed:
                by = cap_y + 16 * (1 + drawn.index(j))
                placed.append(_text_box(x, by, s, 11))
                texts.append(_text(x, by, s, 11, cls="blabel", shown=shown))
                continue
            bw = text_width(s, 12) + 16
            for side in (-1, 1):
                # the box's centre line, BIAS_LINK beyond the circle
                by = y + side * (r + BIAS_LINK + 12)
                box = (x - bw / 2, by - 12, x + bw / 2, by + 12)
                link = (x, by - side * 12, x, y + side * r)
                strip = (x - CLEAR, min(link[1], link[3]), x + CLEAR, max(link[1], link[3]))
                if free(box) and not any(_clip(seg, strip) for seg in segs):
                    break
            else:
                raise _Crowded(-1)  # only more room helps
            placed.append(box)
            segs.append(link)
            others.append(_line(link, BIAS_LINE))
            others.append(_bias_box(box))
            texts.append(_text(x, by + 4, s, 12, cls="blabel", shown=shown))
    edges: list[str] = []
    labels: list[str] = []
    candidates = [0.5 + sign * k / 40 for k in range(0, 16) for sign in (1, -1)][1:]
    for k, (lay, j, i, seg) in enumerate(wedges):
        prev = layers[lay.index - 1]
        cut: tuple[float, float] | None = None
        if lay.index in labelled:
            s, shown = value(_param_text(lay.weight(j, i)), (lay.index, j, i))
            x1, y1, x2, y2 = seg
            # of the places where nothing touches the label, the one farthest from every other
            # edge, label and circle: a label just clear of a crossing still reads as the other
            # edge's, so one with ROOM all round is taken as soon as it turns up
            best: tuple[float, float, float, Box] | None = None
            for t in candidates:
                lx, ly = x1 + (x2 - x1) * t, y1 + (y2 - y1) * t
                box = _text_box(lx, ly + 4, s, 11)
                if free(box, own=k):
                    room = _room(box, k, segs, obstacles + placed)
                    if best is None or room > best[0]:
                        best = (room, lx, ly, box)
                    if room >= ROOM:
                        break
            if best is None:
                raise _Crowded(lay.index)
            _, lx, ly, box = best
            placed.append(box)
            labels.append(_text(lx, ly + 4, s, 11, cls="wlabel", shown=shown))
            cut = _clip(seg, (box[0] - 2, box[1] - 2, box[2] + 2, box[3] + 2))
        attrs = 'class="edge" stroke="#6b7280" stroke-width="1.2"'
        x1, y1, x2, y2 = seg
        if cut is None:
            edges.append(_line(seg, attrs + ' marker-end="url(#arrow)"'))
        else:
            t0, t1 = cut
            edges.append(_line((x1, y1, x1 + (x2 - x1) * t0, y1 + (y2 - y1) * t0), attrs))
            edges.append(_line((x1 + (x2 - x1) * t1, y1 + (y2 - y1) * t1, x2, y2), attrs + ' marker-end="url(#arrow)"'))
    nodes: list[str] = []
    for lay, cap in zip(layers, captions):
        fill = {0: "#dbeafe"}.get(lay.index, "#dcfce7" if lay.index == len(layers) - 1 else "#fae8ff")
        idx = _drawn(lay.size)
        for k, j in enumerate(idx):
            if j is None:
                x, y = pos[(lay.index, idx[k - 1])]  # type: ignore[index]
                nodes.append(_text(x, y + row_h / 2 + 5, "⋮", 22))
                continue
            x, y = pos[(lay.index, j)]
            nodes.append(
                f'<circle cx="{_f(x)}" cy="{_f(y)}" r="{_f(r)}" fill="{fill}" stroke="#374151" stroke-width="1.5"/>'
            )
            nodes.append(_text(x, y + 5, _neuron_text(lay.neuron(j)), 15, weight="bold"))
        nodes.append(_text(margin + lay.index * col_w, cap_y, cap, 12, cls="caption"))
    defs = (
        '<defs><marker id="arrow" viewBox="0 0 10 10" refX="9" refY="5" markerWidth="7" markerHeight="7" '
        'orient="auto-start-reverse"><path d="M0,0 L10,5 L0,10 z" fill="#6b7280"/></marker></defs>'
    )
    return _svg(width, height, [defs] + edges + others + labels + texts + nodes, title)


# ---------------------------------------------------------------- the chain-rule path of one weight


def _quantity(kind: str, neuron: str) -> str:
    """net_{o1}, out_{h1,2}, E_{o1}, δ_{o1}: a quantity of a neuron as figure text."""
    return f"{kind}_{{{names.subscript(neuron)}}}"


def _d(top: str, bottom: str) -> str:
    return f"∂{top}/∂{bottom}"


def chain(
    step: Step,
    lay: LayerLayout,
    down: list[LayerLayout],
    j: int,
    i: int,
    number: Callable[[str, float], str],
    title: str,
    mark: str = "",
) -> str:
    """The path from one weight to E_total, each edge labelled with its local derivative.

    An output weight: w -> net -> out -> E_total; with softmax, net_j reaches E_total through
    every output out_k (that coupling is the softmax Jacobian). A hidden weight fans out through
    every neuron of the next layer, whose edge to E_total carries that neuron's delta. ``mark``
    follows the symbol of every quantity of one sample (⁽¹⁾ in a batch), as in the formulas;
    ``number`` writes a value by its key, as the text does (a given one as given).
    """

    def _q(kind: str, neuron: str) -> str:
        return _quantity(kind + mark, neuron)

    e_total = f"E{mark}_{{total}}"
    w = lay.weight(j, i)
    n = lay.neuron(j)

    def val(key: str) -> float | None:
        rec = step.get(key)
        return None if rec is None or rec.is_array else float(rec.value)

    def shown(key: str, value: float | None = None) -> str | None:
        value = val(key) if value is None else value
        return None if value is None else number(key, value)

    wt = _param_text(w)
    columns: list[list[str]] = [[wt], [_q("net", n)]]
    edges: list[tuple[str, str, str, str | None]] = [
        (wt, _q("net", n), _d(_q("net", n), wt), shown(f"partial.dnet_{n}/d{w}"))
    ]
    if not down and lay.activation == "softmax":
        outs = [lay.neuron(k) for k in _drawn(lay.size) if k is not None]
        columns += [[_q("out", m) for m in outs], [e_total]]
        for m in outs:
            jac = val(f"partial.dout_{m}/dnet_{n}")
            om, on = val(f"out.{m}"), val(f"out.{n}")
            if jac is None and om is not None and on is not None:
                jac = om * ((m == n) - on)  # the softmax Jacobian, where the trace keeps only delta
            edges.append(
                (_q("net", n), _q("out", m), _d(_q("out", m), _q("net", n)), shown(f"partial.dout_{m}/dnet_{n}", jac))
            )
            edges.append((_q("out", m), e_total, _d(e_total, _q("out", m)), shown(f"partial.dE_total/dout_{m}")))
    elif not down:
        # three arrows for the three factors the text multiplies: out_k reaches E_total through its
        # own term E_k alone, and an arrow E_k -> E_total (derivative 1) would be a fourth
        columns += [[_q("out", n)], [e_total]]
        edges.append((_q("net", n), _q("out", n), _d(_q("out", n), _q("net", n)), shown(f"partial.dout_{n}/dnet_{n}")))
        edges.append((_q("out", n), e_total, _d(e_total, _q("out", n)), shown(f"partial.dE_total/dout_{n}")))
    else:
        nxt = down[0]
        columns.append([_q("out", n)])
        edges.append((_q("net", n), _q("out", n), _d(_q("out", n), _q("net", n)), shown(f"partial.dout_{n}/dnet_{n}")))
        drawn = [nxt.neuron(q) for q in _drawn(nxt.size) if q is not None]
        columns += [[_q("net", m) for m in drawn], [e_total]]
        for m in drawn:
            edges.append(
                (_q("out", n), _q("net", m), _d(_q("net", m), _q("out", n)), shown(f"partial.dnet_{m}/dout_{n}"))
            )
            edges.append((_q("net", m), e_total, _q("δ", m), shown(f"delta.{m}")))
    return _chain_svg(columns, edges, title)


def _chain_svg(
    columns: list[list[str]],
    edges: list[tuple[str, str, str, str | None]],
    title: str,
) -> str:
    """Columns of boxes joined by right-angled arrows, each label over its own horizontal stretch.

    A node with several arrows out sends them along a vertical bus beside it; a node with several
    arrows in is drawn tall enough for each to arrive straight at its own height, so arrowheads
    never meet and no arrow crosses a label.
    """
    row_h, box_h, bus, pad = 84.0, 30.0, 16.0, 10.0
    rows = max(len(c) for c in columns)
    fan_out = {a for a, *_ in edges if sum(e[0] == a for e in edges) > 1}
    fan_in = {b for _, b, *_ in edges if sum(e[1] == b for e in edges) > 1}
    ys: dict[str, float] = {}
    for col in columns:
        off = 12 + (rows - len(col)) * row_h / 2 + row_h / 2
        for k, name in enumerate(col):
            ys[name] = off + k * row_h
    span: dict[str, tuple[float, float]] = {}
    for name, y in ys.items():
        if name in fan_in:
            src = [ys[a] for a, b, *_ in edges if b == name]
            span[name] = (min(src) - box_h / 2, max(src) + box_h / 2)
        else:
            span[name] = (y - box_h / 2, y + box_h / 2)
    box_w = {name: max(76.0, text_width(name, 13) + 18) for name in ys}
    xs: dict[str, float] = {}
    x = 12.0
    for c, column in enumerate(columns):
        half = max(box_w[nm] for nm in column) / 2
        if c:
            into = [e for e in edges if e[1] in column]
            widest = max(
                max(text_width(sym, 11), text_width(v, 12, True) if v is not None else 0.0) for _, _, sym, v in into
            )
            gap = widest + 2 * pad + 8 + (bus if any(e[0] in fan_out for e in into) else 0.0)
            x += gap + half
        else:
            x += half
        for nm in column:
            xs[nm] = x
        x += half
    width, height = x + 12, rows * row_h + 24
    body = [
        '<defs><marker id="carrow" viewBox="0 0 10 10" refX="9" refY="5" markerWidth="7" markerHeight="7" '
        'orient="auto-start-reverse"><path d="M0,0 L10,5 L0,10 z" fill="#2563eb"/></marker></defs>'
    ]
    stroke = 'fill="none" stroke="#2563eb" stroke-width="1.4"'
    for a, b, sym, value in edges:
        sx, sy = xs[a] + box_w[a] / 2, ys[a]
        tx = xs[b] - box_w[b] / 2 - 2
        ty = sy if b in fan_in else ys[b]
        if ty == sy:
            body.append(_line((sx, sy, tx, ty), f'{stroke} marker-end="url(#carrow)"'))
            lx0 = sx + (bus if a in fan_out else 0.0)
        else:
            bx = sx + bus
            pts = f"{_f(sx)},{_f(sy)} {_f(bx)},{_f(sy)} {_f(bx)},{_f(ty)} {_f(tx)},{_f(ty)}"
            body.append(f'<polyline points="{pts}" {stroke} marker-end="url(#carrow)"/>')
            lx0 = bx
        mx = (lx0 + tx) / 2
        body.append(_text(mx, ty - 8, sym, 11))
        if value is not None:
            body.append(_text(mx, ty + 18, value, 12, weight="bold", cls="value"))
    for name in ys:
        (y0, y1), xc, bw = span[name], xs[name], box_w[name]
        body.append(
            f'<rect x="{_f(xc - bw / 2)}" y="{_f(y0)}" width="{_f(bw)}" height="{_f(y1 - y0)}" rx="6" '
            'fill="#eff6ff" stroke="#1d4ed8"/>'
        )
        body.append(_text(xc, (y0 + y1) / 2 + 5, name, 13))
    return _svg(width, height, body, title)


# ---------------------------------------------------------------- the loss curve


def _nice_ticks(lo: float, hi: float, n: int = 5) -> list[float]:
    if hi <= lo:
        return [lo]
    raw = (hi - lo) / n
    mag = 10 ** math.floor(math.log10(raw))
    step = next(m * mag for m in (1, 2, 2.5, 5, 10) if m * mag >= raw)
    start = math.ceil(lo / step) * step
    return [start + k * step for k in range(int((hi - start) / step + 1e-9) + 1)]


LONG = 65536  # histories longer than this are scanned with numpy (same points, tested)


def _envelope(values: Sequence[float], buckets: int) -> list[tuple[int, float]]:
    """At most 2 x buckets points that keep every bucket's lowest and highest value (the first of
    equals; a NaN that opens a bucket counts as both, as min() and max() see it)."""
    n = len(values)
    if n <= 2 * buckets:
        return list(enumerate(values))
    if n > LONG:
        found = _np_extremes(values, buckets)
        if found is not None:
            return found
    pts: list[tuple[int, float]] = []
    for b in range(buckets):
        a, z = b * n // buckets, (b + 1) * n // buckets
        at = values[a:z].__getitem__
        lo = a + min(range(z - a), key=at)
        hi = a + max(range(z - a), key=at)
        pts += [(k, values[k]) for k in sorted({lo, hi})]
    return pts


def _np_extremes(values: Sequence[float], buckets: int) -> list[tuple[int, float]] | None:
    """The envelope computed with numpy, or None when the history holds a NaN (numpy's argmin
    would pick it where min() passes over it)."""
    import numpy as np

    v = np.asarray(values, dtype=np.float64)
    if np.isnan(v).any():
        return None
    n = len(v)
    pts: list[tuple[int, float]] = []
    for b in range(buckets):
        a, z = b * n // buckets, (b + 1) * n // buckets
        chunk = v[a:z]
        lo, hi = a + int(chunk.argmin()), a + int(chunk.argmax())
        pts += [(k, values[k]) for k in sorted({lo, hi})]
    return pts


def _positive_range(values: Sequence[float]) -> tuple[float | None, float | None]:
    """The lowest and highest finite value above zero (None when there is none)."""
    if len(values) > LONG:
        import numpy as np

        v = np.asarray(values, dtype=np.float64)
        v = v[(v > 0) & (v < math.inf)]
        return (float(v.min()), float(v.max())) if len(v) else (None, None)
    # generators, not lists: a history can hold a million values
    lo = min((v for v in values if 0 < v < math.inf), default=None)
    hi = max((v for v in values if 0 < v < math.inf), default=None)
    return lo, hi


MARKED = 40  # histories this short get a dot on every iteration


def _cjk(text: str) -> bool:
    return any(ord(c) >= 0x2E80 for c in text)


def loss_curve(values: Sequence[float], title: str, x_label: str, y_label: str) -> str:
    width, height = 640.0, 320.0
    # Chinese turned on its side lies with every character on its back: such a value axis is
    # named above its top end, level, and the plot starts lower to make room
    level = _cjk(y_label)
    left, right, top, bottom = 78.0, 20.0, 40.0 if level else 20.0, 48.0
    pw, ph = width - left - right, height - top - bottom
    body: list[str] = []
    lo, hi = _positive_range(values)
    if lo is None or hi is None:
        return _svg(width, height, [_text(width / 2, height / 2, "—", 14)], title)
    log = hi / lo > 100
    if log:
        y0, y1 = math.floor(math.log10(lo)), math.ceil(math.log10(hi))
        ticks = [10.0**e for e in range(y0, y1 + 1)]

        def ymap(v: float) -> float:
            return top + ph * (1 - (math.log10(v) - y0) / max(y1 - y0, 1))

    else:
        ticks = _nice_ticks(0.0, hi * 1.05)
        if len(ticks) > 1 and ticks[-1] < hi:  # a labelled line above the highest point, not the frame
            ticks.append(ticks[-1] + (ticks[-1] - ticks[-2]))
        top_v = max(ticks[-1], hi)

        def ymap(v: float) -> float:
            return top + ph * (1 - v / top_v)

    n = len(values)

    def xmap(k: float) -> float:
        return left + pw * (k / max(n - 1, 1))

    for t in ticks:
        y = ymap(t) if (not log or t > 0) else top + ph
        body.append(f'<line x1="{_f(left)}" y1="{_f(y)}" x2="{_f(width - right)}" y2="{_f(y)}" stroke="#e5e7eb"/>')
        body.append(_text(left - 6, y + 4, numfmt.text(t, 3), 11, anchor="end"))
    for t in _nice_ticks(1, n):
        if float(t).is_integer() and 1 <= t <= n:
            x = xmap(t - 1)
            body.append(
                f'<line x1="{_f(x)}" y1="{_f(top + ph)}" x2="{_f(x)}" y2="{_f(top + ph + 5)}" stroke="#6b7280"/>'
            )
            body.append(_text(x, top + ph + 18, f"{int(t):,}", 11))
    pts = [(k, v) for k, v in _envelope(values, 300) if math.isfinite(v) and v > 0]
    path = " ".join(f"{_f(xmap(k))},{_f(ymap(v))}" for k, v in pts)
    body.append(f'<rect x="{_f(left)}" y="{_f(top)}" width="{_f(pw)}" height="{_f(ph)}" fill="none" stroke="#9ca3af"/>')
    body.append(f'<polyline points="{path}" fill="none" stroke="#dc2626" stroke-width="1.8"/>')
    if n <= MARKED:  # a few iterations are a few measurements: dots say where the values are
        body += [f'<circle cx="{_f(xmap(k))}" cy="{_f(ymap(v))}" r="3.5" fill="#dc2626"/>' for k, v in pts]
    body.append(_text(left + pw / 2, height - 8, x_label, 12))
    y_text = f"{y_label}{' (log)' if log else ''}"
    if level:
        body.append(_text(max(left, text_width(y_text, 12) / 2 + 8), top - 14, y_text, 12, cls="axis"))
    else:
        body.append(
            f'<text x="16" y="{_f(top + ph / 2)}" font-size="12" text-anchor="middle" class="axis" '
            f'transform="rotate(-90 16 {_f(top + ph / 2)})">{escape(y_text)}</text>'
        )
    return _svg(width, height, body, title)

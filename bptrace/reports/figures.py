"""SVG figures drawn from a trace: the network, the chain-rule path of a weight, the loss curve.

Plain string building, no plotting library: the figures must be byte-stable and self-contained.
Names from a spec are identifiers (checked when the spec is loaded) and every text is escaped.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Sequence
from html import escape
from typing import Any

from .. import numfmt
from ..names import LayerLayout
from ..tracedata import Step

FONT = 'font-family="DejaVu Sans, Helvetica, Arial, sans-serif"'
MAX_DRAWN = 8  # neurons drawn per column; larger layers show the first and last with an ellipsis
MAX_LABELLED_EDGES = 16  # above this many edges between two layers, edge labels are left out


def _f(x: float) -> str:
    """Coordinates with one decimal: stable text, small files."""
    s = f"{x:.1f}"
    return s[:-2] if s.endswith(".0") else s


def label(text: str) -> str:
    """Plain text with _x subscripts ('net_o1') as SVG tspans."""
    out = []
    for part in re.split(r"(_\{?[A-Za-z0-9+]+\}?)", text):
        if part.startswith("_"):
            sub = part[1:].strip("{}")
            out.append(f'<tspan baseline-shift="sub" font-size="75%">{escape(sub)}</tspan>')
        else:
            out.append(escape(part))
    return "".join(out)


def _text(
    x: float, y: float, s: str, size: int = 13, anchor: str = "middle", weight: str = "normal", cls: str = ""
) -> str:
    c = f' class="{cls}"' if cls else ""
    w = f' font-weight="{weight}"' if weight != "normal" else ""
    return f'<text x="{_f(x)}" y="{_f(y)}" font-size="{size}" text-anchor="{anchor}"{w}{c}>{label(s)}</text>'


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


# ---------------------------------------------------------------- the network


def network(
    layers: list[LayerLayout], spec: dict[str, Any], digits: int, title: str, caption: Callable[[LayerLayout], str]
) -> str:
    row_h, r = 96.0, 24.0
    rows = max(len(_drawn(lay.size)) for lay in layers)
    widest = max(len(_drawn(lay.size)) for lay in layers[:-1])
    col_w = max(230.0, 80.0 * (widest + 1))  # room for one label per source along each edge
    width = col_w * (len(layers) - 1) + 2 * 80
    height = row_h * rows + 110
    top = 70.0
    pos: dict[tuple[int, int], tuple[float, float]] = {}
    for lay in layers:
        idx = _drawn(lay.size)
        off = top + (rows - len(idx)) * row_h / 2 + row_h / 2
        for k, j in enumerate(idx):
            if j is not None:
                pos[(lay.index, j)] = (80 + lay.index * col_w, off + k * row_h)
    edges: list[str] = []
    labels: list[str] = []
    nodes: list[str] = []

    def fmt(x: float) -> str:
        return numfmt.text(x, min(digits, 4))  # a picture needs short numbers

    for lay in layers[1:]:
        raw = spec["layers"][lay.index]
        prev = layers[lay.index - 1]
        src_idx = [i for i in _drawn(prev.size) if i is not None]
        dst_idx = [j for j in _drawn(lay.size) if j is not None]
        labelled = prev.size * lay.size <= MAX_LABELLED_EDGES
        for i in src_idx:
            for j in dst_idx:
                (x1, y1), (x2, y2) = pos[(prev.index, i)], pos[(lay.index, j)]
                dx, dy = x2 - x1, y2 - y1
                d = math.hypot(dx, dy)
                ax, ay = x1 + dx * r / d, y1 + dy * r / d
                bx, by = x2 - dx * (r + 6) / d, y2 - dy * (r + 6) / d
                edges.append(
                    f'<line x1="{_f(ax)}" y1="{_f(ay)}" x2="{_f(bx)}" y2="{_f(by)}" class="edge" stroke="#6b7280" stroke-width="1.2" marker-end="url(#arrow)"/>'
                )
                if labelled:
                    # each source puts its labels at its own distance along the edges, so the
                    # labels of crossing edges do not land on the same spot
                    t = (i + 1) / (prev.size + 1)
                    lx, ly = x1 + dx * t, y1 + dy * t
                    s = f"{lay.weight(j, i)} = {fmt(raw['weights'][j][i])}"
                    wdt = 6.4 * len(s) + 6
                    labels.append(
                        f'<rect x="{_f(lx - wdt / 2)}" y="{_f(ly - 9)}" width="{_f(wdt)}" height="15" rx="3" fill="#ffffff" fill-opacity="0.92"/>'
                    )
                    labels.append(_text(lx, ly + 3, s.replace("w", "w_", 1), 11, cls="wlabel"))
        bias = raw["bias"]
        cx = 80 + (lay.index - 0.5) * col_w
        if lay.bias_name:
            by = top - 30
            for j in dst_idx:
                x2, y2 = pos[(lay.index, j)]
                edges.append(
                    f'<line x1="{_f(cx + 30)}" y1="{_f(by + 8)}" x2="{_f(x2 - r * 0.8)}" y2="{_f(y2 - r * 0.6)}" stroke="#9ca3af" stroke-width="1" stroke-dasharray="4 3"/>'
                )
            nodes.append(
                f'<rect x="{_f(cx - 34)}" y="{_f(by - 13)}" width="68" height="24" rx="5" fill="#fef3c7" stroke="#b45309"/>'
            )
            nodes.append(_text(cx, by + 4, f"{lay.bias_name.replace('b', 'b_', 1)} = {fmt(bias)}", 12))
        else:
            for j in dst_idx:
                x2, y2 = pos[(lay.index, j)]
                nodes.append(_text(x2, y2 + r + 15, f"b = {fmt(bias[j])}", 11, cls="blabel"))
    for lay in layers:
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
            nodes.append(_text(x, y + 5, f"{lay.name}_{j + 1}", 15, weight="bold"))
        nodes.append(_text(80 + lay.index * col_w, height - 16, f"{lay.name}: {caption(lay)}", 12, cls="caption"))
    defs = (
        '<defs><marker id="arrow" viewBox="0 0 10 10" refX="9" refY="5" markerWidth="7" markerHeight="7" '
        'orient="auto-start-reverse"><path d="M0,0 L10,5 L0,10 z" fill="#6b7280"/></marker></defs>'
    )
    return _svg(width, height, [defs] + edges + labels + nodes, title)


# ---------------------------------------------------------------- the chain-rule path of one weight


def _sym(name: str) -> str:
    """Plain-text names for the graph: net_o1, out_h1, E_total, w_5, b_1, b_h1."""
    if name.startswith(("net_", "out_", "E_")):
        return name
    if name.startswith("b_"):
        return name
    m = re.fullmatch(r"([wb])(\d+)", name)
    return f"{m.group(1)}_{m.group(2)}" if m else name


def chain(step: Step, lay: LayerLayout, down: list[LayerLayout], j: int, i: int, digits: int, title: str) -> str:
    """The path from one weight to E_total, each edge labelled with its local derivative.

    For an output weight: w -> net -> out -> E_k -> E_total. For a hidden weight the path fans out
    through every neuron of the next layer, whose edge to E_total carries that neuron's delta.
    """
    w = lay.weight(j, i)
    n = lay.neuron(j)

    def fmt(x: float) -> str:
        return numfmt.text(x, min(digits, 6))

    def val(key: str) -> float | None:
        rec = step.get(key)
        return None if rec is None else float(rec.value)

    columns: list[list[str]] = [[w], [f"net_{n}"], [f"out_{n}"]]
    edges: list[tuple[str, str, str, float | None]] = [
        (w, f"net_{n}", f"∂net_{n}/∂{_sym(w)}", val(f"partial.dnet_{n}/d{w}")),
        (f"net_{n}", f"out_{n}", f"∂out_{n}/∂net_{n}", val(f"partial.dout_{n}/dnet_{n}")),
    ]
    if not down:
        columns += [[f"E_{n}"], ["E_total"]]
        edges.append((f"out_{n}", f"E_{n}", f"∂E_{n}/∂out_{n}", val(f"partial.dE_total/dout_{n}")))
        edges.append((f"E_{n}", "E_total", "∂E_total/∂E_" + n, 1.0))
        if lay.activation == "softmax":  # out_n alone does not carry the effect: delta only
            columns = [[w], [f"net_{n}"], ["E_total"]]
            edges = [edges[0], (f"net_{n}", "E_total", f"δ_{n}", val(f"delta.{n}"))]
    else:
        nxt = down[0]
        drawn = [q for q in _drawn(nxt.size) if q is not None]
        columns += [[f"net_{nxt.neuron(q)}" for q in drawn], ["E_total"]]
        for q in drawn:
            m = nxt.neuron(q)
            edges.append((f"out_{n}", f"net_{m}", f"∂net_{m}/∂out_{n}", val(f"partial.dnet_{m}/dout_{n}")))
            edges.append((f"net_{m}", "E_total", f"δ_{m}", val(f"delta.{m}")))
    col_w, row_h, box = 178.0, 84.0, 76.0
    rows = max(len(c) for c in columns)
    width, height = col_w * (len(columns) - 1) + box + 24, row_h * rows + 24
    pos = {}
    for c, names_ in enumerate(columns):
        off = 12 + (rows - len(names_)) * row_h / 2 + row_h / 2
        for k, name in enumerate(names_):
            pos[name] = (box / 2 + 12 + c * col_w, off + k * row_h)
    body = [
        '<defs><marker id="carrow" viewBox="0 0 10 10" refX="9" refY="5" markerWidth="7" markerHeight="7" '
        'orient="auto-start-reverse"><path d="M0,0 L10,5 L0,10 z" fill="#2563eb"/></marker></defs>'
    ]
    for a, b, sym, value in edges:
        (x1, y1), (x2, y2) = pos[a], pos[b]
        body.append(
            f'<line x1="{_f(x1 + box / 2)}" y1="{_f(y1)}" x2="{_f(x2 - box / 2 - 4)}" y2="{_f(y2)}" stroke="#2563eb" stroke-width="1.4" marker-end="url(#carrow)"/>'
        )
        mx, my = (x1 + x2) / 2, (y1 + y2) / 2
        body.append(_text(mx, my - 7, sym, 11))
        if value is not None:
            body.append(_text(mx, my + 15, fmt(value), 12, weight="bold", cls="value"))
    for name, (x, y) in pos.items():
        body.append(
            f'<rect x="{_f(x - box / 2)}" y="{_f(y - 15)}" width="{_f(box)}" height="30" rx="6" fill="#eff6ff" stroke="#1d4ed8"/>'
        )
        body.append(_text(x, y + 5, _sym(name), 13))
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


def loss_curve(values: Sequence[float], title: str, x_label: str, y_label: str) -> str:
    width, height = 640.0, 320.0
    left, right, top, bottom = 78.0, 20.0, 20.0, 48.0
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
    body.append(_text(left + pw / 2, height - 8, x_label, 12))
    body.append(
        f'<text x="16" y="{_f(top + ph / 2)}" font-size="12" text-anchor="middle" transform="rotate(-90 16 {_f(top + ph / 2)})">'
        f"{escape(y_label)}{' (log)' if log else ''}</text>"
    )
    return _svg(width, height, body, title)

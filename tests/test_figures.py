"""The figures read cleanly: no label crossed by an edge or lying on another label, no two
arrowheads on one spot, and numbers at the report's precision. Boxes and segments are read back
from the SVG itself, with a text-width model of its own (DejaVu Sans advance widths)."""

from __future__ import annotations

import itertools
import json
import math
import re
import xml.etree.ElementTree as ET
from typing import Any

import pytest
from hypothesis import given, settings

import bptrace
import bptrace.reports
from bptrace import names

from strategies import specs

NS = "{http://www.w3.org/2000/svg}"
Box = tuple[float, float, float, float]
Seg = tuple[float, float, float, float]


def _em(c: str) -> float:
    if ord(c) >= 0x2E80:
        return 1.0
    if c in "mMW":
        return 0.98
    if c in "=w+−×":
        return 0.84
    if c in " .,:;-/il|!()":
        return 0.34
    return 0.64


def _text_box(el: ET.Element) -> Box:
    size = float(el.get("font-size", "13"))
    w = sum(_em(c) for c in el.text or "") * size
    for sub in el:
        w += sum(_em(c) for c in sub.text or "") * size * 0.75 + sum(_em(c) for c in sub.tail or "") * size
    if el.get("font-weight") == "bold":
        w *= 1.05
    x, y = float(el.get("x", "0")), float(el.get("y", "0"))
    x0 = {"middle": x - w / 2, "end": x - w}.get(el.get("text-anchor", "start"), x)
    return (x0, y - 0.8 * size, x0 + w, y + 0.28 * size)


def _flat(el: ET.Element) -> str:
    return "".join(el.itertext())


def parse(svg: str) -> tuple[list[tuple[str, Box]], list[Seg], list[tuple[float, float, float, float]]]:
    """Texts with their boxes, every drawn segment, and each arrow's last segment."""
    root = ET.fromstring(svg)
    texts = [(_flat(t), _text_box(t)) for t in root.iter(NS + "text")]
    segs: list[Seg] = []
    arrows = []
    for el in root.iter():
        if el.tag == NS + "line":
            pts = [
                (float(el.get("x1", "0")), float(el.get("y1", "0"))),
                (float(el.get("x2", "0")), float(el.get("y2", "0"))),
            ]
        elif el.tag == NS + "polyline":
            pts = [tuple(map(float, p.split(","))) for p in (el.get("points") or "").split()]  # type: ignore[misc]
        else:
            continue
        if el.get("stroke") == "#e5e7eb":  # the loss curve's grid
            continue
        segs += [(a[0], a[1], b[0], b[1]) for a, b in itertools.pairwise(pts)]
        if el.get("marker-end"):
            arrows.append((pts[-2][0], pts[-2][1], pts[-1][0], pts[-1][1]))
    return texts, segs, arrows


def _crosses(seg: Seg, box: Box) -> bool:
    x1, y1, x2, y2 = seg
    t0, t1 = 0.0, 1.0
    for p, q in ((x1 - x2, x1 - box[0]), (x2 - x1, box[2] - x1), (y1 - y2, y1 - box[1]), (y2 - y1, box[3] - y1)):
        if p == 0:
            if q < 0:
                return False
        elif p < 0:
            t0 = max(t0, q / p)
        else:
            t1 = min(t1, q / p)
    return t0 < t1


def problems(svg: str) -> list[str]:
    texts, segs, arrows = parse(svg)
    out = []
    for (ta, a), (tb, b) in itertools.combinations(texts, 2):
        if a[0] < b[2] and b[0] < a[2] and a[1] < b[3] and b[1] < a[3]:
            out.append(f"labels {ta!r} and {tb!r} overlap")
    for text, box in texts:
        out += [f"label {text!r} crossed by {seg}" for seg in segs if _crosses(seg, box)]
    tips = [(x2, y2, math.atan2(y2 - y1, x2 - x1)) for x1, y1, x2, y2 in arrows]
    for a, b in itertools.combinations(tips, 2):
        if math.dist(a[:2], b[:2]) < 9:
            out.append(f"arrowheads at {a[:2]} and {b[:2]} merge")
    return out


def _svgs(tr: bptrace.Trace) -> dict[str, str]:
    files = bptrace.reports.render_files(tr, ["md"])
    return {k: v for k, v in files.items() if k.endswith(".svg")}


NET_453: dict[str, Any] = {
    "title": "4-5-3",
    "learning_rate": 0.5,
    "init": {"method": "xavier", "seed": 7},
    "layers": [
        {"name": "i", "size": 4},
        {"name": "h", "size": 5, "bias": [0.01, -0.02, 0.03, 0.04, -0.05]},
        {"name": "o", "size": 3, "bias": [0.1, 0.2, 0.3]},
    ],
    "samples": [{"input": [0.1, 0.2, 0.3, 0.4], "target": [0.0, 1.0, 0.0]}],
}
DEEP: dict[str, Any] = {
    "learning_rate": 0.5,
    "layers": [
        {"name": "x", "size": 2},
        {"name": "h1", "size": 3, "activation": "tanh", "weights": [[0.1, 0.2], [0.3, -0.4], [0.5, 0.6]],
         "bias": [0.01, 0.02, 0.03]},
        {"name": "h2", "size": 2, "activation": "relu", "weights": [[0.1, 0.2, 0.3], [-0.3, 0.4, 0.5]],
         "bias": [0.1, 0.2]},
        {"name": "o", "size": 1, "weights": [[0.7, 0.8]], "bias": [0.3]},
    ],
    "samples": [{"input": [0.05, 0.1], "target": [0.9]}],
}  # fmt: skip
NETWORKS = {"article": "article", "softmax-3-3-3": "softmax", "4-5-3": NET_453, "2-3-2-1": DEEP}


@pytest.mark.parametrize("lang", ["en", "zh"])
@pytest.mark.parametrize("name", sorted(NETWORKS))
def test_no_label_is_crossed_or_covered(name: str, lang: str) -> None:
    tr = bptrace.trace(NETWORKS[name])
    files = bptrace.reports.render_files(tr, ["md"], lang=lang)
    svgs = {k: v for k, v in files.items() if k.endswith(".svg")}
    assert "figures/network.svg" in svgs and sum(k.startswith("figures/chain-") for k in svgs) >= 2
    for path, svg in svgs.items():
        assert problems(svg) == [], path


@settings(max_examples=25, deadline=None)
@given(specs(max_layers=4, max_size=5))
def test_random_networks_draw_cleanly(spec: dict[str, Any]) -> None:
    spec["iterations"] = 1
    for path, svg in _svgs(bptrace.trace(spec)).items():
        assert problems(svg) == [], path


def test_the_checker_sees_a_crossing() -> None:
    svg = (
        '<svg xmlns="http://www.w3.org/2000/svg"><line x1="0" y1="10" x2="100" y2="10"/>'
        '<text x="50" y="14" font-size="11" text-anchor="middle">w = 0.5</text>'
        '<line x1="0" y1="50" x2="40" y2="50" marker-end="url(#a)"/><line x1="0" y1="54" x2="40" y2="52" '
        'marker-end="url(#a)"/></svg>'
    )
    found = problems(svg)
    assert any("crossed" in p for p in found) and any("merge" in p for p in found)


def test_every_weight_and_bias_is_labelled_by_name() -> None:
    tr = bptrace.trace("softmax")
    texts = [t for t, _ in parse(_svgs(tr)["figures/network.svg"])[0]]
    spec = tr.full_spec()
    for lay in names.layout(spec)[1:]:
        raw = spec["layers"][lay.index]
        for j in range(lay.size):
            assert f"b{lay.neuron(j)} = {bptrace.numfmt.text(raw['bias'][j], 9)}" in texts  # b_{h1} = 0.01
            for i in range(lay.prev_size):
                w = lay.weight(j, i)
                assert f"w{w[1:]} = {bptrace.numfmt.text(raw['weights'][j][i], 9)}" in texts
    assert not any(t.startswith("b = ") for t in texts)


def test_figure_values_carry_the_report_digits() -> None:
    tr = bptrace.trace("article")
    svg = _svgs(tr)["figures/chain-w1.svg"]
    assert "0.241300709" in svg  # ∂out_h1/∂net_h1 as the text prints it, not 0.241301
    assert "0.2413" in bptrace.reports.render_files(tr, ["md"], digits=4)["figures/chain-w1.svg"]
    assert "0.24130071" not in bptrace.reports.render_files(tr, ["md"], digits=4)["figures/chain-w1.svg"]


def test_softmax_chain_goes_through_every_output() -> None:
    tr = bptrace.trace("softmax", loss="mse")
    svg = _svgs(tr)["figures/chain-w10.svg"]
    texts = [t for t, _ in parse(svg)[0]]
    for k in (1, 2, 3):
        assert f"outo{k}" in texts and f"∂outo{k}/∂neto1" in texts and f"∂Etotal/∂outo{k}" in texts
    jac = tr.value("partial.dout_o2/dnet_o1")
    assert bptrace.numfmt.text(jac, 9) in texts
    ce = bptrace.trace("softmax")  # cross-entropy keeps only δ; the figure still shows the Jacobian
    o1, o2 = ce.value("out.o1"), ce.value("out.o2")
    assert bptrace.numfmt.text(-o2 * o1, 9) in [t for t, _ in parse(_svgs(ce)["figures/chain-w10.svg"])[0]]


def test_network_labels_sit_on_their_own_edge() -> None:
    """A weight label interrupts its own edge: the label's anchor lies in the gap between the two pieces."""
    root = ET.fromstring(_svgs(bptrace.trace("softmax"))["figures/network.svg"])
    lines = [el for el in root.iter(NS + "line") if el.get("class") == "edge"]
    labels = [el for el in root.iter(NS + "text") if el.get("class") == "wlabel"]
    assert len(labels) == 18 and len(lines) == 36
    for k, lab in enumerate(labels):
        a, b = lines[2 * k], lines[2 * k + 1]
        cx, cy = float(lab.get("x", "0")), float(lab.get("y", "0")) - 4
        ax, ay = float(a.get("x2", "0")), float(a.get("y2", "0"))
        bx, by = float(b.get("x1", "0")), float(b.get("y1", "0"))
        assert ax < cx < bx
        assert math.isclose(ay + (by - ay) * (cx - ax) / (bx - ax), cy, abs_tol=0.3)
        assert re.fullmatch(r"w\d+ = -?[\d.]+", _flat(lab))


@pytest.mark.parametrize(
    "history", [[1.104535538, 1.061541739], [0.3, 0.2, 0.25, 0.1], [0.9 - 0.001 * k for k in range(500)]]
)
def test_a_loss_curve_labels_a_line_above_its_highest_point_and_dots_a_short_history(history: list[float]) -> None:
    from bptrace.reports.figures import MARKED, loss_curve

    root = ET.fromstring(loss_curve(history, "loss", "iteration", "total error"))
    ns = "{http://www.w3.org/2000/svg}"
    # the value axis's labels are the right-aligned ones (the iteration axis's are centred)
    labels = [float(t.text or "") for t in root.iter(f"{ns}text") if t.get("text-anchor") == "end"]
    assert len(labels) >= 3
    assert max(labels) >= max(history)  # the points do not run along the frame above the last tick
    dots = [c for c in root.iter(f"{ns}circle")]
    assert len(dots) == (len(history) if len(history) <= MARKED else 0)


def test_the_network_figure_is_drawn_once_for_the_pages_of_one_run(monkeypatch: pytest.MonkeyPatch) -> None:
    """An exercise's question and answer show one picture, drawn once; a change of any number,
    of the rounding or of the language draws it afresh."""
    from bptrace.reports import figures, view

    drawn: list[str] = []
    real = figures.network

    def counting(*a: Any, **k: Any) -> str:
        svg = real(*a, **k)
        drawn.append(svg)
        return svg

    monkeypatch.setattr(figures, "network", counting)
    view._NETWORK_SVGS.clear()
    spec = bptrace.load_spec("article").to_dict()
    tr = bptrace.trace(spec)
    question = bptrace.reports.render_files(tr, ["md"], template="question", context={"sheet": True})
    answer = bptrace.reports.render_files(tr, ["md"])
    assert len(drawn) == 1 and question["figures/network.svg"] == answer["figures/network.svg"] == drawn[0] + "\n"
    spec["layers"][1]["weights"][0][0] = 0.625
    changed = bptrace.reports.render_files(bptrace.trace(spec), ["md"])["figures/network.svg"]
    assert len(drawn) == 2 and "0.625" in changed and "0.625" not in drawn[0]
    bptrace.reports.render_files(tr, ["md"], digits=3)
    bptrace.reports.render_files(tr, ["md"], lang="zh")
    assert len(drawn) == 4


def _neuron_circles(root: ET.Element) -> dict[str, tuple[float, float, float]]:
    """Each neuron's name (as its circle shows it) with its centre and radius."""
    circles = [el for el in root.iter(NS + "circle")]
    texts = [el for el in root.iter(NS + "text") if el.get("font-weight") == "bold"]
    out = {}
    for c in circles:
        cx, cy, r = (float(c.get(a, "0")) for a in ("cx", "cy", "r"))
        t = next(
            t for t in texts if abs(float(t.get("x", "0")) - cx) < 0.5 and abs(float(t.get("y", "0")) - cy - 5) < 0.5
        )
        out[_flat(t)] = (cx, cy, r)
    return out


SPECS = __import__("pathlib").Path(__file__).parent / "specs" / "teach"
BIASED = {
    "xor": "xor",
    "softmax": "softmax",
    "article": "article",
    "adam": str(SPECS / "adam-deep.toml"),
    "2-3-2-1": DEEP,
}


@pytest.mark.parametrize("lang", ["en", "zh"])
@pytest.mark.parametrize("name", sorted(BIASED))
def test_every_bias_is_boxed_and_linked_to_its_own_neurons(name: str, lang: str) -> None:
    """A neuron's own bias is drawn as a shared one is: in a box, with a dashed link that ends on
    its neuron's circle, and nearer that neuron than any other; a shared bias links every neuron
    of its layer."""
    tr = bptrace.trace(BIASED[name])
    root = ET.fromstring(bptrace.reports.render_files(tr, ["md"], lang=lang)["figures/network.svg"])
    circles = _neuron_circles(root)
    rects = [tuple(float(el.get(a, "0")) for a in ("x", "y", "width", "height")) for el in root.iter(NS + "rect")]
    dashed = [
        tuple(float(el.get(a, "0")) for a in ("x1", "y1", "x2", "y2"))
        for el in root.iter(NS + "line")
        if el.get("stroke-dasharray")
    ]
    expected: dict[str, set[str]] = {}
    own_biases: set[str] = set()
    for lay in names.layout(tr.full_spec())[1:]:
        drawn = {lay.neuron(j).replace("_", ",") for j in range(lay.size)}  # h1_2 is drawn as h1,2
        if lay.bias_name:
            expected[lay.bias_name.replace("_", "")] = drawn
        else:
            expected.update({f"b{n}": {n} for n in drawn})
            own_biases |= {f"b{n}" for n in drawn}
    found: dict[str, set[str]] = {}
    for el in root.iter(NS + "text"):
        if el.get("class") != "blabel":
            continue
        bias = _flat(el).split(" = ")[0]
        x, y = float(el.get("x", "0")), float(el.get("y", "0")) - 4
        box = next(r for r in rects if r[0] < x < r[0] + r[2] and r[1] < y < r[1] + r[3])  # boxed
        x0, y0, x1, y1 = box[0], box[1], box[0] + box[2], box[1] + box[3]
        ends = []
        for a, b, c, d in dashed:
            on_box = x0 - 1 <= a <= x1 + 1 and y0 - 1 <= b <= y1 + 1
            if on_box:
                ends.append((c, d))
        linked = {
            n for n, (cx, cy, r) in circles.items() for ex, ey in ends if abs(math.dist((ex, ey), (cx, cy)) - r) < 1.5
        }
        assert len(linked) == len(ends), (bias, ends)  # every link ends on a circle
        found[bias] = linked
        if bias in own_biases:
            (own,) = linked
            centre = ((x0 + x1) / 2, (y0 + y1) / 2)
            nearest = min(circles, key=lambda n: math.dist(centre, circles[n][:2]))
            assert nearest == own, (bias, nearest)
    assert found == expected


def _gap(seg: Seg, box: Box) -> float:
    if _crosses(seg, box):
        return 0.0

    def to_box(x: float, y: float) -> float:
        return math.hypot(max(box[0] - x, 0, x - box[2]), max(box[1] - y, 0, y - box[3]))

    def to_seg(x: float, y: float) -> float:
        x1, y1, x2, y2 = seg
        dx, dy = x2 - x1, y2 - y1
        t = max(0.0, min(1.0, ((x - x1) * dx + (y - y1) * dy) / (dx * dx + dy * dy or 1.0)))
        return math.hypot(x - x1 - t * dx, y - y1 - t * dy)

    corners = [(x, y) for x in (box[0], box[2]) for y in (box[1], box[3])]
    return min(to_box(seg[0], seg[1]), to_box(seg[2], seg[3]), *(to_seg(x, y) for x, y in corners))


@pytest.mark.parametrize("name", sorted(BIASED))
def test_a_weight_label_keeps_clear_of_every_other_edge(name: str) -> None:
    """A label close to a crossing reads as the other edge's: each stays at least 11 px from
    every line but the two pieces of its own edge (placed first-fit at the middle of the edge,
    labels of the deeper networks sat 9.5 px from another edge)."""
    root = ET.fromstring(_svgs(bptrace.trace(BIASED[name]))["figures/network.svg"])
    lines = [
        (el.get("class"), tuple(float(el.get(a, "0")) for a in ("x1", "y1", "x2", "y2")))
        for el in root.iter(NS + "line")
    ]
    labels = [el for el in root.iter(NS + "text") if el.get("class") == "wlabel"]
    assert labels
    for lab in labels:
        box = _text_box(lab)
        ax, ay = float(lab.get("x", "0")), float(lab.get("y", "0")) - 4
        own = [
            seg
            for kind, seg in lines
            if kind == "edge"
            and abs((seg[2] - seg[0]) * (seg[1] - ay) - (seg[0] - ax) * (seg[3] - seg[1]))
            < 0.6 * math.hypot(seg[2] - seg[0], seg[3] - seg[1])
            and min(math.dist(seg[:2], (ax, ay)), math.dist(seg[2:], (ax, ay))) < 60
        ]
        assert len(own) == 2, _flat(lab)
        gap = min(_gap(seg, box) for _, seg in lines if seg not in own)
        assert gap >= 11, (_flat(lab), gap)


@pytest.mark.parametrize("log", [False, True])
def test_a_chinese_value_axis_is_named_level_above_the_plot(log: bool) -> None:
    """Chinese turned through 90° lies on its side, character by character: its axis name stands
    level above the axis's top end; a Latin one runs up the axis as before."""
    from bptrace.reports.figures import loss_curve

    history = [0.9 * 0.5**k for k in range(12)] if log else [0.69, 0.59]
    for name, level in (("平均误差", True), ("mean error", False)):
        root = ET.fromstring(loss_curve(history, "loss", "iteration", name))
        (axis,) = [t for t in root.iter(NS + "text") if t.get("class") == "axis"]
        assert _flat(axis) == name + (" (log)" if log else "")
        frame = next(r for r in root.iter(NS + "rect"))
        if level:
            assert axis.get("transform") is None
            box = _text_box(axis)
            assert box[3] < float(frame.get("y", "0"))  # above the plot, clear of its top tick label
            assert box[0] >= 0
        else:
            assert (axis.get("transform") or "").startswith("rotate(-90")
    # and in a Chinese report
    svg = _svgs(bptrace.trace("article", iterations=3))["figures/loss.svg"]
    zh = bptrace.reports.render_files(bptrace.trace("article", iterations=3), ["md"], lang="zh")["figures/loss.svg"]
    assert 'transform="rotate(-90' in svg and "rotate(" not in zh


def test_wide_circles_keep_their_arrowheads_apart() -> None:
    """Long layer names widen every circle: the rows move apart with them, or the lowest arrow into
    one neuron and the highest into the next end on one spot."""
    spec: dict[str, Any] = {
        "learning_rate": 0.5,
        "layers": [
            {"name": "x1", "size": 1},
            {"name": "h1", "size": 1, "activation": "leaky_relu", "weights": [[0.5]], "bias": [0.0]},
            {"name": "h2", "size": 1, "activation": "leaky_relu", "weights": [[0.5]], "bias": [0.0]},
            {"name": "hidden3", "size": 6, "activation": "leaky_relu", "weights": [[0.1]] * 6, "bias": [0.0] * 6},
            {"name": "o", "size": 2, "weights": [[0.1] * 6] * 2, "bias": [0.0, 0.0]},
        ],
        "samples": [{"input": [0.5], "target": [0.0, 1.0]}],
    }
    svg = _svgs(bptrace.trace(spec))["figures/network.svg"]
    assert problems(svg) == []


def test_networks_that_differ_only_in_their_digits_share_one_layout() -> None:
    from bptrace.reports import figures

    article = bptrace.load_spec("article").data
    other = json.loads(json.dumps(article))
    other["layers"][1]["weights"] = [[0.17, 0.3], [0.21, 0.4]]  # the shapes of 0.15, 0.2, 0.25, 0.3
    wider = json.loads(json.dumps(article))
    wider["layers"][1]["weights"][0][0] = 0.155

    def draw(spec: dict[str, Any]) -> str:
        layers = names.layout(spec)
        return figures.network(layers, spec, 9, "net", lambda lay: f"layer {lay.name}")

    figures._LAYOUTS.clear()
    fresh = draw(other)
    figures._LAYOUTS.clear()
    draw(article)
    assert draw(other) == fresh and len(figures._LAYOUTS) == 1  # laid out once, its own numbers put in
    assert 'w<tspan baseline-shift="sub" font-size="75%">1</tspan> = 0.17</text>' in fresh
    assert "\x00" not in fresh and "= 0.15<" not in fresh
    draw(wider)
    assert len(figures._LAYOUTS) == 2  # a number of another shape may need another layout

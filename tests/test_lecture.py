"""lecture.html: one offline page of slides on the network picture (the browser test drives it)."""

from __future__ import annotations

import base64
import hashlib
import json
import re
from html import unescape
from pathlib import Path
from typing import Any

import pytest

import bptrace
from bptrace import names, numfmt
from bptrace.reports import render_files

from lecture_specs import LECTURE_SPECS


def _page(name: str, lang: str = "en", **kw: Any) -> tuple[bptrace.Trace, str]:
    tr = bptrace.trace(LECTURE_SPECS[name], **kw)
    return tr, render_files(tr, ["lecture"], lang=lang)["lecture.html"]


def slides(page: str) -> list[dict[str, Any]]:
    out = []
    for m in re.finditer(
        r'<section class="slide[^"]*" id="step-(\d+)" data-key="([^"]*)" data-focus="([^"]*)" data-sets="([^"]*)">',
        page,
    ):
        out.append(
            {
                "n": int(m.group(1)),
                "key": m.group(2),
                "focus": m.group(3).split(),
                "sets": json.loads(unescape(m.group(4))),
            }
        )
    return out


def test_article_lecture_is_small_offline_and_allows_only_its_own_script() -> None:
    _, page = _page("article")
    assert len(page.encode()) < 300_000
    script = re.search(r"<script>(.*?)</script>", page, re.S)
    assert script is not None and page.count("<script") == 1
    digest = base64.b64encode(hashlib.sha256(script.group(1).encode()).digest()).decode()
    csp = re.search(r'http-equiv="Content-Security-Policy" content="([^"]+)"', page)
    assert csp is not None
    assert f"script-src 'sha256-{digest}'" in csp.group(1)
    assert "default-src 'none'" in csp.group(1) and "form-action 'none'" in csp.group(1)
    assert not re.search(r"(?:src|href)=", page)  # nothing to fetch, nothing to follow
    assert re.findall(r"https?://[^\s\"']+", page) == ["http://www.w3.org/2000/svg"] * page.count("<svg") + [
        "http://www.w3.org/1998/Math/MathML"
    ] * page.count("<math ")


def test_article_steps_follow_the_report() -> None:
    _, page = _page("article")
    ss = slides(page)
    keys = [s["key"] for s in ss if s["key"]]
    assert 28 <= len(ss) <= 45  # about a 5-minute lecture
    assert keys[:8] == ["net.h1", "out.h1", "net.h2", "out.h2", "net.o1", "out.o1", "net.o2", "out.o2"]
    # w5 and w1 are derived factor by factor, in the report's order
    assert keys.index("partial.dE_total/dout_o1") < keys.index("partial.dout_o1/dnet_o1") < keys.index("grad.w5")
    assert (
        keys.index("grad.w5") < keys.index("partial.dE_total/dout_h1") < keys.index("grad.w1") < keys.index("update.w1")
    )
    assert "grad.w6" not in keys  # the rest of a layer is one table step


@pytest.mark.parametrize("name", sorted(LECTURE_SPECS))
@pytest.mark.parametrize("lang", ["en", "zh"])
def test_each_step_lights_what_it_teaches_and_writes_the_trace_values(name: str, lang: str) -> None:
    tr, page = _page(name, lang)
    for s in slides(page):
        key = s["key"]
        kind, _, who = key.partition(".")
        if kind in ("net", "out", "delta", "error"):
            assert f"n-{who}" in s["focus"], key
        if kind in ("grad", "update") and who.startswith("w"):
            assert f"e-{who}" in s["focus"], key
        for tid, text in s["sets"].items():
            owner, line = tid[2:].rsplit("-", 1)
            label, value = text.split(" = ")
            quantity = {"a": "net", "b": "out", "d": "delta" if label == "δ" else "error", "g": "grad"}.get(line)
            if quantity is None:
                quantity = "update"
            assert value == numfmt.text(tr.value(f"{quantity}.{owner}"), 9), (key, tid)
    assert f'lang="{"zh-CN" if lang == "zh" else "en"}"' in page


def test_chinese_slides_are_chinese() -> None:
    tr, page = _page("article", "zh")
    page = page.replace(tr.spec["title"]["zh"], "")  # the spec's title is the user's text, in their words
    words = re.sub(
        r"<math.*?</math>|<svg.*?</svg>|<script>.*?</script>|<style>.*?</style>|<[^>]+>", " ", page, flags=re.S
    )
    english = set(re.findall(r"\b[a-z]{4,}\b", words)) - {"bptrace"}
    assert english == set()
    assert "前向传播" in page and "反向传播" in page


def test_render_of_a_saved_trace_gives_the_same_page(tmp_path: Path) -> None:
    tr, page = _page("softmax")
    back = bptrace.Trace.from_json(tr.to_json())
    assert render_files(back, ["lecture"])["lecture.html"] == page


def test_matrix_form_steps_by_layer() -> None:
    spec = {
        "learning_rate": 0.1,
        "layers": [
            {"name": "i", "size": 10},
            {"name": "h", "size": 9, "weights": [[0.01 * (i - j) for i in range(10)] for j in range(9)], "bias": 0.1},
            {"name": "o", "size": 2, "weights": [[0.1] * 9, [-0.1] * 9], "bias": 0.2},
        ],
        "samples": [{"input": [0.5] * 10, "target": [0.0, 1.0]}],
    }
    tr = bptrace.trace(spec, matrix_threshold=20)
    page = render_files(tr, ["lecture"])["lecture.html"]
    ss = slides(page)
    assert "net.h" in [s["key"] for s in ss]  # the layer's array record is one step
    first = next(s for s in ss if s["key"] == "net.h")
    assert first["sets"] == {"t-h1-a": f"net = {numfmt.text(tr.value('net.h1'), 9)}"}


def test_cli_writes_the_lecture_and_render_reproduces_it(tmp_path: Path) -> None:
    from bptrace.cli import cli

    assert cli(["run", "--format", "lecture,json", "-o", str(tmp_path / "a"), "-q"]) == 0
    assert (
        cli(["render", str(tmp_path / "a" / "trace.json"), "--format", "lecture", "-o", str(tmp_path / "b"), "-q"]) == 0
    )
    assert (tmp_path / "a" / "lecture.html").read_bytes() == (tmp_path / "b" / "lecture.html").read_bytes()


def test_a_batch_lecture_marks_its_sample_and_updates_with_the_mean() -> None:
    spec = bptrace.load_spec("article").to_dict()
    spec["mode"] = "batch"
    spec["samples"].append({"input": [0.3, 0.8], "target": [0.9, 0.2]})
    tr = bptrace.trace(spec)
    page = render_files(tr, ["lecture"])["lecture.html"]
    where = re.findall(r'<p class="where">([^<]*)</p>', page)
    assert all("sample 1" in w for w in where if w.startswith(("Forward pass", "Backward pass")))
    assert "the update then uses the mean of the gradients of the samples in its batch" in page
    mean_step = tr.steps.index(next(s for s in tr.steps if s.sample is None))
    batch = [s for s in slides(page) if s["key"] == "grad.w5"]
    assert len(batch) == 2  # sample 1's gradient, then the mean the update uses
    assert batch[1]["sets"] == {"t-w5-g": f"∂E/∂w5 = {numfmt.text(tr.value('grad.w5', step=mean_step), 9)}"}
    # sample 1's own gradient is marked (1) on the picture, as in the report, apart from the mean
    assert batch[0]["sets"] == {"t-w5-g": f"∂E⁽¹⁾/∂w5 = {numfmt.text(tr.value('grad.w5'), 9)}"}


@pytest.mark.parametrize("name", ["online", "iterated"])
def test_wording_names_delta_as_the_report_does_and_states_the_step_size(name: str) -> None:
    _, en = _page(name)
    assert "error signal δ" in en and "error term" not in en
    assert "the old value minus the learning rate η times its gradient" in en
    _, zh = _page(name, "zh")
    assert re.search(r"<title>课件：[^<]+</title>", zh) and "讲课" not in zh
    assert "误差项 δ" in zh
    assert "旧值减去学习率 η 与梯度的乘积" in zh and "步长为学习率" not in zh


def _closing(page: str) -> list[str]:
    """The text of the slides after the update (title, sentence, equations), tags dropped."""
    parts = re.findall(r'<section class="slide phase-end".*?</section>', page, re.S)
    return [re.sub(r"\s+", " ", unescape(re.sub(r"<[^>]+>", " ", p))) for p in parts]


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("online", 0.1776758259925786),  # sample 1 again, with the weights its own update made
        ("iterated", 0.3749425217016493),  # the error after iteration 1, which iteration 2 starts from
    ],
)
def test_the_last_error_belongs_to_the_update_shown(name: str, expected: float) -> None:
    tr, page = _page(name)
    assert tr.first_update == {"samples": [1], "total_error": pytest.approx(expected, rel=1e-12)}
    assert tr.final is not None and abs(tr.final["total_error"] - expected) > 0.01  # the run's end is another value
    if name == "iterated":
        assert tr.first_update["total_error"] == tr.history[1]  # one sample: iteration 2's error before its update
    end, then = _closing(page)
    value = numfmt.text(tr.first_update["total_error"], 9)
    assert "Sample 1's error, computed again with the updated weights" in end and value in end
    assert numfmt.text(tr.final["total_error"], 9) not in page
    if name == "online":
        assert "Sample 2 now starts from these new weights" in then
        assert "“The other sample of this iteration”" in then  # two samples: one other
    else:
        assert "The run has 2 iterations" in then and "“Repeat” gives the error of every iteration" in then
    zh_end, zh_then = _closing(_page(name, "zh")[1])
    assert "用更新后的权重重新计算样本 1 的误差" in zh_end and value in zh_end
    assert ("样本 2 从这组新权重出发" if name == "online" else "整个训练共 2 轮迭代") in zh_then


@pytest.mark.parametrize(
    ("source", "overrides"),
    [
        ("article", {}),  # one update in all: the run's end is that error
        ("xor", {"iterations": 3}),  # one batch of every sample: iteration 2 starts from it
        ("article", {"iterations": 2, "optimizer": {"name": "adam"}}),
        ("softmax", {"iterations": 2}),
    ],
)
def test_a_run_of_one_batch_takes_the_first_update_from_its_own_values(
    source: str, overrides: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    from bptrace import tracer
    from bptrace.spec import load_spec

    spec = load_spec(source, **overrides)
    again = tracer.first_update(spec, True, names.SCALAR_LIMIT)  # the update run once more, alone
    made = []
    real = tracer.make_engine
    monkeypatch.setattr(tracer, "make_engine", lambda *a: made.append(a) or real(*a))
    assert bptrace.trace(spec).first_update == again  # the same value, to the bit
    assert len(made) == 1  # and no second engine built for it


def test_a_single_update_run_ends_without_a_next_slide() -> None:
    tr, page = _page("deep")
    assert tr.first_update is not None and tr.final is not None
    assert tr.first_update["total_error"] == tr.final["total_error"]  # the run is that one update
    assert len(_closing(page)) == 1


def test_a_batch_run_ends_on_the_batch_error_after_its_update() -> None:
    spec = bptrace.load_spec("article").to_dict()
    spec.update(mode="batch", iterations=3)
    spec["samples"].append({"input": [0.3, 0.8], "target": [0.9, 0.2]})
    tr = bptrace.trace(spec)
    assert tr.first_update is not None and tr.first_update["samples"] == [1, 2]
    assert tr.first_update["total_error"] == pytest.approx(tr.history[1], rel=1e-12)
    end, then = _closing(render_files(tr, ["lecture"])["lecture.html"])
    assert "The error of the same batch" in end and numfmt.text(tr.first_update["total_error"], 9) in end
    assert "The run has 3 iterations" in then and "Sample" not in then


@pytest.mark.parametrize("name", ["online", "iterated"])
def test_biases_are_typeset_and_take_their_new_values(name: str) -> None:
    tr, page = _page(name)
    svg = re.search(r"<svg.*?</svg>", page, re.S)
    assert svg is not None
    assert "b_h1" not in re.sub(r'id="[^"]*"', "", svg.group(0))  # no bias written as code
    assert '>b<tspan class="sub" dy="4">h1</tspan><tspan dy="-4" id="t-b_h1-v"> = ' in svg.group(0)
    new = {k: v for s in slides(page) for k, v in s["sets"].items() if k.endswith("-v")}
    assert new["t-b_h1-v"] == f"⁺ = {numfmt.text(tr.value('update.b_h1'), 9)}"
    assert new["t-b2-v"] == f"⁺ = {numfmt.text(tr.value('update.b2'), 9)}"
    assert tr.value("update.b_h1") != tr.spec["layers"][1]["bias"][0]  # the picture shows a changed number
    rest = re.findall(r'<section class="slide phase-update".*?</section>', page, re.S)
    assert any("the biases on the picture now show theirs" in s for s in rest)
    assert "replace the old ones on the picture" not in page


def test_where_biases_stay_the_lecture_does_not_say_they_change() -> None:
    _, page = _page("article")
    assert "the biases stay as they are" in page and "now show theirs" not in page


@pytest.mark.parametrize("name", ["online", "iterated", "deep"])
def test_a_neurons_values_end_well_above_the_next_neurons_bias(name: str) -> None:
    _, page = _page(name)
    ys = {m.group(1): float(m.group(2)) for m in re.finditer(r'<text id="t-(\w+)-d" x="[^"]+" y="([^"]+)"', page)}
    bias_y = {
        m.group(2): float(m.group(1))
        for m in re.finditer(r'<text x="[^"]+" y="([^"]+)" text-anchor="middle" class="bl">b<tspan[^>]*>(\w+)<', page)
    }
    pairs = [(n, f"{n[:-1]}{int(n[-1]) + 1}") for n in ys if n[-1].isdigit()]
    checked = [bias_y[b] - ys[a] for a, b in pairs if b in bias_y]
    assert checked and min(checked) >= 24  # a clear gap: the bias reads as the lower neuron's


def test_an_online_lecture_says_the_samples_come_one_at_a_time() -> None:
    _, page = _page("online")
    assert "we follow sample 1 forward" in page and "We follow one sample forward" not in page
    _, zh = _page("online", "zh")
    assert "样本逐个处理" in zh


def test_a_mini_batch_lecture_names_the_next_batch_and_no_section_it_lacks() -> None:
    spec = bptrace.load_spec("article").to_dict()
    spec.update(mode="batch", batch_size=1)
    spec["samples"].append({"input": [0.3, 0.8], "target": [0.9, 0.2]})
    tr = bptrace.trace(spec)
    assert tr.first_update is not None and tr.first_update["samples"] == [1]
    end, then = _closing(render_files(tr, ["lecture"])["lecture.html"])
    assert numfmt.text(tr.first_update["total_error"], 9) in end
    assert "Sample 2 now starts from these new weights" in then and "section" not in then


@pytest.mark.parametrize("lang", ["en", "zh"])
def test_a_softmax_cross_term_lights_both_neurons_it_joins(lang: str) -> None:
    """∂out_o2/∂net_o1 says how o2 moves with o1's net input: the picture lights o1 and o2, though
    no edge joins them; a diagonal term lights its one neuron."""
    tr, page = _page("softmax", lang)
    steps = {s["key"]: s for s in slides(page)}
    out = tr.full_spec()["layers"][-1]
    assert out["activation"] == "softmax"
    jac = re.compile(r"partial\.dout_(\w+)/dnet_(\w+)")
    cross = {k: m.groups() for k in steps if (m := jac.fullmatch(k)) and m.group(1) != m.group(2)}
    assert cross, sorted(steps)
    for key, (top, by) in cross.items():
        assert steps[key]["focus"] == [f"n-{by}", f"n-{top}"], key
    diagonal = next(k for k in steps if re.fullmatch(r"partial\.dout_(\w+)/dnet_\1", k))
    assert len(steps[diagonal]["focus"]) == 1


def _first_slide_text(page: str) -> str:
    first = page.split('<section class="slide', 2)[1]
    return unescape(re.sub(r"<[^>]+>", " ", re.sub(r"<math.*?</math>", "", first, flags=re.S)))


@pytest.mark.parametrize("lang", ["en", "zh"])
def test_the_first_slide_says_which_update_the_slides_cover_and_where_the_rest_is(lang: str) -> None:
    en = lang == "en"
    _, online = _page("online", lang)  # two samples, online: two updates, sample 2's in the report
    text = _first_slide_text(online)
    if en:
        assert "These slides step through one update only, the first of the 2 in this run, made from sample 1;" in text
        assert "Sample 2 is worked in brief in the report's section “The other sample of this iteration”" in text
    else:
        assert "本次训练共 2 次更新，这里只演示由样本 1 算出的第一次，其余更新不在幻灯片上。" in text
        assert "样本 2 在完整推导的“本轮的另一个样本”一节中简要算出。" in text
    _, iterated = _page("iterated", lang)  # one sample, two iterations
    text = _first_slide_text(iterated)
    assert ("the first of the 2 in this run" if en else "本次训练共 2 次更新") in text
    assert ("the report's section “Repeat”" if en else "完整推导的“重复”一节") in text.replace(
        "The report", "the report"
    )
    assert ("other samples of this iteration" if en else "本轮其余样本") not in text
    _, article = _page("article", lang)  # one update in all: nothing left out, nothing to say
    assert ("These slides step through" if en else "这组幻灯片只演示") not in _first_slide_text(article)

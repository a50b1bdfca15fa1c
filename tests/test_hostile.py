"""Hostile input: a trace, a file or a folder made to attack the reports, the terminal or the machine."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

import bptrace
from bptrace import render

from conftest import run_cli

CORPUS = Path(__file__).parent / "corpus"
INJECTIONS = sorted(p.name for p in (CORPUS / "traces").glob("inject-*.json"))


def test_the_corpus_holds_the_injections() -> None:
    assert len(INJECTIONS) >= 11


@pytest.mark.parametrize("name", INJECTIONS)
def test_an_injected_trace_is_refused_by_the_api(name: str) -> None:
    text = (CORPUS / "traces" / name).read_text(encoding="utf-8")
    with pytest.raises(bptrace.SpecError) as e:
        render(bptrace.Trace.from_json(text))
    assert "\n" not in str(e.value)


def _wide(act: str, out: str, loss: str, digits_in_name: bool) -> dict[str, Any]:
    """A network traced in matrix form (80 weights into the hidden layer)."""
    return {
        "learning_rate": 0.1,
        "loss": loss,
        "init": {"method": "he", "seed": 0},
        "layers": [
            {"name": "i", "size": 10},
            {"name": "h2" if digits_in_name else "h", "size": 8, "activation": act, "bias": [0.1] * 8},
            {"name": "o", "size": 3, "activation": out},
        ],
        "samples": [{"input": [0.1] * 10, "target": [0, 1, 0]}, {"input": [0.2] * 10, "target": [1, 0, 0]}],
    }


VALID = [
    ("article", {}),
    ("article", {"hidden_delta_weights": "updated", "rounding": "sig:3"}),
    ("softmax", {"mode": "batch"}),
    ("xor", {"rounding": "hand:3", "iterations": 2, "detail": "all"}),
    (_wide("leaky_relu", "softmax", "cross_entropy", True), {}),
    (_wide("relu", "sigmoid", "mse", False), {"mode": "batch"}),
    ("article", {"learning_rate": 1e300, "iterations": 3}),
]


@pytest.mark.parametrize("spec, kw", VALID)
def test_every_name_of_a_valid_trace_fits_its_spec(spec: Any, kw: dict[str, Any]) -> None:
    text = bptrace.trace(spec, **kw).to_json()
    assert bptrace.Trace.from_json(text).to_json() == text


def test_a_diverged_trace_reads_back() -> None:
    spec = bptrace.load_spec("article").to_dict()
    for layer in spec["layers"][1:]:
        layer["activation"] = "linear"
    tr = bptrace.trace(spec, learning_rate=50.0, iterations=1000)
    assert tr.diverged is not None
    text = tr.to_json()
    assert bptrace.Trace.from_json(text).to_json() == text


def test_the_page_forbids_forms_and_a_base_address(article: bptrace.Trace) -> None:
    page = render(article, "html")
    csp = page.split('http-equiv="Content-Security-Policy" content="')[1].split('"')[0]
    assert "form-action 'none'" in csp and "base-uri 'none'" in csp and "default-src 'none'" in csp


def test_a_trace_whose_spec_would_draw_a_huge_network_is_refused_at_once() -> None:
    text = (CORPUS / "traces" / "spec-init-draws-too-much.json").read_bytes()
    assert len(text) < 40_000
    t = time.perf_counter()
    with pytest.raises(bptrace.SpecError) as e:
        bptrace.Trace.from_json(text)
    assert time.perf_counter() - t < 0.5
    assert e.value.path == "spec.layers[2].size" and "--no-limit" not in str(e.value)


def test_a_value_that_contradicts_its_expression_is_refused() -> None:
    d = json.loads(bptrace.trace("article").to_json())
    rec = next(r for r in d["steps"][0]["records"] if r["key"] == "grad.w5")
    rec["value"] = rec["value"] * (1 + 1e-6)
    with pytest.raises(bptrace.SpecError) as e:
        bptrace.Trace.from_dict(d)
    assert e.value.path.endswith(".value") and "not what its expression gives" in str(e.value)


def test_hand_rounded_values_fit_their_expressions_within_the_rounding() -> None:
    text = bptrace.trace("article", rounding="hand:2").to_json()
    assert bptrace.Trace.from_json(text).to_json() == text


def test_file_names_reach_the_terminal_escaped(tmp_path: Path) -> None:
    out = tmp_path / "out\x1b[2J\x07\nx"
    r = run_cli("run", "-o", str(out), "--format", "md")
    assert r.code == 0, r.err
    assert "\x1b" not in r.out and "\x07" not in r.out
    assert "out\\x1b[2J\\x07\\nx" in r.out
    assert r.out.count("\n") == len([p for p in out.rglob("*.*") if not p.name.startswith(".")])


def test_control_characters_of_the_title_do_not_reach_the_html_title() -> None:
    spec = bptrace.load_spec("article").to_dict()
    spec["title"] = "a\x00b\x1b[31mc\r\nd\x7fe<script>"
    page = render(bptrace.trace(spec), "html")
    title = page.split("<title>")[1].split("</title>")[0]
    assert title == "a b [31mc d e&lt;script&gt;"


# ---------------------------------------------------------------- files that are not files


@pytest.mark.parametrize("command", ["validate", "render", "check"])
def test_a_fifo_is_refused_not_waited_on(command: str, tmp_path: Path) -> None:
    fifo = tmp_path / "spec.json"
    os.mkfifo(fifo)
    args = {"validate": [str(fifo)], "render": [str(fifo)], "check": ["article", str(fifo)]}[command]
    r = subprocess.run(
        [sys.executable, "-m", "bptrace", command, *args],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert r.returncode == 2, r.stderr
    assert "not a regular file" in r.stderr and r.stderr.count("\n") == 1


@pytest.mark.parametrize("device", ["/dev/zero", "/dev/null"])
def test_a_device_is_refused(device: str) -> None:
    if not os.path.exists(device):
        pytest.skip(f"no {device} here")
    r = run_cli("validate", device)
    assert r.code == 2 and "not a regular file" in r.err
    r = run_cli("check", "article", device)
    assert r.code == 2 and "not a regular file" in r.err


def test_an_answers_file_has_a_size_limit(tmp_path: Path) -> None:
    answers = tmp_path / "answers.toml"
    answers.write_text('"out.h1" = 0.5933\n' + "# padding\n" * 200_000, encoding="utf-8")
    r = run_cli("check", "article", str(answers))
    assert r.code == 2 and "too large" in r.err


@pytest.mark.parametrize("mode", ["hand:١", "hand:٤", "sig:۳", "hand:１"])
def test_rounding_digits_are_ascii(mode: str) -> None:
    with pytest.raises(bptrace.SpecError) as e:
        bptrace.load_spec("article", rounding=mode)
    assert e.value.path == "rounding"


def test_examples_takes_a_built_in_name_not_a_path(tmp_path: Path) -> None:
    (tmp_path / "mine.toml").write_text('title = "not built in"\n', encoding="utf-8")
    for name in (str(tmp_path / "mine"), "../examples/article", "../../" * 8 + str(tmp_path / "mine")):
        r = run_cli("examples", name)
        assert r.code == 2 and "no built-in example" in r.err and r.out == ""
    assert run_cli("examples", "article").code == 0


# ---------------------------------------------------------------- divergence on the fast path


def _huge_weights(w: float, x: float) -> dict[str, Any]:
    spec = bptrace.load_spec("article").to_dict()
    spec["layers"][1]["weights"] = [[w, w], [0.25, 0.3]]
    spec["samples"][0]["input"] = [x, x]
    spec["iterations"] = 5
    return spec


@pytest.mark.parametrize("w, x", [(1e308, 0.05), (1.7e308, 1.0)])
def test_the_fast_path_and_the_traced_path_agree_on_divergence(w: float, x: float) -> None:
    outcomes = set()
    for detail in (0, 1, "all"):
        tr = bptrace.trace(_huge_weights(w, x), detail=detail)
        d = tr.diverged
        outcomes.add((d and (d["iteration"], d["quantity"]), tuple(tr.history)))
    assert len(outcomes) == 1, outcomes


ENGINE_CASES = [{}, {"mode": "batch"}, {"hidden_delta_weights": "updated"}, {"optimizer": {"name": "adam"}}]


@pytest.mark.parametrize("threshold", [64, 0], ids=["scalar", "matrix"])
@pytest.mark.parametrize("kw", ENGINE_CASES, ids=["online", "batch", "updated", "adam"])
def test_an_infinite_net_input_behind_a_sigmoid_diverges_on_every_engine(threshold: int, kw: dict[str, Any]) -> None:
    # 1.7e308 + 1.7e308 overflows to inf, sigmoid(inf) = 1, and every parameter stays finite
    spec = {**_huge_weights(1.7e308, 1.0), **kw}
    quantity = "net.h1" if threshold else "net.h[0]"
    for detail in (0, 1, "all"):
        tr = bptrace.trace(spec, detail=detail, matrix_threshold=threshold)
        assert tr.diverged is not None, (detail, list(tr.history))
        assert (tr.diverged["iteration"], tr.diverged["quantity"], list(tr.history)) == (1, quantity, [])


def _wide_with_huge_weights() -> dict[str, Any]:
    """A network traced in matrix form whose first hidden net input overflows to +inf."""
    spec = _wide("sigmoid", "sigmoid", "mse", False)
    del spec["init"]
    spec["layers"][1]["weights"] = [[1.7e308] * 10] + [[0.1] * 10] * 7
    spec["layers"][2]["weights"] = [[0.1] * 8] * 3
    spec["samples"] = [{"input": [1.0] * 10, "target": [0, 1, 0]}]
    spec["iterations"] = 3
    return spec


@pytest.mark.parametrize("detail", ["0", "1", "all"])
def test_a_hidden_infinite_net_input_exits_3_from_the_command_line(tmp_path: Path, detail: str) -> None:
    path = _spec_file(tmp_path, json.dumps(_wide_with_huge_weights()))
    r = run_cli("run", str(path), "--detail", detail, "-o", str(tmp_path / "out"), "--format", "json")
    assert r.code == 3 and "Traceback" not in r.err and "AssertionError" not in r.err
    assert r.err == "bptrace: training diverged at iteration 1, sample 1: net.h[0] is not finite\n"


def test_two_huge_finite_weights_are_no_internal_error(tmp_path: Path) -> None:
    path = tmp_path / "huge.json"
    path.write_text(json.dumps(_huge_weights(1e308, 0.05)), encoding="utf-8")
    r = run_cli("run", str(path), "-o", str(tmp_path / "out"), "--format", "json")
    assert r.code == 0, r.err


# ---------------------------------------------------------------- templates and API options


def _templates(tmp_path: Path, body: str) -> Path:
    folder = tmp_path / "tpl"
    folder.mkdir()
    (folder / "report.md.j2").write_text(body, encoding="utf-8")
    return folder


def test_a_template_cannot_reach_python(tmp_path: Path, article: bptrace.Trace) -> None:
    folder = _templates(tmp_path, "{{ r.__init__.__globals__['os'].popen('echo pwned').read() }}\n")
    with pytest.raises(bptrace.SpecError) as e:
        render(article, templates=folder)
    assert e.value.source == str(folder) and "pwned" not in str(e.value)
    r = run_cli("run", "--templates", str(folder), "-o", str(tmp_path / "out"))
    assert r.code == 2 and "pwned" not in r.out + r.err and not (tmp_path / "out").exists()


def test_a_users_folder_stays_sandboxed_beside_cached_built_ins(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, article: bptrace.Trace
) -> None:
    """The built-in templates render in a plain environment and a user's folder in the sandbox;
    both compile into one cache folder, and neither may load the other's compiled code."""
    monkeypatch.delenv("BPTRACE_NO_TEMPLATE_CACHE", raising=False)
    plain = render(article, "md")  # no cache yet: compiled afresh
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    block = '{% extends "default/report.md.j2" %}{% block intro %}Our own opening.{% endblock %}\n'
    folder = _templates(tmp_path, block)
    extended = render(article, "md", templates=folder)  # the sandbox compiles the built-ins it imports
    assert "Our own opening." in extended and extended.count("$$") == plain.count("$$")
    assert render(article, "md") == plain  # a plain environment, beside the sandbox's compiled files
    (folder / "report.md.j2").write_text(
        block.replace("Our own opening.", "{{ r.__init__.__globals__['os'].getcwd() }}"), encoding="utf-8"
    )
    with pytest.raises(bptrace.SpecError) as e:
        render(article, templates=folder)
    assert e.value.source == str(folder) and "SecurityError" in str(e.value)
    assert render(article, "md") == plain  # the built-ins again, from the cache


def test_a_template_that_raises_is_bad_input(tmp_path: Path) -> None:
    folder = _templates(tmp_path, "{{ 1 / 0 }}\n")
    r = run_cli("run", "--templates", str(folder), "-o", str(tmp_path / "out"))
    assert r.code == 2, r.err
    assert r.err.startswith(f"bptrace: {folder}: a template failed: ZeroDivisionError")


@pytest.mark.parametrize("digits", [0, -1, 100, "9", True, 2.5])
def test_render_refuses_bad_digits(digits: Any, article: bptrace.Trace) -> None:
    with pytest.raises(bptrace.SpecError) as e:
        render(article, digits=digits)
    assert e.value.path == "digits"


def test_render_refuses_typos(tmp_path: Path, article: bptrace.Trace) -> None:
    with pytest.raises(bptrace.SpecError) as e:
        render(article, templates=tmp_path / "no-such-folder")
    assert e.value.path == "templates"
    with pytest.raises(bptrace.SpecError) as e:
        render(article, figures="inlne")  # type: ignore[arg-type]
    assert e.value.path == "figures"


@pytest.mark.parametrize("where", ["history", "value", "final"])
def test_nan_in_a_trace_that_did_not_diverge_is_refused(where: str, article: bptrace.Trace) -> None:
    d = article.to_dict()
    if where == "history":
        d["history"]["total_error"][0] = float("nan")
    elif where == "value":
        d["steps"][0]["records"][0]["value"] = "NaN"
    else:
        d["final"]["total_error"] = "Infinity"
    text = json.dumps(d)  # NaN as the bare literal Python's json writes
    with pytest.raises(bptrace.SpecError) as e:
        bptrace.Trace.from_json(text)
    assert "not finite" in str(e.value)


def test_the_template_cache_is_the_users_own_and_a_planted_link_is_not_followed(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, article: bptrace.Trace
) -> None:
    monkeypatch.delenv("BPTRACE_NO_TEMPLATE_CACHE", raising=False)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "mine"))
    expected = render(article, "md")
    cache = tmp_path / "mine" / "bptrace" / "templates"
    assert any(cache.iterdir()) and cache.stat().st_mode & 0o077 == 0
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    (tmp_path / "planted" / "bptrace").mkdir(parents=True)
    (tmp_path / "planted" / "bptrace" / "templates").symlink_to(elsewhere)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "planted"))
    assert render(article, "md") == expected
    assert list(elsewhere.iterdir()) == []


# ---------------------------------------------------------------- errors said in one short line


def _spec_file(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "spec.json"
    path.write_text(text, encoding="utf-8")
    return path


def test_a_huge_unknown_key_is_not_echoed(tmp_path: Path) -> None:
    spec = bptrace.load_spec("article").to_dict()
    spec["k" * 1_000_000] = 1
    path = _spec_file(tmp_path, json.dumps(spec))
    t = time.perf_counter()
    r = run_cli("validate", str(path))
    assert time.perf_counter() - t < 2
    assert r.code == 2 and "unknown key" in r.err and len(r.err) < 400


@pytest.mark.parametrize(
    "value, expected",
    [
        (2**63, None),
        (10**400, "an integer of about 401 digits"),
        ("9" * 5000, "a number of more than 4300 digits"),
    ],
)
def test_huge_integers_are_said_by_their_size(value: Any, expected: str | None, tmp_path: Path) -> None:
    text = json.dumps(bptrace.load_spec("article").to_dict()).replace('"bias": 0.35', f'"bias": {value}')
    r = run_cli("validate", str(_spec_file(tmp_path, text)))
    if expected is None:  # 2**63 is a large finite number, not an infinity
        assert r.code == 0, r.err
        return
    assert r.code == 2 and expected in r.err and len(r.err) < 300
    assert "set_int_max_str_digits" not in r.err and "Infinity" not in r.err


@pytest.mark.parametrize("answer", ["1e400", "9" * 5000, "-" + "9" * 5000])
def test_check_refuses_absurd_answers_with_exit_2(answer: str, tmp_path: Path) -> None:
    for name, text in (("a.toml", f'"out.h1" = {answer}\n'), ("a.json", f'{{"out.h1": {answer}}}')):
        path = tmp_path / name
        path.write_text(text, encoding="utf-8")
        r = run_cli("check", "article", str(path))
        assert r.code == 2, r.err
        assert "internal error" not in r.err and len(r.err) < 300


def test_an_internal_fault_in_check_is_not_a_wrong_answer(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    import bptrace.grading

    def broken(*args: Any, **kwargs: Any) -> Any:
        raise RuntimeError("a bug")

    monkeypatch.setattr(bptrace.grading.Grader, "grade", broken)
    path = tmp_path / "a.toml"
    path.write_text('"out.h1" = 0.5933\n', encoding="utf-8")
    r = run_cli("check", "article", str(path))
    assert r.code not in (0, 1, 2) and "internal error" in r.err


def test_latex_a_template_breaks_is_bad_input(tmp_path: Path) -> None:
    body = '{% extends "default/report.md.j2" %}{% block intro %}$$\\frac{$$ $\\begin{x}$ $x^{${% endblock %}'
    folder = _templates(tmp_path, body)
    r = run_cli("run", "--templates", str(folder), "-o", str(tmp_path / "out"))
    assert r.code == 2 and r.err.startswith(f"bptrace: {folder}: a template failed"), r.err


def test_a_full_stdout_is_bad_input() -> None:
    if not os.path.exists("/dev/full"):
        pytest.skip("no /dev/full here")
    with open("/dev/full", "w", encoding="utf-8") as full:
        r = subprocess.run(
            [sys.executable, "-m", "bptrace", "run", "-o", "-", "--format", "md"], stdout=full, stderr=subprocess.PIPE
        )
    assert r.returncode == 2 and b"No space left" in r.stderr


@pytest.mark.parametrize("command", ["run", "validate"])
def test_a_path_too_long_is_bad_input(command: str) -> None:
    long = "a" * 5000
    r = run_cli("run", "-o", long) if command == "run" else run_cli("validate", long)
    assert r.code == 2, r.err
    assert len(r.err) < 400


# ---------------------------------------------------------------- a run is written whole


def _files(out: Path) -> dict[str, bytes]:
    return {
        str(p.relative_to(out)): p.read_bytes() for p in out.rglob("*") if p.is_file() and ".bptrace-run" not in p.name
    }


def test_a_shorter_run_leaves_no_stale_figure(tmp_path: Path) -> None:
    out = tmp_path / "out"
    assert run_cli("run", "--iterations", "50", "-o", str(out), "-q").code == 0
    assert (out / "figures" / "loss.svg").exists()
    assert run_cli("run", "-o", str(out), "-q").code == 0
    assert not (out / "figures" / "loss.svg").exists()
    fresh = tmp_path / "fresh"
    assert run_cli("run", "-o", str(fresh), "-q").code == 0
    assert _files(out) == _files(fresh)


def test_a_disk_that_fills_while_writing_leaves_the_last_run_whole(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import bptrace.output

    out = tmp_path / "out"
    assert run_cli("run", "-o", str(out), "-q").code == 0
    before = _files(out)
    calls = {"n": 0}
    real = bptrace.output._write_file

    def filling(path: Path, data: Any) -> None:
        calls["n"] += 1
        if calls["n"] == 3:
            raise OSError(28, "No space left on device")
        real(path, data)

    monkeypatch.setattr(bptrace.output, "_write_file", filling)
    r = run_cli("run", "xor", "-o", str(out))
    assert r.code == 2 and "No space left on device" in r.err
    assert _files(out) == before
    assert sorted(p.name for p in out.iterdir() if p.name.startswith(".")) == [".bptrace-run.json"]


def test_a_second_run_into_a_locked_folder_is_refused(tmp_path: Path) -> None:
    import fcntl

    out = tmp_path / "out"
    assert run_cli("run", "-o", str(out), "-q").code == 0
    before = _files(out)
    held = os.open(out, os.O_RDONLY)
    try:
        fcntl.flock(held, fcntl.LOCK_EX)
        r = run_cli("run", "xor", "-o", str(out))
    finally:
        os.close(held)
    assert r.code == 2 and "another bptrace run" in r.err
    assert _files(out) == before


def test_stale_temporaries_are_cleaned(tmp_path: Path) -> None:
    out = tmp_path / "out"
    (out / ".bptrace-staging-dead" / "figures").mkdir(parents=True)
    (out / ".bptrace-staging-dead" / "report.md").write_text("half", encoding="utf-8")
    (out / ".trace.json.abc123.tmp").write_text("{", encoding="utf-8")
    assert run_cli("run", "-o", str(out), "-q").code == 0
    assert sorted(p.name for p in out.iterdir() if p.name.startswith(".")) == [".bptrace-run.json"]


def test_sigterm_stops_a_run_like_sigint(tmp_path: Path) -> None:
    import signal

    out = tmp_path / "out"
    p = subprocess.Popen(
        [sys.executable, "-m", "bptrace", "run", "--iterations", "100000000", "--no-limit", "-o", str(out), "-q"],
        stderr=subprocess.PIPE,
        text=True,
    )
    time.sleep(3.0)  # well into tracing: a hundred million iterations take minutes
    p.send_signal(signal.SIGTERM)
    _, err = p.communicate(timeout=60)
    assert p.returncode == 143 and err == "bptrace: terminated\n"
    assert not out.exists() or not [f for f in out.rglob("*") if f.is_file() and ".bptrace-run" not in f.name]


# ---------------------------------------------------------------- the size of a report


def test_thousands_of_layers_are_refused_at_once(tmp_path: Path) -> None:
    layers = [{"name": "i", "size": 1}] + [
        {"name": f"l{'abcdefghij'[k % 10]}{k}x", "size": 1, "weights": [[0.5]]} for k in range(3000)
    ]
    spec = {"learning_rate": 0.1, "layers": layers, "samples": [{"input": [0.5], "target": [0.5]}]}
    path = _spec_file(tmp_path, json.dumps(spec))
    t = time.perf_counter()
    r = run_cli("run", str(path), "-o", str(tmp_path / "out"))
    assert time.perf_counter() - t < 2
    assert r.code == 2 and ": layers: expected at most 64 layers, got 3,001" in r.err


def test_many_samples_are_listed_first_and_last(tmp_path: Path) -> None:
    spec = bptrace.load_spec("article").to_dict()
    spec["samples"] = [{"input": [0.01 * (k % 97), 0.1], "target": [0.01, 0.99]} for k in range(500)]
    path = _spec_file(tmp_path, json.dumps(spec))
    out = tmp_path / "out"
    assert run_cli("run", str(path), "--detail", "0", "-o", str(out), "--format", "md", "-q").code == 0
    md = (out / "report.md").read_text(encoding="utf-8")
    assert "| 500 |" in md and "| 10 |" in md and "| 11 |" not in md and "| 250 |" not in md
    assert len(md) < 30_000


@pytest.mark.parametrize("mode", ["online", "batch"])
@pytest.mark.parametrize("lang, sentence", [
    ("en", "Listed here are samples 1 to 10 and sample 40; the 29 between them are left out"),
    ("zh", "这里列出第 1 至第 10 个样本和第 40 个样本，其间的 29 个样本从略"),
])  # fmt: skip
def test_a_traced_iteration_of_many_samples_lists_the_first_and_last(
    tmp_path: Path, mode: str, lang: str, sentence: str
) -> None:
    spec = bptrace.load_spec("article").to_dict()
    spec["mode"] = mode
    spec["samples"] = [{"input": [0.01 * k, 0.1], "target": [0.01, 0.99]} for k in range(40)]
    path = _spec_file(tmp_path, json.dumps(spec))
    out = tmp_path / "out"
    assert run_cli("run", str(path), "-o", str(out), "--format", "md", "--lang", lang, "-q").code == 0
    md = (out / "report.md").read_text(encoding="utf-8")
    # every list of samples (given, the traced iteration, the appendix, the final outputs) stops
    # after sample 10, jumps to sample 40 and says how many it left out
    assert "| 10 |" in md and "| 40 |" in md and "| 11 |" not in md and "| 39 |" not in md
    assert "sample 11 " not in md and "sample11." not in md and "sample39." not in md
    assert md.count(sentence) == 4  # online: other samples, batch: gradients by sample
    assert len(md) < 60_000


def _many_samples(n: int, **kw: Any) -> dict[str, Any]:
    spec = bptrace.load_spec("article").to_dict()
    spec["samples"] = [{"input": [0.01 * (k % 97), 0.1], "target": [0.01, 0.99]} for k in range(n)]
    return {**spec, **kw}


OUTPUT_CASES = [
    ("article", {}, None),
    ("softmax", {"optimizer": {"name": "adam"}}, None),
    ("xor", {"iterations": 20, "rounding": "hand:3"}, "all"),
    ("xor", {"mode": "batch", "batch_size": 2, "iterations": 3000}, None),
    (_many_samples(40), {}, None),
    (_many_samples(40, mode="batch"), {}, 2),
    (_many_samples(3000), {"iterations": 5}, 0),
    (_wide("sigmoid", "sigmoid", "mse", False), {}, "all"),
]


@pytest.mark.parametrize("spec, kw, detail", OUTPUT_CASES)
def test_the_output_estimate_is_no_less_than_what_a_run_writes(spec: Any, kw: dict[str, Any], detail: Any) -> None:
    from bptrace import guard, reports
    from bptrace.names import layout, matrix_mode

    loaded = bptrace.load_spec(spec, **kw)
    tr = bptrace.trace(loaded, detail=detail)
    written = len(tr.to_json()) + sum(len(text) for text in reports.render_files(tr, ["md", "html"]).values())
    n_detail = len({s.iteration for s in tr.steps})
    estimated = sum(guard.estimate_output(loaded, n_detail).values())
    # matrix form keeps far more in memory than its JSON and reports show: the estimate errs high
    most = 8 if matrix_mode(layout(loaded.data)) else 2
    assert written <= estimated <= most * written, (written, estimated)


@pytest.mark.parametrize("kw, detail, field", [
    ({"iterations": 20_000}, 0, "iterations"),
    ({"mode": "batch"}, 0, "samples"),
    ({}, 1, "detail"),
])  # fmt: skip
def test_a_run_that_would_write_too_much_is_refused_naming_its_field(
    kw: dict[str, Any], detail: int, field: str
) -> None:
    from bptrace import guard

    spec = bptrace.load_spec(_many_samples(2000, **kw))
    parts = guard.estimate_output(spec, detail)
    assert max(parts, key=lambda k: parts[k]) == field
    guard.check_resources(spec, detail, max_output=sum(parts.values()))
    with pytest.raises(bptrace.SpecError) as e:
        guard.check_resources(spec, detail, max_output=sum(parts.values()) - 1)
    assert e.value.path == field and "\n" not in str(e.value) and "--no-limit" in str(e.value)


def test_a_history_of_absurd_length_is_refused_before_any_work(tmp_path: Path) -> None:
    # twenty million iterations of a one-weight network is little work, but their error history
    # alone would be a 460 MB trace.json
    spec = {
        "learning_rate": 0.1,
        "layers": [{"name": "i", "size": 1}, {"name": "o", "size": 1, "weights": [[0.5]]}],
        "samples": [{"input": [0.5], "target": [0.2]}],
    }
    path = _spec_file(tmp_path, json.dumps(spec))
    out = tmp_path / "out"
    t = time.perf_counter()
    r = run_cli("run", str(path), "--iterations", "20000000", "-o", str(out))
    assert time.perf_counter() - t < 5
    assert r.code == 2 and r.out == "" and r.err.count("\n") == 1
    assert r.err.startswith(f"bptrace: {path}: iterations: this run would write about 460 MB of trace and reports")
    assert not out.exists()


# ---------------------------------------------------------------- exercises trust no [vary]


def test_an_absurd_spread_is_refused(tmp_path: Path) -> None:
    spec = bptrace.load_spec("article").to_dict()
    spec["vary"] = {"spread": 1e300}
    path = _spec_file(tmp_path, json.dumps(spec))
    r = run_cli("exercises", str(path), "--count", "2", "-o", str(tmp_path / "set"))
    assert r.code == 2 and r.err.startswith(f"bptrace: {path}: vary.spread: expected a number from 0 to 100")
    assert not (tmp_path / "set").exists() or not any((tmp_path / "set").iterdir())


def test_a_diverging_variant_is_refused_and_nothing_is_left(tmp_path: Path) -> None:
    spec = bptrace.load_spec("article").to_dict()
    for layer in spec["layers"][1:]:
        layer["activation"] = "linear"
    spec["learning_rate"] = 1e300
    spec["vary"] = {"weights": [1e5, 1e6]}
    path = _spec_file(tmp_path, json.dumps(spec))
    out = tmp_path / "set"
    r = run_cli("exercises", str(path), "--count", "3", "-o", str(out))
    assert r.code == 2, r.err
    assert r.err.startswith(f"bptrace: {path}: vary.weights: variant 1 diverges")
    assert sorted(p.name for p in out.iterdir()) == []


def test_a_broken_trace_raises_spec_error_from_the_api() -> None:
    text = (CORPUS / "traces" / "record-removed.json").read_text(encoding="utf-8")
    with pytest.raises(bptrace.SpecError) as e:
        render(bptrace.Trace.from_json(text), "html")
    assert e.value.path == "steps" and "do not fit the spec" in str(e.value)

"""bptrace exercises: a class set of variants with questions, worked answers and answer keys."""

from __future__ import annotations

import json
import re
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

import bptrace
from bptrace import exercises, numfmt

from conftest import run_cli

STUDENT = ["question.html", "question.md", "spec.json"]
TEACHER = ["answer.html", "answer.md", "answers.toml", "spec.json"]


@pytest.fixture(scope="module")
def exercise_set(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("set") / "class"
    r = run_cli("exercises", "article", "--count", "6", "--seed", "7", "-o", str(out), "--jobs", "1")
    assert r.code == 0, r.err
    return out


def _tree(folder: Path) -> dict[str, bytes]:
    return {str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


def test_count_and_layout(exercise_set: Path) -> None:
    assert sorted(p.name for p in exercise_set.iterdir()) == ["students", "teachers"]
    students, teachers = exercise_set / "students", exercise_set / "teachers"
    variants = sorted(p.name for p in students.iterdir() if p.is_dir())
    assert variants == ["001", "002", "003", "004", "005", "006"]
    assert sorted(p.name for p in teachers.iterdir() if p.is_dir()) == variants
    for v in variants:
        assert sorted(p.name for p in (students / v).iterdir() if p.is_file()) == STUDENT
        assert sorted(p.name for p in (teachers / v).iterdir() if p.is_file()) == TEACHER
        assert (students / v / "figures" / "network.svg").is_file()
        assert (teachers / v / "figures" / "network.svg").is_file()
    assert sorted(p.name for p in students.iterdir() if p.is_file()) == ["index.md"]  # no answer in reach
    assert sorted(p.name for p in teachers.iterdir() if p.is_file()) == ["class-summary.md", "index.md"]
    index = (teachers / "index.md").read_text(encoding="utf-8")
    assert "[question.md](../students/003/question.md)" in index and "[answers.toml](003/answers.toml)" in index
    assert "answer" not in (students / "index.md").read_text(encoding="utf-8").replace("answers.toml", "")
    sheet = (teachers / "class-summary.md").read_text(encoding="utf-8")
    assert "bptrace check teachers answers/ --summary class.csv" in sheet and "| `grad.w5` |" in sheet


def test_same_seed_same_bytes_and_parallel_is_the_same(exercise_set: Path, tmp_path: Path) -> None:
    again = tmp_path / "again"
    assert run_cli("exercises", "article", "--count", "6", "--seed", "7", "-o", str(again), "--jobs", "2").code == 0
    assert _tree(again) == _tree(exercise_set)
    other = tmp_path / "other"
    assert run_cli("exercises", "article", "--count", "6", "--seed", "8", "-o", str(other)).code == 0
    assert _tree(other)["teachers/001/spec.json"] != _tree(exercise_set)["teachers/001/spec.json"]


def test_variants_differ_and_stay_near_the_spec(exercise_set: Path) -> None:
    specs = [bptrace.load_spec(exercise_set / "teachers" / f"{k:03d}" / "spec.json") for k in range(1, 7)]
    weights = [tuple(tuple(r) for r in s["layers"][1]["weights"]) for s in specs]
    assert len(set(weights)) == 6
    for s in specs:
        for got, base in zip(s["layers"][1]["weights"][0], [0.15, 0.2]):
            assert abs(got - base) <= 0.1 + 1e-12 and round(got, 2) == got
        assert all(0 <= t <= 1 for t in s["samples"][0]["target"])


def test_each_answer_equals_bptrace_run_on_its_spec(exercise_set: Path, tmp_path: Path) -> None:
    for v in ("001", "004"):
        here = exercise_set / "teachers" / v
        out = tmp_path / v
        assert (exercise_set / "students" / v / "spec.json").read_bytes() == (here / "spec.json").read_bytes()
        assert run_cli("run", str(here / "spec.json"), "-o", str(out)).code == 0
        # the answer is the run's report with the values the sheet asks for put first
        answer_md = (here / "answer.md").read_text(encoding="utf-8")
        answer_html = (here / "answer.html").read_text(encoding="utf-8")
        sheet = re.search(r"\n\n\*\*The answers to the question sheet, worked out below:\*\*\n\n(\|.*\n)+", answer_md)
        assert sheet and sheet.group(0).count("\n| `") == len(
            exercises.asked_keys(bptrace.trace(here / "spec.json")) or []
        )
        assert (out / "report.md").read_text(encoding="utf-8") == answer_md.replace(sheet.group(0), "\n")
        html_sheet = re.search(r"<p><strong>The answers to the question sheet.*?</table>\n</div>\n", answer_html, re.S)
        assert html_sheet and (out / "report.html").read_text(encoding="utf-8") == answer_html.replace(
            html_sheet.group(0), ""
        )
        # and its answer key grades as all right
        r = run_cli("check", str(here / "spec.json"), str(here / "answers.toml"))
        assert r.code == 0, r.out
        key = tomllib.loads((here / "answers.toml").read_text(encoding="utf-8"))
        tr = bptrace.trace(here / "spec.json")
        assert key["out.o1"] == tr.value("out.o1") and key["update.w5"] == tr.value("update.w5")


def test_questions_hold_no_answers(exercise_set: Path) -> None:
    for v in ("001", "002", "003"):
        tr = bptrace.trace(exercise_set / "teachers" / v / "spec.json")
        question = (exercise_set / "students" / v / "question.md").read_text(encoding="utf-8")
        page = (exercise_set / "students" / v / "question.html").read_text(encoding="utf-8")
        asked = exercises.asked_keys(tr)
        assert asked is not None
        checked = 0
        for rec in tr.steps[0].records:
            if rec.key.startswith("partial.dnet_"):  # equal to an input or a weight, which are given
                continue
            shown = numfmt.text(rec.value)
            if len(shown.replace("-", "").replace("0.", "")) < 3:  # too short to tell from other numbers
                continue
            assert shown not in question and shown not in page, (v, rec.key, shown)
            assert (f"`{rec.key}`" in question) == (rec.key in asked)  # but it is asked for, if chosen
            checked += 1
        assert checked > 30


def test_vary_table_and_options(tmp_path: Path) -> None:
    spec = bptrace.load_spec("article").to_dict()
    spec["vary"] = {"weights": [0.1, 0.9], "inputs": False, "decimals": 1}
    import json

    path = tmp_path / "s.json"
    path.write_text(json.dumps(spec), encoding="utf-8")
    out = tmp_path / "v"
    assert run_cli("exercises", str(path), "--count", "3", "-o", str(out)).code == 0
    s = bptrace.load_spec(out / "teachers" / "002" / "spec.json")
    assert s["samples"][0]["input"] == [0.05, 0.1]
    ws = [w for row in s["layers"][2]["weights"] for w in row]
    assert all(0.1 <= w <= 0.9 and round(w, 1) == w for w in ws)
    assert run_cli("exercises", str(path), "--count", "0", "-o", str(tmp_path / "z")).code == 2


def test_softmax_targets_stay_a_distribution(tmp_path: Path) -> None:
    out = tmp_path / "sm"
    assert run_cli("exercises", "softmax", "--count", "3", "--seed", "1", "-o", str(out), "--lang", "zh").code == 0
    s = bptrace.load_spec(out / "teachers" / "003" / "spec.json")
    assert s["samples"][0]["target"] == [0, 1, 0]
    assert "需要计算的量" in (out / "students" / "003" / "question.md").read_text(encoding="utf-8")


def test_the_pool_uses_any_start_method_and_gives_the_same_bytes(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import warnings

    assert exercises.START_METHOD is None  # by default the pool starts workers the platform's way
    serial = tmp_path / "serial"
    exercises.make_set("article", serial, 20, 3, jobs=1)
    # spawn is what Windows and macOS use: workers import bptrace afresh and share nothing with this process
    monkeypatch.setattr(exercises, "START_METHOD", "spawn")
    pooled = tmp_path / "pooled"
    with warnings.catch_warnings():
        warnings.simplefilter("error", DeprecationWarning)  # Python 3.12 warns about fork in threaded processes
        exercises.make_set("article", pooled, 20, 3, jobs=2)
    assert _tree(pooled) == _tree(serial)


def _sigterm_is_default(_: int) -> bool:
    import signal

    return signal.getsignal(signal.SIGTERM) is signal.SIG_DFL


def test_pool_workers_die_quietly_when_the_pool_stops_them() -> None:
    import multiprocessing
    import signal

    from bptrace import cli

    # the command installs this handler before it makes a set; a forked worker inherits it, and the pool
    # ends its workers with SIGTERM, so each printed a traceback as the set finished
    old = signal.signal(signal.SIGTERM, cli._terminate)
    try:
        with multiprocessing.get_context("fork").Pool(2, initializer=exercises._quiet_worker) as pool:
            assert pool.map(_sigterm_is_default, [0, 1]) == [True, True]
    finally:
        signal.signal(signal.SIGTERM, old)


def test_a_pooled_set_writes_nothing_to_stderr(tmp_path: Path) -> None:
    for k in range(3):  # the stray tracebacks came in about half of all runs
        args = ["exercises", "article", "--count", "20", "--seed", "2", "-o", str(tmp_path / str(k)), "--jobs", "2"]
        r = subprocess.run([sys.executable, "-m", "bptrace", *args, "-q"], capture_output=True, text=True, timeout=120)
        assert (r.returncode, r.stderr) == (0, "")


# ---------------------------------------------------------------- what a sheet asks


def test_the_default_sheet_is_half_an_hour(exercise_set: Path) -> None:
    tr = bptrace.trace(exercise_set / "teachers" / "001" / "spec.json")
    assert exercises.asked_keys(tr) == [
        "net.h1", "out.h1", "net.h2", "out.h2", "net.o1", "out.o1", "net.o2", "out.o2",
        "error.o1", "error.o2", "total_error", "delta.o1", "delta.o2", "grad.w5",
        "delta.h1", "grad.w1", "update.w1", "update.w5",
    ]  # fmt: skip
    question = (exercise_set / "students" / "001" / "question.md").read_text(encoding="utf-8")
    assert question.count("＿＿＿＿＿＿＿＿") == 18  # a line to write on for each


def test_xor_asks_the_first_sample_not_175_quantities(tmp_path: Path) -> None:
    out = tmp_path / "x"
    assert run_cli("exercises", "xor", "--count", "1", "-o", str(out)).code == 0
    q = (out / "students" / "001" / "question.md").read_text(encoding="utf-8")
    asked = [line.split("`")[1] for line in q.splitlines() if line.startswith("| `")]
    assert len(asked) == 12
    # the first sample's values only; its own gradients named as answers.toml names them in a batch
    assert not any(k.startswith(("sample2", "sample3", "sample4", "batch")) for k in asked)
    assert [k for k in asked if "grad." in k] == [k for k in asked if k.startswith("sample1.grad.")]
    assert {"delta.y1", "delta.h1", "sample1.grad.w5", "sample1.grad.w1"} <= set(asked)
    every = tmp_path / "all"
    assert run_cli("exercises", "xor", "--count", "1", "--ask", "all", "-o", str(every)).code == 0
    q = (every / "students" / "001" / "question.md").read_text(encoding="utf-8")
    assert sum(line.startswith("| `") for line in q.splitlines()) > 150
    some = tmp_path / "some"
    assert run_cli("exercises", "xor", "--count", "1", "--ask", "out.*,sample2.out.y1", "-o", str(some)).code == 0
    q = (some / "students" / "001" / "question.md").read_text(encoding="utf-8")
    assert [line.split("`")[1] for line in q.splitlines() if line.startswith("| `")] == [
        "out.h1", "out.h2", "out.y1", "sample2.out.y1",
    ]  # fmt: skip
    bad = run_cli("exercises", "xor", "--count", "1", "--ask", "grad.w99", "-o", str(tmp_path / "bad"))
    assert bad.code == 2 and "ask" in bad.err and not (tmp_path / "bad" / "students").exists()


def test_the_chosen_gradients_have_inputs_that_are_not_zero() -> None:
    spec = bptrace.load_spec("xor").to_dict()
    spec["samples"][0]["input"] = [0.0, 1.0]  # i1 = 0: grad.w1 would be 0
    spec["vary"] = {"inputs": False}
    tr = bptrace.trace(spec)
    asked = exercises.asked_keys(tr)
    assert asked is not None and "sample1.grad.w1" not in asked and "sample1.grad.w2" in asked


def test_one_step_sheets_never_mention_iterations(tmp_path: Path) -> None:
    spec = bptrace.load_spec("article").to_dict()
    spec["iterations"] = 5000
    path = tmp_path / "long.json"
    path.write_text(json.dumps(spec), encoding="utf-8")
    for lang, words in (("en", ("iteration", "Repeat")), ("zh", ("轮", "迭代", "重复"))):
        out = tmp_path / lang
        assert run_cli("exercises", str(path), "--count", "2", "--lang", lang, "-o", str(out)).code == 0
        for v in ("001", "002"):
            q = (out / "students" / v / "question.md").read_text(encoding="utf-8")
            assert not any(w in q for w in words), (lang, v)
            assert bptrace.load_spec(out / "students" / v / "spec.json")["iterations"] == 1
            assert "5000" not in (out / "teachers" / v / "answer.md").read_text(encoding="utf-8")


def test_drawn_inputs_stay_away_from_zero() -> None:
    spec = bptrace.load_spec("xor")  # inputs of 0 and 1, drawn within ±0.1
    vary = exercises._settings(spec, None, None)
    drawn = [x for n in range(1, 201) for s in exercises.variant(spec, 5, n, vary)["samples"] for x in s["input"]]
    assert min(abs(x) for x in drawn) >= 0.05 and all(round(x, 2) == x for x in drawn)
    assert any(x < 0 for x in drawn) and any(0 < x < 0.11 for x in drawn)  # both sides of a 0 are used
    one = exercises._settings(spec, None, 1)  # one decimal: ±0.1 is the nearest the grid allows
    drawn = [x for n in range(1, 50) for s in exercises.variant(spec, 5, n, one)["samples"] for x in s["input"]]
    assert min(abs(x) for x in drawn) >= 0.05
    fixed = bptrace.load_spec("xor").to_dict() | {"vary": {"inputs": False}}
    s = bptrace.load_spec(fixed)
    assert exercises.variant(s, 5, 1, exercises._settings(s, None, None))["samples"][0]["input"] == [0, 1]


_LATIN = re.compile(r"[A-Za-z]{2,}")


def test_a_chinese_set_is_chinese_throughout(tmp_path: Path) -> None:
    out = tmp_path / "zh"
    assert run_cli("exercises", "article", "--count", "2", "--lang", "zh", "-o", str(out)).code == 0
    title = "A step-by-step backpropagation example"  # the spec's own title is the teacher's text
    pages = [out / "teachers" / "index.md", out / "students" / "index.md", out / "teachers" / "class-summary.md"]
    pages += [out / "students" / "001" / "question.md"]
    for page in pages:
        text = page.read_text(encoding="utf-8").replace(title, "")
        text = re.sub(r"\$[^$]*\$|`[^`]*`|\([^()]*\.(md|html|toml|svg)\)|\[[a-z]+\.(md|html|toml)\]", " ", text)
        text = re.sub(r"[a-z-]+\.(md|csv|toml|html|json)\b", " ", text)  # file names
        text = text.replace("bptrace check teachers answers/ --summary", " ")
        # function and library names Chinese textbooks write in Latin letters too (sigmoid 函数)
        left = [
            w for w in _LATIN.findall(text) if w not in {"sigmoid", "tanh", "ReLU", "softmax", "PyTorch", "MSELoss"}
        ]
        assert left == [], (page.name, left)
        assert "：" in text or "，" in text


# ---------------------------------------------------------------- grading a class of variants


def test_a_class_of_variants_is_graded_each_by_its_own(tmp_path: Path) -> None:
    """30 students, one variant each; 25 of them make one classic slip worked from their own
    variant's numbers. The class summary counts exactly what was put in."""
    import csv
    import math

    out = tmp_path / "set"
    assert run_cli("exercises", "article", "--count", "30", "--seed", "11", "-o", str(out), "--jobs", "1").code == 0
    answers = tmp_path / "answers"
    answers.mkdir()
    kinds = ["sign", "derivative_at_net", "missing_path", "missing_bias", "updated_weights", "none"]
    for n in range(1, 31):
        here = out / "teachers" / f"{n:03d}"
        key = {k: float(v) for k, v in tomllib.loads((here / "answers.toml").read_text(encoding="utf-8")).items()}
        spec = json.loads((here / "spec.json").read_text(encoding="utf-8"))
        kind = kinds[(n - 1) % len(kinds)]
        mine = {k: key[k] for k in ("net.h1", "out.h1", "net.o1", "out.o1", "total_error", "grad.w5", "update.w5")}
        if kind == "sign":
            mine["delta.o1"] = -key["delta.o1"]
        elif kind == "derivative_at_net":
            mine["partial.dout_o1/dnet_o1"] = key["net.o1"] * (1 - key["net.o1"])
        elif kind == "missing_path":
            mine["partial.dE_total/dout_h1"] = key["partial.dE_o2/dout_h1"]
        elif kind == "missing_bias":
            w, x = spec["layers"][1]["weights"][0], spec["samples"][0]["input"]
            mine["net.h1"] = w[0] * x[0] + w[1] * x[1]
            mine["out.h1"] = 1 / (1 + math.exp(-mine["net.h1"]))  # carried on
        elif kind == "updated_weights":
            upd = bptrace.trace(spec, hidden_delta_weights="updated")
            mine["delta.h1"] = upd.value("delta.h1")
        name = f"{n:03d}-student.toml" if n % 2 else f"s{n}.toml"
        lines = [f'"{k}" = {float(f"{x:.6g}")!r}' for k, x in mine.items()]
        if not n % 2:
            lines.append(f"variant = {n}")
        (answers / name).write_text("\n".join(lines) + "\n", encoding="utf-8")
    csv_path = tmp_path / "class.csv"
    r = run_cli("check", str(out), str(answers), "--summary", str(csv_path))
    assert r.code == 1, r.err
    rows = list(csv.DictReader(csv_path.read_text(encoding="utf-8").splitlines()))
    assert len(rows) == 31
    total = rows[-1]
    for kind in kinds[:-1]:
        assert int(total[kind]) == 5, (kind, total)
    assert int(total["slip"]) == 0 and int(total["rounding"]) == 0 and int(total["carried"]) == 5
    assert "Class summary: A step-by-step backpropagation example" in r.out
    # the same folder graded per file against the wrong variant would not be all right
    assert run_cli("check", str(out / "teachers" / "002" / "spec.json"), str(answers / "001-student.toml")).code == 1
    # a file that names no variant is refused
    (answers / "lee.toml").write_text('"net.h1" = 0.3775\n', encoding="utf-8")
    bad = run_cli("check", str(out), str(answers))
    assert bad.code == 2 and "lee.toml" in bad.err and "variant" in bad.err

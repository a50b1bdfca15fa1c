"""bptrace exercises: a class set of variants with questions, worked answers and answer keys."""

from __future__ import annotations

import tomllib
from pathlib import Path

import pytest

import bptrace
from bptrace import numfmt

from conftest import run_cli

FILES = ["answer.html", "answer.md", "answers.toml", "question.html", "question.md", "spec.json"]


@pytest.fixture(scope="module")
def exercise_set(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("set") / "class"
    r = run_cli("exercises", "article", "--count", "6", "--seed", "7", "-o", str(out), "--jobs", "1")
    assert r.code == 0, r.err
    return out


def _tree(folder: Path) -> dict[str, bytes]:
    return {str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


def test_count_and_layout(exercise_set: Path) -> None:
    variants = sorted(p.name for p in exercise_set.iterdir() if p.is_dir())
    assert variants == ["001", "002", "003", "004", "005", "006"]
    for v in variants:
        assert sorted(p.name for p in (exercise_set / v).iterdir() if p.is_file()) == FILES
        assert (exercise_set / v / "figures" / "network.svg").is_file()
    index = (exercise_set / "index.md").read_text(encoding="utf-8")
    assert "[question](003/question.md)" in index


def test_same_seed_same_bytes_and_parallel_is_the_same(exercise_set: Path, tmp_path: Path) -> None:
    again = tmp_path / "again"
    assert run_cli("exercises", "article", "--count", "6", "--seed", "7", "-o", str(again), "--jobs", "2").code == 0
    assert _tree(again) == _tree(exercise_set)
    other = tmp_path / "other"
    assert run_cli("exercises", "article", "--count", "6", "--seed", "8", "-o", str(other)).code == 0
    assert _tree(other)["001/spec.json"] != _tree(exercise_set)["001/spec.json"]


def test_variants_differ_and_stay_near_the_spec(exercise_set: Path) -> None:
    specs = [bptrace.load_spec(exercise_set / f"{k:03d}" / "spec.json") for k in range(1, 7)]
    weights = [tuple(tuple(r) for r in s["layers"][1]["weights"]) for s in specs]
    assert len(set(weights)) == 6
    for s in specs:
        for got, base in zip(s["layers"][1]["weights"][0], [0.15, 0.2]):
            assert abs(got - base) <= 0.1 + 1e-12 and round(got, 2) == got
        assert all(0 <= t <= 1 for t in s["samples"][0]["target"])


def test_each_answer_equals_bptrace_run_on_its_spec(exercise_set: Path, tmp_path: Path) -> None:
    for v in ("001", "004"):
        out = tmp_path / v
        assert run_cli("run", str(exercise_set / v / "spec.json"), "-o", str(out)).code == 0
        assert (out / "report.md").read_bytes() == (exercise_set / v / "answer.md").read_bytes()
        assert (out / "report.html").read_bytes() == (exercise_set / v / "answer.html").read_bytes()
        # and its answer key grades as all right
        r = run_cli("check", str(exercise_set / v / "spec.json"), str(exercise_set / v / "answers.toml"))
        assert r.code == 0, r.out
        key = tomllib.loads((exercise_set / v / "answers.toml").read_text(encoding="utf-8"))
        tr = bptrace.trace(exercise_set / v / "spec.json")
        assert key["out.o1"] == tr.value("out.o1") and key["update.w5"] == tr.value("update.w5")


def test_questions_hold_no_answers(exercise_set: Path) -> None:
    for v in ("001", "002", "003"):
        tr = bptrace.trace(exercise_set / v / "spec.json")
        question = (exercise_set / v / "question.md").read_text(encoding="utf-8")
        page = (exercise_set / v / "question.html").read_text(encoding="utf-8")
        checked = 0
        for rec in tr.steps[0].records:
            if rec.key.startswith("partial.dnet_"):  # equal to an input or a weight, which are given
                continue
            shown = numfmt.text(rec.value)
            if len(shown.replace("-", "").replace("0.", "")) < 3:  # too short to tell from other numbers
                continue
            assert shown not in question and shown not in page, (v, rec.key, shown)
            assert f"`{rec.key}`" in question  # but it is asked for
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
    s = bptrace.load_spec(out / "002" / "spec.json")
    assert s["samples"][0]["input"] == [0.05, 0.1]
    ws = [w for row in s["layers"][2]["weights"] for w in row]
    assert all(0.1 <= w <= 0.9 and round(w, 1) == w for w in ws)
    assert run_cli("exercises", str(path), "--count", "0", "-o", str(tmp_path / "z")).code == 2


def test_softmax_targets_stay_a_distribution(tmp_path: Path) -> None:
    out = tmp_path / "sm"
    assert run_cli("exercises", "softmax", "--count", "3", "--seed", "1", "-o", str(out), "--lang", "zh").code == 0
    s = bptrace.load_spec(out / "003" / "spec.json")
    assert s["samples"][0]["target"] == [0, 1, 0]
    assert "需要计算的量" in (out / "003" / "question.md").read_text(encoding="utf-8")


def test_the_pool_uses_any_start_method_and_gives_the_same_bytes(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import warnings

    from bptrace import exercises

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

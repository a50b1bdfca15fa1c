"""The command line: run, render, examples, validate, and how bad input is refused."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from conftest import run_cli


def test_run_writes_three_formats(tmp_path: Path) -> None:
    out = tmp_path / "out"
    r = run_cli("run", "-o", str(out))
    assert r.code == 0, r.err
    assert (out / "report.md").is_file() and (out / "report.html").is_file() and (out / "trace.json").is_file()
    assert (out / "figures" / "network.svg").is_file()
    assert str(out / "trace.json") in r.out.splitlines()
    d = json.loads((out / "trace.json").read_text(encoding="utf-8"))
    assert d["steps"][0]["records"][1]["value"] == pytest.approx(0.593269992107187, rel=1e-12)


def test_run_defaults_to_the_article_and_bptrace_out(tmp_path: Path) -> None:
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[1])}
    p = subprocess.run(
        [sys.executable, "-m", "bptrace", "run", "--format", "json"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        env=env,
    )
    assert p.returncode == 0, p.stderr
    assert (tmp_path / "bptrace-out" / "trace.json").is_file()


def test_render_reproduces_run_byte_for_byte(tmp_path: Path) -> None:
    a, b = tmp_path / "a", tmp_path / "b"
    assert run_cli("run", "xor", "-o", str(a), "--iterations", "50", "--lang", "zh", "--digits", "6").code == 0
    r = run_cli(
        "render", str(a / "trace.json"), "-o", str(b), "--format", "md,html,json", "--lang", "zh", "--digits", "6"
    )
    assert r.code == 0, r.err
    for name in ("report.md", "report.html", "trace.json", "figures/network.svg", "figures/loss.svg"):
        assert (a / name).read_bytes() == (b / name).read_bytes(), name


def test_single_format_to_stdout() -> None:
    r = run_cli("run", "--format", "md", "-o", "-")
    assert r.code == 0
    assert r.out.startswith("# A step-by-step backpropagation example")
    assert "<svg" in r.out  # no files to link to, so figures are inline


def test_examples_list_and_print() -> None:
    r = run_cli("examples")
    assert r.code == 0
    assert [line.split()[0] for line in r.out.splitlines()] == ["article", "softmax", "xor"]
    r = run_cli("examples", "article")
    assert r.code == 0 and "learning_rate = 0.5" in r.out
    assert run_cli("examples", "nope").code == 2


def test_examples_print_a_spec_that_runs(tmp_path: Path) -> None:
    spec = tmp_path / "my.toml"
    spec.write_text(run_cli("examples", "softmax").out, encoding="utf-8")
    assert run_cli("run", str(spec), "-o", str(tmp_path / "o"), "--format", "json").code == 0


def test_validate(tmp_path: Path) -> None:
    r = run_cli("validate", "xor")
    assert r.code == 0 and "2-2-1 network" in r.out
    bad = tmp_path / "bad.toml"
    bad.write_text("learnig_rate = 0.5\n", encoding="utf-8")
    r = run_cli("validate", str(bad))
    assert r.code == 2
    assert r.err == f"bptrace: {bad}: learnig_rate: unknown key (did you mean 'learning_rate'?)\n"


def test_bad_spec_exits_2_with_one_line_and_writes_nothing(tmp_path: Path) -> None:
    bad = tmp_path / "bad.json"
    bad.write_text(
        json.dumps(
            {
                "learning_rate": 0.5,
                "layers": [{"name": "i", "size": 2}, {"name": "o", "size": 2, "weights": [[1, 2, 3], [4, 5, 6]]}],
                "samples": [{"input": [1, 2], "target": [0, 1]}],
            }
        ),
        encoding="utf-8",
    )
    out = tmp_path / "out"
    r = run_cli("run", str(bad), "-o", str(out))
    assert r.code == 2
    assert r.err == f"bptrace: {bad}: layers[1].weights: expected 2×2, got 2×3\n"
    assert not out.exists()


def test_version_and_help() -> None:
    r = run_cli("--version")
    assert r.code == 0 and r.out.startswith("bptrace ")
    r = run_cli("run", "--help")
    assert r.code == 0 and "examples:" in r.out


def test_bad_arguments_exit_2() -> None:
    for args in (["run", "--format", "pdf"], ["run", "--detail", "x"], ["run", "--digits", "0"], ["nope"]):
        r = run_cli(*args)
        assert r.code == 2, args
        assert len(r.err.strip().splitlines()) == 1, r.err

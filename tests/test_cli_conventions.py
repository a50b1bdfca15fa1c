"""Command-line conventions: - for standard input, shell completion, JSON for programs, help that
states every default, and messages for a spec and a trace given in each other's place."""

from __future__ import annotations

import argparse
import io
import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

import bptrace
from bptrace.cli import build_parser
from bptrace.spec import example_text

from conftest import run_cli

ARTICLE = example_text("article")


def _stdin(monkeypatch: pytest.MonkeyPatch, text: str) -> None:
    monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO(text.encode("utf-8"))))


def test_a_spec_from_stdin(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    _stdin(monkeypatch, ARTICLE)
    r = run_cli("run", "-", "--format", "json", "-o", "-")
    assert r.code == 0, r.err
    assert json.loads(r.out)["steps"][0]["records"][0]["value"] == 0.3775
    _stdin(monkeypatch, ARTICLE)
    assert run_cli("validate", "-").out.startswith("-: ok: 2-2-2 network, mse, 1 sample")
    _stdin(monkeypatch, '{"learnig_rate": 0.5}')
    r = run_cli("validate", "-")
    assert r.code == 2 and r.err == "bptrace: <stdin>: learnig_rate: unknown key (did you mean 'learning_rate'?)\n"


def test_answers_from_stdin(monkeypatch: pytest.MonkeyPatch) -> None:
    _stdin(monkeypatch, '"net.h1" = 0.3775\n"out.o1" = 0.7513\n')
    r = run_cli("check", "article", "-")
    assert r.code == 1 and "✓ net.h1" in r.out and "✗ out.o1" in r.out
    r = run_cli("check", "-", "-")
    assert r.code == 2 and "only one of the spec and the answers" in r.err


def test_check_and_validate_speak_json(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    _stdin(monkeypatch, '"net.h1" = 0.3775\n"out.o1" = 0.7513\n')
    r = run_cli("check", "article", "-", "--format", "json")
    assert r.code == 1
    assert [(a["key"], a["verdict"]) for a in json.loads(r.out)] == [("net.h1", "right"), ("out.o1", "wrong")]
    ok = json.loads(run_cli("validate", "article", "--format", "json").out)
    assert ok == {
        "valid": True, "source": "article", "sizes": [2, 2, 2],
        "title": {"en": "A step-by-step backpropagation example", "zh": "反向传播逐步计算实例"},
        "loss": "mse", "mode": "online", "iterations": 1, "learning_rate": 0.5, "samples": 1,
    }  # fmt: skip
    bad = tmp_path / "bad.json"
    bad.write_text('{"learning_rate": -1}', encoding="utf-8")
    r = run_cli("validate", str(bad), "--format", "json")
    assert r.code == 2 and r.err == ""
    assert json.loads(r.out) == {
        "valid": False, "source": str(bad), "path": "learning_rate", "error": "expected a number above 0, got -1.0",
        "message": f"{bad}: learning_rate: expected a number above 0, got -1.0",
    }  # fmt: skip


def _all_parsers() -> list[tuple[str, argparse.ArgumentParser]]:
    top = build_parser()
    subs = next(a for a in top._actions if isinstance(a, argparse._SubParsersAction))
    return [("bptrace", top), *((f"bptrace {n}", p) for n, p in subs.choices.items())]


def test_every_option_has_help_and_states_its_default() -> None:
    for name, parser in _all_parsers():
        for a in parser._actions:
            if isinstance(a, (argparse._HelpAction, argparse._VersionAction, argparse._SubParsersAction)):
                continue
            what = f"{name} {'/'.join(a.option_strings) or a.dest}"
            assert a.help, f"{what} has no help"
            if a.option_strings:  # an option: what happens without it
                assert "default" in a.help, f"{what}: help does not state the default: {a.help!r}"
            elif a.default is not None:
                assert "default" in a.help, f"{what}: help does not state the default: {a.help!r}"


def test_bptrace_debug_is_documented() -> None:
    assert "BPTRACE_DEBUG=1" in run_cli("--help").out
    readme = (Path(__file__).resolve().parents[1] / "README.md").read_text(encoding="utf-8")
    assert "BPTRACE_DEBUG" in readme


@pytest.mark.skipif(shutil.which("bash") is None, reason="no bash here")
@pytest.mark.parametrize(
    ("words", "expected"),
    [
        (["bptrace", "ru"], ["run"]),
        (["bptrace", "c"], ["check", "completion"]),
        (["bptrace", "run", "--la"], ["--lang"]),
        (["bptrace", "run", "--lang", ""], ["en", "zh"]),
        (["bptrace", "check", "article", "x", "--format", ""], ["json", "md", "text"]),
        (["bptrace", "schema", ""], ["spec", "trace"]),
        (["bptrace", "completion", "f"], ["fish"]),
    ],
)
def test_bash_completion_completes(words: list[str], expected: list[str], tmp_path: Path) -> None:
    script = run_cli("completion", "bash").out
    (tmp_path / "c.bash").write_text(script, encoding="utf-8")
    array = " ".join(f"'{w}'" for w in words)
    probe = (
        f"source c.bash; COMP_WORDS=({array}); COMP_CWORD={len(words) - 1}; _bptrace; "
        'printf "%s\\n" "${COMPREPLY[@]}"'
    )
    out = subprocess.run(["bash", "-c", probe], cwd=tmp_path, capture_output=True, text=True, check=True).stdout
    assert sorted(out.split()) == expected


def test_zsh_and_fish_scripts_name_every_command() -> None:
    zsh, fish = run_cli("completion", "zsh").out, run_cli("completion", "fish").out
    assert "bashcompinit" in zsh and "complete -o filenames -F _bptrace bptrace" in zsh
    for command in ("run", "render", "check", "exercises", "examples", "validate", "schema", "completion"):
        assert f"-f -a {command} -d " in fish
    assert "complete -c bptrace -n '__fish_seen_subcommand_from run' -l lang -x -a 'en zh'" in fish
    if shutil.which("fish"):
        subprocess.run(["fish", "--no-execute", "-c", fish], check=True)
    if shutil.which("zsh"):
        subprocess.run(["zsh", "-n", "-c", zsh], check=True)


def test_a_spec_given_to_render_says_to_run_it(tmp_path: Path) -> None:
    spec = tmp_path / "my.toml"
    spec.write_text(ARTICLE, encoding="utf-8")
    r = run_cli("render", str(spec), "-o", str(tmp_path / "out"))
    assert r.code == 2 and r.err == f"bptrace: {spec}: this is a spec, not a trace: use bptrace run {spec}\n"
    assert not (tmp_path / "out").exists()


def test_a_trace_given_to_run_runs_its_spec_again(tmp_path: Path) -> None:
    first = tmp_path / "first"
    assert run_cli("run", "xor", "-o", str(first), "-q").code == 0
    again = tmp_path / "again"
    assert run_cli("run", str(first / "trace.json"), "-o", str(again), "-q").code == 0
    for name in ("trace.json", "report.md", "report.html"):
        assert (again / name).read_bytes() == (first / name).read_bytes()
    spec = bptrace.load_spec(first / "trace.json")
    assert spec.to_dict() == bptrace.load_spec("xor").to_dict()


def test_exercises_from_stdin(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    _stdin(monkeypatch, ARTICLE)
    r = run_cli("exercises", "-", "--count", "1", "--seed", "7", "-o", str(tmp_path / "set"), "-q")
    assert r.code == 0, r.err
    again = tmp_path / "again"
    assert run_cli("exercises", "article", "--count", "1", "--seed", "7", "-o", str(again), "-q").code == 0

    def tree(folder: Path) -> dict[str, bytes]:
        return {str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}

    made = tree(tmp_path / "set")
    assert made == tree(again) and any(name.endswith("spec.json") for name in made)

"""bptrace check: grading a student's values and finding the first mistake."""

from __future__ import annotations

from pathlib import Path

import pytest
from test_rounding import HAND4

from conftest import run_cli


def _answers(tmp_path: Path, text: str, name: str = "answers.toml") -> str:
    p = tmp_path / name
    p.write_text(text, encoding="utf-8")
    return str(p)


@pytest.mark.parametrize("written", ["0.751", "0.7514", "0.75137", "0.751365", "0.7513650696", "0.751365069552316"])
def test_right_at_any_precision(tmp_path: Path, written: str) -> None:
    r = run_cli("check", "article", _answers(tmp_path, f'"out.o1" = {written}\n'))
    assert r.code == 0, r.out
    assert r.out.startswith(f"✓ out.o1  given {written}")


@pytest.mark.parametrize("written", ["0.7513", "0.75136079", "0.74", "0.751366"])
def test_wrong_beyond_its_own_precision(tmp_path: Path, written: str) -> None:
    r = run_cli("check", "article", _answers(tmp_path, f'"out.o1" = {written}\n'))
    assert r.code == 1
    assert r.out.startswith(f"✗ out.o1  given {written}")


def test_the_seed_articles_typo_is_caught(tmp_path: Path) -> None:
    r = run_cli("check", "article", _answers(tmp_path, '"out.o1" = 0.75136079\n"out.o2" = 0.772928465\n'))
    assert r.code == 1
    lines = r.out.splitlines()
    assert lines[0] == "✗ out.o1  given 0.75136079     expected 0.75136507  (a slip of its own)"
    assert lines[1] == "✓ out.o2  given 0.772928465    expected 0.772928465"
    assert "out.o1: you wrote 0.75136079, the value is 0.75136507." in r.out
    assert "formula:          out_o1 = 1/(1 + e^(-net_o1))" in r.out
    assert "You did not write net.o1: the exact value is put in above." in r.out


KINDS = {
    "net.h2": 0.3925,
    "out.h1": 0.593269992,
    "error.o2": 0.023560026,
    "total_error": 0.298371109,
    "partial.dE_total/dout_o1": 0.74136507,
    "partial.dE_o2/dout_h1": -0.019049118,
    "delta.h1": 0.008771355,
    "grad.w5": 0.082167041,
    "grad.w1": 0.000438568,
    "update.w8": 0.561370121,
}


@pytest.mark.parametrize("key", sorted(KINDS))
def test_every_kind_of_quantity_is_caught_and_located(tmp_path: Path, key: str) -> None:
    right = "\n".join(f'"{k}" = {v}' for k, v in KINDS.items() if k != key)
    wrong = f'"{key}" = {KINDS[key] + 0.01:.9f}\n'
    r = run_cli("check", "article", _answers(tmp_path, right + "\n" + wrong))
    assert r.code == 1
    assert [line[2:].split()[0] for line in r.out.splitlines() if line.startswith("✗")] == [key]
    assert f"\n{key}: you wrote " in r.out


def test_a_carried_error_is_told_from_a_new_one(tmp_path: Path) -> None:
    # net.o1 is wrong; out.o1 = sigmoid(1.2) follows from it (carried); error.o1 does not (a new slip)
    text = '"net.o1" = 1.2\n"out.o1" = 0.768524783\n"error.o1" = 0.5\n'
    r = run_cli("check", "article", _answers(tmp_path, text))
    assert r.code == 1
    lines = r.out.splitlines()
    assert lines[0].startswith("✗ net.o1") and lines[0].endswith("(a slip of its own)")
    assert lines[1].startswith("✗ out.o1") and lines[1].endswith("(carried from net.o1)")
    assert lines[2].startswith("✗ error.o1") and lines[2].endswith("(a slip of its own)")
    assert "net.o1: you wrote 1.2, the value is 1.105905967." in r.out
    assert "the slip is in this step" in r.out
    assert "It uses your wrong value of out.o1, but even from that it should be 0.287679923" in r.out


def test_the_first_mistake_shows_its_formula_with_your_inputs(tmp_path: Path) -> None:
    # a right delta and input, and a wrong gradient: the formula with those values shows the slip
    r = run_cli("check", "article", _answers(tmp_path, '"delta.o1" = 0.1385\n"out.h1" = 0.5933\n"grad.w5" = 0.0852\n'))
    assert r.code == 1
    assert "formula:          ∂E_total/∂w_5 = δ_o1 · ∂net_o1/∂w_5" in r.out
    assert "with your inputs: ∂E_total/∂w_5 = 0.1385 · 0.5933 = 0.08217205" in r.out


def test_rounding_drift_is_explained(tmp_path: Path) -> None:
    text = "\n".join(f'"{k}" = {v}' for k, v in HAND4.items())
    r = run_cli("check", "article", _answers(tmp_path, text))
    assert r.code == 1  # a few carried values drift past their fourth place
    assert "(rounded too early)" in r.out
    assert run_cli("check", "article", _answers(tmp_path, text), "--rounding", "hand:4").code == 0


def test_keys_in_tables_and_batch_steps(tmp_path: Path) -> None:
    text = "[grad]\nw5 = 0.0822\n[update]\nw5 = 0.3589\n"
    assert run_cli("check", "article", _answers(tmp_path, text)).code == 0
    r = run_cli("check", "xor", _answers(tmp_path, '"sample2.out.y1" = 0.7257\n"batch.grad.w1" = 0.1\n', "x.toml"))
    assert r.code == 1
    lines = r.out.splitlines()
    assert lines[0] == "✓ sample2.out.y1  given 0.7257         expected 0.725718906"
    assert lines[1] == "✗ batch.grad.w1   given 0.1            expected 0.00400925  (a slip of its own)"
    assert "\nbatch.grad.w1: you wrote 0.1, the value is 0.00400925.\n" in r.out


def test_markdown_feedback(tmp_path: Path) -> None:
    out = tmp_path / "feedback.md"
    r = run_cli("check", "article", _answers(tmp_path, '"out.o1" = 0.75136079\n'), "--format", "md", "-o", str(out))
    assert r.code == 1 and r.out == ""
    md = out.read_text(encoding="utf-8")
    assert md.startswith("# Feedback: A step-by-step backpropagation example")
    assert "| ✗ | `out.o1` | 0.75136079 | 0.75136507 |" in md
    assert "$$\n\\mathrm{out}_{o1} = \\frac{1}{1 + e^{-1.1059059670597702}} = 0.751365069" not in md
    assert "e^{-1.105905967}" in md


@pytest.mark.parametrize(
    "text,expect",
    [
        ("", "file is empty"),
        ("out.o1 = \n", "invalid TOML"),
        ('"out.o1" = "0.75"\n', "out.o1: expected a number, got str"),
        ('"out.o1" = true\n', "out.o1: expected a number, got bool"),
        ("[out]\n", "no answers in the file"),
        ('"out.o1" = nan\n', "out.o1: expected a finite number"),
    ],
)
def test_bad_answer_files_exit_2(tmp_path: Path, text: str, expect: str) -> None:
    path = _answers(tmp_path, text)
    r = run_cli("check", "article", path)
    assert r.code == 2 and r.out == ""
    assert r.err.startswith(f"bptrace: {path}") and expect in r.err and r.err.count("\n") == 1


def test_json_answers(tmp_path: Path) -> None:
    r = run_cli("check", "article", _answers(tmp_path, '{"out.o1": 0.7514, "grad": {"w5": 0.08217}}', "a.json"))
    assert r.code == 0

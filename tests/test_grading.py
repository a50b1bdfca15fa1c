"""The grader's rules and its diagnosis table, on the article, a deeper network and a batch run."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

import bptrace
from bptrace import diagnosis as dg
from bptrace.grading import FEW, RIGHT, UNKNOWN, WRONG, Answer, Grader, _answer, judge

from conftest import run_cli

# a 2-3-2-1 network: tanh, relu and sigmoid, a bias per neuron, updated
DEEP = {
    "title": "deep",
    "learning_rate": 0.5,
    "layers": [
        {"name": "i", "size": 2},
        {"name": "h", "size": 3, "activation": "tanh", "weights": [[0.1, -0.2], [0.3, 0.4], [-0.5, 0.25]], "bias": [0.1, -0.1, 0.2]},
        {"name": "q", "size": 2, "activation": "relu", "weights": [[0.2, -0.3, 0.5], [0.4, 0.1, -0.2]], "bias": [0.05, 0.1]},
        {"name": "o", "size": 1, "activation": "sigmoid", "weights": [[0.6, -0.4]], "bias": [0.3]},
    ],
    "samples": [{"input": [0.5, -0.3], "target": [0.8]}],
}  # fmt: skip


def _file(tmp_path: Path, text: str, name: str = "answers.toml") -> str:
    p = tmp_path / name
    p.write_text(text, encoding="utf-8")
    return str(p)


def _spec(tmp_path: Path, spec: dict[str, object], name: str = "spec.json") -> str:
    p = tmp_path / name
    p.write_text(json.dumps(spec), encoding="utf-8")
    return str(p)


def _a(key: str, text: str) -> Answer:
    from decimal import Decimal

    return _answer(key, Decimal(text), text)


def _grade(source: object, text: str, **kw: object) -> dict[str, tuple[str, str]]:
    """key -> (verdict, cause) for a TOML answers text."""
    import tomllib
    from decimal import Decimal

    tr = bptrace.trace(source, iterations=1, **kw)  # type: ignore[arg-type]
    data = tomllib.loads(text, parse_float=Decimal)
    answers = [_answer(k, Decimal(v), str(v)) for k, v in data.items()]
    g = Grader(tr).grade(answers)
    return {
        v.answer.key: (v.status, g.diagnoses[v.answer.key].cause if v.answer.key in g.diagnoses else "")
        for v in g.verdicts
    }


# ---------------------------------------------------------------- the rules


@pytest.mark.parametrize(
    "key,text,expected",
    [
        ("total_error", "0", FEW),  # true 0.298: no digit to judge
        ("out.o1", "1", FEW),  # true 0.751
        ("grad.w7", "0", FEW),  # true -0.0226: a zero says nothing about the sign either
        ("out.o1", "0.75", FEW),  # two significant digits: agrees, but too few
        ("out.o1", "0.751", RIGHT),
        ("grad.w7", "0.0226", WRONG),  # the sign is wrong
        ("grad.w7", "-0.0226", RIGHT),
        ("grad.w1", "0.0004", FEW),  # the hand:4 value of 0.000438568
        ("grad.w1", "0.000439", RIGHT),
        ("partial.dnet_o1/dout_h1", "0.4", RIGHT),  # exactly the value, whatever its digits
        ("out.o1", "0.751365069552316", RIGHT),  # full precision
        ("out.o1", "0.7513650695", WRONG),  # 10 places: the tenth should be 6
    ],
)
def test_rules(article: bptrace.Trace, key: str, text: str, expected: str) -> None:
    rec = article.steps[0].get(key)
    assert rec is not None
    assert judge(_a(key, text), float(rec.value)) == expected


def test_min_digits_is_a_setting(tmp_path: Path) -> None:
    path = _file(tmp_path, '"out.o1" = 0.75\n')
    assert run_cli("check", "article", path).code == 1
    assert run_cli("check", "article", path, "--min-digits", "2").code == 0


def test_a_class_of_zeros_does_not_pass(tmp_path: Path) -> None:
    r = run_cli("check", "article", _file(tmp_path, 'total_error = 0\n"grad.w7" = 0\n"out.o1" = 1\n'))
    assert r.code == 1
    assert r.out.splitlines()[:3] == [
        "? out.o1       given 1              expected 0.75136507  (too few digits to judge)",
        "? total_error  given 0              expected 0.298371109  (too few digits to judge)",
        "? grad.w7      given 0              expected -0.02260254  (too few digits to judge)",
    ]
    assert "0 of 3 right; 3 with too few digits to judge (write at least 3 significant digits)." in r.out


def test_full_precision_tolerance_is_stated(tmp_path: Path) -> None:
    r = run_cli("check", "article", _file(tmp_path, '"out.o1" = 0.751365069552316\n'))
    assert r.code == 0
    assert "Answers of full precision count as right within a relative 1e-12." in r.out


# ---------------------------------------------------------------- the diagnosis table


def test_each_classic_slip_is_named_on_the_article() -> None:
    got = _grade(
        "article",
        # sign: δ as −∂E/∂net; σ′ at net: net·(1 − net) = -0.1171; missing path: only o1's share;
        # missing bias: net_h2 without b1; updated weights: the English original's 0.000365
        '"delta.o2" = 0.0381\n"partial.dout_o1/dnet_o1" = -0.1171\n"partial.dE_total/dout_h1" = 0.0554\n'
        '"net.h2" = 0.0425\n"grad.w1" = 0.000365\n',
    )
    assert got == {
        "net.h2": (WRONG, "missing_bias"),
        "partial.dout_o1/dnet_o1": (WRONG, "derivative_at_net"),
        "delta.o2": (WRONG, "sign"),
        "partial.dE_total/dout_h1": (WRONG, "missing_path"),
        "grad.w1": (WRONG, "updated_weights"),
    }


def test_slips_are_found_through_values_not_written() -> None:
    # only the end results written: σ′ at net inside δ_o1, a missing path inside δ_h1, a missing
    # bias inside out_h1, updated weights inside δ_h1
    got = _grade("article", '"delta.o1" = -0.08683\n"out.h1" = 0.50687\n')
    assert got == {"out.h1": (WRONG, "missing_bias"), "delta.o1": (WRONG, "derivative_at_net")}
    assert _grade("article", '"delta.h1" = 0.013368\n') == {"delta.h1": (WRONG, "missing_path")}
    assert _grade("article", '"delta.h1" = 0.0072945\n') == {"delta.h1": (WRONG, "updated_weights")}


def test_each_classic_slip_is_named_on_a_deeper_network() -> None:
    tr = bptrace.trace(DEEP)
    v = {r.key: float(r.value) for r in tr.steps[0].records}
    net_q1 = v["net.q1"]
    missing_bias_q1 = net_q1 - 0.05
    at_net = 1 - v["net.h1"] ** 2  # tanh′ evaluated at net
    one_path = v["partial.dE_total/dnet_q1*dnet_q1/dout_h3"]  # only q1's share reaches h3
    text = (
        f'"net.q1" = {missing_bias_q1:.6g}\n"partial.dout_h1/dnet_h1" = {at_net:.6g}\n'
        f'"partial.dE_total/dout_h3" = {one_path:.6g}\n"delta.o1" = {-v["delta.o1"]:.6g}\n'
    )
    got = _grade(DEEP, text)
    assert got == {
        "net.q1": (WRONG, "missing_bias"),
        "delta.o1": (WRONG, "sign"),
        "partial.dout_h1/dnet_h1": (WRONG, "derivative_at_net"),
        "partial.dE_total/dout_h3": (WRONG, "missing_path"),
    }


def test_one_sample_instead_of_the_batch_mean() -> None:
    tr = bptrace.trace("xor", mode="batch", iterations=1)
    sample1 = tr.steps[0].get("grad.w4")
    assert sample1 is not None and abs(float(sample1.value)) > 1e-3
    got = _grade("xor", f'"batch.grad.w4" = {float(sample1.value):.6g}\n', mode="batch")
    assert got == {"batch.grad.w4": (WRONG, "sample_vs_mean")}


def test_carried_from_values_the_student_did_not_write(tmp_path: Path) -> None:
    # net_o1 written wrong (1.2), out_o1 skipped, error_o1 = ½(0.01 − σ(1.2))² follows from it
    r = run_cli("check", "article", _file(tmp_path, '"net.o1" = 1.2\n"error.o1" = 0.28768\n'))
    assert r.code == 1
    assert r.out.splitlines()[1].endswith("(carried from net.o1)")
    assert "This follows from your earlier wrong value of net.o1" in r.out


def test_two_independent_slips_are_both_explained(tmp_path: Path) -> None:
    r = run_cli(
        "check",
        "article",
        _file(tmp_path, '"net.h1" = 0.3785\n"out.h1" = 0.59351\n"error.o2" = 0.0245\n"grad.w6" = 0.0827\n'),
    )
    assert r.code == 1
    assert "net.h1: you wrote 0.3785, the value is 0.3775." in r.out
    assert "error.o2: you wrote 0.0245, the value is 0.023560026." in r.out
    assert "out.h1: you wrote 0.59351, the value is 0.593269992." in r.out
    blocks = r.out.split("\n\n")[2:]
    assert len(blocks) == 3 and all("formula:" in b and "with your inputs:" in b for b in blocks)
    # net.h1 from the question's values alone: its inputs are right because they are given
    assert "Its inputs are right, so the slip is in this step" in blocks[0]
    assert "(carried from net.h1)" in r.out
    # error.o2: out.o2 was not written, so its inputs are not said to be right; it is recomputed
    # from the student's own (wrong) hidden outputs
    assert "You did not write out.o2: the value put in above is recomputed from your other values." in blocks[2]


def test_its_inputs_are_right_only_when_given(tmp_path: Path) -> None:
    r = run_cli("check", "article", _file(tmp_path, '"net.o1" = 1.105906\n"out.o1" = 0.75136079\n'))
    assert "Its inputs are right, so the slip is in this step: redo this calculation." in r.out
    r = run_cli("check", "article", _file(tmp_path, '"out.o1" = 0.75136079\n'))
    assert "Its inputs are right" not in r.out and "You did not write net.o1" in r.out


def test_rounding_too_early(tmp_path: Path) -> None:
    # carried at 6 places, δ_h1 comes out 0.008772; the exact 0.0087713547 would be 0.008771
    assert bptrace.trace("article", rounding="hand:6").value("delta.h1") == 0.008772
    assert _grade("article", '"delta.h1" = 0.008772\n') == {"delta.h1": (WRONG, "rounding")}
    r = run_cli("check", "article", _file(tmp_path, '"delta.h1" = 0.008772\n'))
    assert "(rounded too early)" in r.out and "--rounding hand:6" in r.out


# ---------------------------------------------------------------- input, exit status, output


def test_a_typo_in_a_key_leaves_the_rest_graded(tmp_path: Path) -> None:
    r = run_cli("check", "article", _file(tmp_path, '"out.o1" = 0.7514\n"grad.w55" = 0.08\n"outo2" = 0.77\n'))
    assert r.code == 1
    assert r.out.splitlines()[0].startswith("✓ out.o1")
    assert "! grad.w55  given 0.08            (unknown key; did you mean grad.w5?)" in r.out
    assert "(unknown key; did you mean out.o2?)" in r.out
    assert "1 of 3 right; 2 not graded (unknown key)." in r.out
    assert run_cli("check", "article", _file(tmp_path, '"out.o1" = 0.7514\n')).code == 0
    bad = run_cli("check", "article", _file(tmp_path, '"out.o1" = 0.7514\n[x'))
    assert bad.code == 2 and bad.out == ""


def test_json_one_object_per_answer(tmp_path: Path) -> None:
    r = run_cli(
        "check", "article", _file(tmp_path, '"out.o1" = 0.7514\n"grad.w7" = 0.0226\n"x" = 1\n'), "--format", "json"
    )
    assert r.code == 1
    got = json.loads(r.out)
    assert [(o["key"], o["verdict"]) for o in got] == [("out.o1", RIGHT), ("grad.w7", WRONG), ("x", UNKNOWN)]
    assert set(got[1]) == {"key", "given", "written", "expected", "verdict", "diagnosis"}
    assert got[0]["diagnosis"] is None and got[0]["expected"] == pytest.approx(0.7513650695523157, rel=1e-15)
    assert got[1]["diagnosis"]["cause"] == "sign" and got[1]["given"] == 0.0226


_LATIN = re.compile(r"[A-Za-z]+")


def _english_left(text: str, keys: list[str]) -> list[str]:
    """Latin words that are not keys, formulas (math symbols) or options."""
    left = []
    for line in text.splitlines():
        if line.lstrip().startswith(("公式：", "代入你的数值：")):
            continue  # math, in the same symbols as the Chinese report
        for k in sorted(keys, key=len, reverse=True):
            line = line.replace(k, " ")
        line = re.sub(r"--[a-z-]+|hand:\d+|σ′|∂[A-Za-z_]+/∂[A-Za-z_]+|[−-]?η·∂E/∂w|[A-Za-z]+_[a-z0-9]+", " ", line)
        line = re.sub(r"\d+(\.\d+)?(e[+-]?\d+)?", " ", line)
        left += _LATIN.findall(line)
    return left


def test_chinese_feedback_has_no_english_words(tmp_path: Path) -> None:
    text = (
        '"net.h2" = 0.0425\n"out.o1" = 0.75136079\n"delta.o2" = 0.0381\n"partial.dE_total/dout_h1" = 0.0554\n'
        '"grad.w1" = 0.000365\n"total_error" = 0\n"grad.w55" = 1\n"error.o2" = 0.0245\n"out.h1" = 0.593\n'
    )
    path = _file(tmp_path, text)
    keys = [line.split(" = ")[0].strip('"') for line in text.splitlines()] + [
        "net.o1",
        "out.o2",
        "partial.dE_total/dout_h1",
    ]
    for fmt in ("text", "md"):
        r = run_cli("check", "article", path, "--lang", "zh", "--format", fmt)
        assert r.code == 1
        body = r.out
        if fmt == "md":
            body = re.sub(r"\$\$.*?\$\$", " ", body, flags=re.S)
            body = body.replace("A step-by-step backpropagation example", " ")
        assert _english_left(body, keys + ["grad.w5"]) == [], (fmt, body)
        assert "，" in body and "。" in body
        assert ", " not in body.replace("(", "").replace(")", "") or fmt == "md"
    assert "隐含层误差信号用了更新后的权重" in run_cli("check", "article", path, "--lang", "zh").out


def test_a_teacher_adds_a_misconception_by_spec(tmp_path: Path) -> None:
    table = tmp_path / "mine.toml"
    table.write_text(
        '[[misconception]]\nname = "eta_misread"\nspec = { learning_rate = 0.05 }\n'
        'en = { short = "η read as 0.05", says = "the learning rate was read as 0.05" }\n'
        'zh = { short = "学习率看成了 0.05", says = "把学习率看成了 0.05" }\n',
        encoding="utf-8",
    )
    path = _file(tmp_path, '"update.w5" = 0.395892\n')  # 0.4 − 0.05·0.082167
    r = run_cli("check", "article", path, "--misconceptions", str(table))
    assert "(η read as 0.05)" in r.out and "the learning rate was read as 0.05" in r.out
    assert run_cli("check", "article", path, "--misconceptions", str(tmp_path / "none.toml")).code == 2


def test_the_built_in_table_is_data() -> None:
    table = dg.load_table()
    assert [m.name for m in table] == [
        "updated_weights", "derivative_at_net", "missing_path", "missing_bias", "sample_vs_mean",
    ]  # fmt: skip
    assert all(m.words["en"]["short"] and m.words["zh"]["says"] for m in table)


# ---------------------------------------------------------------- a class at once


def _class(tmp_path: Path) -> tuple[Path, dict[str, int]]:
    """30 answer files for the article: every quantity right to 6 significant digits, and in 25 of
    them one classic slip worked out by hand (the bias slip also carried into out_h1)."""
    import math

    tr = bptrace.trace("article")
    exact = {r.key: float(r.value) for r in tr.steps[0].records}
    updated = {r.key: float(r.value) for r in bptrace.trace("article", hidden_delta_weights="updated").steps[0].records}
    net_o1 = exact["net.o1"]
    net_h1 = 0.15 * 0.05 + 0.2 * 0.1  # without b1
    slips = {
        "sign": {"delta.o2": -exact["delta.o2"]},
        "updated_weights": updated,  # the whole step worked that way
        "derivative_at_net": {"partial.dout_o1/dnet_o1": net_o1 * (1 - net_o1)},
        "missing_path": {"partial.dE_total/dout_h2": exact["partial.dE_o1/dout_h2"]},
        "missing_bias": {"net.h1": net_h1, "out.h1": 1 / (1 + math.exp(-net_h1))},
        "none": {},
    }
    folder = tmp_path / "answers"
    folder.mkdir()
    injected: dict[str, int] = {}
    kinds = list(slips)
    for k in range(30):
        kind = kinds[k % len(kinds)]
        values = dict(exact) | slips[kind]
        injected[kind] = injected.get(kind, 0) + 1
        lines = [f'"{key}" = {float(f"{x:.6g}")!r}' for key, x in values.items()]
        (folder / f"student{k + 1:02d}.toml").write_text("\n".join(lines) + "\n", encoding="utf-8")
    return folder, injected


def test_a_class_summary_counts_what_was_injected(tmp_path: Path) -> None:
    import csv

    folder, injected = _class(tmp_path)
    out = tmp_path / "class.csv"
    r = run_cli("check", "article", str(folder), "--summary", str(out))
    assert r.code == 1, r.err
    rows = list(csv.DictReader(out.read_text(encoding="utf-8").splitlines()))
    assert len(rows) == 31 and rows[0]["file"] == "student01.toml" and rows[-1]["file"] == "(class)"
    total = rows[-1]
    for kind in ("sign", "derivative_at_net", "missing_path", "missing_bias"):
        assert int(total[kind]) == injected[kind] == 5, kind
        assert sum(int(row[kind]) > 0 for row in rows[:-1]) == 5
    # the updated weights show first where w5…w8 enter: the four partials dnet/dout_h
    assert int(total["updated_weights"]) == 4 * 5
    assert sum(int(row["updated_weights"]) > 0 for row in rows[:-1]) == injected["updated_weights"] == 5
    carried = [int(row["carried"]) for row in rows[:-1]]
    assert carried[4::6] == [1] * 5  # out_h1 after the missing bias
    assert all(c > 4 for c in carried[1::6])  # everything after the updated weights
    assert int(total["slip"]) == 0 and int(total["rounding"]) == 0
    n_keys = len({r.key for r in bptrace.trace("article").steps[0].records})
    assert [int(row["right"]) for row in rows[5::6]] == [n_keys] * 5  # the students without a slip
    assert rows[0]["delta.o2"] == "wrong:sign" and rows[0]["out.o1"] == "right"
    md = (tmp_path / "class.md").read_text(encoding="utf-8")
    assert md.startswith("# Class summary: A step-by-step backpropagation example")
    assert "| sign flipped | 5 | 5 |" in md and "| the bias left out of net | 5 | 5 |" in md
    assert "| updated weights in the hidden deltas | 5 | 20 |" in md
    ranked = md[md.index("## Most frequent") :].splitlines()
    assert ranked[-1].startswith("| carried from an earlier value | 10 |")  # a consequence, listed last
    assert "student30.toml" in r.out and "Most frequent mistakes across the class:" in r.out
    # the same files named one by one
    files = sorted(str(p) for p in folder.iterdir())
    again = tmp_path / "again.csv"
    assert run_cli("check", "article", *files, "--summary", str(again)).code == 1
    assert again.read_text(encoding="utf-8") == out.read_text(encoding="utf-8")


def test_answers_carried_at_significant_figures(tmp_path: Path) -> None:
    # a calculator at 4 significant figures: out_o2 = 0.7729 gives E_o2 = ½(0.99 − 0.7729)² = 0.02357,
    # where the exact value is 0.023560026
    assert bptrace.trace("article", rounding="sig:4").value("error.o2") == 0.02357
    path = _file(tmp_path, '"grad.w1" = 0.0004386\n"error.o2" = 0.02357\n')
    assert run_cli("check", "article", path, "--rounding", "sig:4").code == 0
    r = run_cli("check", "article", path)
    assert r.code == 1 and "✓ grad.w1" in r.out
    assert "✗ error.o2" in r.out and "(rounded too early)" in r.out


def test_each_classic_slip_is_named_on_a_batch_network() -> None:
    tr = bptrace.trace("xor", mode="batch", iterations=1)
    s2, s3, mean = tr.steps[1], tr.steps[2], tr.steps[-1]
    assert (s2.sample, s3.sample, mean.sample) == (2, 3, None)

    def val(step: bptrace.Step, key: str) -> float:
        rec = step.get(key)
        assert rec is not None
        return float(rec.value)

    w1, w2 = tr.spec["layers"][1]["weights"][0]
    x = tr.spec["samples"][1]["input"]
    net_y1 = val(s3, "net.y1")
    text = (
        f'"sample2.net.h1" = {w1 * x[0] + w2 * x[1]:.6g}\n'  # without b_h1
        f'"sample3.partial.dout_y1/dnet_y1" = {net_y1 * (1 - net_y1):.6g}\n'  # σ′ at net
        f'"batch.grad.w5" = {-val(mean, "grad.w5"):.6g}\n'  # the sign of the mean flipped
        f'"batch.grad.w6" = {val(s2, "grad.w6"):.6g}\n'  # sample 2's instead of the mean
    )
    assert _grade("xor", text, mode="batch") == {
        "sample2.net.h1": (WRONG, "missing_bias"),
        "sample3.partial.dout_y1/dnet_y1": (WRONG, "derivative_at_net"),
        "batch.grad.w5": (WRONG, "sign"),
        "batch.grad.w6": (WRONG, "sample_vs_mean"),
    }

"""The activation and loss tables are the one place a primitive is defined. This contract walks
them and names whatever else lacks an entry: the catalogues' words (en and zh), the random-spec
strategies, the numpy oracle, and a report that uses it."""

from __future__ import annotations

import math
import tomllib
from pathlib import Path

import pytest

import bptrace
from bptrace import ops
from bptrace.reports.env import BUILTIN_TEMPLATES

import oracle
import strategies


def _catalogue(lang: str) -> dict[str, str]:
    return tomllib.loads((BUILTIN_TEMPLATES / "i18n" / f"{lang}.toml").read_text(encoding="utf-8"))


def missing_words(lang: str, catalogue: dict[str, str] | None = None) -> list[str]:
    words = _catalogue(lang) if catalogue is None else catalogue
    entries = [*ops.ACTIVATIONS.values(), *ops.LOSSES.values()]
    wanted = [key for e in entries for key in e.messages.values()]
    return [k for k in wanted if k not in words]


@pytest.mark.parametrize("lang", ["en", "zh"])
def test_every_primitive_has_its_words(lang: str) -> None:
    assert missing_words(lang) == []


def test_the_strategies_draw_every_primitive() -> None:
    assert set(strategies.HIDDEN_ACTS) == {n for n, a in ops.ACTIVATIONS.items() if a.hidden_ok}
    drawn_outputs = {a for acts in strategies.OUTPUT_ACTS.values() for a in acts}
    assert drawn_outputs == set(ops.ACTIVATIONS)
    assert set(strategies.OUTPUT_ACTS) == set(ops.LOSSES)


def test_the_oracle_implements_every_primitive() -> None:
    assert set(oracle.ACTS) == set(ops.ACTIVATIONS)
    assert set(oracle.LOSSES) == set(ops.LOSSES)


@pytest.mark.parametrize("name", sorted(ops.ACTIVATIONS))
def test_each_activation_agrees_with_the_oracle(name: str) -> None:
    import numpy as np

    x = np.array([-1.3, -0.2, 0.4, 2.1])
    assert np.allclose(ops.ACTIVATIONS[name].vforward(x), oracle.act(name, x), rtol=1e-14, atol=0)


# softmax mixes its neurons and has no elementwise slope; its Jacobian is checked through the gradient tests
@pytest.mark.parametrize("name", sorted(n for n, a in ops.ACTIVATIONS.items() if a.derivative is not None))
def test_each_elementwise_activation_has_its_derivative(name: str) -> None:
    import numpy as np

    act = ops.ACTIVATIONS[name]
    x = np.array([-1.3, -0.2, 0.4, 2.1])
    h = 1e-6
    y = act.vforward(x)
    numeric = (act.vforward(x + h) - act.vforward(x - h)) / (2 * h)
    assert act.vderivative is not None
    assert np.allclose(act.vderivative(x, y), numeric, rtol=1e-6, atol=1e-9)


@pytest.mark.parametrize("name", sorted(ops.ACTIVATIONS))
def test_a_report_names_each_activation_in_both_languages(name: str) -> None:
    spec = bptrace.load_spec("article").to_dict()
    spec["layers"][-1]["activation"] = name
    if name == "softmax":
        spec["samples"][0]["target"] = [0.0, 1.0]
    tr = bptrace.trace(spec)
    for lang in ("en", "zh"):
        words = _catalogue(lang)[ops.ACTIVATIONS[name].messages["name"]]
        assert words in bptrace.render(tr, "md", lang=lang)


def test_a_new_activation_is_one_entry_plus_its_words(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """softplus, added as a table entry only: the contract names the missing words, and once a
    catalogue supplies them a report renders with the new activation."""
    tanh = ops.ACTIVATIONS["tanh"]
    softplus = ops.Activation(
        "softplus",
        r"\mathrm{softplus}",
        lambda nets, k: ops.fn("ln1pexp", nets[k]),
        lambda n, o: ops.fn("sigmoid", n),
        tanh.vforward,
        tanh.vderivative,
    )
    monkeypatch.setitem(ops.ACTIVATIONS, "softplus", softplus)
    monkeypatch.setitem(
        ops.FUNCTIONS,
        "ln1pexp",
        ops.Function(lambda x: math.log1p(math.exp(x)), lambda a: rf"\ln\left(1 + e^{{{a}}}\right)", False),
    )
    assert missing_words("en") == ["act_softplus", "factor_dout_dnet_softplus"]
    assert missing_words("zh") == ["act_softplus", "factor_dout_dnet_softplus"]

    spec = bptrace.load_spec("article").to_dict()
    spec["layers"][1]["activation"] = "softplus"
    tr = bptrace.trace(spec)
    assert math.isclose(tr.value("out.h1"), math.log1p(math.exp(tr.value("net.h1"))), rel_tol=1e-15)
    (tmp_path / "i18n").mkdir()
    (tmp_path / "i18n" / "en.toml").write_text(
        'act_softplus = "softplus"\nfactor_dout_dnet_softplus = "**Second factor.** The slope of softplus is the sigmoid."\n',
        encoding="utf-8",
    )
    md = bptrace.render(tr, "md", templates=tmp_path)
    assert "softplus" in md

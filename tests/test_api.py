"""The Python API as a user meets it: paths of any kind, flat rows for data tools, errors that name
the API's own parameters."""

from __future__ import annotations

import os
from pathlib import Path, PurePath

import pytest

import bptrace
from bptrace.exercises import make_set
from bptrace.tracedata import Row

EXAMPLES = Path(bptrace.__file__).parent / "examples"
LARGE = {
    "learning_rate": 0.1,
    "layers": [{"name": "i", "size": 10}, {"name": "h", "size": 8}, {"name": "o", "size": 2}],
    "samples": [{"input": [0.1] * 10, "target": [0, 1]}],
    "init": {"method": "he", "seed": 1},
}


class OnlyFspath(os.PathLike[str]):
    """A path-like that is not a str or a pathlib path: only os.fspath() can read it."""

    def __init__(self, p: Path) -> None:
        self.p = p

    def __fspath__(self) -> str:
        return str(self.p)


@pytest.mark.parametrize("make", [Path, OnlyFspath])
def test_path_like_specs(make: type) -> None:
    path = make(EXAMPLES / "xor.toml")
    assert not isinstance(path, str)
    spec = bptrace.load_spec(path)
    assert spec.source == str(EXAMPLES / "xor.toml") and spec["title"]["en"] == "Learning XOR with a 2-2-1 network"
    assert bptrace.trace(path, iterations=1).value("out.y1") == bptrace.trace("xor", iterations=1).value("out.y1")
    assert isinstance(PurePath(os.fspath(path)), PurePath)


def test_built_in_examples_are_stored_as_their_toml_parses() -> None:
    # a run of a built-in reads the parsed form; the TOML is what users read: they must say the same
    import json
    import tomllib

    from bptrace.spec import EXAMPLES_PARSED, example_data, example_names

    parsed = {n: tomllib.loads((EXAMPLES / f"{n}.toml").read_text(encoding="utf-8")) for n in example_names()}
    assert set(parsed) == {"article", "softmax", "xor"}
    # the file is exactly this, so it is rewritten by running these two lines after editing a TOML file
    text = json.dumps(parsed, ensure_ascii=False, indent=1) + "\n"
    assert Path(EXAMPLES_PARSED).read_text(encoding="utf-8") == text, "parsed.json is older than the TOML examples"
    assert all(example_data(n) == parsed[n] for n in parsed)
    assert bptrace.load_spec("xor").data == bptrace.load_spec(EXAMPLES / "xor.toml").data


def test_specs_records_and_traces_are_values() -> None:
    # equal when their fields are; a spec is read-only (and so hashable when its fields are); the
    # repr names each field
    a, b = bptrace.load_spec("article"), bptrace.load_spec("article")
    assert a == b and a is not b and a != bptrace.load_spec("xor") and a != a.data
    with pytest.raises(AttributeError, match="source"):
        a.source = "other"  # type: ignore[misc]
    assert a.source == "article"
    with pytest.raises(TypeError, match="unhashable"):
        hash(a)  # its data is a dict
    assert repr(a).startswith("Spec(data={'title': ") and repr(a).endswith(", source='article', drawn=())")
    r = bptrace.Record("forward", "net", "h1", 0.5)
    assert r == bptrace.Record("forward", "net", "h1", 0.5, formula="") != bptrace.Record("forward", "net", "h1", 0.25)
    assert repr(r) == (
        "Record(phase='forward', kind='net', name='h1', value=0.5, formula='', substituted='', layer=None, "
        "expr=None, old=None, grad=None, new=None, shape=None, exact=None)"
    )
    r.value = 0.25  # records are mutable, and so not hashable
    assert r == bptrace.Record("forward", "net", "h1", 0.25)
    with pytest.raises(TypeError, match="unhashable"):
        hash(r)
    step = bptrace.Step(1, 1)
    assert step.records == [] and step.records is not bptrace.Step(1, 1).records
    tr = bptrace.trace("article")
    back = bptrace.Trace.from_dict(tr.to_dict())
    assert back == bptrace.Trace.from_dict(tr.to_dict()) != bptrace.Trace.from_dict(tr.to_dict() | {"final": None})
    from bptrace.names import LayerLayout

    layout = LayerLayout(1, "h", 2, "sigmoid", 2, 0, "b1")
    assert {layout: 1}[LayerLayout(1, "h", 2, "sigmoid", 2, 0, "b1")] == 1


def test_rows_are_flat_and_one_per_quantity(article: bptrace.Trace) -> None:
    rows = list(article.rows())
    assert rows[0] == Row(1, 1, "forward", "net", "h1", "net.h1", 0.3775)
    assert rows[0]._asdict() == {
        "iteration": 1, "sample": 1, "phase": "forward", "kind": "net", "name": "h1", "key": "net.h1", "value": 0.3775,
    }  # fmt: skip
    by_key = {r.key: r for r in rows}
    assert by_key["grad.w5"].value == 0.08216704056423078 and by_key["grad.w5"].phase == "backward"
    assert by_key["update.w5"].value == article.value("update.w5")
    assert len(rows) == len(article.steps[0].records) == len(by_key)
    # Record objects are still what records() gives
    assert [r.name for r in article.records(kind="update")][:2] == ["w1", "w2"]


def test_rows_spread_array_records_into_named_elements() -> None:
    tr = bptrace.trace(LARGE)
    rows = list(tr.rows())
    keys = [r.key for r in rows]
    assert len(keys) == len(set(keys))  # the first weight's scalar derivation is not listed twice
    by_key = {r.key: r.value for r in rows}
    assert by_key["grad.w12"] == tr.value("grad.w12") == tr.records(kind="grad", name="W_h")[0].value[1][1]
    assert by_key["out.h7"] == tr.value("out.h7")
    assert {"partial.dE_total/dout_o2", "partial.dout_h3/dnet_h3"} <= set(by_key)
    assert sum(k.startswith("grad.w") for k in keys) == 8 * 10 + 2 * 8
    assert all(isinstance(r.value, float) for r in rows)


def test_rows_make_a_data_frame() -> None:
    pandas = pytest.importorskip("pandas")
    df = pandas.DataFrame(bptrace.trace("xor").rows())
    assert list(df.columns) == ["iteration", "sample", "phase", "kind", "name", "key", "value"]
    batch = df[df["sample"].isna()]  # xor is trained in batch mode: the step that averages has no sample
    assert set(batch["phase"]) >= {"update"}
    assert df.loc[(df["sample"] == 1) & (df["key"] == "net.h1"), "value"].item() == bptrace.trace("xor").value("net.h1")


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (lambda tr: bptrace.render(tr, "pdf"), "fmt: unknown report format 'pdf'; expected 'md' or 'html'"),  # type: ignore[arg-type]
        (lambda tr: bptrace.render(tr, "md", lang="fr"), "lang: unknown language 'fr'; expected one of en, zh"),  # type: ignore[arg-type]
        (lambda tr: bptrace.render(tr, "md", digits=40), "digits: expected a whole number from 1 to 15, got 40"),
        (lambda tr: bptrace.render(tr, "md", figures="svg"), "figures: expected 'inline' or 'files', got 'svg'"),  # type: ignore[arg-type]
        (lambda tr: bptrace.trace("article", detail="some"), "detail: expected a count of at least 0 or 'all'"),  # type: ignore[arg-type]
        (lambda tr: make_set("article", Path("unused"), 0), "count: expected a count of at least 1, got 0"),
    ],
)
def test_api_errors_name_parameters_not_flags(article: bptrace.Trace, call, message: str) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(bptrace.SpecError) as e:
        call(article)
    assert str(e.value).startswith(message)
    assert "--" not in str(e.value)


def test_rows_name_elements_of_layers_whose_names_end_in_a_digit() -> None:
    spec = {**LARGE, "layers": [LARGE["layers"][0], {"name": "h2", "size": 8}, LARGE["layers"][2]]}  # type: ignore[index]
    tr = bptrace.trace(spec)
    by_key = {r.key: r.value for r in tr.rows()}
    assert by_key["out.h2_3"] == tr.value("out.h2_3")
    assert {"partial.dout_h2_3/dnet_h2_3", "partial.dE_total/dout_h2_8"} <= set(by_key)

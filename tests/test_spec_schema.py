"""The spec's JSON Schema, for editors: it accepts every spec bptrace accepts, and where it refuses
one, bptrace refuses it too. Checks across fields (shapes, lengths, names, which loss fits which
output) are bptrace's alone; the schema says so, and this test holds the list."""

from __future__ import annotations

import json
import tomllib
from importlib import resources
from pathlib import Path
from typing import Any

import jsonschema
import pytest

import bptrace
from bptrace.spec import example_names, example_text

from conftest import run_cli

CORPUS = Path(__file__).parent / "corpus" / "specs"
EXPECTED = json.loads((Path(__file__).parent / "corpus" / "specs-expected.json").read_text(encoding="utf-8"))

# what bptrace refuses that a schema of single fields cannot see
BEYOND_A_SCHEMA = (
    "expected 2×2",  # a matrix's shape follows the layer sizes
    "expected 3×2",
    "rows that are not lists",
    "ragged",
    "a flat list",
    "(the size of layer",  # sample lengths follow the first and last layer
    "(one bias per neuron)",
    "duplicate layer name",
    "needs an output activation",  # which loss fits which output
    "is only allowed on the output layer",  # softmax in a hidden layer
    "only makes sense in online mode",
    "needs targets",  # cross-entropy targets
    "expected a finite number",  # NaN and infinity are numbers to JSON Schema
    "parameters (limit",  # the resource limit counts the whole network
    "is also the name of neuron",  # names across layers
    "lone surrogate",  # valid JSON text that is not Unicode
    "expected a number within",  # an integer too large for a float64
    "give the weights or an [init] table",
    "low end",
    "both in layer",  # derive: one weight per layer
    "this network's weights are",  # derive: a weight the network has
)


@pytest.fixture(scope="module")
def validator() -> jsonschema.Draft202012Validator:
    schema = json.loads(resources.files("bptrace").joinpath("schema/spec.schema.json").read_text(encoding="utf-8"))
    jsonschema.Draft202012Validator.check_schema(schema)
    return jsonschema.Draft202012Validator(schema)


def _parsed(path: Path) -> Any:
    raw = path.read_bytes()
    try:
        text = raw.decode("utf-8")
        return json.loads(text) if path.suffix == ".json" else tomllib.loads(text)
    except (UnicodeDecodeError, ValueError):
        return None  # not a document at all: nothing for a schema to judge


def _bptrace_verdict(data: Any) -> str | None:
    try:
        bptrace.load_spec(data) if isinstance(data, dict) else bptrace.spec.normalise(data)
    except bptrace.SpecError as e:
        return str(e)
    return None


@pytest.mark.parametrize("name", example_names())
def test_every_built_in_example_is_valid(validator: jsonschema.Draft202012Validator, name: str) -> None:
    data = tomllib.loads(example_text(name))
    assert list(validator.iter_errors(data)) == []


def test_the_verdicts_agree_on_the_corpus(validator: jsonschema.Draft202012Validator) -> None:
    judged = 0
    for path in sorted(CORPUS.iterdir()):
        data = _parsed(path)
        if data is None:
            continue
        judged += 1
        theirs = _bptrace_verdict(data)
        schema_errors = [e.message for e in validator.iter_errors(data)]
        if theirs is None:
            assert schema_errors == [], f"{path.name}: bptrace accepts it, the schema does not: {schema_errors}"
        elif not schema_errors:
            assert any(b in theirs for b in BEYOND_A_SCHEMA), f"{path.name}: only bptrace refuses it: {theirs}"
        assert path.name in EXPECTED
    assert judged >= 50


def test_the_schema_refuses_what_single_fields_show(validator: jsonschema.Draft202012Validator) -> None:
    good = tomllib.loads(example_text("article"))
    for change in (
        {"learnig_rate": 0.5},
        {"learning_rate": 0},
        {"loss": "hinge"},
        {"iterations": 0},
        {"rounding": "hand:16"},
        {"update_biases": 1},
        {"layers": [{"name": "i", "size": 2}]},
        {"layers": [{"name": "i", "size": 2, "activation": "relu"}, good["layers"][1]]},
        {"layers": [good["layers"][0], {**good["layers"][1], "name": "w2"}]},
    ):
        bad = {**good, **change}
        assert list(validator.iter_errors(bad)), change
        assert _bptrace_verdict(bad) is not None, change


def test_bptrace_schema_spec_prints_it_and_a_spec_may_name_it(tmp_path: Path) -> None:
    r = run_cli("schema", "spec")
    assert r.code == 0
    schema = json.loads(r.out)
    assert schema["$id"] == "urn:bptrace:schema:spec" and schema["title"] == "bptrace spec"
    trace_schema = json.loads(run_cli("schema", "trace").out)
    assert trace_schema["$id"] == "urn:bptrace:schema:trace"
    # an editor links a JSON spec to the schema with "$schema"; bptrace reads past it
    spec = {"$schema": "./spec.schema.json", **tomllib.loads(example_text("article"))}
    path = tmp_path / "my.json"
    path.write_text(json.dumps(spec), encoding="utf-8")
    assert bptrace.load_spec(path).to_dict() == bptrace.load_spec("article").to_dict() | {"title": "my"} | {
        "title": spec["title"]
    }
    assert run_cli("schema", "spreadsheet").code == 2

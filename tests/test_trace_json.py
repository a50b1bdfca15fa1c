"""The JSON trace: round trip, schema, determinism, and a reviewed snapshot of the article."""

from __future__ import annotations

import base64
import json
import struct
from importlib import resources

import jsonschema
import pytest

import bptrace


@pytest.fixture(scope="module")
def schema() -> dict:
    return json.loads(resources.files("bptrace").joinpath("schema/trace.schema.json").read_text(encoding="utf-8"))


@pytest.mark.parametrize(
    "name,kw",
    [
        ("article", {}),
        ("xor", {"iterations": 20}),
        ("softmax", {}),
        ("article", {"rounding": "hand:4"}),
        ("article", {"iterations": 5, "detail": "all"}),
    ],
)
def test_round_trip_and_schema(name: str, kw: dict, schema: dict) -> None:
    tr = bptrace.trace(name, **kw)
    text = tr.to_json()
    back = bptrace.Trace.from_json(text)
    assert back.to_json() == text
    assert back.to_dict() == json.loads(text)
    assert back.steps[0].records[3].value == tr.steps[0].records[3].value
    jsonschema.validate(json.loads(text), schema, cls=jsonschema.Draft202012Validator)


def test_documented_fields(article: bptrace.Trace) -> None:
    d = json.loads(article.to_json())
    assert d["format_version"] == 1  # a spec without format 2's keys keeps format 1
    assert d["spec"]["learning_rate"] == 0.5 and d["spec"]["layers"][1]["weights"] == [[0.15, 0.2], [0.25, 0.3]]
    step = d["steps"][0]
    assert (step["iteration"], step["sample"]) == (1, 1)
    phases = [r["phase"] for r in step["records"]]
    assert phases == sorted(phases, key=["forward", "loss", "backward", "update"].index)
    first = step["records"][0]
    assert first["kind"] == "net" and first["name"] == "h1" and first["value"] == 0.3775
    assert first["formula"] == r"\mathrm{net}_{h1} = w_{1} \cdot i_{1} + w_{2} \cdot i_{2} + b_{1} \cdot 1"
    assert first["substituted"] == r"\mathrm{net}_{h1} = 0.15 \cdot 0.05 + 0.2 \cdot 0.1 + 0.35 \cdot 1"
    upd = next(r for r in step["records"] if r["key"] == "update.w5")
    assert upd["old"] == 0.4 and upd["new"] == upd["value"] and upd["grad"] == pytest.approx(0.0821670405642308)
    assert d["history"]["total_error"] == [pytest.approx(0.298371108760003)]
    assert set(d["final"]) == {"params", "outputs", "total_error"}
    assert d["gradcheck"]["max_rel_diff"] < 1e-5


def test_floats_are_written_exactly(article: bptrace.Trace) -> None:
    d = json.loads(article.to_json())
    out_h1 = next(r for r in d["steps"][0]["records"] if r["key"] == "out.h1")
    assert out_h1["value"] == article.value("out.h1")  # the shortest repr reads back exactly
    assert repr(out_h1["value"]) == "0.5932699921071872"


def test_article_trace_snapshot(article: bptrace.Trace, json_snapshot) -> None:  # type: ignore[no-untyped-def]
    assert article.to_json() == json_snapshot


def test_history_is_a_numpy_view(article: bptrace.Trace) -> None:
    arr = article.history_array()
    assert arr.dtype.name == "float64" and arr.shape == (1,)
    assert arr[0] == article.history[0]


def _diverging() -> bptrace.Trace:
    spec = bptrace.load_spec("article").to_dict()
    for layer in spec["layers"][1:]:
        layer["activation"] = "linear"
    spec["learning_rate"] = 50.0
    return bptrace.trace(spec, iterations=20)


def _large() -> bptrace.Trace:
    rows = [[0.01 * ((i * 7 + j) % 13 - 6) for j in range(80)] for i in range(70)]
    spec = {
        "learning_rate": 0.1,
        "layers": [
            {"name": "i", "size": 80},
            {"name": "h", "size": 70, "weights": rows, "bias": 0.1},
            {"name": "o", "size": 2, "weights": [[0.01] * 70, [-0.01] * 70], "bias": 0.2},
        ],
        "samples": [{"input": [0.5] * 80, "target": [0.0, 1.0]}],
    }
    return bptrace.trace(spec, iterations=2)


@pytest.mark.parametrize("make", [_diverging, _large], ids=["diverged", "matrix-form"])
def test_to_dict_is_the_json_document(make: object) -> None:
    """One document builder serves both: the dict is what the JSON text reads back as, also where
    values are packed (large layers) or written as strings (a diverged run)."""
    tr = make()  # type: ignore[operator]
    assert tr.to_dict() == json.loads(tr.to_json())


def test_the_format_can_grow_readers_ignore_extensions(article: bptrace.Trace, schema: dict) -> None:
    from bptrace.tracejson import SCHEMA_ID

    doc = json.loads(article.to_json())
    assert next(iter(doc)) == "$schema" and doc["$schema"] == SCHEMA_ID == schema["$id"]
    assert SCHEMA_ID.startswith("urn:")  # an absolute URI that promises no web address
    # a later writer (or another tool) adds fields under x-: old readers ignore them
    doc["x-lab"] = {"run": 7}
    doc["steps"][0]["x-note"] = "first step"
    doc["steps"][0]["records"][0]["x-units"] = "none"
    jsonschema.validate(doc, schema, cls=jsonschema.Draft202012Validator)
    again = bptrace.Trace.from_dict(doc)
    assert again.to_json() == article.to_json()
    assert bptrace.render(again, "html") == bptrace.render(article, "html")
    # a trace written before $schema existed still reads
    del doc["$schema"]
    assert bptrace.Trace.from_dict(doc).to_json() == article.to_json()
    # anything else unknown is still refused, naming where
    doc["steps"][0]["records"][0]["units"] = "none"
    with pytest.raises(bptrace.SpecError, match=r"steps\[0\]\.records\[0\]\.units: unknown key"):
        bptrace.Trace.from_dict(doc)


def test_packed_arrays_are_row_major() -> None:
    from bptrace.tracejson import pack_large, unpack

    rows = [[float(100 * j + i) for i in range(80)] for j in range(60)]  # 4800 numbers: packed
    packed = pack_large(rows)
    assert packed["shape"] == [60, 80]
    raw = base64.b64decode(packed["base64"])
    assert struct.unpack_from("<3d", raw, 0) == (0.0, 1.0, 2.0)  # row 0 first, little-endian
    assert struct.unpack_from("<d", raw, 8 * 80)[0] == 100.0  # then row 1
    assert unpack(packed) == rows


def test_first_update_is_optional_and_checked(schema: dict) -> None:
    tr = bptrace.trace("article", mode="online", iterations=2)
    doc = json.loads(tr.to_json())
    assert list(doc).index("first_update") == list(doc).index("final") - 1
    assert doc["first_update"]["samples"] == [1]
    # one sample: the error after its update is what iteration 2 measures before its own
    assert doc["first_update"]["total_error"] == doc["history"]["total_error"][1]
    jsonschema.validate(doc, schema, cls=jsonschema.Draft202012Validator)
    # a trace written before the field existed reads, and writes back without it
    older = {k: v for k, v in doc.items() if k != "first_update"}
    again = bptrace.Trace.from_dict(older)
    assert again.first_update is None and "first_update" not in json.loads(again.to_json())
    doc["first_update"]["samples"] = [2]
    with pytest.raises(bptrace.SpecError, match=r"first_update\.samples\[0\]"):
        bptrace.Trace.from_dict(doc)


def test_the_matrix_engine_packs_its_arrays_straight_from_their_bytes(monkeypatch: pytest.MonkeyPatch) -> None:
    """A layer of more than PACK_LIMIT weights is written packed from the engine's own array, not
    from the list the record also holds; the file is the same byte for byte either way."""
    import random

    from bptrace import tracedata
    from bptrace.tracejson import PACK_LIMIT

    rnd = random.Random(3)
    spec = {
        "learning_rate": 0.1,
        "layers": [
            {"name": "x", "size": 70},
            {"name": "h", "size": 64, "weights": [[rnd.uniform(-0.1, 0.1) for _ in range(70)] for _ in range(64)]},
            {"name": "y", "size": 2, "weights": [[rnd.uniform(-0.1, 0.1) for _ in range(64)] for _ in range(2)]},
        ],
        "samples": [{"input": [rnd.uniform(0, 1) for _ in range(70)], "target": [1, 0]}],
    }
    tr = bptrace.trace(spec)
    from_lists: list[int] = []
    real = tracedata.pack_large

    def counting(value: object) -> object:
        packed = real(value)
        if isinstance(packed, dict):
            from_lists.append(1)
        return packed

    monkeypatch.setattr(tracedata, "pack_large", counting)
    direct = tr.to_json()
    assert from_lists == []  # nothing large went through a list
    packed = [r for s in tr.steps for r in s.records if r.packed]
    assert {r.key for r in packed} >= {"grad.W_h", "update.W_h"} and all(len(r.value) * 70 > PACK_LIMIT for r in packed)
    for r in packed:
        r.packed = None
    assert tr.to_json() == direct and len(from_lists) >= 3  # W_h's gradient, new and old value, from the lists

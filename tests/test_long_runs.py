"""Long runs: a history of millions of iterations is read, checked and drawn like a short one."""

from __future__ import annotations

import json
import math
import random
from array import array
from pathlib import Path

import numpy as np
import pytest

import bptrace
from bptrace import spec as spec_module
from bptrace.errors import SpecError
from bptrace.reports import figures
from bptrace.tracejson import history as long_history

from conftest import run_cli


def _article_with_history(values: array) -> bptrace.Trace:
    tr = bptrace.trace("article")
    tr.spec["iterations"] = len(values)
    tr.history = values
    return tr


def test_a_trace_of_three_million_iterations_renders(tmp_path: Path) -> None:
    n = 3_000_000
    k = np.arange(n, dtype=np.float64)
    # errors as a long run ends them: small, with every digit of a float64 (about 24 bytes each)
    curve = 3.5108500000000004e-5 * (1 + 0.31 * np.exp(-k / 4.1e5) + 0.01 * np.sin(k) ** 2)
    values = array("d")
    values.frombytes(curve.tobytes())
    path = tmp_path / "trace.json"
    with path.open("w", encoding="utf-8") as f:
        f.writelines(_article_with_history(values).iter_json())
    # what the run writes is larger than any document read whole
    assert path.stat().st_size > spec_module.MAX_FILE_BYTES

    r = run_cli("render", str(path), "-q", "-o", str(tmp_path / "out"))
    assert r.code == 0, r.err
    md = (tmp_path / "out" / "report.md").read_text(encoding="utf-8")
    assert "Over 3000000 iterations" in md
    curve_svg = next((tmp_path / "out" / "figures").glob("loss*.svg")).read_text(encoding="utf-8")
    points = curve_svg.split('points="')[1].split('"')[0].split()
    assert 300 < len(points) <= 600  # every bucket's lowest and highest point, no more


def _trace_text(values: list[object]) -> str:
    doc = bptrace.trace("article").to_dict()
    doc["history"]["total_error"] = values
    # a history holds one value per iteration run; only a diverged run holds non-finite ones
    if not values or any(isinstance(v, str) for v in values):
        message = str(bptrace.Diverged(len(values) + 1, None, "total_error"))
        doc["diverged"] = {"iteration": len(values) + 1, "sample": None, "quantity": "total_error", "message": message}
        doc["final"] = None
    else:
        doc["spec"]["iterations"] = len(values)
    return json.dumps(doc, indent=1)


@pytest.mark.parametrize(
    "values",
    [
        [0.25, 0.125, 1, 2.5e-300],
        [0.25, "NaN", "Infinity", "-Infinity", 0],
        [],
    ],
)
def test_history_read_apart_equals_the_document_read_whole(
    values: list[object], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "trace.json"
    path.write_text(_trace_text(values), encoding="utf-8")
    whole = bptrace.Trace.from_dict(spec_module.read_document(path, "t"))
    monkeypatch.setattr(long_history, "PIECE", 9)  # many pieces, cut at commas
    apart = bptrace.Trace.from_dict(long_history.read_long(path, "t", spec_module.MAX_FILE_BYTES))
    assert apart.spec == whole.spec and apart.steps == whole.steps
    assert list(map(repr, apart.history)) == list(map(repr, whole.history))
    assert len(apart.history) == len(values)


@pytest.mark.parametrize("bad", ['"1.5"', "true", "null", "[1]", "1.5.5"])
def test_history_read_apart_refuses_what_is_not_a_number(bad: str, tmp_path: Path) -> None:
    path = tmp_path / "trace.json"
    path.write_text(_trace_text([0.5, "BAD"]).replace('"BAD"', bad), encoding="utf-8")
    with pytest.raises(SpecError) as e:
        bptrace.Trace.from_dict(long_history.read_long(path, "t", spec_module.MAX_FILE_BYTES))
    assert "history.total_error" in str(e.value)
    with pytest.raises(SpecError):
        bptrace.Trace.from_dict(spec_module.read_document(path, "t"))


def test_loss_curve_envelope_with_numpy_equals_the_general_one(monkeypatch: pytest.MonkeyPatch) -> None:
    rnd = random.Random(7)
    for n in (700, 5000, 70_001):
        pools = [
            [rnd.uniform(0, 1) for _ in range(n)],
            [rnd.choice([0.5, 0.25, -0.0, 0.0, math.inf, 1e-300]) for _ in range(n)],
            [float(n - k) for k in range(n)],
        ]
        for pool in pools:
            values = array("d", pool)
            monkeypatch.setattr(figures, "LONG", 10**9)
            general = (figures._envelope(values, 300), figures._positive_range(values))
            monkeypatch.setattr(figures, "LONG", 0)
            assert (figures._envelope(values, 300), figures._positive_range(values)) == general
    with_nan = array("d", [0.5] * 1000 + [math.nan] + [0.25] * 1000)
    monkeypatch.setattr(figures, "LONG", 10**9)
    general = repr(figures._envelope(with_nan, 300))
    monkeypatch.setattr(figures, "LONG", 0)
    assert repr(figures._envelope(with_nan, 300)) == general  # numpy declines, min() decides

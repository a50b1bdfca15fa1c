"""The published versions of the article's example, audited against the two ways of computing
the hidden deltas: which printed value comes from which."""

from __future__ import annotations

import pytest

import bptrace
from bptrace.spec import example_text


def nine(x: float) -> float:
    return round(x, 9)


@pytest.fixture(scope="module")
def variants() -> dict[str, dict]:
    out = {}
    for name in ("original", "updated"):
        one = bptrace.trace("article", hidden_delta_weights=name)
        many = bptrace.trace("article", hidden_delta_weights=name, iterations=10_000)
        out[name] = {
            "E after one update": one.final["total_error"],  # type: ignore[index]
            "w1 after one update": one.value("update.w1"),
            "out_o1 after 10,000 updates": many.final["outputs"][0][0],  # type: ignore[index]
            "out_o2 after 10,000 updates": many.final["outputs"][0][1],  # type: ignore[index]
            "E of the 10,000th forward pass": many.history[-1],
            "out_o1 of the first forward pass": one.value("out.o1"),
            "out_o2 of the first forward pass": one.value("out.o2"),
        }
    return out


# (what was printed, where, the quantity, which variants give it)
PRINTED = [
    (0.291027924, "English original", "E after one update", {"updated"}),
    (0.015912196, "English original", "out_o1 after 10,000 updates", {"updated"}),
    (0.984065734, "English original", "out_o2 after 10,000 updates", {"updated"}),
    (0.0000351085, "English original", "E of the 10,000th forward pass", {"original"}),
    (0.75136079, "Chinese retelling", "out_o1 of the first forward pass", set()),  # a typo
    (0.772928465, "Chinese retelling", "out_o2 of the first forward pass", {"original", "updated"}),
]


@pytest.mark.parametrize("printed,where,quantity,matches", PRINTED)
def test_printed_values_and_the_variants_they_fit(
    variants: dict, printed: float, where: str, quantity: str, matches: set
) -> None:
    places = len(repr(printed).split(".")[1]) if "e" not in repr(printed) else 10
    fits = {name for name, vals in variants.items() if round(vals[quantity], places) == printed}
    assert fits == matches, (where, quantity, {n: v[quantity] for n, v in variants.items()})


def test_the_variants_differ_only_in_the_hidden_layer(variants: dict) -> None:
    o, u = variants["original"], variants["updated"]
    assert nine(o["E after one update"]) == 0.291027774 and nine(u["E after one update"]) == 0.291027924
    assert nine(o["w1 after one update"]) == 0.149780716 and nine(u["w1 after one update"]) == 0.149817639
    one_o = bptrace.trace("article")
    one_u = bptrace.trace("article", hidden_delta_weights="updated")
    for k in (5, 6, 7, 8):  # the output layer's updates are the same
        assert one_o.value(f"update.w{k}") == one_u.value(f"update.w{k}")


def test_the_example_documents_the_audit() -> None:
    text = example_text("article")
    for phrase in ("0.75136079", "0.291027924", 'hidden_delta_weights = "updated"', "0.0000351085"):
        assert phrase in text

"""The article's worked example: every reference value of the first step, and the long runs."""

from __future__ import annotations

import pytest

import bptrace

REL = 1e-9

# float64 reference values of the 2-2-2 example (computed independently of bptrace)
FIRST_STEP = {
    "net.h1": 0.3775,
    "out.h1": 0.593269992107187,
    "net.h2": 0.3925,
    "out.h2": 0.596884378259767,
    "net.o1": 1.10590596705977,
    "out.o1": 0.751365069552316,
    "error.o1": 0.274811083176155,
    "net.o2": 1.22492140409647,
    "out.o2": 0.772928465321463,
    "error.o2": 0.0235600255838477,
    "total_error": 0.298371108760003,
    "partial.dE_total/dout_o1": 0.741365069552316,
    "partial.dout_o1/dnet_o1": 0.186815601808959,
    "delta.o1": 0.138498561628557,
    "partial.dE_total/dout_o2": -0.217071534678537,
    "partial.dout_o2/dnet_o2": 0.175510052817271,
    "delta.o2": -0.0380982365165562,
    "grad.w5": 0.0821670405642308,
    "update.w5": 0.358916479717885,
    "grad.w6": 0.0826676278475333,
    "update.w6": 0.408666186076233,
    "grad.w7": -0.0226025404774751,
    "update.w7": 0.511301270238738,
    "grad.w8": -0.0227402422159782,
    "update.w8": 0.561370121107989,
    "partial.dE_o1/dout_h1": 0.0553994246514228,
    "partial.dE_o2/dout_h1": -0.0190491182582781,
    "partial.dE_total/dout_h1": 0.0363503063931447,
    "partial.dout_h1/dnet_h1": 0.241300708572325,
    "delta.h1": 0.00877135468948694,
    "partial.dE_total/dout_h2": 0.0413703226487447,
    "partial.dout_h2/dnet_h2": 0.240613417249218,
    "delta.h2": 0.0099542547052172,
    "grad.w1": 0.000438567734474347,
    "update.w1": 0.149780716132763,
    "grad.w2": 0.000877135468948694,
    "update.w2": 0.199561432265526,
    "grad.w3": 0.00049771273526086,
    "update.w3": 0.24975114363237,
    "grad.w4": 0.00099542547052172,
    "update.w4": 0.299502287264739,
}


@pytest.mark.parametrize("key", sorted(FIRST_STEP))
def test_first_step_value(article: bptrace.Trace, key: str) -> None:
    assert article.value(key) == pytest.approx(FIRST_STEP[key], rel=REL)


def test_partials_of_the_chain(article: bptrace.Trace) -> None:
    v = article.value
    assert v("partial.dnet_o1/dw5") == pytest.approx(0.593269992107187, rel=REL)  # out_h1
    assert v("partial.dnet_o1/dout_h1") == 0.4  # w5, before its update
    assert v("partial.dnet_h1/dw1") == 0.05  # i1


def test_error_after_one_update(article: bptrace.Trace) -> None:
    assert article.final is not None
    assert article.final["total_error"] == pytest.approx(0.291027773693599, rel=REL)


def test_biases_stay_fixed(article: bptrace.Trace) -> None:
    assert article.final is not None
    assert article.final["params"]["b1"] == 0.35 and article.final["params"]["b2"] == 0.6
    assert not article.records(kind="grad", name="b1")


def test_ten_thousand_iterations() -> None:
    tr = bptrace.trace("article", iterations=10_000)
    assert len(tr.history) == 10_000
    assert tr.history[0] == pytest.approx(0.298371108760003, rel=REL)
    assert tr.history[-1] == pytest.approx(3.51085481225126e-05, rel=REL)
    assert tr.final is not None
    assert tr.final["total_error"] == pytest.approx(3.51018778297886e-05, rel=REL)
    assert tr.final["outputs"][0] == pytest.approx([0.0159136204435507, 0.984064273514624], rel=REL)


def test_published_variant_with_updated_weights() -> None:
    one = bptrace.trace("article", hidden_delta_weights="updated")
    assert one.final is not None
    assert one.final["total_error"] == pytest.approx(0.291027923905, rel=1e-11)
    printed = {"update.w1": 0.149817639, "update.w2": 0.199635277, "update.w3": 0.249788185, "update.w4": 0.299576370}
    for key, value in printed.items():
        assert round(one.value(key), 9) == value
    # the hidden contribution uses w5 after its update
    assert one.value("partial.dnet_o1/dout_h1") == pytest.approx(0.358916479717885, rel=REL)
    many = bptrace.trace("article", hidden_delta_weights="updated", iterations=10_000)
    assert many.final is not None
    assert many.final["outputs"][0] == pytest.approx([0.015912196326, 0.984065734486], rel=1e-10)
    assert many.final["total_error"] == pytest.approx(3.50847862963e-05, rel=1e-10)


def test_bias_updates_switched_on() -> None:
    tr = bptrace.trace("article", update_biases=True)
    assert tr.final is not None
    assert tr.final["total_error"] == pytest.approx(0.285750886699, rel=1e-11)
    # a shared bias collects the deltas of its whole layer
    assert tr.value("grad.b2") == pytest.approx(0.138498561628557 - 0.0380982365165562, rel=REL)
    assert tr.value("grad.b1") == pytest.approx(0.00877135468948694 + 0.0099542547052172, rel=REL)


def test_gradient_check_of_the_article(article: bptrace.Trace) -> None:
    gc = article.gradcheck
    assert gc is not None
    assert gc["checked"] == gc["of"] == 8
    assert gc["max_rel_diff"] < 1e-5


def test_updated_variant_fails_the_gradient_check() -> None:
    gc = bptrace.trace("article", hidden_delta_weights="updated").gradcheck
    assert gc is not None
    assert gc["max_rel_diff"] > 1e-3  # the published variant is not the true gradient
    assert gc["worst"] == "w1"  # a hidden weight: only their gradients use the updated weights

"""Hypothesis strategies for random small, valid specs."""

from __future__ import annotations

from typing import Any

from hypothesis import strategies as st

from bptrace.ops import ACTIVATIONS, LOSSES

# drawn from the tables themselves, so a new activation or loss is exercised without editing here
HIDDEN_ACTS = sorted(name for name, a in ACTIVATIONS.items() if a.hidden_ok)
OUTPUT_ACTS = {loss: sorted(a for a in ACTIVATIONS if LOSSES[loss].form(a) is not None) for loss in sorted(LOSSES)}
small = st.floats(min_value=-1.0, max_value=1.0, allow_nan=False, allow_infinity=False)


@st.composite
def specs(draw: Any, max_layers: int = 4, max_size: int = 3, max_samples: int = 3) -> dict[str, Any]:
    n_layers = draw(st.integers(2, max_layers))
    sizes = [draw(st.integers(1, max_size)) for _ in range(n_layers)]
    loss = draw(st.sampled_from(sorted(LOSSES)))
    out_act = draw(st.sampled_from(OUTPUT_ACTS[loss]))
    # layer names ending in a digit give neurons with a separator (h1_2): both kinds are drawn
    names = draw(st.sampled_from([["i", "h", "g", "k", "m"], ["x1", "h1", "h2", "hidden3", "h4"]]))
    names = names[: n_layers - 1] + ["o"]
    layers: list[dict[str, Any]] = [{"name": names[0], "size": sizes[0]}]
    for k in range(1, n_layers):
        act = out_act if k == n_layers - 1 else draw(st.sampled_from(HIDDEN_ACTS))
        shared = draw(st.booleans())
        layers.append(
            {
                "name": names[k],
                "size": sizes[k],
                "activation": act,
                "weights": [[draw(small) for _ in range(sizes[k - 1])] for _ in range(sizes[k])],
                "bias": draw(small) if shared else [draw(small) for _ in range(sizes[k])],
            }
        )
    n_samples = draw(st.integers(1, max_samples))
    samples = []
    for _ in range(n_samples):
        x = [draw(small) for _ in range(sizes[0])]
        if loss == "cross_entropy" and out_act == "softmax":
            hot = draw(st.integers(0, sizes[-1] - 1))
            t = [1.0 if j == hot else 0.0 for j in range(sizes[-1])]
        else:
            t = [draw(st.floats(0.0, 1.0)) for _ in range(sizes[-1])]
        samples.append({"input": x, "target": t})
    mode = draw(st.sampled_from(["online", "batch"]))
    return {
        "title": "random",
        "learning_rate": draw(st.floats(0.01, 1.0)),
        "loss": loss,
        "iterations": draw(st.integers(1, 4)),
        "mode": mode,
        "update_biases": draw(st.booleans()),
        "hidden_delta_weights": "original" if mode == "batch" else draw(st.sampled_from(["original", "updated"])),
        "layers": layers,
        "samples": samples,
    }


# Found by the search: with a learning rate of 1 the output sigmoid reaches exactly 1 against a
# target of 0, so the cross-entropy is decided by its clip. Kept as an explicit example so every
# run compares a clipped loss, whatever the seed.
SATURATED_OUTPUT: dict[str, Any] = {
    "title": "random",
    "learning_rate": 1.0,
    "loss": "cross_entropy",
    "iterations": 3,
    "mode": "online",
    "update_biases": False,
    "hidden_delta_weights": "updated",
    "layers": [
        {"name": "i", "size": 2},
        {"name": "h", "size": 3, "activation": "sigmoid", "weights": [[0.0, 0.0]] * 3, "bias": 0.0},
        {"name": "g", "size": 3, "activation": "relu", "weights": [[0.0, 0.0, 0.0]] * 3, "bias": 1.0},
        {"name": "o", "size": 2, "activation": "sigmoid", "weights": [[0.0, 0.0, 0.0]] * 2, "bias": [0.0, 0.0]},
    ],
    "samples": [{"input": [0.0, 0.0], "target": [0.0, 1.0]}, {"input": [0.0, 0.0], "target": [0.0, 0.0]}],
}

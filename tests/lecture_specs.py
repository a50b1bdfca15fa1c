"""Networks the lecture tests step through: the article, the softmax example, and a deeper one."""

from __future__ import annotations

from typing import Any

DEEP: dict[str, Any] = {
    "title": "A deeper network",
    "learning_rate": 0.5,
    "layers": [
        {"name": "i", "size": 2},
        {
            "name": "h",
            "size": 3,
            "activation": "tanh",
            "weights": [[0.1, -0.2], [0.3, 0.4], [-0.5, 0.6]],
            "bias": [0.01, 0.02, 0.03],
        },
        {"name": "g", "size": 2, "activation": "relu", "weights": [[0.2, -0.1, 0.3], [0.4, 0.5, -0.6]], "bias": 0.1},
        {"name": "o", "size": 1, "activation": "sigmoid", "weights": [[0.7, -0.8]], "bias": 0.2},
    ],
    "samples": [{"input": [0.5, -0.3], "target": [1.0]}],
}

LECTURE_SPECS: dict[str, Any] = {"article": "article", "softmax": "softmax", "deep": DEEP}

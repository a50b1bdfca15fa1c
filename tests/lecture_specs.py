"""Networks the lecture tests step through: the article, the softmax example, a deeper one, an online\nrun of two samples and a run of two iterations."""

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

# online, two samples: the lecture shows sample 1's update, and sample 2 then starts from its weights
ONLINE: dict[str, Any] = {
    "title": {"en": "Regression with tanh, two samples, online", "zh": "用 tanh 做回归：两个样本，逐样本更新"},
    "learning_rate": 0.1,
    "mode": "online",
    "loss": "mse",
    "layers": [
        {"name": "x", "size": 2},
        {
            "name": "h",
            "size": 3,
            "activation": "tanh",
            "weights": [[0.1, -0.2], [0.4, 0.3], [-0.5, 0.2]],
            "bias": [0.0, 0.1, -0.1],
        },
        {"name": "y", "size": 1, "activation": "linear", "weights": [[0.3, -0.6, 0.5]], "bias": 0.2},
    ],
    "samples": [{"input": [1.0, 2.0], "target": [0.5]}, {"input": [-1.0, 0.5], "target": [-0.3]}],
}

# two iterations of one sample: the lecture shows iteration 1, the second follows from its weights
ITERATED: dict[str, Any] = {
    "title": {"en": "Is it a cat? A 3-2-1 ReLU network", "zh": "是不是猫？一个 3-2-1 的 ReLU 网络"},
    "learning_rate": 0.5,
    "loss": "cross_entropy",
    "iterations": 2,
    "layers": [
        {"name": "i", "size": 3},
        {
            "name": "h",
            "size": 2,
            "activation": "relu",
            "weights": [[0.2, -0.4, 0.1], [0.5, 0.3, -0.2]],
            "bias": [0.1, -0.1],
        },
        {"name": "o", "size": 1, "activation": "sigmoid", "weights": [[0.7, -0.3]], "bias": 0.05},
    ],
    "samples": [{"input": [1.0, 0.0, 0.5], "target": [1]}],
}

LECTURE_SPECS: dict[str, Any] = {
    "article": "article",
    "softmax": "softmax",
    "deep": DEEP,
    "online": ONLINE,
    "iterated": ITERATED,
}

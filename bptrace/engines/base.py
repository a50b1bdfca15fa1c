"""What both tracing engines (scalar and matrix) start from."""

from __future__ import annotations

from .. import names
from ..plan import StepBuilder
from ..spec import Spec


class EngineBase:
    def __init__(self, spec: Spec) -> None:
        self.spec = spec
        self.data = spec.data
        self.layers = names.layout(self.data)
        self.builder = StepBuilder(self.layers, self.data)
        self.batch = self.data["mode"] == "batch"
        self.samples = self.data["samples"]
        self.eta: float = self.data["learning_rate"]

"""The engines that produce a step's numbers from the plan, and the choice between them.

- ``scalar``: every quantity a record of its own, evaluated from the plan's expression trees;
- ``compiled``: the scalar engine's untraced iterations as one generated Python function;
- ``matrix``: numpy, one array record per quantity of a layer, for layers too large for scalars.
"""

from __future__ import annotations

from array import array
from collections.abc import Mapping, Sequence

from .. import names
from ..spec import Spec
from ..tracedata import Step

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any, Protocol

    class Names(Protocol):
        """Parameter names by position: a list, or a lazy sequence for very large layers."""

        def __len__(self) -> int: ...
        def __getitem__(self, k: int, /) -> str: ...

    class Engine(Protocol):
        """What the tracer asks of an engine; parameters are opaque to it (a dict or arrays)."""

        batch: bool
        batch_list: list[list[int]]  # the 0-based samples of each batch, in order
        batch_sum: bool  # a batch's gradient is the sum of its samples' (else their mean)
        layers: list[names.LayerLayout]

        @property
        def samples(self) -> Sequence[Mapping[str, Any]]: ...
        @property
        def trainable(self) -> Names: ...

        def initial_params(self) -> Any: ...
        def traced_iteration(self, params: Any, it: int, steps: list[Step]) -> tuple[float, Any]: ...
        def fast(self, params: Any, n: int, history: array[float]) -> tuple[int, Any]: ...
        def final(self, params: Any) -> dict[str, Any]: ...
        def error_moved(self, params: Any, name: str, h: float, samples: Any) -> float: ...
        def value_of(self, params: Any, name: str) -> float: ...
        def traced_grad(self, step: Step, name: str) -> float | None: ...


def uses_matrix(spec: Spec, threshold: int = names.SCALAR_LIMIT) -> bool:
    """Whether some layer has more than ``threshold`` weights, and so is traced in matrix form."""
    return names.matrix_mode(names.layout(spec.data), threshold)


def make_engine(spec: Spec, threshold: int = names.SCALAR_LIMIT) -> Engine:
    if uses_matrix(spec, threshold):
        from .matrix import MatrixEngine  # numpy loads only for networks that need it

        return MatrixEngine(spec)
    from .scalar import ScalarEngine

    return ScalarEngine(spec)

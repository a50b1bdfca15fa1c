"""Equality, hashing and a readable repr for the small value classes every run builds (the spec,
the tables of activations and losses, the plan's entries, the trace's records).

They behave as dataclasses would (equal when of the same class with equal fields, a frozen one
hashable and read-only, ``Name(field=value, ...)`` as repr) but each class writes its own
``__init__``: the dataclasses module imports inspect, and loading it with the dozen classes it
would generate costs a command-line run more than the run's own work.
"""

from __future__ import annotations

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any, NoReturn


class Fields:
    """A mutable value: ``_fields`` names what equality and repr compare, in order."""

    _fields: tuple[str, ...] = ()
    __hash__ = None  # type: ignore[assignment]  # mutable, so unhashable, as an eq dataclass

    def _values(self) -> tuple[Any, ...]:
        return tuple(getattr(self, f) for f in self._fields)

    def __eq__(self, other: object) -> bool:
        if other.__class__ is not self.__class__:
            return NotImplemented
        assert isinstance(other, Fields)
        return self._values() == other._values()

    def __repr__(self) -> str:
        inner = ", ".join(f"{f}={getattr(self, f)!r}" for f in self._fields)
        return f"{self.__class__.__qualname__}({inner})"


class FrozenFields(Fields):
    """A value that cannot change once made: its ``__init__`` sets fields with ``_set``."""

    def __hash__(self) -> int:  # type: ignore[override]
        return hash(self._values())

    def _set(self, **values: Any) -> None:
        for k, val in values.items():
            object.__setattr__(self, k, val)

    def __setattr__(self, name: str, value: Any) -> NoReturn:
        raise AttributeError(f"cannot assign to field {name!r} of a {self.__class__.__name__}")

    def __delattr__(self, name: str) -> NoReturn:
        raise AttributeError(f"cannot delete field {name!r} of a {self.__class__.__name__}")

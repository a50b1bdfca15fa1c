"""The one exception bad input raises, and where it points."""

from __future__ import annotations


class SpecError(ValueError):
    """Bad input: a spec, a trace, an answers file or an option.

    ``str(err)`` is one line naming the file and the field (``spec.toml: layers[1].weights:
    expected 2×2, got 2×3``); ``.path`` is the field alone (``layers[1].weights``) and ``.source``
    the file, built-in name or ``<dict>``.
    """

    def __init__(self, detail: str, path: str = "", source: str = "") -> None:
        self.detail = detail
        self.path = path
        self.source = source
        super().__init__(": ".join(p for p in (source, path, detail) if p))

    def at(self, source: str) -> SpecError:
        """The same error, said of a named file."""
        return SpecError(self.detail, self.path, source)


class Diverged(Exception):
    """Training produced a non-finite value; carries where (the trace is kept up to there)."""

    def __init__(self, iteration: int, sample: int | None, quantity: str) -> None:
        self.iteration = iteration
        self.sample = sample
        self.quantity = quantity
        where = f"iteration {iteration}" + (f", sample {sample}" if sample else "")
        super().__init__(f"training diverged at {where}: {quantity} is not finite")

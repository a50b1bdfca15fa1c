"""Cyclic garbage collection held back while a burst of short-lived objects is made.

A traced step, or one rendered exercise variant, makes tens of thousands of small objects. The
collector, triggered every few hundred allocations, would walk them again and again and find
little to free: a variant leaves about a thousand objects in cycles (template contexts and the
like), which one young-generation pass at the end frees.
"""

from __future__ import annotations

import gc
from collections.abc import Iterator
from contextlib import contextmanager


@contextmanager
def held(sweep: bool = False) -> Iterator[None]:
    """No automatic collection inside; with sweep, one pass over what was made inside, at the end."""
    collecting = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if sweep:
            gc.collect(0)
        if collecting:
            gc.enable()

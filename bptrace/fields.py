"""Small checks that turn a wrong value into a SpecError naming its field."""

from __future__ import annotations

import json
import math
import re

from .errors import SpecError

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any


def type_name(val: Any) -> str:
    if val is None:
        return "nothing"
    if isinstance(val, bool):
        return f"the boolean {str(val).lower()}"
    if isinstance(val, int):
        return f"the number {val}" if abs(val) < 10**18 else show_int(val)
    if isinstance(val, float):
        return f"the number {val!r}"
    if isinstance(val, str):
        return f"the text {short(val)!r}"
    if isinstance(val, list):
        return f"a list of {len(val)}"
    if isinstance(val, dict):
        return "a table"
    return type(val).__name__


def short(s: str, n: int = 40) -> str:
    return s if len(s) <= n else s[: n - 1] + "…"


def show_int(n: int) -> str:
    """An integer as an error message can show it: in full when short, else by its size (printing
    a 5000-digit integer is long, and beyond 4300 digits Python refuses to)."""
    if abs(n) < 10**18:
        return str(n)
    return f"an integer of about {int(n.bit_length() * 0.30103) + 1} digits"


def number(val: Any, path: str) -> float:
    if isinstance(val, bool) or not isinstance(val, (int, float)):
        raise SpecError(f"expected a number, got {type_name(val)}", path)
    try:
        x = float(val)
    except OverflowError:  # an integer beyond float64
        raise SpecError(f"expected a number within ±1.8e308, got {show_int(int(val))}", path) from None
    if not math.isfinite(x):
        raise SpecError(f"expected a finite number, got {val!r}", path)
    return x


def integer(val: Any, path: str, lo: int, hi: int | None = None, what: str = "") -> int:
    if isinstance(val, bool) or not isinstance(val, (int, float)):
        raise SpecError(f"expected a whole number, got {type_name(val)}", path)
    if isinstance(val, float) and not (math.isfinite(val) and val.is_integer()):
        raise SpecError(f"expected a whole number, got {val!r}", path)
    n = int(val)
    if n < lo:
        raise SpecError(f"expected {what or 'a whole number'} of at least {lo}, got {show_int(n)}", path)
    if hi is not None and n > hi:
        raise SpecError(f"{show_int(n)} is absurd here (at most {hi})", path)
    return n


def text(val: Any, path: str) -> str:
    if not isinstance(val, str):
        raise SpecError(f"expected text, got {type_name(val)}", path)
    return val


def choice(val: Any, path: str, choices: tuple[str, ...] | list[str]) -> str:
    s = text(val, path)
    if s not in choices:
        import difflib  # only a mistake needs it: a run that reads a good spec loads nothing for it

        hint = difflib.get_close_matches(s, choices, n=1)
        did = f" (did you mean {hint[0]!r}?)" if hint else ""
        raise SpecError(f"unknown value {short(s)!r}{did}; expected one of {', '.join(choices)}", path)
    return s


def table(val: Any, path: str, keys: tuple[str, ...], what: str = "a table") -> dict[str, Any]:
    if not isinstance(val, dict):
        raise SpecError(f"expected {what}, got {type_name(val)}", path)
    for k in val:
        if k not in keys:
            import difflib

            key = str(k)
            hint = difflib.get_close_matches(key, keys, n=1, cutoff=0.6) if len(key) <= 64 else []
            name = short(key) if re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", key) else short(json.dumps(key))
            where = f"{path}.{name}" if path else name
            if hint:
                raise SpecError(f"unknown key (did you mean {hint[0]!r}?)", where)
            raise SpecError(f"unknown key; known keys: {', '.join(keys)}", where)
    return val


def list_of(val: Any, path: str, what: str = "a list") -> list[Any]:
    if not isinstance(val, list):
        raise SpecError(f"expected {what}, got {type_name(val)}", path)
    return val


def vector(val: Any, path: str, n: int, what: str) -> list[float]:
    items = list_of(val, path, f"a list of {n} numbers ({what})")
    if len(items) != n:
        raise SpecError(f"expected {n} numbers ({what}), got {len(items)}", path)
    return [number(x, f"{path}[{i}]") for i, x in enumerate(items)]


def require(data: dict[str, Any], key: str, path: str = "") -> Any:
    if key not in data:
        raise SpecError("missing (required)", f"{path}.{key}" if path else key)
    return data[key]

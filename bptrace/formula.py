"""Expression trees: evaluate them on floats, print them as LaTeX, compile them to Python.

A record's formula, its substituted form, its value, a student's recomputed value and the compiled
fast path all come from the same tree, so they cannot disagree about the order of operations.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Callable, Iterator, Mapping

from . import names, numfmt
from .ops import FUNCTIONS

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

    from .ops import Node

# Precedence when printing: an operand is parenthesised when its own precedence is lower than
# what its position needs.
_ATOM = 6
_POWER = 5
_SCI = 4  # a number in scientific notation: fine as a factor, not as a base
_PRODUCT = 3
_UNARY = 2
_SUM = 1

MAX_TERMS = 12  # longer sums are printed with an ellipsis


Scalars = Mapping[str, Callable[..., float]]


def evaluate(node: Node, env: Mapping[str, float], fns: Scalars | None = None) -> float:
    """The value of a tree; ``fns`` gives other forms of the functions (float32 for a float32 trace)."""
    if not isinstance(node, list):
        return float(node)
    op = node[0]
    if op == "v":
        return env[node[1]]
    if op == "fn":
        f = FUNCTIONS[node[1]].scalar if fns is None else fns[node[1]]
        return f(*(evaluate(a, env, fns) for a in node[2:]))
    args = [evaluate(a, env, fns) for a in node[1:]]
    if op == "add":
        s = args[0]
        for a in args[1:]:
            s = s + a
        return s
    if op == "mul":
        p = args[0]
        for a in args[1:]:
            p = p * a
        return p
    if op == "sub":
        return args[0] - args[1]
    if op == "neg":
        return -args[0]
    if op == "half":
        return 0.5 * args[0]
    if op == "sq":
        return args[0] * args[0]
    if op == "div":
        return args[0] / args[1] if args[1] else math.nan
    if op == "pow":
        power: float = args[0] ** args[1]
        return power
    raise ValueError(f"unknown operation {op!r}")


def fill(node: Node, env: Mapping[str, float]) -> Node:
    """A copy of the tree with each variable's value beside its key: ["v", key, value]."""
    if not isinstance(node, list):
        return node
    if node[0] == "v":
        return ["v", node[1], env[node[1]]]
    if node[0] == "fn":
        return ["fn", node[1], *(fill(a, env) for a in node[2:])]
    return [node[0], *(fill(a, env) for a in node[1:])]


def variables(node: Node) -> Iterator[Node]:
    """Every variable node, left to right."""
    if isinstance(node, list):
        if node[0] == "v":
            yield node
            return
        for a in node[2:] if node[0] == "fn" else node[1:]:
            yield from variables(a)


def _const(x: float) -> str:
    return str(int(x)) if float(x).is_integer() else repr(float(x))


Numbers = Callable[[float], str]


def _number(x: float, number: Numbers) -> tuple[str, int]:
    s = number(x)
    if s.startswith("-"):
        return s, _UNARY
    return s, (_SCI if r"\times" in s else _ATOM)


def latex(
    node: Node,
    number: Numbers | None = None,
    max_terms: int = MAX_TERMS,
    symbol: Callable[[str], str] = names.symbol,
    times: str = r"\cdot",
    number_of: Callable[[str, float], str] | None = None,
    mean_first: bool = False,
) -> str:
    """The tree as LaTeX: symbols when number is None, else each variable's value put in.

    ``symbol`` and ``times`` let the same tree print in vector form (bold symbols, ⊙);
    ``number_of`` (key, value) prints a variable's value by what it is, over ``number``;
    ``mean_first`` writes a sum over a number as 1/n times the bracketed sum, for a page where
    fractions inside a fraction's numerator would be set too small to read. (The trace's own
    formulas keep the plain fraction: a saved trace is checked against them.)
    """
    return _latex(node, _Style(number, max_terms, symbol, times, number_of, mean_first))[0]


class _Style:
    def __init__(
        self,
        number: Numbers | None,
        max_terms: int,
        symbol: Callable[[str], str],
        times: str,
        number_of: Callable[[str, float], str] | None = None,
        mean_first: bool = False,
    ) -> None:
        self.number, self.max_terms, self.symbol, self.times = number, max_terms, symbol, times
        self.number_of, self.mean_first = number_of, mean_first


def _wrap(part: tuple[str, int], need: int) -> str:
    s, prec = part
    return rf"\left({s}\right)" if prec < need else s


def _base_need(base: str) -> int:
    """How tightly a power's base must bind. A fraction (a gradient's symbol) is bracketed, so the
    power is not read as its denominator's; so is a symbol with a superscript of its own (a sample's
    mark, out^(1)), which a second superscript would make a double one."""
    if base.startswith(r"\frac") or ("^" in base and not base.endswith(r"\right)")):
        return _ATOM + 1
    return _ATOM


def _latex(node: Node, st: _Style) -> tuple[str, int]:
    if not isinstance(node, list):
        return _const(node), _ATOM
    op = node[0]
    if op == "v":
        if st.number is None:
            return st.symbol(node[1]), _ATOM
        number = st.number if st.number_of is None else functools.partial(st.number_of, node[1])
        return _number(node[2], number)
    operands = node[2:] if op == "fn" else node[1:]
    if op == "add" and len(operands) > st.max_terms:
        # a long sum shows its first terms and its last; the rest is never printed, so never built
        shown = [_wrap(_latex(a, st), _PRODUCT) for a in operands[:3]]
        return " + ".join(shown + [r"\cdots", _wrap(_latex(operands[-1], st), _PRODUCT)]), _SUM
    sub = [_latex(a, st) for a in operands]
    if op == "fn":
        f = FUNCTIONS[node[1]]
        args = [_wrap(a, _ATOM) if f.wants_atoms else a[0] for a in sub]
        return f.latex(*args), _ATOM
    if op == "add":
        return " + ".join(_wrap(a, _PRODUCT) for a in sub), _SUM
    if op == "sub":
        return f"{sub[0][0]} - {_wrap(sub[1], _PRODUCT)}", _SUM
    if op == "mul":
        return f" {st.times} ".join(_wrap(a, _PRODUCT) for a in sub), _PRODUCT
    if op == "neg":
        return f"-{_wrap(sub[0], _PRODUCT)}", _UNARY
    if op == "half":
        return rf"\frac{{1}}{{2}} {_wrap(sub[0], _PRODUCT)}", _PRODUCT
    if op == "sq":
        return f"{_wrap(sub[0], _base_need(sub[0][0]))}^{{2}}", _POWER
    if op == "div":
        if st.mean_first and isinstance(node[2], (int, float)) and sub[0][1] == _SUM:
            return rf"\frac{{1}}{{{sub[1][0]}}} \left({sub[0][0]}\right)", _PRODUCT
        return rf"\frac{{{sub[0][0]}}}{{{sub[1][0]}}}", _ATOM
    if op == "pow":
        return f"{_wrap(sub[0], _base_need(sub[0][0]))}^{{{sub[1][0]}}}", _POWER
    raise ValueError(f"unknown operation {op!r}")


def exact_latex(x: float) -> str:
    """A float at full precision, written for LaTeX (1e-05 -> 1 \\times 10^{-5})."""
    if not math.isfinite(x):
        return numfmt.latex(x)
    s = numfmt.exact(x)
    if "e" in s:
        mant, exp = s.split("e")
        return rf"{mant.removesuffix('.0')} \times 10^{{{int(exp)}}}"
    return s.removesuffix(".0")


# ---------------------------------------------------------------- compiling to Python


def to_python(node: Node, var: Callable[[str], str]) -> str:
    """The tree as a Python expression evaluating in exactly the order evaluate() does."""
    if not isinstance(node, list):
        return repr(float(node))
    op = node[0]
    if op == "v":
        return var(node[1])
    if op == "fn":
        args = [to_python(a, var) for a in node[2:]]
        inline = FUNCTIONS[node[1]].inline
        if inline is not None and len(args) == 1 and args[0].isidentifier():
            return inline(args[0])
        return f"F_{node[1]}({', '.join(args)})"
    args = [to_python(a, var) for a in node[1:]]
    if op == "add":
        return "(" + " + ".join(args) + ")"
    if op == "mul":
        return "(" + " * ".join(args) + ")"
    if op == "sub":
        return f"({args[0]} - {args[1]})"
    if op == "neg":
        return f"(-{args[0]})"
    if op == "half":
        return f"(0.5 * {args[0]})"
    if op == "sq":
        return f"({args[0]} * {args[0]})" if args[0].isidentifier() else f"_sq({args[0]})"
    if op == "div":
        return f"_div({args[0]}, {args[1]})"
    if op == "pow":
        return f"({args[0]} ** {args[1]})"
    raise ValueError(f"unknown operation {op!r}")


def python_namespace(float32: bool = False) -> dict[str, Any]:
    if float32:
        import numpy as np

        from .ops import F32_SCALARS

        ns: dict[str, Any] = {f"F_{k}": F32_SCALARS[k] for k in FUNCTIONS}
        ns["_exp"] = np.exp
    else:
        ns = {f"F_{k}": f.scalar for k, f in FUNCTIONS.items()}
        ns["_exp"] = math.exp
    ns["_sq"] = lambda x: x * x
    ns["_div"] = lambda a, b: a / b if b else math.nan
    return ns

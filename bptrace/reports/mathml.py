"""LaTeX to MathML for the formulas bptrace writes, fast; anything else goes to latex2mathml.

Reports hold a hundred formulas or more, and latex2mathml takes about half a millisecond for
each. bptrace's own LaTeX uses a small vocabulary (fractions, sub- and superscripts, \\mathrm,
fences, align* and cases), which a direct recursive-descent converter turns into MathML in a
few microseconds. A formula with anything outside that vocabulary (a user's template, say) is
handed to latex2mathml whole, so every formula still becomes MathML.
"""

from __future__ import annotations

import itertools
import re
from functools import lru_cache
from html import escape

NS = "http://www.w3.org/1998/Math/MathML"

_TOKEN = re.compile(r"\s*(?:(?P<cmd>\\(?:[A-Za-z]+\*?|[,;! \\_{}|%]))|(?P<num>\d+(?:\.\d+)?)|(?P<char>[^\s\\]))")

_IDENT = {
    "partial": "∂", "delta": "δ", "sigma": "σ", "eta": "η", "infty": "∞", "top": "⊤", "alpha": "α",
    "beta": "β", "gamma": "γ", "epsilon": "ε", "lambda": "λ", "mu": "μ", "theta": "θ", "pi": "π",
}  # fmt: skip
_OPS = {
    "cdot": "⋅", "times": "×", "odot": "⊙", "le": "≤", "leq": "≤", "ge": "≥", "geq": "≥", "cdots": "⋯",
    "ldots": "…", "pm": "±", "to": "→", "neq": "≠", "approx": "≈",
}  # fmt: skip
_FUNCS = ("ln", "tanh", "max", "min", "exp", "log", "sin", "cos")
_SPACES = {",": "0.167em", ";": "0.278em", " ": "0.25em", "!": "-0.167em", "quad": "1em", "qquad": "2em"}
_FENCES = {"(": "(", ")": ")", "[": "[", "]": "]", ".": "", "|": "|", "\\{": "{", "\\}": "}"}
_CHAR_OPS = set("+-=<>()[],;:/|!'")


PRIME = '<mo lspace="0" rspace="0">′</mo>'
UNARY_MINUS = '<mo form="prefix">−</mo>'  # no binary-operator space between the sign and its number
_CLOSING = tuple(f"{c}</mo>" for c in ")]|}")


def _operand_expected(items: list[str]) -> bool:
    """Whether a minus here is a sign: at the start, or after an operator or an opening fence."""
    before = [it for it in items if not it.startswith("<mspace")]
    if not before:
        return True
    last = before[-1]
    return last.startswith("<mo") and last != PRIME and not last.endswith(_CLOSING)


class Unsupported(ValueError):
    """The formula uses LaTeX this converter does not know; latex2mathml takes it."""


# A hole stands for a run of digits in a formula: Arabic-Indic digits (its number) closed by an
# extended Arabic-Indic zero. Both are digits to the tokenizer, so a formula with holes converts
# exactly as with its numbers, and the numbers go back into the holes afterwards: the variants of
# an exercise, which differ only in their numbers, convert once. The closing digit keeps two
# holes apart where the output runs them together.
HOLE = re.compile("([\u0660-\u0669]+)\u06f0")
_HOLE_CHAR = re.compile("[\u0660-\u0669\u06f0]")
_HOLE_DIGITS = str.maketrans("0123456789", "".join(map(chr, range(0x660, 0x66A))))


def hole(k: int) -> str:
    return str(k).translate(_HOLE_DIGITS) + "\u06f0"


def has_holes(text: str) -> bool:
    return _HOLE_CHAR.search(text) is not None


def _tokens(tex: str) -> list[str]:
    out = []
    end = 0
    for m in _TOKEN.finditer(tex):
        if m.start() != end:  # something the token pattern skipped: not LaTeX this converter knows
            raise Unsupported(tex[end : m.start()])
        out.append(m.group(m.lastindex or 0))
        end = m.end()
    if tex[end:].strip():
        raise Unsupported(tex[end:])
    return out


class _Parser:
    def __init__(self, tokens: list[str]) -> None:
        self.t = tokens
        self.i = 0

    def peek(self) -> str | None:
        return self.t[self.i] if self.i < len(self.t) else None

    def take(self) -> str:
        if self.i >= len(self.t):
            raise Unsupported("unexpected end")
        tok = self.t[self.i]
        self.i += 1
        return tok

    def expect(self, tok: str) -> None:
        if self.take() != tok:
            raise Unsupported(f"expected {tok}")

    # -------------------------------------------------------- sequences

    def row(self, stop: tuple[str, ...] = ()) -> list[str]:
        """Items until a stop token (not consumed) or the end."""
        items: list[str] = []
        while (tok := self.peek()) is not None and tok not in stop:
            if tok in ("^", "_"):
                if not items:
                    items.append("<mi></mi>")
                items[-1] = self.scripts(items[-1])
                continue
            if tok == "'":
                # U+2032 is drawn raised already: as a superscript it would shrink to a speck
                self.take()
                items.append(PRIME)
                continue
            if tok == "-" and _operand_expected(items):
                self.take()
                items.append(UNARY_MINUS)
                continue
            items.append(self.atom())
        return items

    def group(self) -> str:
        """A braced group or a single atom, as one MathML element."""
        if self.peek() == "{":
            self.take()
            items = self.row(("}",))
            self.expect("}")
            return _mrow(items)
        return self.atom()

    def text_group(self) -> str:
        """The raw text of a braced group (for \\mathrm and friends)."""
        self.expect("{")
        parts = []
        while (tok := self.take()) != "}":
            if tok == "\\_":
                parts.append("_")
            elif tok.startswith("\\") or tok in "{^_":
                raise Unsupported(tok)
            else:
                parts.append(tok)
        return "".join(parts)

    def scripts(self, base: str) -> str:
        sub = sup = None
        while self.peek() in ("^", "_"):
            which = self.take()
            arg = self.group()
            if which == "_":
                if sub is not None:
                    raise Unsupported("double subscript")
                sub = arg
            else:
                if sup is not None:
                    raise Unsupported("double superscript")
                sup = arg
        if sub is not None and sup is not None:
            return f"<msubsup>{base}{sub}{sup}</msubsup>"
        if sub is not None:
            return f"<msub>{base}{sub}</msub>"
        return f"<msup>{base}{sup}</msup>"

    # -------------------------------------------------------- atoms

    def atom(self) -> str:
        tok = self.take()
        if tok == "{":
            items = self.row(("}",))
            self.expect("}")
            return _mrow(items)
        if tok[0].isdigit():
            return f"<mn>{tok}</mn>"
        if not tok.startswith("\\"):
            if tok.isalpha():
                return f"<mi>{escape(tok)}</mi>"
            if tok == "-":
                return "<mo>−</mo>"
            if tok in "()[]|":
                return f'<mo stretchy="false">{escape(tok)}</mo>'
            if tok in _CHAR_OPS or tok in "*.":
                return f"<mo>{escape(tok)}</mo>"
            if ord(tok) > 127:
                return f"<mi>{escape(tok)}</mi>"
            raise Unsupported(tok)
        name = tok[1:]
        if name in _IDENT:
            return f"<mi>{_IDENT[name]}</mi>"
        if name in _OPS:
            return f"<mo>{_OPS[name]}</mo>"
        if name in _FUNCS:
            # a script (\tanh^2) belongs to the name alone: taken later by row(), it would make the
            # name, the application sign and the space one msup base, which browsers draw flat
            head = f"<mi>{name}</mi>"
            if self.peek() in ("^", "_"):
                head = self.scripts(head)
            # the invisible function application, and TeX's thin space before the argument
            return head + '<mo>&#x2061;</mo><mspace width="0.167em"></mspace>'

        if name in _SPACES:
            return f'<mspace width="{_SPACES[name]}"></mspace>'
        if name == "sum":
            return '<mo largeop="true" movablelimits="true">∑</mo>'
        if name == "frac":
            num = self.group()
            den = self.group()
            return f"<mfrac>{num}{den}</mfrac>"
        if name in ("mathrm", "operatorname"):
            text = self.text_group()
            variant = ' mathvariant="normal"' if len(text) == 1 and text.isalpha() else ""
            return (
                f"<mi{variant}>{escape(text)}</mi>"
                if text.isalpha() or "_" in text
                else f"<mtext>{escape(text)}</mtext>"
            )
        if name == "text":
            return f"<mtext>{escape(self.text_group())}</mtext>"
        if name in ("mathbf", "boldsymbol"):
            if self.peek() == "{" and self.t[self.i + 1 : self.i + 2] and self.t[self.i + 1].startswith("\\"):
                self.take()
                inner = self.atom()
                self.expect("}")
                return inner.replace("<mi>", '<mi mathvariant="bold-italic" style="font-weight:bold">', 1)
            text = self.text_group()
            if len(text) == 1 and text.isascii() and text.isalpha():
                # one bold letter is its own character (MATHEMATICAL BOLD), as latex2mathml writes it
                base = 0x1D400 if text.isupper() else 0x1D41A
                return f"<mi>{chr(base + ord(text.lower()) - ord('a'))}</mi>"
            return f'<mi mathvariant="bold" style="font-weight:bold">{escape(text)}</mi>'
        if name == "left":
            return self.fenced()
        if name == "begin":
            return self.environment()
        if name in ("{", "}"):
            return f'<mo stretchy="false">{name}</mo>'
        raise Unsupported(tok)

    def fence(self) -> str:
        tok = self.take()
        if tok not in _FENCES:
            raise Unsupported(tok)
        ch = _FENCES[tok]
        return f'<mo fence="true" stretchy="true">{escape(ch)}</mo>' if ch else ""

    def fenced(self) -> str:
        opening = self.fence()
        items = self.row(("\\right",))
        self.expect("\\right")
        closing = self.fence()
        return "<mrow>" + opening + "".join(items) + closing + "</mrow>"

    def environment(self) -> str:
        name = self.text_group()
        if name not in ("align*", "aligned", "cases"):
            raise Unsupported(name)
        rows: list[list[str]] = [[]]
        while True:
            cell = self.row(("&", "\\\\", "\\end"))
            rows[-1].append(_mrow(cell))
            tok = self.take()
            if tok == "&":
                continue
            if tok == "\\\\":
                rows.append([])
                continue
            if self.text_group() != name:
                raise Unsupported("mismatched \\end")
            break
        if name == "cases":
            body = "".join("<mtr>" + "".join(f'<mtd columnalign="left">{c}</mtd>' for c in r) + "</mtr>" for r in rows)
            return f'<mrow><mo fence="true" stretchy="true">{{</mo><mtable class="cases" columnalign="left left">{body}</mtable></mrow>'
        align = ("right", "left")
        body = "".join(
            "<mtr>" + "".join(f'<mtd columnalign="{align[k % 2]}">{c}</mtd>' for k, c in enumerate(r)) + "</mtr>"
            for r in rows
        )
        return (
            f'<mtable displaystyle="true" columnalign="right left" columnspacing="0em" rowspacing="3pt">{body}</mtable>'
        )


def _mrow(items: list[str]) -> str:
    return items[0] if len(items) == 1 else "<mrow>" + "".join(items) + "</mrow>"


def fast(tex: str, display: bool) -> str:
    """MathML from bptrace's own LaTeX; raises Unsupported for anything else."""
    p = _Parser(_tokens(tex))
    items = p.row()
    if p.peek() is not None:
        raise Unsupported(p.peek() or "")
    mode = "block" if display else "inline"
    return f'<math xmlns="{NS}" display="{mode}"><mrow>{"".join(items)}</mrow></math>'


@lru_cache(maxsize=8192)
def convert(tex: str, display: bool) -> str:
    try:
        return fast(tex, display)
    except Unsupported:
        if has_holes(tex):  # latex2mathml reads digits of its own way; it gets the numbers themselves
            raise
        from latex2mathml.converter import convert as l2m

        return _L2M_PRIME.sub(r"\1" + PRIME, l2m(tex.strip(), display="block" if display else "inline"))


# latex2mathml sets f' as a superscript prime, which browsers draw as a speck high above
_L2M_PRIME = re.compile(r"<msup>(<mi>[^<]*</mi>)<mi>&#x02032;</mi></msup>")


def _chain_pieces(tex: str) -> list[str]:
    """A one-line display formula cut before each top-level "=" after the first: "A = B = C" ->
    ["A = B", "= C"]. Formulas with environments, or with one "=" at most, stay whole."""
    if "\\begin" in tex:
        return [tex]
    cuts, depth = [], 0
    for k, tok in enumerate(_TOKEN.finditer(tex)):
        text = tok.group(tok.lastindex or 0)
        if text in ("{", "\\left"):
            depth += 1
        elif text in ("}", "\\right"):
            depth -= 1
        elif text == "=" and depth == 0 and k:
            cuts.append(tok.start())
    if len(cuts) < 2:
        return [tex]
    bounds = [0, *cuts[1:], len(tex)]
    return [tex[a:b].strip() for a, b in itertools.pairwise(bounds)]


@lru_cache(maxsize=4096)
def display_block(tex: str) -> str:
    """A display formula as HTML. A chain of equalities becomes one MathML piece per step in a
    wrapping row, so a narrow screen breaks the line before an "=" instead of hiding the result
    off to the right; a piece still too wide scrolls on its own."""
    pieces = _chain_pieces(tex.strip())
    if len(pieces) == 1:
        return '<div class="math">' + convert(tex, True) + "</div>"
    return '<div class="math chain">' + "".join(convert(p, True) for p in pieces) + "</div>"

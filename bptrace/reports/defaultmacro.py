"""``{% defaultmacro %}``: a macro a user's template can replace one at a time (as in pdoc).

``{% defaultmacro name(args) %}…{% enddefaultmacro %}`` defines ``default_name`` always, and
``name`` only when nothing defined it before. A user's ``macros.md.j2`` that extends
``default/macros.md.j2`` and defines ``name`` itself therefore replaces that one macro, also where
the other built-in macros call it, and can still call ``default_name``.
"""

from __future__ import annotations

from typing import Any

from jinja2 import nodes
from jinja2.ext import Extension


class DefaultMacroExtension(Extension):
    tags = {"defaultmacro"}

    def parse(self, parser: Any) -> list[nodes.Node]:
        lineno = next(parser.stream).lineno
        name = parser.parse_assign_target(name_only=True).name
        default = nodes.Macro(lineno=lineno)
        default.name = f"default_{name}"
        parser.parse_signature(default)
        default.body = parser.parse_statements(("name:enddefaultmacro",), drop_needle=True)
        # "is not defined", not "not name": the environment's undefined is strict
        undefined = nodes.Not(nodes.Test(nodes.Name(name, "load"), "defined", [], [], None, None))
        own = nodes.Macro(name, default.args, default.defaults, default.body, lineno=lineno)
        return [default, nodes.If(undefined, [own], [], [], lineno=lineno)]

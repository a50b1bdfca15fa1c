"""The package's shape: no import circles among its modules (lazy imports included), and no
submodule that would shadow the public functions bptrace.trace() and bptrace.render()."""

from __future__ import annotations

import ast
from pathlib import Path

import bptrace

PACKAGE = Path(bptrace.__file__).parent


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(PACKAGE.parent).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _is_type_checking(node: ast.If) -> bool:
    return isinstance(node.test, ast.Name) and node.test.id == "TYPE_CHECKING"


def _imports(tree: ast.AST, module: str, is_package: bool, modules: set[str]) -> set[str]:
    """Every bptrace module this one imports at run time, wherever the import stands."""
    found: set[str] = set()
    here = module.split(".") if is_package else module.split(".")[:-1]

    def visit(node: ast.AST) -> None:
        if isinstance(node, ast.If) and _is_type_checking(node):
            for child in node.orelse:
                visit(child)
            return  # annotations only: nothing is imported when the program runs
        if isinstance(node, ast.Import):
            found.update(a.name for a in node.names if a.name.split(".")[0] == "bptrace")
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = ".".join(here[: len(here) - node.level + 1] + ([node.module] if node.module else []))
            else:
                base = node.module or ""
            if base.split(".")[0] != "bptrace":
                return
            for a in node.names:
                sub = f"{base}.{a.name}"
                # "from . import names" imports the submodule names, not the package's __init__ alone
                found.add(sub if sub in modules else base)
        for child in ast.iter_child_nodes(node):
            visit(child)

    visit(tree)
    found.discard(module)
    return found


def _graph() -> dict[str, set[str]]:
    files = sorted(PACKAGE.rglob("*.py"))
    modules = {_module_name(f) for f in files}
    graph = {}
    for f in files:
        name = _module_name(f)
        graph[name] = _imports(ast.parse(f.read_text(encoding="utf-8")), name, f.name == "__init__.py", modules)
    # importing a submodule runs its parents' __init__ first; that is Python's doing, not an edge
    return {m: {d for d in deps if not m.startswith(d + ".")} for m, deps in graph.items()}


def _cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    cycles: list[list[str]] = []
    state: dict[str, int] = {}
    stack: list[str] = []

    def walk(m: str) -> None:
        state[m] = 1
        stack.append(m)
        for d in sorted(graph.get(m, ())):
            if state.get(d) == 1:
                cycles.append([*stack[stack.index(d) :], d])
            elif d not in state:
                walk(d)
        stack.pop()
        state[m] = 2

    for m in sorted(graph):
        if m not in state:
            walk(m)
    return cycles


def test_no_import_circles() -> None:
    assert _cycles(_graph()) == []


def test_the_cycle_finder_finds_a_planted_circle() -> None:
    graph = _graph()
    graph["bptrace.names"] = graph["bptrace.names"] | {"bptrace.tracer"}
    found = _cycles(graph)
    assert found and all(c[0] == c[-1] for c in found)
    assert any("bptrace.names" in c and "bptrace.tracer" in c for c in found)


def test_lazy_imports_count_too() -> None:
    tree = ast.parse("def f():\n    from .reports import render\n")
    assert _imports(tree, "bptrace.tracedata", False, {"bptrace.reports"}) == {"bptrace.reports"}


def test_no_submodule_shadows_the_public_functions() -> None:
    names = {p.stem for p in PACKAGE.iterdir()} | {p.name for p in PACKAGE.iterdir() if p.is_dir()}
    assert not names & {"trace", "render"}
    assert callable(bptrace.trace) and callable(bptrace.render)


_LOADED = (
    "import sys; from bptrace.cli import cli; code = cli(sys.argv[1:]); "
    "print(' '.join(sorted({m.split('.')[0] for m in sys.modules}))); sys.exit(code)"
)
# standard modules that cost a command-line run more than its own work: a json run of a
# built-in example needs none of them (the TOML parser compiles its patterns as it loads;
# dataclasses loads inspect, which loads ast, dis and tokenize; typing is needed only by the
# type checker, which reads it under TYPE_CHECKING; tempfile loads random and shutil, and shutil
# loads bz2 and lzma)
_HEAVY_STDLIB = {"tomllib", "dataclasses", "inspect", "ast", "dis", "tokenize", "typing"}
_HEAVY_STDLIB |= {"tempfile", "random", "shutil", "bz2", "lzma"}
# pathlib loads urllib.parse, which loads ipaddress; only packed arrays need base64
_HEAVY_STDLIB |= {"pathlib", "urllib", "ipaddress", "base64"}


def _loaded(tmp_path: Path, *args: str) -> set[str]:
    import subprocess
    import sys

    p = subprocess.run(
        [sys.executable, "-c", _LOADED, "run", "-q", "-o", str(tmp_path / "out"), *args],
        capture_output=True, text=True, check=True, cwd=tmp_path,
    )  # fmt: skip
    return set(p.stdout.split())


def _third_party_loaded(tmp_path: Path, *args: str) -> set[str]:
    return _loaded(tmp_path, *args) & {"jinja2", "markdown", "pymdownx", "latex2mathml", "numpy", "tqdm"}


def test_a_json_run_loads_no_renderer(tmp_path: Path) -> None:
    assert _third_party_loaded(tmp_path, "--format", "json") == set()


def test_a_json_run_of_a_built_in_loads_no_heavy_standard_module(tmp_path: Path) -> None:
    loaded = _loaded(tmp_path, "--format", "json")
    assert "bptrace" in loaded and "json" in loaded  # the list is of this run's modules
    assert loaded & _HEAVY_STDLIB == set()
    # a TOML spec of one's own loads the parser, and only then
    from bptrace.spec import example_text

    (tmp_path / "mine.toml").write_text(example_text("xor"), encoding="utf-8")
    assert "tomllib" in _loaded(tmp_path, "mine.toml", "--format", "json")


def test_built_in_reports_need_no_markdown_library(tmp_path: Path) -> None:
    # every block the built-in templates write is converted directly; Python-Markdown and its
    # extensions load only for blocks of a user's own template that the direct path declines
    assert _third_party_loaded(tmp_path) == {"jinja2"}

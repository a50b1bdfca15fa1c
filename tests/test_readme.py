"""The README's examples run as written."""

from __future__ import annotations

import io
import re
import subprocess
import sys
from contextlib import redirect_stdout
from pathlib import Path

import pytest

README = (Path(__file__).resolve().parents[1] / "README.md").read_text(encoding="utf-8")


def _python_blocks() -> list[str]:
    return re.findall(r"```python\n(.*?)```", README, flags=re.S)


def test_python_examples_run() -> None:
    blocks = [b for b in _python_blocks() if "bptrace_snapshot" not in b]  # that one is a pytest test
    assert len(blocks) >= 3
    for block in blocks:
        if "import pandas" in block or "import torch" in block:
            continue  # the tests below, where pandas or torch is installed
        exec(compile(block, "README.md", "exec"), {})


def test_the_pandas_example_runs() -> None:
    pytest.importorskip("pandas")
    (block,) = [b for b in _python_blocks() if "import pandas" in b]
    out = io.StringIO()
    with redirect_stdout(out):
        exec(compile(block, "README.md", "exec"), {})
    lines = out.getvalue().splitlines()
    assert [float(x) for x in lines[0].split()[1:]] == [1, 2, 3, 4]  # one column per sample
    assert [line.split()[0] for line in lines[2:]] == ["h1", "h2", "y1"]


def test_the_torch_example_runs() -> None:
    pytest.importorskip("torch", reason="PyTorch is not installed (pip install 'bptrace[torch]')")
    (block,) = [b for b in _python_blocks() if "import torch" in b]
    out = io.StringIO()
    with redirect_stdout(out):
        exec(compile(block, "README.md", "exec"), {})
    mhat, w5 = map(float, out.getvalue().split())
    assert abs(mhat) > 0 and w5 == w5


def test_the_two_commands_come_first() -> None:
    first = re.search(r"```bash\n(.*?)```", README, flags=re.S)
    assert first is not None
    assert first.group(1).splitlines() == ["pip install . && bptrace run", 'pip install -e ".[test]" && pytest']
    ci = (Path(__file__).resolve().parents[1] / ".ci" / "run").read_text(encoding="utf-8")
    # CI ends with exactly the README's test command (after testing the built wheel)
    last = [line for line in ci.splitlines() if line.strip() and not line.startswith("#")][-1]
    assert last == 'pip install -e ".[test]" && pytest', last
    assert "set -euo pipefail" in ci and "trap 'rm -rf \"$work\"' EXIT" in ci


def test_python_examples_type_check_under_mypy_strict(tmp_path: Path) -> None:
    pytest.importorskip("mypy")
    for k, block in enumerate(_python_blocks()):
        (tmp_path / f"readme_example_{k}.py").write_text(block, encoding="utf-8")
    # pandas ships no type information of its own (that is pandas-stubs) and torch is optional here;
    # everything else is checked
    optional = "".join(f"\n[mypy-{m}.*]\nignore_missing_imports = True\n" for m in ("pandas", "torch"))
    (tmp_path / "mypy.ini").write_text("[mypy]\nstrict = True\n" + optional)
    # run from the examples' folder, so bptrace is the installed, typed package a user would check against
    r = subprocess.run(
        [sys.executable, "-m", "mypy", "--strict", "--config-file", "mypy.ini", "."],
        cwd=tmp_path, capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert r.returncode == 0, r.stdout + r.stderr
    assert r.stdout.startswith("Success: no issues found in")


def test_the_performance_table_is_the_benchmark_harness_output() -> None:
    import sys

    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))
    import run as harness  # benchmarks/run.py

    block = README.split(harness.BEGIN, 1)[1].split(harness.END, 1)[0]
    text = re.search(r"```text\n(.*?)\n```", block, flags=re.S)
    assert text is not None, "run `python benchmarks/run.py --readme`"
    lines = text.group(1).splitlines()
    rows = [tuple(c.rstrip() for c in line.split(" | ")) for line in lines[2:]]
    rebuilt = [(*r[:5], None if r[5:] in ((), ("",)) else r[5] == "yes") for r in rows]
    assert harness.table(rebuilt) == text.group(1)  # type: ignore[arg-type]
    assert "Measured on Python" in block and "The import floor imports" in block

"""The progress bar: on a terminal for long runs, never in a pipe or with --quiet."""

from __future__ import annotations

import os
import pty
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
ENV = {**os.environ, "PYTHONPATH": str(ROOT), "COLUMNS": "80"}
LONG = ["run", "--iterations", "1500000", "--format", "json"]


def _stderr_on_tty(args: list[str], cwd: Path) -> str:
    master, slave = pty.openpty()
    p = subprocess.Popen(
        [sys.executable, "-m", "bptrace", *args], cwd=cwd, stdout=subprocess.DEVNULL, stderr=slave, env=ENV
    )
    os.close(slave)
    out = b""
    while True:
        try:
            chunk = os.read(master, 4096)
        except OSError:
            break
        if not chunk:
            break
        out += chunk
    p.wait()
    os.close(master)
    assert p.returncode == 0
    return out.decode("utf-8", "replace")


@pytest.mark.skipif(not hasattr(pty, "openpty"), reason="needs a pseudo-terminal")
def test_progress_bar_on_a_terminal(tmp_path: Path) -> None:
    err = _stderr_on_tty(LONG + ["-o", "a"], tmp_path)
    assert "it/s" in err or "s/it" in err
    assert "1.50M" in err


@pytest.mark.skipif(not hasattr(pty, "openpty"), reason="needs a pseudo-terminal")
def test_no_progress_bar_with_quiet(tmp_path: Path) -> None:
    assert _stderr_on_tty(LONG + ["-o", "b", "-q"], tmp_path) == ""


def test_no_progress_bar_in_a_pipe(tmp_path: Path) -> None:
    p = subprocess.run(
        [sys.executable, "-m", "bptrace", *LONG, "-o", "c"], cwd=tmp_path, capture_output=True, text=True, env=ENV
    )
    assert p.returncode == 0 and p.stderr == ""


def test_no_progress_bar_for_short_runs(tmp_path: Path) -> None:
    assert _stderr_on_tty(["run", "--iterations", "2000", "--format", "json", "-o", "d"], tmp_path) == ""

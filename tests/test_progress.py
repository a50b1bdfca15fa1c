"""The progress bar: on a terminal for long runs, never in a pipe or with --quiet."""

from __future__ import annotations

import io
import os
import pty
import select
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager, redirect_stdout
from pathlib import Path
from typing import Any

import pytest
import tqdm

from bptrace.cli import cli

ROOT = Path(__file__).resolve().parents[1]
needs_pty = pytest.mark.skipif(not hasattr(pty, "openpty"), reason="needs a pseudo-terminal")


@contextmanager
def _stderr_on_a_terminal() -> Iterator[list[str]]:
    """sys.stderr is a pseudo-terminal for the block; the list gets what it showed, at the end."""
    master, slave = pty.openpty()
    shown: list[bytes] = []

    def drain() -> None:  # in a thread, so a full terminal buffer cannot block the writer
        while True:
            try:
                chunk = os.read(master, 4096)
            except OSError:  # EIO: the terminal's other side is closed
                return
            if not chunk:
                return
            shown.append(chunk)

    reader = threading.Thread(target=drain)
    reader.start()
    text: list[str] = []
    saved = sys.stderr
    try:
        with open(slave, "w", encoding="utf-8") as sys.stderr:
            yield text
    finally:
        sys.stderr = saved
        reader.join(timeout=10)
        os.close(master)
    text.append(b"".join(shown).decode("utf-8", "replace"))


@pytest.fixture
def bars(monkeypatch: pytest.MonkeyPatch) -> list[dict[str, Any]]:
    """Every tqdm bar the command line makes, by its arguments; each shows at once, not after its delay."""
    made: list[dict[str, Any]] = []
    real = tqdm.tqdm

    def at_once(*args: Any, **kw: Any) -> Any:
        made.append(kw)
        return real(*args, **{**kw, "delay": 0})

    monkeypatch.setattr(tqdm, "tqdm", at_once)
    return made


def _run(*args: str) -> int:
    with redirect_stdout(io.StringIO()):
        return cli(["run", "--format", "json", *args])


@needs_pty
def test_progress_bar_on_a_terminal(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, bars: list) -> None:
    with _stderr_on_a_terminal() as shown:
        assert _run("--iterations", "20000", "-o", str(tmp_path)) == 0
    assert "20.0k" in shown[0] and "it/s" in shown[0]
    # shown only once a run has taken a second, and wiped when it ends
    assert [(b["total"], b["delay"], b["leave"]) for b in bars] == [(20000, 1.0, False)]


@needs_pty
def test_no_progress_bar_with_quiet(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, bars: list) -> None:
    with _stderr_on_a_terminal() as shown:
        assert _run("--iterations", "20000", "-o", str(tmp_path), "-q") == 0
    assert shown == [""] and bars == []


def test_no_progress_bar_in_a_pipe(tmp_path: Path, bars: list) -> None:
    read, write = os.pipe()
    saved = sys.stderr
    with open(read, encoding="utf-8") as pipe_out:
        try:
            with open(write, "w", encoding="utf-8") as sys.stderr:
                assert _run("--iterations", "20000", "-o", str(tmp_path)) == 0
        finally:
            sys.stderr = saved
        assert pipe_out.read() == ""
    assert bars == []


@needs_pty
def test_no_progress_bar_for_short_runs(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # tqdm as the command line sets it up: a run well under its one-second delay shows nothing
    with _stderr_on_a_terminal() as shown:
        assert _run("--iterations", "2000", "-o", str(tmp_path)) == 0
    assert shown == [""]


@needs_pty
def test_a_long_run_shows_its_bar_after_a_second(tmp_path: Path) -> None:
    """The whole program on a real terminal with the real delay, watched until the bar shows."""
    master, slave = pty.openpty()
    cmd = [sys.executable, "-m", "bptrace", "run", "--iterations", str(10**9), "--no-limit", "--format", "json"]
    env = {**os.environ, "PYTHONPATH": str(ROOT), "COLUMNS": "80"}
    started = time.monotonic()
    p = subprocess.Popen([*cmd, "-o", str(tmp_path)], stdout=subprocess.DEVNULL, stderr=slave, env=env)
    os.close(slave)
    shown = b""
    try:
        while b"it/s" not in shown and p.poll() is None and time.monotonic() - started < 60:
            if select.select([master], [], [], 1.0)[0]:
                try:
                    shown += os.read(master, 4096)
                except OSError:  # EIO: the run ended, and its exit code tells why
                    break
        waited = time.monotonic() - started
    finally:
        p.kill()
        p.wait()
        os.close(master)
    text = shown.decode("utf-8", "replace")
    assert "/1.00G" in text and "it/s" in text, text
    assert waited >= 1.0  # not before the run has taken a second

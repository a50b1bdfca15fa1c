"""Shared fixtures: traces of the built-in examples, a command-line runner, snapshot formats."""

from __future__ import annotations

import io
from collections.abc import Iterator
from contextlib import redirect_stderr, redirect_stdout
from dataclasses import dataclass
from typing import Any

import pytest
from syrupy.extensions.single_file import SingleFileSnapshotExtension, WriteMode

import bptrace
from bptrace.cli import cli

from browser import CHROMIUM, Browser


class MarkdownSnapshot(SingleFileSnapshotExtension):
    _write_mode = WriteMode.TEXT
    file_extension = "md"


class HTMLSnapshot(SingleFileSnapshotExtension):
    _write_mode = WriteMode.TEXT
    file_extension = "html"


class JSONSnapshot(SingleFileSnapshotExtension):
    _write_mode = WriteMode.TEXT
    file_extension = "json"


@pytest.fixture
def md_snapshot(snapshot: Any) -> Any:
    return snapshot.use_extension(MarkdownSnapshot)


@pytest.fixture
def html_snapshot(snapshot: Any) -> Any:
    return snapshot.use_extension(HTMLSnapshot)


@pytest.fixture
def json_snapshot(snapshot: Any) -> Any:
    return snapshot.use_extension(JSONSnapshot)


@pytest.fixture(scope="session")
def article() -> bptrace.Trace:
    return bptrace.trace("article")


@dataclass
class Result:
    code: int
    out: str
    err: str


def run_cli(*args: str) -> Result:
    out, err = io.StringIO(), io.StringIO()
    with redirect_stdout(out), redirect_stderr(err):
        code = cli(list(args))
    return Result(code, out.getvalue(), err.getvalue())


@pytest.fixture
def bp() -> Any:
    return run_cli


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    """One headless Chromium per test module (tests that use it are marked needs_chromium)."""
    assert CHROMIUM is not None
    b = Browser(CHROMIUM)
    yield b
    b.close()

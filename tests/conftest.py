"""Shared fixtures: traces of the built-in examples, a command-line runner, snapshot formats.

Hypothesis profiles are chosen by HYPOTHESIS_PROFILE: "ci" draws the same examples on every run,
so a red build is the code's doing and replays anywhere; "dev" (the default outside CI) draws
new ones each run and keeps failures in .hypothesis/ to replay them.
"""

from __future__ import annotations

import io
import os
from collections.abc import Iterator, Mapping
from contextlib import redirect_stderr, redirect_stdout
from dataclasses import dataclass
from typing import Any

import pytest
from hypothesis import HealthCheck, settings
from syrupy.extensions.single_file import SingleFileSnapshotExtension, WriteMode

import bptrace
from bptrace.cli import cli

from browser import CHROMIUM, Browser

settings.register_profile(
    "ci",
    derandomize=True,  # examples drawn from a hash of each test's source, not from the clock
    database=None,  # nothing replayed from an earlier run on the same machine
    deadline=None,  # a loaded machine is not a failure
    suppress_health_check=[HealthCheck.too_slow],  # the one health check that depends on timing
    print_blob=True,  # a failure prints the @reproduce_failure line that replays it
)
# parent: Hypothesis's own defaults, not the profile it loads by itself when CI is set
settings.register_profile("dev", parent=settings.get_profile("default"), deadline=None, print_blob=True)


def hypothesis_profile(environ: Mapping[str, str]) -> str:
    return environ.get("HYPOTHESIS_PROFILE") or ("ci" if environ.get("CI") else "dev")


settings.load_profile(hypothesis_profile(os.environ))


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

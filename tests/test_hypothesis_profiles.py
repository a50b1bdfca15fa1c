"""The Hypothesis profiles of tests/conftest.py: CI draws the same examples every run."""

from __future__ import annotations

import json
import os
from typing import Any

import pytest
from hypothesis import given, settings

from conftest import hypothesis_profile
from strategies import specs


def _draws(profile: str) -> list[str]:
    seen: list[str] = []

    @settings(settings.get_profile(profile), max_examples=15)
    @given(specs())
    def draw(spec: dict[str, Any]) -> None:
        seen.append(json.dumps(spec, sort_keys=True))

    draw()
    return seen


def test_ci_profile_draws_the_same_examples_every_run() -> None:
    first, second = _draws("ci"), _draws("ci")
    assert first == second
    assert len(set(first)) > 1


def test_ci_profile_keeps_nothing_between_runs() -> None:
    ci = settings.get_profile("ci")
    assert ci.derandomize and ci.database is None and ci.deadline is None and ci.print_blob


def test_dev_profile_explores() -> None:
    dev = settings.get_profile("dev")
    assert not dev.derandomize and dev.database is not None and dev.print_blob


@pytest.mark.parametrize(
    "environ,expected",
    [
        ({}, "dev"),
        ({"CI": "true"}, "ci"),
        ({"HYPOTHESIS_PROFILE": "ci"}, "ci"),
        ({"CI": "true", "HYPOTHESIS_PROFILE": "dev"}, "dev"),
    ],
)
def test_the_environment_picks_the_profile(environ: dict[str, str], expected: str) -> None:
    assert hypothesis_profile(environ) == expected


def test_this_run_uses_the_profile_its_environment_picks() -> None:
    assert settings.get_current_profile_name() == hypothesis_profile(os.environ)

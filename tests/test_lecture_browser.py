"""lecture.html in a real browser: → through every step and ← back, checking at each step that the
shown formula belongs to what is lit, that the picture shows the trace's numbers, that the address
names the step, and that nothing was fetched and nothing went wrong in the console."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

import bptrace
from bptrace import numfmt
from bptrace.reports import render_files

from browser import Browser, needs_chromium
from lecture_specs import LECTURE_SPECS

pytestmark = needs_chromium

STATE = """(() => {
  const shown = [...document.querySelectorAll('section.slide')].filter(s => !s.hidden);
  const s = shown[0];
  const lit = [...document.querySelectorAll('#net .on')].map(e => e.id).sort();
  const texts = {};
  for (const t of document.querySelectorAll('#net text[id], #net tspan[id]')) texts[t.id] = t.textContent;
  return {count: shown.length, key: s ? s.dataset.key : null, id: s ? s.id : null,
          focus: s ? s.dataset.focus.split(' ').filter(Boolean).sort() : [], lit, texts,
          hash: location.hash, counter: document.getElementById('counter').textContent,
          maths: s ? s.querySelectorAll('math').length : 0};
})()"""


def _key(browser: Browser, key: str) -> None:
    for kind in ("rawKeyDown", "keyUp"):
        code = {"ArrowRight": 39, "ArrowLeft": 37, "Home": 36, "End": 35}[key]
        browser.send("Input.dispatchKeyEvent", {"type": kind, "key": key, "code": key, "windowsVirtualKeyCode": code})


@pytest.mark.parametrize("name", sorted(LECTURE_SPECS))
@pytest.mark.parametrize("lang", ["en", "zh"])
def test_stepping_through_the_lecture(name: str, lang: str, browser: Browser, tmp_path: Path) -> None:
    tr = bptrace.trace(LECTURE_SPECS[name])
    page = tmp_path / "lecture.html"
    page.write_text(render_files(tr, ["lecture"], lang=lang)["lecture.html"], encoding="utf-8")
    browser.events.clear()
    browser.open(page.as_uri())
    # listen for script errors and console messages, then load the page again so none is missed
    browser.send("Runtime.enable")
    browser.send("Log.enable")
    browser.events.clear()
    browser.send("Page.reload")
    browser.wait_for("Page.loadEventFired")
    n = browser.evaluate("document.querySelectorAll('section.slide').length")
    assert n > 5
    load_ms = browser.evaluate("performance.getEntriesByType('navigation')[0].loadEventEnd")
    # a sanity bound only (the machine may be busy); how fast it opens is measured, not asserted
    assert load_ms < 5000
    plans = browser.evaluate(
        "[...document.querySelectorAll('section.slide')].map(s => [s.dataset.key, JSON.parse(s.dataset.sets)])"
    )
    written: dict[str, str] = {}
    initial = browser.evaluate(
        "Object.fromEntries([...document.querySelectorAll('#net text[id], #net tspan[id]')].map(t => [t.id, t.textContent]))"
    )
    history = []
    for k in range(n):
        if k:
            _key(browser, "ArrowRight")
        st = browser.evaluate(STATE)
        key, sets = plans[k]
        written.update(sets)
        assert st["count"] == 1 and st["id"] == f"step-{k + 1}" and st["hash"] == f"#step-{k + 1}"
        assert st["counter"] == f"{k + 1} / {n}"
        assert st["lit"] == st["focus"]  # the picture lights exactly what the step is about
        kind, _, who = key.partition(".")
        if kind in ("net", "out", "delta", "error"):
            assert f"n-{who}" in st["lit"]
        if kind in ("grad", "update") and who.startswith("w"):
            assert f"e-{who}" in st["lit"]
        if key:
            assert st["maths"] >= 1  # the formula with its numbers
        # the picture's numbers: every value written so far, each the trace's own
        assert st["texts"] == {**initial, **written}
        for tid, text in sets.items():
            owner, line = tid[2:].rsplit("-", 1)
            label, value = text.split(" = ")
            quantity = {"a": "net", "b": "out", "d": "delta" if label == "δ" else "error", "g": "grad"}.get(
                line
            ) or "update"
            assert value == numfmt.text(tr.value(f"{quantity}.{owner}"), 9)
        history.append(st["texts"])
    for k in range(n - 1, 0, -1):
        _key(browser, "ArrowLeft")
        st = browser.evaluate(STATE)
        assert st["hash"] == f"#step-{k}" and st["texts"] == history[k - 1]
    # the wheel never moves between steps
    browser.send("Input.dispatchMouseEvent", {"type": "mouseWheel", "x": 500, "y": 400, "deltaX": 0, "deltaY": 400})
    assert browser.evaluate(STATE)["hash"] == "#step-1"
    assert browser.requests() == [page.as_uri()]  # the reload asks for the page again, nothing else
    problems = [
        e
        for e in browser.events
        if e.get("method") == "Runtime.exceptionThrown"
        or (e.get("method") == "Runtime.consoleAPICalled" and e["params"]["type"] in ("error", "warning"))
        or (e.get("method") == "Log.entryAdded" and e["params"]["entry"]["level"] == "error")
    ]
    assert problems == [], json.dumps(problems)[:500]

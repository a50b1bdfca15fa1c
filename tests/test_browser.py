"""report.html in a real browser: MathML laid out, figures drawn, nothing fetched from anywhere."""

from __future__ import annotations

import struct
from pathlib import Path

import pytest

import bptrace

from browser import LAYOUT, Browser, needs_chromium

pytestmark = needs_chromium


@pytest.mark.parametrize("lang", ["en", "zh"])
def test_report_lays_out_in_chromium(lang: str, browser: Browser, tmp_path: Path) -> None:
    page = tmp_path / "report.html"
    page.write_text(bptrace.render(bptrace.trace("article", iterations=200), "html", lang=lang), encoding="utf-8")
    browser.events.clear()
    browser.open(page.as_uri())
    info = browser.evaluate(LAYOUT)
    # every formula is a MathML element, laid out as mathematics: fractions stacked, subscripts lowered
    assert info["mathml"] and info["maths"] > 100
    assert info["sized"] == info["shown"] > 80
    assert info["fracs"] >= 20 and info["stacked"] == info["fracs"]
    assert info["subs"] >= 20 and info["lowered"] == info["subs"]
    assert info["svgs"] >= 4  # network, two chain-rule paths, loss curve
    assert info["lang"] == ("zh-CN" if lang == "zh" else "en")
    assert ("前向传播" if lang == "zh" else "Forward pass") in info["text"]
    # the page and nothing else: no request left the machine
    assert browser.requests() == [page.as_uri()]
    # a closed <details> stays closed on screen and opens on paper
    closed = "document.querySelector('details:not([open]) table').checkVisibility()"
    assert browser.evaluate(closed) is False
    browser.send("Emulation.setEmulatedMedia", {"media": "print"})
    assert browser.evaluate(closed) is True
    browser.send("Emulation.setEmulatedMedia", {"media": ""})
    shot = tmp_path / f"report-{lang}.png"
    browser.screenshot(shot, height=1400)
    data = shot.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    width, height = struct.unpack(">II", data[16:24])
    assert (width, height) == (1000, 1400)

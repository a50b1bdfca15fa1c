"""A small headless-Chromium driver for tests: the DevTools protocol over pipes, no extra package.

Chromium started with --remote-debugging-pipe reads commands on fd 3 and answers on fd 4, each
message JSON followed by a NUL byte.
"""

from __future__ import annotations

import base64
import fcntl
import json
import os
import select
import shutil
import signal
import tempfile
import time
from pathlib import Path
from typing import Any

import pytest

FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-quic",
    "--hide-scrollbars",
    "--remote-debugging-pipe",
]


def find_chromium() -> str | None:
    for name in ("chromium", "chromium-browser", "google-chrome", "chrome"):
        path = shutil.which(name)
        if path:
            return path
    return None


class Browser:
    def __init__(self, executable: str) -> None:
        self.profile = tempfile.mkdtemp(prefix="bptrace-chromium-")
        cmd_r, self.cmd_w = os.pipe()
        self.res_r, res_w = os.pipe()
        # the command pipe goes to the child's fd 3, the answers to its fd 4. posix_spawn sets that up
        # in the child without running Python there: a preexec_fn after fork can hang for good when
        # the test process has other threads (a lock held at the fork is never released). First lift
        # every end above 4, so that none is overwritten while another is put in place.
        devnull = os.open(os.devnull, os.O_WRONLY | os.O_CLOEXEC)
        high = [fcntl.fcntl(fd, fcntl.F_DUPFD_CLOEXEC, 10) for fd in (cmd_r, res_w, devnull)]
        try:
            self.pid = os.posix_spawn(
                executable,
                [executable, *FLAGS, f"--user-data-dir={self.profile}", "about:blank"],
                os.environ,
                file_actions=[
                    (os.POSIX_SPAWN_DUP2, high[0], 3),
                    (os.POSIX_SPAWN_DUP2, high[1], 4),
                    (os.POSIX_SPAWN_DUP2, high[2], 1),
                    (os.POSIX_SPAWN_DUP2, high[2], 2),
                ],
            )
        finally:
            for fd in (cmd_r, res_w, devnull, *high):
                os.close(fd)
        self.buf = b""
        self.next_id = 0
        self.events: list[dict[str, Any]] = []
        self.session: str | None = None

    # ------------------------------------------------------------ protocol

    def _read(self, timeout: float) -> dict[str, Any]:
        end = time.monotonic() + timeout
        while b"\0" not in self.buf:
            left = end - time.monotonic()
            # wait with a limit: a read alone would block for good on a browser that hangs
            if left <= 0 or not select.select([self.res_r], [], [], left)[0]:
                raise TimeoutError("no answer from Chromium")
            chunk = os.read(self.res_r, 65536)
            if not chunk:
                raise RuntimeError("Chromium closed the pipe")
            self.buf += chunk
        raw, self.buf = self.buf.split(b"\0", 1)
        return json.loads(raw)  # type: ignore[no-any-return]

    def send(self, method: str, params: dict[str, Any] | None = None, timeout: float = 30.0) -> dict[str, Any]:
        self.next_id += 1
        msg: dict[str, Any] = {"id": self.next_id, "method": method, "params": params or {}}
        if self.session and not method.startswith(("Target.", "Browser.")):
            msg["sessionId"] = self.session
        os.write(self.cmd_w, json.dumps(msg).encode() + b"\0")
        while True:
            reply = self._read(timeout)
            if reply.get("id") == self.next_id:
                if "error" in reply:
                    raise RuntimeError(f"{method}: {reply['error']}")
                return reply.get("result", {})  # type: ignore[no-any-return]
            self.events.append(reply)

    def wait_for(self, event: str, timeout: float = 30.0) -> dict[str, Any]:
        for e in self.events:
            if e.get("method") == event:
                return e
        end = time.monotonic() + timeout
        while time.monotonic() < end:
            e = self._read(end - time.monotonic())
            self.events.append(e)
            if e.get("method") == event:
                return e
        raise TimeoutError(event)

    # ------------------------------------------------------------ what the tests use

    def open(self, url: str) -> None:
        target = self.send("Target.createTarget", {"url": "about:blank"})["targetId"]
        self.session = self.send("Target.attachToTarget", {"targetId": target, "flatten": True})["sessionId"]
        self.send("Network.enable")
        self.send("Page.enable")
        self.send(
            "Emulation.setDeviceMetricsOverride",
            {"width": 1000, "height": 900, "deviceScaleFactor": 1, "mobile": False},
        )
        self.send("Page.navigate", {"url": url})
        self.wait_for("Page.loadEventFired")

    def evaluate(self, expression: str) -> Any:
        result = self.send("Runtime.evaluate", {"expression": expression, "returnByValue": True})
        return result["result"].get("value")

    def requests(self) -> list[str]:
        return [e["params"]["request"]["url"] for e in self.events if e.get("method") == "Network.requestWillBeSent"]

    def screenshot(self, path: Path, height: int | None = None) -> None:
        metrics = self.send("Page.getLayoutMetrics")
        full = int(metrics["cssContentSize"]["height"])
        self.send(
            "Emulation.setDeviceMetricsOverride",
            {"width": 1000, "height": height or full, "deviceScaleFactor": 1, "mobile": False},
        )
        data = self.send("Page.captureScreenshot", {"format": "png"})["data"]
        path.write_bytes(base64.b64decode(data))

    def close(self) -> None:
        try:
            self.send("Browser.close", timeout=5)
        except Exception:
            pass
        end = time.monotonic() + 10
        try:
            while os.waitpid(self.pid, os.WNOHANG) == (0, 0):
                if time.monotonic() > end:
                    os.kill(self.pid, signal.SIGKILL)
                    os.waitpid(self.pid, 0)
                    break
                time.sleep(0.05)
        except ChildProcessError:  # reaped already
            pass
        for fd in (self.cmd_w, self.res_r):
            try:
                os.close(fd)
            except OSError:
                pass
        shutil.rmtree(self.profile, ignore_errors=True)


LAYOUT = """(() => {
  const visible = el => !el.closest('details:not([open])');
  const maths = [...document.querySelectorAll('math')];
  const shown = maths.filter(visible);
  const sized = shown.filter(m => { const r = m.getBoundingClientRect(); return r.width > 0 && r.height > 0; });
  const fracs = [...document.querySelectorAll('mfrac')].filter(visible).slice(0, 60);
  const stacked = fracs.filter(f => {
    const [a, b] = f.children;
    if (!a || !b) return false;
    const ra = a.getBoundingClientRect(), rb = b.getBoundingClientRect();
    return ra.height > 0 && ra.bottom <= rb.top + 2;
  });
  const subs = [...document.querySelectorAll('msub')].filter(visible).slice(0, 60);
  const lowered = subs.filter(s => {
    const [b, i] = s.children;
    return b && i && i.getBoundingClientRect().bottom > b.getBoundingClientRect().bottom;
  });
  return {
    maths: maths.length, shown: shown.length, sized: sized.length,
    mathml: typeof MathMLElement !== 'undefined' && maths.every(m => m instanceof MathMLElement),
    fracs: fracs.length, stacked: stacked.length, subs: subs.length, lowered: lowered.length,
    svgs: document.querySelectorAll('svg').length, lang: document.documentElement.lang,
    text: document.body.innerText,
  };
})()"""


CHROMIUM = find_chromium()
needs_chromium = pytest.mark.skipif(
    CHROMIUM is None, reason="no Chromium on this machine (.ci/run installs Debian's chromium where it can)"
)

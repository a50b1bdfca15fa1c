"""Measure bptrace's performance targets against references measured in the same run.

    python benchmarks/run.py            # every target, one table of ratios
    python benchmarks/run.py --quick    # fewer repetitions

Each line compares bptrace with a reference timed here, now, on this machine: a plain numpy
loop and a hand-unrolled float loop of the same 2-2-2 training (PyTorch and micrograd too when
they are installed), the bare `python -c "import numpy, jinja2, markdown"`, and `bptrace run`
itself. Ratios, not seconds, are what the targets speak of.
"""

from __future__ import annotations

import argparse
import math
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import bptrace  # noqa: E402

ITER = 10_000
PY = sys.executable


# ---------------------------------------------------------------- reference training loops


def numpy_loop() -> float:
    """The article's training written the straightforward way with numpy."""
    import numpy as np

    W1, W2 = np.array([[0.15, 0.2], [0.25, 0.3]]), np.array([[0.4, 0.45], [0.5, 0.55]])
    b1, b2, eta = 0.35, 0.6, 0.5
    x, t = np.array([0.05, 0.1]), np.array([0.01, 0.99])
    hist = np.empty(ITER)
    for k in range(ITER):
        h = 1.0 / (1.0 + np.exp(-(W1 @ x + b1)))
        o = 1.0 / (1.0 + np.exp(-(W2 @ h + b2)))
        hist[k] = np.sum(0.5 * (t - o) ** 2)
        d2 = (o - t) * o * (1.0 - o)
        d1 = (W2.T @ d2) * h * (1.0 - h)
        W2 = W2 - eta * np.outer(d2, h)
        W1 = W1 - eta * np.outer(d1, x)
    return float(hist[-1])


def float_loop() -> float:
    """The same, hand-unrolled on Python floats."""
    exp = math.exp
    w1, w2, w3, w4, w5, w6, w7, w8 = 0.15, 0.2, 0.25, 0.3, 0.4, 0.45, 0.5, 0.55
    b1, b2, i1, i2, t1, t2, eta = 0.35, 0.6, 0.05, 0.1, 0.01, 0.99, 0.5
    hist = []
    for _ in range(ITER):
        h1 = 1.0 / (1.0 + exp(-(w1 * i1 + w2 * i2 + b1)))
        h2 = 1.0 / (1.0 + exp(-(w3 * i1 + w4 * i2 + b1)))
        o1 = 1.0 / (1.0 + exp(-(w5 * h1 + w6 * h2 + b2)))
        o2 = 1.0 / (1.0 + exp(-(w7 * h1 + w8 * h2 + b2)))
        hist.append(0.5 * (t1 - o1) ** 2 + 0.5 * (t2 - o2) ** 2)
        d1, d2 = (o1 - t1) * o1 * (1 - o1), (o2 - t2) * o2 * (1 - o2)
        e1, e2 = (d1 * w5 + d2 * w7) * h1 * (1 - h1), (d1 * w6 + d2 * w8) * h2 * (1 - h2)
        w5, w6, w7, w8 = w5 - eta * d1 * h1, w6 - eta * d1 * h2, w7 - eta * d2 * h1, w8 - eta * d2 * h2
        w1, w2, w3, w4 = w1 - eta * e1 * i1, w2 - eta * e1 * i2, w3 - eta * e2 * i1, w4 - eta * e2 * i2
    return hist[-1]


def torch_loop() -> float | None:
    try:
        import torch
    except ImportError:
        return None
    torch.set_num_threads(1)
    W1 = torch.tensor([[0.15, 0.2], [0.25, 0.3]], dtype=torch.float64, requires_grad=True)
    W2 = torch.tensor([[0.4, 0.45], [0.5, 0.55]], dtype=torch.float64, requires_grad=True)
    x, t = torch.tensor([0.05, 0.1], dtype=torch.float64), torch.tensor([0.01, 0.99], dtype=torch.float64)
    E = None
    for _ in range(ITER):
        o = torch.sigmoid(W2 @ torch.sigmoid(W1 @ x + 0.35) + 0.6)
        E = (0.5 * (t - o) ** 2).sum()
        W1.grad = W2.grad = None
        E.backward()
        with torch.no_grad():
            W1 -= 0.5 * W1.grad
            W2 -= 0.5 * W2.grad
    return float(E.detach()) if E is not None else None


def micrograd_loop() -> float | None:
    try:
        from micrograd.engine import Value
    except ImportError:
        return None

    def vexp(z: Any) -> Any:  # micrograd's Value has no exp; added the way its own ops are written
        out = Value(math.exp(z.data), (z,), "exp")

        def _backward() -> None:
            z.grad += out.data * out.grad

        out._backward = _backward
        return out

    w = [Value(v) for v in (0.15, 0.2, 0.25, 0.3, 0.4, 0.45, 0.5, 0.55)]
    sig = lambda z: (1 + vexp(-z)) ** -1  # noqa: E731
    E = None
    for _ in range(ITER):
        h1, h2 = sig(w[0] * 0.05 + w[1] * 0.1 + 0.35), sig(w[2] * 0.05 + w[3] * 0.1 + 0.35)
        o1, o2 = sig(w[4] * h1 + w[5] * h2 + 0.6), sig(w[6] * h1 + w[7] * h2 + 0.6)
        E = 0.5 * (0.01 - o1) ** 2 + 0.5 * (0.99 - o2) ** 2
        for p in w:
            p.grad = 0.0
        E.backward()
        for p in w:
            p.data -= 0.5 * p.grad
    return E.data if E is not None else None


# ---------------------------------------------------------------- timing helpers


def best(f: Callable[[], Any], n: int) -> float:
    times = []
    for _ in range(n):
        t = time.perf_counter()
        f()
        times.append(time.perf_counter() - t)
    return min(times)


def wall(cmd: list[str], cwd: str) -> float:
    t = time.perf_counter()
    subprocess.run(cmd, cwd=cwd, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=ENV)
    return time.perf_counter() - t


def medians(cmds: dict[str, list[str]], n: int, cwd: str) -> dict[str, float]:
    """Median wall time of each command, the commands interleaved so load hits them alike."""
    for c in cmds.values():  # warm the file cache and the compiled-template cache
        wall(c, cwd)
    runs: dict[str, list[float]] = {k: [] for k in cmds}
    for _ in range(n):
        for k, c in cmds.items():
            runs[k].append(wall(c, cwd))
    return {k: statistics.median(v) for k, v in runs.items()}


def peak_rss_mb(args: list[str], cwd: str) -> float:
    """Peak resident memory of `bptrace ARGS`, read from the process itself at its end (VmHWM):
    a parent's own size does not leak into the figure the way it does through wait4()."""
    code = (
        "import sys; from bptrace.cli import cli; code = cli(sys.argv[1:]); "
        "hwm = [l for l in open('/proc/self/status') if l.startswith('VmHWM')][0].split()[1]; "
        "sys.stderr.write('VmHWM ' + hwm + '\\n'); sys.exit(code)"
    )
    p = subprocess.run([PY, "-c", code, *args], cwd=cwd, capture_output=True, text=True, env=ENV)
    if p.returncode != 0:
        raise RuntimeError(p.stderr)
    kb = next(line.split()[1] for line in p.stderr.splitlines() if line.startswith("VmHWM"))
    return int(kb) / 1024


ENV = {**os.environ, "PYTHONPATH": str(ROOT) + os.pathsep + os.environ.get("PYTHONPATH", "")}


LARGE = ROOT / "tests" / "specs" / "large-784-128-10.json"  # the same network the tests check


# ---------------------------------------------------------------- the targets


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--quick", action="store_true", help="fewer repetitions")
    opts = ap.parse_args()
    reps = 3 if opts.quick else 5
    runs = 5 if opts.quick else 9
    rows: list[tuple[str, str, str, str, str, bool]] = []
    bp = [PY, "-m", "bptrace"]

    # 1. tracing
    spec = bptrace.load_spec("article")
    tr = bptrace.trace(spec, iterations=ITER)
    assert abs(tr.history[-1] - numpy_loop()) < 1e-12 and abs(tr.history[-1] - float_loop()) < 1e-12
    t_bp = best(lambda: bptrace.trace(spec, iterations=ITER), reps)
    t_np = best(numpy_loop, reps)
    t_py = best(float_loop, reps)
    rows.append(
        (
            "1. trace 10,000 iterations",
            f"{t_bp * 1e3:.1f} ms",
            f"numpy loop {t_np * 1e3:.1f} ms",
            f"{t_bp / t_np:.2f}",
            "≤ 1",
            t_bp <= t_np,
        )
    )
    rows.append(
        (
            "   stretch: vs float loop",
            f"{t_bp * 1e3:.1f} ms",
            f"float loop {t_py * 1e3:.1f} ms",
            f"{t_bp / t_py:.2f}",
            "≤ 2",
            t_bp <= 2 * t_py,
        )
    )
    for name, loop in (("PyTorch eager", torch_loop), ("micrograd", micrograd_loop)):
        if loop() is not None:
            t_ref = best(loop, max(1, reps // 2))
            rows.append(
                (
                    f"   for reference: {name}",
                    f"{t_ref * 1e3:.1f} ms",
                    f"numpy loop {t_np * 1e3:.1f} ms",
                    f"{t_ref / t_np:.2f}",
                    "",
                    True,
                )
            )

    with tempfile.TemporaryDirectory() as tmp:
        # 2. the command, and 5. rendering in-process
        floor_cmd = [PY, "-c", "import numpy, jinja2, markdown"]
        big = LARGE
        m = medians(
            {
                "floor": floor_cmd,
                "run": bp + ["run", "-q", "-o", "a"],
                "large": bp + ["run", str(big), "-q", "-o", "b"],
            },
            runs,
            tmp,
        )
        rows.append(
            (
                "2. bptrace run (md+html+json)",
                f"{m['run'] * 1e3:.0f} ms",
                f"import floor {m['floor'] * 1e3:.0f} ms",
                f"{m['run'] / m['floor']:.2f}",
                "≤ 2",
                m["run"] <= 2 * m["floor"],
            )
        )

        # 3. a large network, one step
        sizes = {name: Path(tmp, "b", name).stat().st_size for name in ("report.html", "report.md", "trace.json")}
        ok_sizes = (
            sizes["report.html"] <= 2 * 2**20 and sizes["report.md"] <= 2**20 and sizes["trace.json"] <= 16 * 2**20
        )
        rows.append(
            (
                "3. 784-128-10 step (md+html+json)",
                f"{m['large'] * 1e3:.0f} ms",
                f"import floor {m['floor'] * 1e3:.0f} ms",
                f"{m['large'] / m['floor']:.2f}",
                "≤ 3",
                m["large"] <= 3 * m["floor"],
            )
        )
        rows.append(
            (
                "   output sizes",
                f"html {sizes['report.html'] / 2**20:.2f} MB, md {sizes['report.md'] / 2**20:.2f} MB, json {sizes['trace.json'] / 2**20:.1f} MB",
                "2 / 1 / 16 MB",
                "",
                "within",
                ok_sizes,
            )
        )

        # 4. a long run
        code = (
            "import bptrace; tr = bptrace.trace('article', iterations=1_000_000); "
            "import sys; sys.stdout.write(str(tr.history.itemsize))"
        )
        out = subprocess.run([PY, "-c", code], capture_output=True, text=True, check=True, env=ENV).stdout
        rss = peak_rss_mb(["run", "--iterations", "1000000", "-q", "-o", "c"], tmp)
        rows.append(("4. 1,000,000 iterations: history", f"{out} bytes/iteration", "", "", "8", out == "8"))
        rows.append(("   peak RSS of bptrace run", f"{rss:.0f} MB", "", "", "< 150 MB", rss < 150))

        tr = bptrace.trace("article")
        from bptrace.reports import make_env, render_files

        env = make_env()
        render_files(tr, ["md", "html"], env=env)
        t_render = best(lambda: render_files(tr, ["md", "html"], env=env), reps * 4)
        rows.append(
            (
                "5. render md+html in-process",
                f"{t_render * 1e3:.1f} ms",
                f"bptrace run {m['run'] * 1e3:.0f} ms",
                f"{m['run'] / t_render:.0f}× faster",
                "≥ 20×",
                m["run"] >= 20 * t_render,
            )
        )

        # 6. an exercise set of 200 variants against 20 single runs
        t_ex = statistics.median(
            wall([*bp, "exercises", "--count", "200", "--seed", str(k), "-q", "-o", f"ex{k}"], tmp) for k in range(3)
        )
        rows.append(
            (
                "6. 200 exercise variants",
                f"{t_ex:.2f} s",
                f"20 × bptrace run {20 * m['run']:.2f} s",
                f"{t_ex / (20 * m['run']):.2f}",
                "≤ 1",
                t_ex <= 20 * m["run"],
            )
        )

    widths = [max(len(r[i]) for r in rows) for i in range(5)]
    head = ("target", "bptrace", "reference", "ratio", "goal")
    widths = [max(w, len(h)) for w, h in zip(widths, head)]
    print(" | ".join(h.ljust(w) for h, w in zip(head, widths)) + " | met")
    print("-|-".join("-" * w for w in widths) + "-|----")
    for r in rows:
        print(" | ".join(c.ljust(w) for c, w in zip(r[:5], widths)) + " | " + ("yes" if r[5] else "NO"))
    return 0 if all(r[5] for r in rows) else 1


if __name__ == "__main__":
    sys.exit(main())

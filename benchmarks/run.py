"""Measure bptrace's performance targets as ratios against references measured in the same run.

    python benchmarks/run.py            # every target, one table of ratios
    python benchmarks/run.py --quick    # fewer rounds
    python benchmarks/run.py --readme   # also write the table into README.md

How it keeps from flattering:
- every comparison is A/B interleaved: each round runs every candidate once, in an order that
  rotates from round to round, and a ratio is taken within each round; the table shows the
  median ratio and, in brackets, the lowest and highest of the rounds;
- commands run as fresh processes; the time of a child process is its wall time and its CPU
  time (user + system, from the operating system's accounting of that child); what runs inside
  this process (training loops, records, the gradient check) is compared in CPU time, which
  other processes on a shared machine disturb least;
- rendering is measured cold (a fresh process reading a saved trace) and warm (in one process,
  caches hot) on separate lines;
- the import floor imports exactly the modules a `bptrace run` loads (the third-party ones are
  printed), nothing more;
- the first lines say which Python, CPU and load the numbers come from.
"""

from __future__ import annotations

import argparse
import gc
import math
import os
import platform
import random
import re
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from array import array
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import bptrace  # noqa: E402

ITER = 10_000
PY = sys.executable
# children keep Python's bytecode cache as an installed package has it: with it switched off
# (PYTHONDONTWRITEBYTECODE) every run would compile bptrace from source, which the libraries in
# the floor, installed with their caches, never do
ENV = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
ENV["PYTHONPATH"] = str(ROOT) + os.pathsep + os.environ.get("PYTHONPATH", "")
BP = [PY, "-m", "bptrace"]
LARGE = ROOT / "tests" / "specs" / "large-784-128-10.json"  # the same network the tests check
README = ROOT / "README.md"
BEGIN, END = "<!-- benchmarks/run.py --readme: begin -->", "<!-- benchmarks/run.py --readme: end -->"


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


def layered_spec(sizes: Sequence[int], seed: int = 1) -> dict[str, Any]:
    """A sigmoid network of the given layer sizes, weights and biases drawn from a fixed seed."""
    rnd = random.Random(seed)
    names = ["i"] + [f"h{'abcdefghijklmnopqrstuvwxyz'[k]}" for k in range(len(sizes) - 2)] + ["o"]
    layers: list[dict[str, Any]] = [{"name": "i", "size": sizes[0]}]
    for k in range(1, len(sizes)):
        layers.append(
            {
                "name": names[k],
                "size": sizes[k],
                "activation": "sigmoid",
                "weights": [[rnd.uniform(-1, 1) for _ in range(sizes[k - 1])] for _ in range(sizes[k])],
                "bias": [rnd.uniform(-1, 1) for _ in range(sizes[k])],
            }
        )
    return {
        "title": "benchmark",
        "learning_rate": 0.5,
        "loss": "mse",
        "iterations": 1,
        "mode": "online",
        "update_biases": True,
        "hidden_delta_weights": "original",
        "layers": layers,
        "samples": [{"input": [0.1 * (j + 1) for j in range(sizes[0])], "target": [0.5] * sizes[-1]}],
    }


MATRIX_SIZES = (8, 9, 3)  # 72 weights into the hidden layer: just past where matrix form starts


def matrix_numpy_loop(spec: dict[str, Any], n: int) -> float:
    """A network's online training the straightforward way with numpy (the matrix reference)."""
    import numpy as np

    Ws = [np.array(lay["weights"], float) for lay in spec["layers"][1:]]
    bs = [np.array(lay["bias"], float) for lay in spec["layers"][1:]]
    data = [(np.array(s["input"], float), np.array(s["target"], float)) for s in spec["samples"]]
    eta = spec["learning_rate"]
    hist = np.empty(n)
    for it in range(n):
        total = 0.0
        for x, t in data:
            outs = [x]
            for W, b in zip(Ws, bs):
                outs.append(1.0 / (1.0 + np.exp(-(W @ outs[-1] + b))))
            o = outs[-1]
            total += float(np.sum(0.5 * (t - o) ** 2))
            d = (o - t) * o * (1.0 - o)
            for k in range(len(Ws) - 1, -1, -1):
                gW, gb = np.outer(d, outs[k]), d
                if k:
                    d = (Ws[k].T @ d) * outs[k] * (1.0 - outs[k])
                Ws[k] = Ws[k] - eta * gW
                bs[k] = bs[k] - eta * gb
        hist[it] = total / len(data)
    return float(hist[-1])


# ---------------------------------------------------------------- measuring


@dataclass
class Cost:
    wall: float
    cpu: float


def timed(f: Callable[[], Any]) -> Cost:
    """Wall and CPU time of a call in this process."""
    w, c = time.perf_counter(), time.process_time()
    f()
    return Cost(time.perf_counter() - w, time.process_time() - c)


def child(cmd: list[str], cwd: str) -> Cost:
    """Wall time and CPU time (user + system, the child's own accounting) of a fresh process."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    w = time.perf_counter()
    subprocess.run(cmd, cwd=cwd, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=ENV)
    wall = time.perf_counter() - w
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    return Cost(wall, (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime))


def interleaved(cands: dict[str, Callable[[], Cost]], rounds: int, warm: bool = True) -> dict[str, list[Cost]]:
    """Every candidate once per round, the order rotating from round to round."""
    names = list(cands)
    if warm:  # file caches, compiled templates, lazily built tables
        for k in names:
            cands[k]()
    out: dict[str, list[Cost]] = {k: [] for k in names}
    for r in range(rounds):
        for k in names[r % len(names) :] + names[: r % len(names)]:
            out[k].append(cands[k]())
    return out


@dataclass
class Ratio:
    median: float
    low: float
    high: float

    def text(self, digits: int = 2) -> str:
        return f"{self.median:.{digits}f} [{self.low:.{digits}f}–{self.high:.{digits}f}]"


def ratio(a: list[Cost], b: list[Cost], cpu: bool = False, scale: float = 1.0) -> Ratio:
    """a / b within each round (b times scale), as a median and the range over the rounds."""
    rs = [(x.cpu if cpu else x.wall) / ((y.cpu if cpu else y.wall) * scale) for x, y in zip(a, b)]
    return Ratio(statistics.median(rs), min(rs), max(rs))


def med(costs: list[Cost], cpu: bool = False) -> float:
    return statistics.median(c.cpu if cpu else c.wall for c in costs)


def ms(x: float) -> str:
    return f"{x * 1e3:.1f} ms" if x < 0.1 else f"{x * 1e3:.0f} ms"


def peak_rss_mb(args: list[str], cwd: str) -> float:
    """Peak resident memory of `bptrace ARGS`, read from the process itself at its end (VmHWM)."""
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


def modules_of_a_run(cwd: str) -> tuple[list[str], list[str]]:
    """The top-level modules a `bptrace run` loads besides bptrace: (third-party, standard library)."""
    code = (
        "import sys; from bptrace.cli import cli; cli(['run', '-q', '-o', 'mods']); "
        "print(' '.join(sorted({m.split('.')[0] for m in sys.modules})))"
    )
    out = subprocess.run([PY, "-c", code], cwd=cwd, capture_output=True, text=True, check=True, env=ENV).stdout
    loaded = {m for m in out.split() if m not in ("bptrace", "__main__", "__mp_main__") and not m.startswith("_")}
    std = sorted(m for m in loaded if m in sys.stdlib_module_names)
    return sorted(loaded - set(std)), std


def machine() -> str:
    cpu = platform.processor() or platform.machine()
    try:
        names = [line.split(":", 1)[1].strip() for line in open("/proc/cpuinfo") if line.startswith("model name")]
        cpu = names[0] if names else cpu
    except OSError:
        pass
    load = os.getloadavg()
    return (
        f"Python {platform.python_version()} ({platform.python_implementation()}), {cpu}, "
        f"{os.cpu_count()} cores, load average {load[0]:.1f} / {load[1]:.1f} / {load[2]:.1f} (1 / 5 / 15 min)"
    )


# ---------------------------------------------------------------- the targets

Row = tuple[str, str, str, str, str, bool | None]  # target, bptrace, reference, ratio, goal, met


def tracing_rows(rounds: int) -> list[Row]:
    spec = bptrace.load_spec("article")
    tr = bptrace.trace(spec, iterations=ITER)
    assert abs(tr.history[-1] - numpy_loop()) < 1e-12 and abs(tr.history[-1] - float_loop()) < 1e-12
    m = interleaved(
        {
            "bp": lambda: timed(lambda: bptrace.trace(spec, iterations=ITER)),
            "np": lambda: timed(numpy_loop),
            "py": lambda: timed(float_loop),
        },
        rounds,
    )
    r_np, r_py = ratio(m["bp"], m["np"], cpu=True), ratio(m["bp"], m["py"], cpu=True)
    rows: list[Row] = [
        ("1. trace 10,000 iterations", ms(med(m["bp"], True)), f"numpy loop {ms(med(m['np'], True))}", r_np.text(), "≤ 1", r_np.median <= 1),
        ("   stretch: vs float loop", ms(med(m["bp"], True)), f"float loop {ms(med(m['py'], True))}", r_py.text(), "≤ 2", r_py.median <= 2),
    ]  # fmt: skip
    for name, loop in (("PyTorch eager", torch_loop), ("micrograd", micrograd_loop)):
        if loop() is not None:
            t = interleaved(
                {"ref": lambda loop=loop: timed(loop), "np": lambda: timed(numpy_loop)}, max(1, rounds // 2)
            )
            rows.append((f"   for reference: {name}", ms(med(t["ref"], True)), f"numpy loop {ms(med(t['np'], True))}",
                         ratio(t["ref"], t["np"], cpu=True).text(), "", None))  # fmt: skip
    return rows


def record_rows(rounds: int) -> list[Row]:
    """What a traced record costs against the arithmetic it records, and the gradient check's share."""
    from bptrace import formula, tracer
    from bptrace.engines.scalar import ScalarEngine

    spec = bptrace.load_spec(layered_spec([4] * 22))  # 20 hidden layers of width 4
    iterations = 20
    engine = ScalarEngine(spec)
    params = engine.initial_params()
    n_records = iterations * len(engine.sample_entries)

    def arithmetic() -> None:
        env = engine._env(params, engine.samples[0])
        for _ in range(iterations):
            for e in engine.sample_entries:
                env[e.key] = formula.evaluate(e.expr, env)

    def traced() -> None:
        bptrace.trace(spec, iterations=iterations, detail="all")

    def written() -> None:  # every record's formulas written out, as the JSON trace needs them
        tr = bptrace.trace(spec, iterations=iterations, detail="all")
        for s in tr.steps:
            for r in s.records:
                r.substituted  # noqa: B018

    m = interleaved(
        {"traced": lambda: timed(traced), "written": lambda: timed(written), "arith": lambda: timed(arithmetic)},
        rounds,
    )
    r = ratio(m["traced"], m["arith"], cpu=True)
    r_w = ratio(m["written"], m["arith"], cpu=True)
    per = med(m["traced"], True) / n_records * 1e6
    rows: list[Row] = [
        ("7. a traced record (20×4 network)", f"{per:.1f} µs", f"its arithmetic {med(m['arith'], True) / n_records * 1e6:.1f} µs",
         r.text(), "≤ 4", r.median <= 4),
        ("   with its formulas written out", f"{med(m['written'], True) / n_records * 1e6:.1f} µs", "its arithmetic",
         r_w.text(), "", None),
    ]  # fmt: skip

    # the gradient check's share of the one-iteration trace that runs it
    shares: list[float] = []
    check = tracer.gradient_check

    def with_share() -> Cost:
        spent: list[float] = []

        def clocked(*a: Any) -> Any:
            t = time.process_time()
            try:
                return check(*a)
            finally:
                spent.append(time.process_time() - t)

        tracer.gradient_check = clocked  # type: ignore[assignment]
        try:
            cost = timed(lambda: bptrace.trace(spec))
        finally:
            tracer.gradient_check = check
        shares.append(spent[0] / cost.cpu)
        return cost

    interleaved({"trace": with_share}, rounds * 2)
    del shares[0]  # the warm-up
    cold = []
    for _ in range(max(3, rounds // 2)):
        code = (
            "import json, sys, time; sys.path.insert(0, 'benchmarks'); import run; import bptrace; from bptrace import tracer; "
            "spec = bptrace.load_spec(run.layered_spec([4] * 22)); check = tracer.gradient_check; spent = []\n"
            "def clocked(*a):\n t = time.process_time(); r = check(*a); spent.append(time.process_time() - t); return r\n"
            "tracer.gradient_check = clocked; t = time.process_time(); bptrace.trace(spec); "
            "print(spent[0] / (time.process_time() - t))"
        )
        out = subprocess.run([PY, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True, env=ENV).stdout
        cold.append(float(out))
    share = statistics.median(shares)
    rows.append(("8. gradient check, 20×4 network", f"{share:.0%} of the trace", "one-iteration trace",
                 f"{share:.2f} [{min(shares):.2f}–{max(shares):.2f}]", "≤ 0.20", share <= 0.20))  # fmt: skip
    rows.append(("   first trace in a fresh process", f"{statistics.median(cold):.0%} of the trace", "one-iteration trace",
                 f"{statistics.median(cold):.2f} [{min(cold):.2f}–{max(cold):.2f}]", "", None))  # fmt: skip
    return rows


def matrix_rows(rounds: int) -> list[Row]:
    from bptrace.engines import make_engine

    spec = layered_spec(MATRIX_SIZES)
    engine = make_engine(bptrace.load_spec(spec))
    assert type(engine).__name__ == "MatrixEngine"
    n = 1000
    m = interleaved(
        {
            "bp": lambda: timed(lambda: engine.fast(engine.initial_params(), n, array("d"))),
            "np": lambda: timed(lambda: matrix_numpy_loop(spec, n)),
        },
        rounds * 2,
    )
    r = ratio(m["bp"], m["np"], cpu=True)
    return [
        ("10. matrix form, untraced 8-9-3", f"{med(m['bp'], True) / n * 1e6:.1f} µs/iteration",
         f"numpy loop {med(m['np'], True) / n * 1e6:.1f} µs", r.text(), "≤ 1.2", r.median <= 1.2),
    ]  # fmt: skip


def command_rows(rounds: int, tmp: str, floor_mods: list[str], std_mods: list[str]) -> list[Row]:
    floor = [PY, "-c", "import " + ", ".join(floor_mods + std_mods)]
    markdown_floor = [PY, "-c", "import jinja2, markdown, pymdownx.arithmatex"]
    m = interleaved(
        {
            "floor": lambda: child(floor, tmp),
            "run": lambda: child([*BP, "run", "-q", "-o", "a"], tmp),
            "large": lambda: child([*BP, "run", str(LARGE), "-q", "-o", "b"], tmp),
            "json": lambda: child([*BP, "run", "--format", "json", "-q", "-o", "j"], tmp),
            "mdfloor": lambda: child(markdown_floor, tmp),
            "render": lambda: child([*BP, "render", "a/trace.json", "-q", "-o", "r"], tmp),
        },
        rounds,
    )
    rows: list[Row] = []

    def pair(label: str, a: str, b: str, ref: str, goal: str, limit: float | None) -> None:
        """A command against its reference in wall time, and on the next line in CPU time (what
        other processes on a loaded machine move least); the goal is judged in wall time."""
        r, c = ratio(m[a], m[b]), ratio(m[a], m[b], cpu=True)
        rows.append((label, ms(med(m[a])), f"{ref} {ms(med(m[b]))}", r.text(), goal,
                     None if limit is None else r.median <= limit))  # fmt: skip
        rows.append(("   in CPU time", ms(med(m[a], True)), f"{ref} {ms(med(m[b], True))}", c.text(), "", None))

    pair("2. bptrace run (md+html+json)", "run", "floor", "import floor", "≤ 2", 2)
    pair("3. 784-128-10 step (md+html+json)", "large", "floor", "import floor", "≤ 3", 3)
    sizes = {name: Path(tmp, "b", name).stat().st_size for name in ("report.html", "report.md", "trace.json")}
    ok = sizes["report.html"] <= 2 * 2**20 and sizes["report.md"] <= 2**20 and sizes["trace.json"] <= 16 * 2**20
    rows.append(("   output sizes", f"html {sizes['report.html'] / 2**20:.2f} MB, md {sizes['report.md'] / 2**20:.2f} MB, "
                 f"json {sizes['trace.json'] / 2**20:.1f} MB", "2 / 1 / 16 MB", "", "within", ok))  # fmt: skip
    pair("9. bptrace run --format json", "json", "mdfloor", "import jinja2, markdown, pymdownx", "≤ 0.5", 0.5)
    pair("5. render md+html, cold (new process)", "render", "run", "bptrace run", "", None)

    # rendering a saved trace: cold (a fresh process) and warm (one process, caches hot)
    from bptrace.reports import make_env, render_files

    tr = bptrace.trace("article")
    env = make_env()
    render_files(tr, ["md", "html"], env=env)
    warm = interleaved({"w": lambda: timed(lambda: render_files(tr, ["md", "html"], env=env))}, rounds * 4)["w"]
    t_warm, t_run = med(warm, True), med(m["run"], True)  # CPU time: a render in-process, a run in its process
    rows.append(("   warm (same trace again, in-process)", f"{ms(t_warm)} CPU", f"bptrace run {ms(t_run)} CPU",
                 f"{t_run / t_warm:.0f}× faster", "≥ 20×", t_run >= 20 * t_warm))  # fmt: skip
    return rows


def long_rows(tmp: str) -> list[Row]:
    code = (
        "import bptrace; tr = bptrace.trace('article', iterations=1_000_000); "
        "import sys; sys.stdout.write(str(tr.history.itemsize))"
    )
    out = subprocess.run([PY, "-c", code], capture_output=True, text=True, check=True, env=ENV).stdout
    rss = peak_rss_mb(["run", "--iterations", "1000000", "-q", "-o", "c"], tmp)
    run = child([*BP, "run", "--iterations", "3000000", "--format", "json", "-q", "-o", "m3"], tmp)
    size = Path(tmp, "m3", "trace.json").stat().st_size
    try:
        render = child([*BP, "render", "m3/trace.json", "-q", "-o", "m3r"], tmp)
        rendered = Path(tmp, "m3r", "report.html").is_file()
    except subprocess.CalledProcessError:
        render, rendered = Cost(math.nan, math.nan), False
    return [
        ("4. 1,000,000 iterations: history", f"{out} bytes/iteration", "", "", "8", out == "8"),
        ("   peak RSS of bptrace run", f"{rss:.0f} MB", "", "", "< 150 MB", rss < 150),
        ("11. 3,000,000 iterations: render", f"{render.wall:.1f} s wall, {render.cpu:.1f} s CPU",
         f"run {run.wall:.1f} s wall, {run.cpu:.1f} s CPU; trace {size / 2**20:.0f} MB", "", "renders", rendered),
    ]  # fmt: skip


def exercise_rows(rounds: int, tmp: str) -> list[Row]:
    """200 variants with --jobs 1 against single runs, paired round by round, in CPU and wall time."""
    k = iter(range(10**6))

    def ex() -> Cost:
        return child(
            [*BP, "exercises", "--count", "200", "--jobs", "1", "--seed", "1", "-q", "-o", f"ex{next(k)}"], tmp
        )

    def one() -> Cost:
        return child([*BP, "run", "-q", "-o", f"one{next(k)}"], tmp)

    m = interleaved({"ex": ex, "one": one}, rounds)
    in_cpu = ratio(m["ex"], m["one"], cpu=True)
    in_wall = ratio(m["ex"], m["one"])
    return [
        ("6. 200 exercise variants (--jobs 1)", f"{med(m['ex'], True):.2f} s CPU",
         f"bptrace run {med(m['one'], True) * 1e3:.0f} ms CPU", f"{in_cpu.text(1)} runs", "≤ 10 runs", in_cpu.median <= 10),
        ("   in wall time", f"{med(m['ex']):.2f} s", f"bptrace run {ms(med(m['one']))}", f"{in_wall.text(1)} runs", "", None),
    ]  # fmt: skip


def table(rows: list[Row]) -> str:
    head = ("target", "bptrace", "reference", "ratio: median [range]", "goal")
    widths = [max(len(h), *(len(r[i]) for r in rows)) for i, h in enumerate(head)]
    lines = [
        " | ".join(h.ljust(w) for h, w in zip(head, widths)) + " | met",
        "-|-".join("-" * w for w in widths) + "-|----",
    ]
    for r in rows:
        met = "" if r[5] is None else ("yes" if r[5] else "NO")
        lines.append(" | ".join(c.ljust(w) for c, w in zip(r[:5], widths)) + " | " + met)
    return "\n".join(lines)


def write_readme(text: str) -> None:
    readme = README.read_text(encoding="utf-8")
    if BEGIN not in readme or END not in readme:
        raise SystemExit(f"README.md has no {BEGIN} … {END} block to replace")
    head, rest = readme.split(BEGIN, 1)
    _, tail = rest.split(END, 1)
    README.write_text(f"{head}{BEGIN}\n{text}\n{END}{tail}", encoding="utf-8")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--quick", action="store_true", help="fewer rounds")
    ap.add_argument("--readme", action="store_true", help="write the table into README.md")
    opts = ap.parse_args()
    rounds = 5 if opts.quick else 9
    gc.collect()
    with tempfile.TemporaryDirectory() as tmp:
        third, std = modules_of_a_run(tmp)
        before = machine()
        rows = tracing_rows(rounds)
        rows += command_rows(rounds, tmp, third, std)
        rows += long_rows(tmp)
        rows += exercise_rows(max(3, rounds // 3), tmp)
        rows += record_rows(rounds)
        rows += matrix_rows(rounds)
    order = [int(re.match(r"\s*(\d+)", r[0]).group(1)) if re.match(r"\s*\d+", r[0]) else None for r in rows]  # type: ignore[union-attr]
    keyed, last = [], 0
    for r, k in zip(rows, order):
        last = k if k is not None else last
        keyed.append((last, r))
    rows = [r for _, r in sorted(keyed, key=lambda x: x[0])]
    after = machine()
    text = "\n".join(
        [
            "```text",
            table(rows),
            "```",
            "",
            f"Measured on {before.split(', load')[0]}; load average at the start "
            f"{before.split('load average ')[1].split(' (')[0]}, at the end {after.split('load average ')[1]}.",
            f"The import floor imports the modules a `bptrace run` loads: {', '.join(third)} and "
            f"{len(std)} modules of the standard library.",
        ]
    )
    print(text)
    if opts.readme:
        write_readme(text)
    return 0 if all(r[5] is not False for r in rows) else 1


if __name__ == "__main__":
    sys.exit(main())

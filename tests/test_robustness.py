"""Bad input is refused cleanly, numerics do not blow up, output is never half-written."""

from __future__ import annotations

import json
import math
import os
import shutil
import signal
import subprocess
import sys
import time
import warnings
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import bptrace
from bptrace import ops, output

from conftest import run_cli

CORPUS = Path(__file__).parent / "corpus"
SPECS = json.loads((CORPUS / "specs-expected.json").read_text(encoding="utf-8"))
TRACES = json.loads((CORPUS / "traces-expected.json").read_text(encoding="utf-8"))


def _refused(r: Any, source: str, expected: str, out: Path) -> None:
    assert r.code == 2, (r.code, r.err)
    assert r.out == ""
    assert "Traceback" not in r.err
    assert r.err.count("\n") == 1, r.err
    assert r.err.startswith(f"bptrace: {source}: "), r.err
    assert expected in r.err, r.err
    assert not out.exists()  # refused before anything was written, the folder included


def test_corpus_is_large_enough() -> None:
    assert len(SPECS) + len(TRACES) >= 40
    assert sorted(SPECS) == sorted(p.name for p in (CORPUS / "specs").iterdir())
    assert sorted(TRACES) == sorted(p.name for p in (CORPUS / "traces").iterdir())


@pytest.mark.parametrize("name", sorted(SPECS))
def test_malformed_spec_is_refused(name: str, tmp_path: Path) -> None:
    path = CORPUS / "specs" / name
    out = tmp_path / "out"
    _refused(run_cli("run", str(path), "-o", str(out)), str(path), SPECS[name], out)
    _refused(run_cli("validate", str(path)), str(path), SPECS[name], out)


@pytest.mark.parametrize("name", sorted(TRACES))
def test_malformed_trace_is_refused(name: str, tmp_path: Path) -> None:
    path = CORPUS / "traces" / name
    out = tmp_path / "out"
    _refused(run_cli("render", str(path), "-o", str(out)), str(path), TRACES[name], out)


def test_api_raises_spec_error_with_path() -> None:
    with pytest.raises(bptrace.SpecError) as e:
        bptrace.load_spec(CORPUS / "specs" / "weights-wrong-shape.json")
    assert isinstance(e.value, ValueError)
    assert e.value.path == "layers[1].weights"
    assert str(e.value).endswith("layers[1].weights: expected 2×2, got 2×3")
    with pytest.raises(bptrace.SpecError) as e:
        bptrace.Trace.from_json((CORPUS / "traces" / "future-version.json").read_text(encoding="utf-8"))
    assert e.value.path == "format_version"


@pytest.mark.parametrize("kind", ["spec", "trace"])
def test_pathological_nesting(kind: str, tmp_path: Path) -> None:
    path = tmp_path / f"deep-{kind}.json"
    path.write_text("[" * 100_000 + "]" * 100_000, encoding="utf-8")
    out = tmp_path / "out"
    r = run_cli("run", str(path), "-o", str(out)) if kind == "spec" else run_cli("render", str(path), "-o", str(out))
    _refused(r, str(path), "nesting is too deep", out)


def test_deep_toml_nesting(tmp_path: Path) -> None:
    path = tmp_path / "deep.toml"
    path.write_text("x = " + "[" * 5000 + "]" * 5000 + "\n", encoding="utf-8")
    _refused(run_cli("validate", str(path)), str(path), "nesting is too deep", tmp_path / "none")


def test_missing_file_and_folder(tmp_path: Path) -> None:
    r = run_cli("run", str(tmp_path / "nope.toml"), "-o", str(tmp_path / "o"))
    _refused(r, str(tmp_path / "nope.toml"), "no such file", tmp_path / "o")
    r = run_cli("run", str(tmp_path), "-o", str(tmp_path / "o"))
    _refused(r, str(tmp_path), "is a folder", tmp_path / "o")


def test_output_that_is_a_file(tmp_path: Path) -> None:
    f = tmp_path / "taken"
    f.write_text("keep me", encoding="utf-8")
    r = run_cli("run", "-o", str(f))
    assert r.code == 2 and "-o takes a folder" in r.err
    assert f.read_text(encoding="utf-8") == "keep me"


def test_stdout_takes_one_format() -> None:
    r = run_cli("run", "-o", "-")
    assert r.code == 2 and "writes one format" in r.err and r.out == ""


# ---------------------------------------------------------------- resource guard


def test_resource_guard_refuses_with_estimate_and_option() -> None:
    r = run_cli("run", "--iterations", str(10**15))
    assert r.code == 2
    assert "parameter updates" in r.err and "e+" in r.err and "--no-limit" in r.err
    r = run_cli("run", "--iterations", "20000", "--detail", "all")
    assert r.code == 2 and "--detail N" in r.err and "MB" in r.err


def test_huge_layer_is_refused_in_milliseconds() -> None:
    import time

    spec = {
        "learning_rate": 0.1,
        "init": {"method": "he", "seed": 0},
        "layers": [{"name": "i", "size": 2}, {"name": "h", "size": 10**9}, {"name": "o", "size": 1}],
        "samples": [{"input": [0, 0], "target": [0]}],
    }
    t = time.perf_counter()
    with pytest.raises(bptrace.SpecError) as e:
        bptrace.trace(spec)
    assert time.perf_counter() - t < 0.5
    assert e.value.path == "layers[1].size"
    spec["layers"][1]["size"] = 100_000
    spec["layers"][0]["size"] = 100
    spec["samples"] = [{"input": [0] * 100, "target": [0]}]
    with pytest.raises(bptrace.SpecError) as e:
        bptrace.trace(spec)
    assert "parameters" in str(e.value) and "--no-limit" in str(e.value)


# ---------------------------------------------------------------- numerics


@pytest.mark.parametrize("x", [-1000.0, -745.2, -1.0, 0.0, 1.0, 745.2, 1000.0, 1e308])
def test_activations_are_stable(x: float) -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        with np.errstate(over="raise", invalid="raise", divide="raise"):
            for name in ("sigmoid", "tanh", "relu", "leaky_relu"):
                f = ops.FUNCTIONS[name].scalar(x)
                vf = ops.ACTIVATIONS[name].vforward(np.array([x]))[0]
                assert math.isfinite(f) and np.isfinite(vf)
                assert f == pytest.approx(vf, rel=1e-15)
            s = ops.FUNCTIONS["sigmoid"].scalar(x)
            assert 0.0 <= s <= 1.0
            vs = ops.ACTIVATIONS["softmax"].vforward(np.array([x, 0.0, -x]))
            assert np.isfinite(vs).all() and vs.sum() == pytest.approx(1.0)
            assert ops.FUNCTIONS["softmax"].scalar(x, x, 0.0, -x) == pytest.approx(vs[0])


@pytest.mark.parametrize("out", [0.0, 1e-300, 0.5, 1.0 - 1e-16, 1.0])
@pytest.mark.parametrize("target", [0.0, 1.0])
def test_cross_entropy_handles_saturated_outputs(out: float, target: float) -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        with np.errstate(over="raise", invalid="raise", divide="raise"):
            e = -(target * ops.FUNCTIONS["ln"].scalar(out) + (1 - target) * ops.FUNCTIONS["ln"].scalar(1 - out))
            d = ops.FUNCTIONS["bce_dout"].scalar(target, out)
            n = ops.FUNCTIONS["nll_dout"].scalar(target, out)
            form = ops.LOSSES["cross_entropy"].forms["sigmoid"]
            ve = form.verror(np.array([target]), np.array([out]))[0]
            vd = form.vdout(np.array([target]), np.array([out]))[0]
    for val in (e, d, n, ve, vd):
        assert math.isfinite(val)
    assert e <= -math.log(1e-15) + 1e-9  # the clip bounds the loss


@pytest.mark.parametrize(
    "act,loss", [("sigmoid", "cross_entropy"), ("softmax", "cross_entropy"), ("sigmoid", "mse"), ("tanh", "mse")]
)
def test_training_at_net_of_a_thousand(act: str, loss: str) -> None:
    spec = bptrace.load_spec("article").to_dict()
    spec["loss"] = loss
    spec["layers"][2]["activation"] = act
    spec["layers"][2]["weights"] = [[1000.0, -1000.0], [-1000.0, 1000.0]]
    spec["samples"][0]["target"] = [0.0, 1.0]
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        tr = bptrace.trace(spec, iterations=3)
    assert tr.diverged is None and tr.final is not None
    assert all(math.isfinite(x) for x in tr.history)
    delta = tr.value("delta.o1")
    if loss == "cross_entropy":  # out - target stays exact where the factors saturate
        assert delta == pytest.approx(tr.value("out.o1") - 0.0)


# ---------------------------------------------------------------- divergence


def test_divergence_stops_with_message_and_keeps_the_trace(tmp_path: Path) -> None:
    spec = bptrace.load_spec("article").to_dict()
    for layer in spec["layers"][1:]:
        layer["activation"] = "linear"
    spec["learning_rate"] = 50.0
    spec["iterations"] = 1000
    path = tmp_path / "div.json"
    path.write_text(json.dumps(spec), encoding="utf-8")
    out = tmp_path / "out"
    r = run_cli("run", str(path), "-o", str(out))
    assert r.code == 3
    assert r.err == "bptrace: training diverged at iteration 7, sample 1: error.o1 is not finite\n"
    d = json.loads((out / "trace.json").read_text(encoding="utf-8"))
    assert d["diverged"]["iteration"] == 7 and d["diverged"]["quantity"] == "error.o1"
    assert len(d["history"]["total_error"]) == 6
    assert d["steps"][-1]["iteration"] == 7 and d["steps"][-1]["records"][-1]["value"] == "Infinity"
    md = (out / "report.md").read_text(encoding="utf-8")
    assert "diverged at iteration 7" in md and "`error.o1`" in md
    # the saved trace renders again (non-finite values survive the round trip)
    assert run_cli("render", str(out / "trace.json"), "-o", str(tmp_path / "again")).code == 3


def test_divergence_in_the_first_step(tmp_path: Path) -> None:
    spec = bptrace.load_spec("article").to_dict()
    spec["layers"][1]["weights"] = [[1e308, 1e308], [0.1, 0.1]]
    spec["samples"][0]["input"] = [10.0, 10.0]
    tr = bptrace.trace(spec)
    assert tr.diverged is not None and tr.diverged["quantity"] == "net.h1"
    md = bptrace.render(tr, "md")
    assert "Training diverged at iteration 1" in md


# ---------------------------------------------------------------- safe output


def _files(folder: Path) -> dict[str, bytes]:
    return {str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


def test_a_failed_write_leaves_previous_files_intact(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    out, xor = tmp_path / "out", tmp_path / "xor"
    assert run_cli("run", "-o", str(out)).code == 0
    assert run_cli("run", "xor", "--format", "md", "-o", str(xor)).code == 0
    before = _files(out)
    calls = {"n": 0}
    real = os.replace

    def failing_replace(src: str, dst: str) -> None:
        calls["n"] += 1
        if calls["n"] == 2:
            raise OSError(28, "No space left on device")
        real(src, dst)

    monkeypatch.setattr(os, "replace", failing_replace)
    r = run_cli("run", "xor", "-o", str(out))
    assert r.code == 2 and "cannot write: No space left on device" in r.err
    # the first file (report.md) was replaced whole; the second failed and it and the rest are untouched
    assert _files(out) == {**before, "report.md": (xor / "report.md").read_bytes()}


def _stat(path: Path) -> tuple[int, int, int] | None:
    try:
        st = path.stat()
    except FileNotFoundError:
        return None
    return st.st_ino, st.st_size, st.st_mtime_ns


def _new_trace_bytes(out: Path, old: tuple[int, int, int] | None) -> list[bytes]:
    """The contents of every file under out that holds a new trace.json, whole or in part.

    Found by name wherever the writer puts it (trace.json itself, a temporary named after it, a
    staging folder), so the test holds for any way of writing, safe or not.
    """
    found = []
    for where, _, names in os.walk(out):
        for name in names:
            path = Path(where, name)
            if "trace.json" not in name or (path == out / "trace.json" and _stat(path) == old):
                continue
            try:
                found.append(path.read_bytes())
            except FileNotFoundError:  # renamed between the listing and the read
                pass
    return found


def _complete_json(data: bytes) -> bool:
    try:
        json.loads(data)
    except ValueError:
        return False
    return True


def _stop_while_writing(out: Path, iterations: int, log: Path) -> bool:
    """Run a trace into out/ and kill it once it has begun writing a new trace.json.

    The run is stopped (SIGSTOP) first and looked at while it cannot move: True when that was in
    the middle of the write (a new trace.json on disk somewhere under out/, not yet whole), False
    when it got past the write before it could be stopped.
    """
    old = _stat(out / "trace.json")
    cmd = [sys.executable, "-m", "bptrace", "run", "--iterations", str(iterations), "--detail", "all"]
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[1])}
    with (
        log.open("wb") as err,
        subprocess.Popen([*cmd, "--format", "json", "-o", str(out), "-q"], env=env, stderr=err) as p,
    ):
        try:
            while p.poll() is None:
                if any(_new_trace_bytes(out, old)):
                    os.kill(p.pid, signal.SIGSTOP)
                    _, status = os.waitpid(p.pid, os.WUNTRACED)  # returns once it has really stopped
                    if os.WIFSTOPPED(status):
                        return any(not _complete_json(data) for data in _new_trace_bytes(out, old))
                    p.returncode = os.waitstatus_to_exitcode(status)  # it finished before the signal
                    break
                time.sleep(0.0005)
        finally:
            if p.returncode is None:
                p.kill()
    assert p.returncode == 0, log.read_text(encoding="utf-8")
    return False


@pytest.mark.skipif(not hasattr(signal, "SIGSTOP"), reason="needs POSIX job-control signals")
def test_a_run_killed_while_writing_leaves_the_old_file_whole(tmp_path: Path) -> None:
    out = tmp_path / "out"
    assert run_cli("run", "--format", "json", "-o", str(out), "-q").code == 0
    before = (out / "trace.json").read_bytes()
    # a longer run writes a larger trace for longer: a retry is likelier to be caught mid-write
    for iterations in (40, 160, 640):
        if _stop_while_writing(out, iterations, tmp_path / "stderr"):
            break
        (out / "trace.json").write_bytes(before)
    else:
        pytest.fail("every run finished writing before it could be stopped")
    after = (out / "trace.json").read_bytes()
    assert after == before, f"trace.json holds {len(after)} bytes of something else, not its {len(before)}"
    # the killed run may leave hidden temporaries, never a file that looks like a result
    assert {f.name for f in out.iterdir() if not f.name.startswith(".")} == {"trace.json"}


# the child: a fresh interpreter whose k-th rename kills it (SIGKILL, which nothing can catch or hold
# back). A fork of the test process would be simpler, but forking a process with threads (a
# library's monitor thread, a pool's handler) can leave the child waiting for good on a lock.
_KILLED_AT_RENAME = """
import os, signal, sys
k, calls, real = int(sys.argv[1]), [0], os.replace

def replace(src, dst):
    if calls[0] == k:
        os.kill(os.getpid(), signal.SIGKILL)
    calls[0] += 1
    real(src, dst)

os.replace = replace
from bptrace.cli import cli
sys.exit(cli(sys.argv[2:]))
"""


def _killed_at_rename(k: int, args: list[str]) -> int:
    """Run the CLI in a child that dies as it is about to make its k-th rename; its wait status
    (as os.waitpid gives it)."""
    p = subprocess.run([sys.executable, "-c", _KILLED_AT_RENAME, str(k), *args], capture_output=True, timeout=120)
    if p.returncode < 0:
        return -p.returncode  # killed by a signal: the wait status of a signalled child is the signal
    return p.returncode << 8


def _run_files(folder: Path) -> dict[str, bytes]:
    return {str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


def _visible(files: dict[str, bytes]) -> dict[str, bytes]:
    """The files a reader opens: no manifest, staging folder or temporary."""
    return {n: b for n, b in files.items() if not Path(n).parts[0].startswith(".")}


@pytest.mark.skipif(not hasattr(signal, "SIGKILL"), reason="needs SIGKILL")
def test_a_run_killed_at_any_point_of_the_switch_is_cleaned_up_by_the_next(tmp_path: Path) -> None:
    new_args = ["run", "--iterations", "30", "--format", "md,json", "-q"]
    last_args = ["run", "--iterations", "5", "--format", "md,json", "-q"]
    clean = {}
    for name, args in (("old", ["run", "--format", "md,json", "-q"]), ("new", new_args), ("last", last_args)):
        assert run_cli(*args, "-o", str(tmp_path / name)).code == 0
        clean[name] = _run_files(tmp_path / name)
    renames = None
    left: dict[int, dict[str, bytes]] = {}
    whole: dict[int, bool] = {}
    assert all(output.is_whole(tmp_path / name) for name in clean)
    for k in range(64):
        out = tmp_path / f"k{k}"
        shutil.copytree(tmp_path / "old", out)
        status = _killed_at_rename(k, [*new_args, "-o", str(out)])
        if os.WIFEXITED(status):  # the run made fewer than k + 1 renames: every point has been tried
            renames = k
            assert os.WEXITSTATUS(status) == 0 and _run_files(out) == clean["new"]
            break
        assert os.WIFSIGNALED(status) and os.WTERMSIG(status) == signal.SIGKILL, status
        left[k] = _visible(_run_files(out))
        whole[k] = output.is_whole(out)
        # whatever the kill left, the next run leaves exactly its own files and no temporary
        assert run_cli(*last_args, "-o", str(out)).code == 0
        assert _run_files(out) == clean["last"], k
        assert output.is_whole(out), k
    assert renames is not None and renames >= 4  # report.md, trace.json, the figures, the manifest
    # killed before its first rename, the old run stands whole; killed as it renames its manifest,
    # the new run does (with what the old one wrote and it did not removed). Killed between, a
    # folder holds some files of each until the next run: renames switch one file at a time.
    assert left[0] == _visible(clean["old"])
    assert left[renames - 1] == _visible(clean["new"])
    # the manifest, written last with every file's digest, tells a whole run from a mix: a folder
    # passes exactly when it still is the old run; the kill at the manifest's own rename fails safe
    assert whole[0] and not any(whole[k] for k in range(1, renames))
    assert whole == {k: left[k] == _visible(clean["old"]) for k in range(renames)}


# ---------------------------------------------------------------- determinism


def test_separate_processes_write_identical_bytes(tmp_path: Path) -> None:
    outs = []
    for seed in ("1", "2"):
        out = tmp_path / seed
        env = {**os.environ, "PYTHONHASHSEED": seed, "PYTHONPATH": str(Path(__file__).resolve().parents[1])}
        subprocess.run(
            [sys.executable, "-m", "bptrace", "run", "softmax", "--iterations", "20", "-o", str(out), "-q"],
            env=env,
            check=True,
        )
        outs.append(out)
    files = sorted(p.relative_to(outs[0]) for p in outs[0].rglob("*") if p.is_file())
    assert len(files) >= 5
    for f in files:
        assert (outs[0] / f).read_bytes() == (outs[1] / f).read_bytes(), f


# ---------------------------------------------------------------- random input


@st.composite
def mutated(draw: Any) -> dict[str, Any]:
    from strategies import specs

    spec = draw(specs(max_layers=3))
    junk = st.one_of(
        st.none(),
        st.booleans(),
        st.integers(-5, 5),
        st.floats(allow_nan=True, allow_infinity=True),
        st.text(max_size=5),
        st.lists(st.integers(-2, 2), max_size=3),
        st.dictionaries(st.text(max_size=3), st.integers(), max_size=2),
    )
    for _ in range(draw(st.integers(1, 3))):
        target: Any = spec
        path = []
        while isinstance(target, (dict, list)) and target and draw(st.booleans()):
            key = draw(st.sampled_from(sorted(target) if isinstance(target, dict) else list(range(len(target)))))
            path.append(key)
            if not isinstance(target[key], (dict, list)):
                break
            target = target[key]
        if isinstance(target, dict) and target:
            key = draw(st.sampled_from(sorted(target)))
            action = draw(st.sampled_from(["delete", "replace", "add"]))
            if action == "delete":
                del target[key]
            elif action == "replace":
                target[key] = draw(junk)
            else:
                target[draw(st.text(min_size=1, max_size=6))] = draw(junk)
        elif isinstance(target, list) and target:
            k = draw(st.integers(0, len(target) - 1))
            if draw(st.booleans()):
                del target[k]
            else:
                target[k] = draw(junk)
    return spec


@settings(
    max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture]
)
@given(spec=mutated())
def test_mutated_specs_run_or_are_refused(spec: dict[str, Any], tmp_path_factory: pytest.TempPathFactory) -> None:
    d = tmp_path_factory.mktemp("m")
    path = d / "spec.json"
    path.write_text(json.dumps(spec), encoding="utf-8")
    out = d / "out"
    # what the library makes of the spec decides the exit code the command line must give
    try:
        tr = bptrace.trace(bptrace.load_spec(path))
    except bptrace.SpecError as e:
        refusal: str | None = str(e)
    else:
        refusal = None
    r = run_cli("run", str(path), "-o", str(out), "--format", "json,md", "-q")
    if refusal is not None:
        assert r.code == 2, r.err
        one_line = refusal.replace("\r", "\\r").replace("\n", "\\n")  # junk keys may hold line breaks
        assert r.err == f"bptrace: {one_line}\n"
        assert r.err.startswith(f"bptrace: {path}: ")
        assert not out.exists()  # refused before anything was written, the folder included
    else:
        assert r.code == (3 if tr.diverged else 0), r.err
        assert r.err == (f"bptrace: {tr.diverged['message']}\n" if tr.diverged else "")
        assert json.loads((out / "trace.json").read_text(encoding="utf-8"))["history"]["total_error"] == list(
            tr.history
        )
        assert (out / "report.md").is_file()


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.data())
def test_random_valid_specs_never_crash(data: st.DataObject) -> None:
    from strategies import specs

    spec = data.draw(specs())
    tr = bptrace.trace(spec)
    for fmt in ("md", "html"):
        assert bptrace.render(tr, fmt)
    assert bptrace.Trace.from_json(tr.to_json()).to_json() == tr.to_json()


@settings(max_examples=300, deadline=None, derandomize=True)
@given(
    st.lists(st.sampled_from(["", ".", "..", "a", "b.c", " ", "-"]), max_size=6),
    st.sampled_from(["", "/", "//", "///"]),
)
def test_output_writes_paths_as_pathlib_does(parts: list[str], root: str) -> None:
    # the folder and files of a run are strings there; what it prints and names in messages is
    # what pathlib would have written
    from pathlib import PurePosixPath

    text = root + "/".join(parts)
    assert output.plain(text) == str(PurePosixPath(text))
    assert output._parent(output.plain(text)) == str(PurePosixPath(text).parent)
    assert output._join(output.plain(text), "f/trace.json") == str(PurePosixPath(text) / "f" / "trace.json")

"""The package as published: the source distribution holds what its own tests need, its metadata
states the license the way package indexes read it, and once installed in a fresh virtual
environment it passes a part of its own test suite.

It builds for real (hatchling in an isolated environment), so it takes some seconds; deselect it
with ``-m "not package"`` while developing.
"""

from __future__ import annotations

import os
import subprocess
import sys
import sysconfig
import tarfile
import venv
from email.parser import HeaderParser
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
pytestmark = [
    pytest.mark.package,
    pytest.mark.skipif(
        not (ROOT / "bptrace" / "__init__.py").is_file(),
        reason="no source tree to build from here (.ci/run runs this test from the sources)",
    ),
]
# the part of the suite the installed sdist runs: the article's numbers, the README's examples,
# the pytest plugin (registered through the installed entry point)
SUBSET = ["tests/test_article_values.py", "tests/test_readme.py", "tests/test_testing.py"]


def _run(cmd: list[str], **kw: object) -> subprocess.CompletedProcess[str]:
    r = subprocess.run(cmd, capture_output=True, text=True, timeout=600, **kw)  # type: ignore[call-overload]
    assert r.returncode == 0, f"{cmd}:\n{r.stdout[-3000:]}\n{r.stderr[-3000:]}"
    return r  # type: ignore[no-any-return]


@pytest.fixture(scope="module")
def sdist(tmp_path_factory: pytest.TempPathFactory) -> Path:
    pytest.importorskip("build")
    out = tmp_path_factory.mktemp("dist")
    _run([sys.executable, "-m", "build", "--sdist", "--outdir", str(out), str(ROOT)])
    (found,) = out.glob("bptrace-*.tar.gz")
    return found


def test_the_sdist_holds_what_its_tests_need_and_states_its_license(sdist: Path) -> None:
    with tarfile.open(sdist) as tar:
        names = {n.split("/", 1)[1] for n in tar.getnames() if "/" in n}
        pkg_info = tar.extractfile(next(m for m in tar.getmembers() if m.name.endswith("/PKG-INFO")))
        assert pkg_info is not None
        meta = HeaderParser().parsestr(pkg_info.read().decode("utf-8"))
    assert {".ci/run", "docs/report-en.png", "docs/report-zh.png", "LICENSE", "README.md", "pyproject.toml"} <= names
    assert {
        "tests/conftest.py",
        "tests/oracle.py",
        "templates/report.md.j2",
        "bptrace/schema/spec.schema.json",
    } <= names
    assert any(n.startswith("tests/__snapshots__/") for n in names)
    assert tuple(map(int, meta["Metadata-Version"].split("."))) >= (2, 4)  # where License-Expression began
    assert meta["License-Expression"] == "MIT" and meta.get_all("License-File") == ["LICENSE"]
    assert not [c for c in meta.get_all("Classifier") or [] if c.startswith("License ::")]  # PEP 639: one or the other
    assert "Programming Language :: Python :: 3.13" in meta.get_all("Classifier")
    assert meta["Author"] == "The bptrace authors" and "backpropagation" in meta["Keywords"]
    assert "pytest" in (meta.get_all("Provides-Extra") or [])


def test_the_installed_sdist_passes_its_own_tests(sdist: Path, tmp_path: Path) -> None:
    env_dir = tmp_path / "venv"
    venv.EnvBuilder(with_pip=True).create(env_dir)
    py = env_dir / ("Scripts/python.exe" if os.name == "nt" else "bin/python")
    # the dependencies come from this environment (a .pth line adds its site-packages after the fresh
    # one's own, and this environment's editable bptrace is not seen through it), bptrace from the sdist
    fresh_site = _run([str(py), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"]).stdout.strip()
    Path(fresh_site, "dependencies.pth").write_text(sysconfig.get_paths()["purelib"] + "\n", encoding="utf-8")
    _run([str(py), "-m", "pip", "install", "--quiet", "--no-deps", str(sdist)])
    src = tmp_path / "src"
    with tarfile.open(sdist) as tar:
        tar.extractall(src, filter="data")
    (tree,) = src.iterdir()
    # -I: the extracted source's own bptrace/ must not shadow the installed one
    where = _run([str(py), "-I", "-c", "import bptrace; print(bptrace.__file__)"], cwd=tree).stdout.strip()
    assert Path(where).is_relative_to(env_dir), where
    assert (Path(where).parent / "templates" / "report.md.j2").is_file()  # the wheel carries the templates
    r = _run(
        [str(py), "-I", "-m", "pytest", "-q", "-p", "no:cacheprovider", "-k", "not mypy_strict", *SUBSET],
        cwd=tree,
        env={**os.environ, "HYPOTHESIS_PROFILE": "ci"},
    )
    assert " passed" in r.stdout and " failed" not in r.stdout, r.stdout[-2000:]

"""Write results safely: a run's files all from one run, never a truncated report.

A run is written whole into a staging folder inside the target first (a full disk or an
interrupt there leaves the previous run untouched), then its files are renamed into place with
SIGINT and SIGTERM held back, and a manifest written last names the files of the run, so the next
run removes what this one no longer writes (a loss curve, say). A lock on the folder keeps two
runs from interleaving; staging folders of a killed run are removed by the next one.

SIGKILL cannot be held back: a run killed between two renames leaves files of both runs, one
file switched at a time, until the next run replaces them all (tested at every rename).
"""

from __future__ import annotations

import errno
import hashlib
import json
import os
import signal
import sys
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path

from .errors import SpecError

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import TypeVar

    T = TypeVar("T")


def check_target(out: str, n_files: int) -> Path | None:
    """The folder to write into, or None for stdout; refuses what cannot work before any work."""
    if out == "-":
        if n_files != 1:
            raise SpecError(f"-o - writes one format to stdout, but {n_files} were asked for (use --format)", "-o")
        return None
    path = Path(out)
    if path.exists() and not path.is_dir():
        raise SpecError("names an existing file; -o takes a folder", source=out)
    return path


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def _new_entry(folder: Path, prefix: str, suffix: str, make: Callable[[Path], T]) -> tuple[Path, T]:
    """A name in folder that nothing has yet, and what ``make`` returns for it; ``make`` refuses
    a name that exists. What tempfile does, without loading it: with the random and weakref
    modules it comes to a tenth of a json run of the article."""
    for _ in range(100):
        path = folder / f"{prefix}{os.urandom(6).hex()}{suffix}"
        try:
            return path, make(path)
        except FileExistsError:
            continue
    raise FileExistsError(errno.EEXIST, "no unused temporary name", str(folder))


def _make_staging(folder: Path) -> Path:
    return _new_entry(folder, STAGING, "", lambda p: os.mkdir(p, 0o700))[0]


def _remove_staging(stage: Path) -> None:
    """A run that went well has moved everything out of its staging folder."""
    try:
        os.rmdir(stage)
    except OSError:
        import shutil

        shutil.rmtree(stage, ignore_errors=True)


def write_atomic(path: Path, data: str | Iterable[str], durable: bool = True) -> None:
    """Write through a temporary file in the same folder and rename it into place.

    The rename is atomic, so a reader (or an interrupted run) sees the old file or the new one,
    never half of one.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    flags = os.O_RDWR | os.O_CREAT | os.O_EXCL | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_CLOEXEC", 0)
    tmp, fd = _new_entry(path.parent, f".{path.name}.", ".tmp", lambda p: os.open(p, flags, 0o600))
    try:
        os.chmod(tmp, 0o666 & ~_umask())  # made 0600, as by mkstemp; a report is an ordinary file
        with os.fdopen(fd, "w", encoding="utf-8", newline="\n") as f:
            if isinstance(data, str):
                f.write(data)
            else:
                f.writelines(data)
            f.flush()
            if durable:  # on disk before the rename, so not even a power cut leaves it empty
                os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except FileNotFoundError:
            pass
        raise


MANIFEST = ".bptrace-run.json"
STAGING = ".bptrace-staging-"


@contextmanager
def _locked(folder: Path) -> Iterator[None]:
    """Hold the folder's lock for one run; a second run into it is refused, not interleaved."""
    import fcntl

    fd = os.open(folder, os.O_RDONLY)  # the folder itself: no lock file left beside the reports
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise SpecError(
                "another bptrace run is writing into this folder; try again when it is done", source=str(folder)
            ) from None
        yield
    finally:
        os.close(fd)


@contextmanager
def _signals_held() -> Iterator[None]:
    """SIGINT and SIGTERM wait while files are renamed into place, so the switch is whole."""
    held = {signal.SIGINT, signal.SIGTERM}
    try:
        old = signal.pthread_sigmask(signal.SIG_BLOCK, held)
    except (AttributeError, ValueError, OSError):  # no signal masks here
        yield
        return
    try:
        yield
    finally:
        signal.pthread_sigmask(signal.SIG_SETMASK, old)


def _previous_files(folder: Path) -> list[str]:
    try:
        names = json.loads((folder / MANIFEST).read_text(encoding="utf-8"))["files"]
    except (OSError, ValueError, KeyError, TypeError):
        return []
    return [n for n in names if isinstance(n, str) and ".." not in Path(n).parts and not Path(n).is_absolute()]


def _clean_stale(folder: Path, names: Iterable[str]) -> None:
    """Staging folders and temporary files a killed run left behind (the lock says none is live)."""
    for entry in folder.iterdir():
        if entry.name.startswith(STAGING) and entry.is_dir() and not entry.is_symlink():
            import shutil

            shutil.rmtree(entry, ignore_errors=True)
    # the manifest's own temporary too: a run killed as it switched the manifest in leaves one
    for name in {*names, *_previous_files(folder), MANIFEST}:
        target = folder / name
        if target.parent.is_dir():
            for tmp in target.parent.glob(f".{target.name}.*.tmp"):
                tmp.unlink(missing_ok=True)


def write_run(folder: Path, files: dict[str, str | Iterable[str]]) -> list[str]:
    """Write a run's files (relative names) into folder as one: all of this run, or the last one's."""
    try:
        folder.mkdir(parents=True, exist_ok=True)
        with _locked(folder):
            _clean_stale(folder, files)
            stage = _make_staging(folder)
            try:
                digests = {name: _write_file(stage / name, data) for name, data in files.items()}
                before = _previous_files(folder)
                with _signals_held():
                    for name in files:
                        (folder / name).parent.mkdir(parents=True, exist_ok=True)
                        os.replace(stage / name, folder / name)
                    for name in before:
                        if name not in files:
                            (folder / name).unlink(missing_ok=True)
                    manifest = {"files": sorted(files), "sha256": dict(sorted(digests.items()))}
                    write_atomic(folder / MANIFEST, json.dumps(manifest) + "\n")
            finally:
                _remove_staging(stage)
    except OSError as e:
        where = os.fsdecode(e.filename) if e.filename else str(folder)
        raise SpecError(f"cannot write: {e.strerror or e}", source=where) from None
    return [str(folder / name) for name in files]


@contextmanager
def staged(folder: Path, parts: Iterable[str]) -> Iterator[Path]:
    """A staging folder inside folder to write a set of subfolders into; when the block ends
    well they replace folder's own, with signals held, else nothing in folder changes."""
    try:
        folder.mkdir(parents=True, exist_ok=True)
        with _locked(folder):
            _clean_stale(folder, ())
            stage = _make_staging(folder)
            try:
                yield stage
                with _signals_held():
                    for part in parts:
                        if not (stage / part).exists():
                            continue
                        if (folder / part).exists():
                            os.replace(folder / part, stage / f".previous-{part}")
                        os.replace(stage / part, folder / part)
            finally:
                _remove_staging(stage)
    except OSError as e:
        where = os.fsdecode(e.filename) if e.filename else str(folder)
        raise SpecError(f"cannot write: {e.strerror or e}", source=where) from None


def _write_file(path: Path, data: str | Iterable[str]) -> str:
    """Write a staged file; its SHA-256, for the manifest."""
    path.parent.mkdir(parents=True, exist_ok=True)
    digest = hashlib.sha256()
    with open(path, "wb") as f:
        for part in [data] if isinstance(data, str) else data:
            b = part.encode("utf-8")
            digest.update(b)
            f.write(b)
        f.flush()
        os.fsync(f.fileno())  # on disk before the rename, so not even a power cut leaves it empty
    return digest.hexdigest()


def is_whole(folder: Path) -> bool:
    """Whether folder holds exactly the files of one run, as its manifest names them.

    A run killed (SIGKILL) between two of its renames leaves files of two runs side by side, and
    the manifest it did not get to write still names the previous run's contents: the mix shows
    here, until the next run into the folder replaces it."""
    try:
        sha = json.loads((folder / MANIFEST).read_text(encoding="utf-8"))["sha256"]
        if not sha or any(".." in Path(n).parts or Path(n).is_absolute() for n in sha):
            return False
        return all(hashlib.sha256((folder / n).read_bytes()).hexdigest() == h for n, h in sha.items())
    except (OSError, ValueError, KeyError, TypeError, AttributeError):
        return False


def write_all(folder: Path | None, files: dict[str, str | Iterable[str]]) -> list[str]:
    """Write every file (relative names) into folder, or the single one to stdout."""
    if folder is None:
        (text,) = files.values()
        try:
            sys.stdout.writelines([text] if isinstance(text, str) else text)
            sys.stdout.flush()
        except BrokenPipeError:
            raise
        except OSError as e:  # a full disk behind a redirection
            raise SpecError(f"cannot write: {e.strerror or e}", source="<stdout>") from None
        return []
    written = []
    for name, data in files.items():
        target = folder / name
        try:
            write_atomic(target, data)
        except OSError as e:
            raise SpecError(f"cannot write: {e.strerror or e}", source=str(target)) from None
        written.append(str(target))
    return written

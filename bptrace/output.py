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
from collections.abc import Callable, Iterable, Iterator, Mapping
from contextlib import contextmanager

from .errors import SpecError

TYPE_CHECKING = False
if TYPE_CHECKING:
    from pathlib import Path
    from typing import Any, TypeVar

    T = TypeVar("T")

# A run's folder and files are plain strings here, written as pathlib writes a path: a run
# writes through these functions alone, and pathlib (with urllib.parse and ipaddress, which it
# loads) costs a json run of the article nearly a tenth of its time. Callers may pass a Path.


def plain(path: str | os.PathLike[str]) -> str:
    """A path as str(pathlib.PurePosixPath(path)) writes it: no repeated slash, no "." part, no
    slash at the end, and "." for nothing, so messages and the names printed are what they were."""
    p = os.fspath(path)
    root = "//" if p.startswith("//") and not p.startswith("///") else "/" if p.startswith("/") else ""
    parts = [x for x in p.split("/") if x and x != "."]
    return root + "/".join(parts) if root or parts else "."


def _join(folder: str, name: str) -> str:
    return plain(folder + name if folder.endswith("/") else f"{folder}/{name}")


def _parent(path: str) -> str:
    """The folder of a plain path, as pathlib's parent."""
    head, sep, tail = path.rpartition("/")
    if not sep:
        return "."
    if not tail or head in ("", "/"):  # a root is its own parent; "/x" and "//x" are in theirs
        return path[: len(path) - len(tail)]
    return head


def check_folder(out: str, n_files: int) -> str | None:
    """The folder to write into, or None for stdout; refuses what cannot work before any work."""
    if out == "-":
        if n_files != 1:
            raise SpecError(f"-o - writes one format to stdout, but {n_files} were asked for (use --format)", "-o")
        return None
    path = plain(out)
    if os.path.exists(path) and not os.path.isdir(path):
        raise SpecError("names an existing file; -o takes a folder", source=out)
    return path


def check_target(out: str, n_files: int) -> Path | None:
    """check_folder's answer as a Path."""
    folder = check_folder(out, n_files)
    if folder is None:
        return None
    from pathlib import Path

    return Path(folder)


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def _new_entry(folder: str, prefix: str, suffix: str, make: Callable[[str], T]) -> tuple[str, T]:
    """A name in folder that nothing has yet, and what ``make`` returns for it; ``make`` refuses
    a name that exists. What tempfile does, without loading it: with the random and weakref
    modules it comes to a tenth of a json run of the article."""
    for _ in range(100):
        path = _join(folder, f"{prefix}{os.urandom(6).hex()}{suffix}")
        try:
            return path, make(path)
        except FileExistsError:
            continue
    raise FileExistsError(errno.EEXIST, "no unused temporary name", folder)


def _make_staging(folder: str) -> str:
    return _new_entry(folder, STAGING, "", lambda p: os.mkdir(p, 0o700))[0]


def _remove_staging(stage: str) -> None:
    """A run that went well has moved everything out of its staging folder."""
    try:
        os.rmdir(stage)
    except OSError:
        import shutil

        shutil.rmtree(stage, ignore_errors=True)


def write_atomic(target: str | os.PathLike[str], data: str | Iterable[str], durable: bool = True) -> None:
    """Write through a temporary file in the same folder and rename it into place.

    The rename is atomic, so a reader (or an interrupted run) sees the old file or the new one,
    never half of one.
    """
    path = plain(target)
    folder, name = _parent(path), path.rpartition("/")[2]
    os.makedirs(folder, exist_ok=True)
    flags = os.O_RDWR | os.O_CREAT | os.O_EXCL | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_CLOEXEC", 0)
    tmp, fd = _new_entry(folder, f".{name}.", ".tmp", lambda p: os.open(p, flags, 0o600))
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


def write_staged(folder: str | os.PathLike[str], files: Mapping[str, str]) -> list[str]:
    """Write files (by path relative to folder) inside a staging folder (see ``staged``); the paths
    written. Nobody sees them before the staging folder is moved into place, so a file needs no
    temporary name and rename of its own, and each folder is made once."""
    base = plain(folder)
    made: set[str] = set()
    written = []
    for name, text in files.items():
        path = _join(base, name)
        parent = _parent(path)
        if parent not in made:
            os.makedirs(parent, exist_ok=True)
            made.add(parent)
        with open(path, "wb") as f:  # one write of the encoded text, not a text layer's chunks
            f.write(text.encode("utf-8"))
        written.append(path)
    return written


MANIFEST = ".bptrace-run.json"
STAGING = ".bptrace-staging-"


@contextmanager
def _locked(folder: str) -> Iterator[None]:
    """Hold the folder's lock for one run; a second run into it is refused, not interleaved."""
    import fcntl

    fd = os.open(folder, os.O_RDONLY)  # the folder itself: no lock file left beside the reports
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise SpecError(
                "another bptrace run is writing into this folder; try again when it is done", source=folder
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


def _read_manifest(folder: str) -> Any:
    with open(_join(folder, MANIFEST), encoding="utf-8") as f:
        return json.loads(f.read())


def _inside(name: str) -> bool:
    """Whether a name from a manifest stays inside the folder (relative, no .. part)."""
    return ".." not in name.split("/") and not name.startswith("/")


def _previous_files(folder: str) -> list[str]:
    try:
        names = _read_manifest(folder)["files"]
    except (OSError, ValueError, KeyError, TypeError):
        return []
    return [n for n in names if isinstance(n, str) and _inside(n)]


def _clean_stale(folder: str, names: Iterable[str]) -> None:
    """Staging folders and temporary files a killed run left behind (the lock says none is live)."""
    for entry in os.listdir(folder):
        path = _join(folder, entry)
        if entry.startswith(STAGING) and os.path.isdir(path) and not os.path.islink(path):
            import shutil

            shutil.rmtree(path, ignore_errors=True)
    # the manifest's own temporary too: a run killed as it switched the manifest in leaves one
    for name in {*names, *_previous_files(folder), MANIFEST}:
        target = _join(folder, name)
        parent, base = _parent(target), target.rpartition("/")[2]
        if os.path.isdir(parent):
            start = f".{base}."
            for entry in os.listdir(parent):  # the names glob(".NAME.*.tmp") matches
                if entry.startswith(start) and entry.endswith(".tmp") and len(entry) >= len(start) + 4:
                    try:
                        os.unlink(_join(parent, entry))
                    except FileNotFoundError:
                        pass


def write_run(target: str | os.PathLike[str], files: dict[str, str | Iterable[str]]) -> list[str]:
    """Write a run's files (relative names) into folder as one: all of this run, or the last one's."""
    folder = plain(target)
    try:
        os.makedirs(folder, exist_ok=True)
        with _locked(folder):
            _clean_stale(folder, files)
            stage = _make_staging(folder)
            try:
                digests = {name: _write_file(_join(stage, name), data) for name, data in files.items()}
                before = _previous_files(folder)
                with _signals_held():
                    for name in files:
                        os.makedirs(_parent(_join(folder, name)), exist_ok=True)
                        os.replace(_join(stage, name), _join(folder, name))
                    for name in before:
                        if name not in files:
                            try:
                                os.unlink(_join(folder, name))
                            except FileNotFoundError:
                                pass
                    manifest = {"files": sorted(files), "sha256": dict(sorted(digests.items()))}
                    write_atomic(_join(folder, MANIFEST), json.dumps(manifest) + "\n")
            finally:
                _remove_staging(stage)
    except OSError as e:
        where = os.fsdecode(e.filename) if e.filename else folder
        raise SpecError(f"cannot write: {e.strerror or e}", source=where) from None
    return [_join(folder, name) for name in files]


@contextmanager
def staged(target: str | os.PathLike[str], parts: Iterable[str]) -> Iterator[Path]:
    """A staging folder inside folder to write a set of subfolders into; when the block ends
    well they replace folder's own, with signals held, else nothing in folder changes."""
    from pathlib import Path

    folder = plain(target)
    try:
        os.makedirs(folder, exist_ok=True)
        with _locked(folder):
            _clean_stale(folder, ())
            stage = _make_staging(folder)
            try:
                yield Path(stage)
                with _signals_held():
                    for part in parts:
                        if not os.path.exists(_join(stage, part)):
                            continue
                        if os.path.exists(_join(folder, part)):
                            os.replace(_join(folder, part), _join(stage, f".previous-{part}"))
                        os.replace(_join(stage, part), _join(folder, part))
            finally:
                _remove_staging(stage)
    except OSError as e:
        where = os.fsdecode(e.filename) if e.filename else folder
        raise SpecError(f"cannot write: {e.strerror or e}", source=where) from None


def _write_file(path: str, data: str | Iterable[str]) -> str:
    """Write a staged file; its SHA-256, for the manifest."""
    os.makedirs(_parent(path), exist_ok=True)
    digest = hashlib.sha256()
    with open(path, "wb") as f:
        for part in [data] if isinstance(data, str) else data:
            b = part.encode("utf-8")
            digest.update(b)
            f.write(b)
        f.flush()
        os.fsync(f.fileno())  # on disk before the rename, so not even a power cut leaves it empty
    return digest.hexdigest()


def is_whole(target: str | os.PathLike[str]) -> bool:
    """Whether folder holds exactly the files of one run, as its manifest names them.

    A run killed (SIGKILL) between two of its renames leaves files of two runs side by side, and
    the manifest it did not get to write still names the previous run's contents: the mix shows
    here, until the next run into the folder replaces it."""
    folder = plain(target)
    try:
        sha = _read_manifest(folder)["sha256"]
        if not sha or not all(_inside(n) for n in sha):
            return False
        return all(_sha256_of(_join(folder, n)) == h for n, h in sha.items())
    except (OSError, ValueError, KeyError, TypeError, AttributeError):
        return False


def _sha256_of(path: str) -> str:
    with open(path, "rb") as f:
        return hashlib.sha256(f.read()).hexdigest()


def write_all(folder: str | os.PathLike[str] | None, files: dict[str, str | Iterable[str]]) -> list[str]:
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
        target = _join(plain(folder), name)
        try:
            write_atomic(target, data)
        except OSError as e:
            raise SpecError(f"cannot write: {e.strerror or e}", source=target) from None
        written.append(target)
    return written

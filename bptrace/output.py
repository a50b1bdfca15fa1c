"""Write results safely: all or nothing per file, never a truncated report."""

from __future__ import annotations

import os
import sys
import tempfile
from collections.abc import Iterable
from pathlib import Path

from .errors import SpecError


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


def write_atomic(path: Path, data: str | Iterable[str], durable: bool = True) -> None:
    """Write through a temporary file in the same folder and rename it into place.

    The rename is atomic, so a reader (or an interrupted run) sees the old file or the new one,
    never half of one.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        os.chmod(tmp, 0o666 & ~_umask())  # mkstemp makes 0600; a report is an ordinary file
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

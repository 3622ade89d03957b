"""Atomic file writes: a result file is either complete or absent, never half-written.

The temporary file is created like ``open()`` creates files (mode ``0o666`` less the
umask), so results in a shared run folder are as readable as any other file there.
Write failures (a read-only folder, a full disk, a path under a file) raise
:class:`~jointnas.errors.OutputError` naming the file and the cause; the earlier content
of the target, if any, is kept.
"""

from __future__ import annotations

import contextlib
import errno
import os
import secrets
from pathlib import Path
from typing import Iterator

from ..errors import OutputError


@contextlib.contextmanager
def atomic_path(path: str | os.PathLike) -> Iterator[Path]:
    """Yield a temporary path beside ``path``; on success rename it onto ``path``.

    The parent folder is created. If the body raises, the temporary file is removed and
    ``path`` keeps its earlier content.

    Raises:
        OutputError: the folder or file cannot be created or written (``OSError`` in the
            body included), naming ``path`` and the cause.

    Example:
        >>> with atomic_path(tmp / "out.csv") as tmp_file:  # doctest: +SKIP
        ...     frame.to_csv(tmp_file)
    """
    path = Path(path)
    tmp: Path | None = None
    try:
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
        except (FileExistsError, NotADirectoryError):
            raise OutputError(
                f"cannot write the file: {_first_file(path.parent)} is not a folder", str(path)
            ) from None
        tmp = _create_temp(path)
        yield tmp
        os.replace(tmp, path)
    except OSError as exc:
        raise OutputError(f"cannot write the file: {describe_os_error(exc)}", str(path)) from None
    finally:
        if tmp is not None and os.path.exists(tmp):
            os.unlink(tmp)


def write_bytes(path: str | os.PathLike, data: bytes) -> None:
    """Write ``data`` to ``path`` atomically (see :func:`atomic_path`), fsynced."""
    with atomic_path(path) as tmp, open(tmp, "wb") as fh:
        fh.write(data)
        fh.flush()
        os.fsync(fh.fileno())


def describe_os_error(exc: OSError) -> str:
    """A short cause: ``no space left on the device``, ``read-only file system``, ..."""
    known = {
        errno.ENOSPC: "no space left on the device",
        errno.EROFS: "read-only file system",
        errno.EACCES: "permission denied",
        errno.EPERM: "operation not permitted",
        errno.EDQUOT: "disk quota exceeded",
    }
    return known.get(exc.errno, exc.strerror or type(exc).__name__)


def _create_temp(path: Path) -> Path:
    """A new empty file beside ``path``, created with ``open()``'s mode (umask respected)."""
    for _ in range(100):
        tmp = path.parent / f".{path.name}.{secrets.token_hex(4)}.tmp"
        try:
            fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)
        except FileExistsError:
            continue
        os.close(fd)
        return tmp
    raise FileExistsError(errno.EEXIST, "no free temporary name", str(path))


def _first_file(folder: Path) -> Path:
    """The first ancestor of ``folder`` that exists and is not a folder."""
    for parent in [*reversed(folder.parents), folder]:
        if parent.exists() and not parent.is_dir():
            return parent
    return folder

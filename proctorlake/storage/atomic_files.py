"""Crash-safe file replacement: a reader sees the old file or the new one, never half of one.

Each writer gets its own temporary name beside the target (two writers never share one), the
bytes are flushed to disk before the rename, and the folder is flushed after it, so a power
cut cannot leave a renamed but empty file behind.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path

PARTIAL_SUFFIX = ".partial"


def _fsync_dir(folder: Path) -> None:
    fd = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _replace_with(path: Path, fill) -> None:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=PARTIAL_SUFFIX)
    try:
        with os.fdopen(fd, "wb") as handle:
            fill(handle)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp_name, path)
    except BaseException:
        Path(tmp_name).unlink(missing_ok=True)
        raise
    _fsync_dir(path.parent)


def write_bytes_atomic(path: Path, data: bytes) -> None:
    """Replace ``path`` with ``data`` (unique temp name, fsync, rename, fsync the folder)."""
    _replace_with(path, lambda handle: handle.write(data))


def copy_file_atomic(source: Path, path: Path) -> None:
    """Replace ``path`` with a copy of ``source``, as :func:`write_bytes_atomic` does."""

    def fill(handle) -> None:
        with open(source, "rb") as src:
            shutil.copyfileobj(src, handle)

    _replace_with(path, fill)

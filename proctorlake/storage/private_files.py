"""Owner-only, crash-safe file writes for recordings, ID photos, keys and checkpoints.

Files are created 0600 and folders 0700 from the first moment (``os.open``/``os.mkdir`` with
the mode, then an explicit chmod so the umask cannot widen or narrow it): a chmod after a
plain write would leave a window in which other users can read a key or a face. Writes go to
a uniquely named temporary file in the same folder, are fsynced, renamed over the target and
the folder is fsynced, so after a crash or power loss the target holds either the old or the
new bytes, never a truncated file.
"""

from __future__ import annotations

import os
import secrets
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import BinaryIO

PRIVATE_FILE_MODE = 0o600
PRIVATE_DIR_MODE = 0o700
PARTIAL_SUFFIX = ".partial"
"""Temporary files end with this; listings skip them."""


def make_private_dirs(folder: Path) -> Path:
    """Create ``folder`` and any missing parents 0700; folders that exist are left as they are."""
    folder = Path(folder)
    missing = []
    probe = folder
    while not probe.exists():
        missing.append(probe)
        probe = probe.parent
    for path in reversed(missing):
        try:
            os.mkdir(path, PRIVATE_DIR_MODE)
        except FileExistsError:
            continue  # another process made it first
        os.chmod(path, PRIVATE_DIR_MODE)
    return folder


def _fsync_dir(folder: Path) -> None:
    fd = os.open(folder, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _write_temp(folder: Path, name: str, fill: Callable[[BinaryIO], None], durable: bool) -> Path:
    tmp = folder / f".{name}.{secrets.token_hex(8)}{PARTIAL_SUFFIX}"
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, PRIVATE_FILE_MODE)
    try:
        os.fchmod(fd, PRIVATE_FILE_MODE)
        with os.fdopen(fd, "wb", closefd=False) as handle:
            fill(handle)
            handle.flush()
            if durable:
                os.fsync(fd)
    except BaseException:
        os.close(fd)
        tmp.unlink(missing_ok=True)
        raise
    os.close(fd)
    return tmp


def _replace(path: Path, fill: Callable[[BinaryIO], None], durable: bool) -> None:
    path = Path(path)
    make_private_dirs(path.parent)
    tmp = _write_temp(path.parent, path.name, fill, durable)
    try:
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    if durable:
        _fsync_dir(path.parent)


def write_private_file(path: Path, data: bytes, durable: bool = True) -> None:
    """Atomically replace ``path`` with ``data`` (0600). ``durable=False`` skips the fsyncs,
    for caches that may be lost (a thumbnail), never for records or keys."""
    _replace(path, lambda handle: handle.write(data), durable)


def copy_private_file(path: Path, source: Path, durable: bool = True) -> None:
    """Atomically replace ``path`` with a copy of ``source`` (0600)."""

    def fill(handle: BinaryIO) -> None:
        with open(source, "rb") as src:
            shutil.copyfileobj(src, handle, 1024 * 1024)

    _replace(path, fill, durable)


def create_private_file_once(path: Path, data: bytes) -> bool:
    """Create ``path`` holding ``data`` (0600, fsynced) unless it exists; True if this call
    created it. Concurrent callers agree on one file: it appears complete, by ``link``."""
    path = Path(path)
    make_private_dirs(path.parent)
    tmp = _write_temp(path.parent, path.name, lambda handle: handle.write(data), durable=True)
    try:
        os.link(tmp, path)  # fails if the target exists: atomic create-if-absent
    except FileExistsError:
        return False
    finally:
        tmp.unlink(missing_ok=True)
    _fsync_dir(path.parent)
    return True

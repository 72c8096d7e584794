"""Reading upload bodies without trusting their size: capped while streaming, spooled to disk.

A body is refused with 413 as soon as its declared length, or the bytes read so far, pass the
limit, so a client cannot make the API read (or hold) more than the limit. Recording
segments (up to tens of MB) go to a file under ``PROCTORLAKE_HOME/tmp/uploads`` (never the
system temp: erasure and disk quotas see it) while their digest is computed, instead of
sitting in memory.
"""

from __future__ import annotations

import hashlib
import os
import tempfile
from dataclasses import dataclass
from pathlib import Path

from fastapi import Request

from realtime.api.frame_intake import FrameRejected

HEAD_BYTES = 16


@dataclass(frozen=True)
class SpooledUpload:
    path: Path
    size: int
    sha256: str
    head: bytes  # the first bytes, for magic-number checks

    def discard(self) -> None:
        self.path.unlink(missing_ok=True)


def _refuse_declared(request: Request, limit: int) -> None:
    declared = request.headers.get("content-length")
    if declared and declared.isdigit() and int(declared) > limit:
        raise FrameRejected(413, f"upload is {declared} bytes; the limit is {limit}")


async def read_capped(request: Request, limit: int) -> bytes:
    """A small body (a frame) in memory, refused with 413 as soon as it passes ``limit``."""
    _refuse_declared(request, limit)
    parts: list[bytes] = []
    size = 0
    async for part in request.stream():
        size += len(part)
        if size > limit:
            raise FrameRejected(413, f"upload passed the {limit}-byte limit")
        parts.append(part)
    return b"".join(parts)


async def spool_capped(request: Request, limit: int, directory: Path) -> SpooledUpload:
    """A large body streamed to an owner-only file in ``directory``; the caller discards it."""
    _refuse_declared(request, limit)
    directory.mkdir(parents=True, exist_ok=True, mode=0o700)
    handle, name = tempfile.mkstemp(prefix="upload-", suffix=".partial", dir=directory)
    path = Path(name)
    digest = hashlib.sha256()
    head = b""
    size = 0
    try:
        with os.fdopen(handle, "wb") as out:
            async for part in request.stream():
                size += len(part)
                if size > limit:
                    raise FrameRejected(413, f"upload passed the {limit}-byte limit")
                if len(head) < HEAD_BYTES:
                    head += part[: HEAD_BYTES - len(head)]
                digest.update(part)
                out.write(part)
    except BaseException:
        path.unlink(missing_ok=True)
        raise
    return SpooledUpload(path, size, digest.hexdigest(), head)

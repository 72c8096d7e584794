"""Random secret keys kept as files under ``PROCTORLAKE_HOME/keys``, created once.

Several processes (API, workers, dashboard) may ask for the same key at the same moment;
an atomic create-if-absent makes them all agree on one key. A key file that exists but has
the wrong length (truncated by a crash, emptied by hand) is refused, never used and never
replaced: using it would seal or sign with a weak secret, replacing it would orphan
everything made with the old key.
"""

from __future__ import annotations

import os
from pathlib import Path

from proctorlake.storage.private_files import create_private_file_once


class KeyFileCorrupt(ValueError):
    """A key file exists but does not hold a usable key; restore it from a backup."""


def read_key(path: Path, nbytes: int) -> bytes:
    """The key at ``path``, refused unless it is exactly ``nbytes`` long."""
    data = Path(path).read_bytes()
    if len(data) != nbytes:
        raise KeyFileCorrupt(
            f"key file {path} holds {len(data)} bytes, not {nbytes}: it is damaged; restore it "
            "from a backup (it is not replaced, which would orphan what the old key protects)"
        )
    return data


def read_or_create_key(path: Path, nbytes: int = 32) -> bytes:
    """The key stored at ``path``; on first use a random one is written (owner-only)."""
    path = Path(path)
    if not path.exists():
        create_private_file_once(path, os.urandom(nbytes))
    return read_key(path, nbytes)

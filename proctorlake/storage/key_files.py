"""Random secret keys kept as files under ``PROCTORLAKE_HOME/keys``, created once.

Several processes (API, workers, dashboard) may ask for the same key at the same moment;
an atomic create-if-absent makes them all agree on one key.
"""

from __future__ import annotations

import os
from pathlib import Path


def read_or_create_key(path: Path, nbytes: int = 32) -> bytes:
    """The key stored at ``path``; on first use a random one is written (owner-only)."""
    path = Path(path)
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(f"{path.name}.{os.getpid()}.partial")
        tmp.write_bytes(os.urandom(nbytes))
        os.chmod(tmp, 0o600)
        try:
            os.link(tmp, path)  # atomic create-if-absent
        except FileExistsError:
            pass
        finally:
            tmp.unlink(missing_ok=True)
    return path.read_bytes()

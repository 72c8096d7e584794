"""Janus's raw recording format (``.mjr``, version ``MJR00002``), read without ``janus-pp-rec``.

A file is ``MJR00002``, a 2-byte big-endian length and a JSON header (``s``/``u``: wall-clock
µs when it was created / when its first packet came), then one record per received packet:
``MEET``, 4 bytes (ms since the file was created), a 2-byte length and the RTP packet as it
arrived (Janus ``record.c``). The recorder reads the packets to learn which frames decode.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator
from pathlib import Path

log = logging.getLogger(__name__)

MAGIC = b"MJR0000"
RECORD_MARK = b"MEET"


class MjrFormatError(ValueError):
    """Not a ``.mjr`` this reader knows; the message says what was found."""


def read_header(path: Path) -> dict | None:
    """The JSON header; None while the file holds no header yet (Janus writes it with the
    first packet)."""
    with open(path, "rb") as raw:
        head = raw.read(10)
        if len(head) < 10 or not head.startswith(MAGIC):
            return None
        return json.loads(raw.read(int.from_bytes(head[8:10], "big")))


def rtp_packets(path: Path) -> Iterator[bytes]:
    """Every recorded RTP packet in the order Janus wrote it. A record cut short at the end
    (the gateway died while writing it) ends the iteration; so does a record that does not
    start with ``MEET`` (logged), where ``janus-pp-rec`` stops too, so both read the same
    packets."""
    data = path.read_bytes()
    if not data.startswith(MAGIC + b"2"):
        raise MjrFormatError(f"{path.name}: not an MJR00002 file (starts {data[:8]!r})")
    offset = 10 + int.from_bytes(data[8:10], "big")
    while offset + 10 <= len(data):
        if data[offset : offset + 4] != RECORD_MARK:
            log.warning("%s: no record at byte %d; the packets after it are not read", path, offset)
            return
        length = int.from_bytes(data[offset + 8 : offset + 10], "big")
        start = offset + 10
        if start + length > len(data):
            return
        yield data[start : start + length]
        offset = start + length

"""The one rule for session, student, exam and institution ids.

Ids become folder names and object keys (``sessions/{session_id}/...``, per-session key and
cache folders), so an id must be exactly one harmless path segment: letters, digits, ``_``,
``.`` and ``-``, starting with a letter or digit (so never ``.``, ``..``, a hidden name or an
option-like ``-x``), at most 128 characters. Every entry point (CLI, API, object keys,
ingest, erasure) asks this module before it builds a path or key.
"""

from __future__ import annotations

import re

MAX_ID_LENGTH = 128
ID_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,127}$"
"""Also the pattern of the API's request models (pydantic), so OpenAPI documents the rule."""
ID_RULE = "1-128 letters, digits, '.', '_' or '-', starting with a letter or digit"
_ID = re.compile(ID_PATTERN)


class InvalidId(ValueError):
    """An id that cannot be a ProctorLake id (it could escape or alias a storage path)."""

    def __init__(self, kind: str, value: object) -> None:
        shown = repr(value) if not isinstance(value, str) or len(value) <= 40 else "(too long)"
        super().__init__(f"{kind} {shown} is malformed: use {ID_RULE}")
        self.kind = kind


def is_valid_id(value: object) -> bool:
    # fullmatch: ``$`` alone would also accept a trailing newline
    return isinstance(value, str) and _ID.fullmatch(value) is not None


def check_id(kind: str, value: object) -> str:
    """``value`` when it is a well-formed id; otherwise InvalidId naming ``kind``."""
    if not is_valid_id(value):
        raise InvalidId(kind, value)
    return value  # type: ignore[return-value]  # is_valid_id proved it is a str

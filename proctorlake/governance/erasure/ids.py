"""Identifier checks and the keyed hash that stands in for a student id after erasure.

The student id itself never reaches a plan file, a log line, a certificate or a table written
by erasure. It is replaced by an HMAC-SHA256 under an installation secret (the "pepper"):
a plain SHA-256 of an enumerable id (``s12345``) could be reversed by trying every id, the
keyed hash cannot without the secret, yet the same student always maps to the same value, so
a repeated request is recognised.
"""

from __future__ import annotations

import hashlib
import hmac
from pathlib import Path

from proctorlake.core.ids import ID_RULE, InvalidId, check_id
from proctorlake.core.settings import Settings
from proctorlake.storage.key_files import read_or_create_key


class ErasureError(ValueError):
    """An erasure request was rejected before anything was touched."""


class MalformedId(ErasureError):
    """A student or session id that cannot be a ProctorLake id."""


class UnknownStudent(ErasureError):
    """No data and no earlier erasure exist for this student."""


class ErasureSessionUnknown(ErasureError):
    """No data and no earlier erasure exist for this session."""


class SessionNotOfStudent(ErasureError):
    """The session exists but belongs to another student."""


class SessionUnderLegalHold(ErasureError):
    """The session is under legal hold: GDPR Art. 17(3)(e) allows keeping data needed for
    legal claims, so erasure waits until an admin lifts the hold."""


def _checked(kind: str, value: object) -> str:
    """The product-wide rule (``proctorlake.core.ids``); the message leaves the value out,
    since erasure's messages may be logged and the value may be a real student id."""
    try:
        return check_id(kind, value)
    except InvalidId as exc:
        raise MalformedId(f"{kind} is malformed: use {ID_RULE}") from exc


def check_student_id(student_id: object) -> str:
    return _checked("student id", student_id)


def check_session_id(session_id: object) -> str:
    return _checked("session id", session_id)


def _pepper_path(settings: Settings) -> Path:
    return settings.home / "keys" / "erasure_pepper"


def _pepper(settings: Settings, create: bool) -> bytes | None:
    path = _pepper_path(settings)
    if not create and not path.exists():
        return None
    return read_or_create_key(path)


def student_hash(settings: Settings, student_id: str, create: bool = True) -> str | None:
    """The keyed hash of a student id; None when ``create`` is False and no secret exists yet
    (then no erasure ever ran here, so nothing can match)."""
    pepper = _pepper(settings, create)
    if pepper is None:
        return None
    digest = hmac.new(pepper, check_student_id(student_id).encode(), hashlib.sha256).hexdigest()
    return f"hmac-sha256:{digest}"

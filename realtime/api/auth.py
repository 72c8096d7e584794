"""Signed, expiring API tokens: who is calling, for which institution and session.

Tokens are JWTs signed with HMAC-SHA256. The key is a random 256-bit secret created on
first use under ``PROCTORLAKE_HOME/keys`` (owner-only); it is kept apart from the Ed25519
audit-signing key because a MAC key that signs access must never sign audit records.
A student token names one session and reaches only that session; proctor and admin tokens
name an institution and reach only that institution's sessions; a staff token from an LTI
course launch also carries an exam scope and reaches only that course's exams.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path

import jwt

from proctorlake.core.settings import Settings
from proctorlake.storage.key_files import read_or_create_key

ROLES = ("student", "proctor", "admin")
DEFAULT_TTL_S = {"student": 6 * 3600, "proctor": 12 * 3600, "admin": 12 * 3600}
_ALGORITHM = "HS256"
_ISSUER = "proctorlake"


class TokenError(ValueError):
    """The token is missing, malformed, forged or expired (the message says which)."""


@dataclass(frozen=True)
class TokenClaims:
    subject: str
    role: str
    institution_id: str
    session_id: str | None
    expires_at: int
    exam_scope: str | None = None  # exam-id prefix of the one course a staff token serves

    def reaches_exam(self, exam_id: str) -> bool:
        """Unscoped tokens reach every exam of their institution; scoped ones their course's."""
        return self.exam_scope is None or exam_id.startswith(self.exam_scope)

    def can_reach_session(self, session_id: str, institution_id: str) -> bool:
        """A student reaches its own session; staff reach their institution's sessions."""
        if self.role == "student":
            return self.session_id == session_id and self.institution_id == institution_id
        return self.institution_id == institution_id


def token_key_path(settings: Settings) -> Path:
    return settings.home / "keys" / "api_token_hmac.key"


def _token_key(settings: Settings) -> bytes:
    return read_or_create_key(token_key_path(settings))


def issue_token(
    settings: Settings,
    subject: str,
    role: str,
    institution_id: str,
    session_id: str | None = None,
    ttl_s: int | None = None,
    exam_scope: str | None = None,
) -> str:
    """Mint a signed token; a student token must name its session."""
    if role not in ROLES:
        raise ValueError(f"role must be one of {ROLES}, not {role!r}")
    if role == "student" and not session_id:
        raise ValueError("a student token must name its session")
    if not subject or not institution_id:
        raise ValueError("subject and institution_id are required")
    now = int(time.time())
    claims = {
        "iss": _ISSUER,
        "sub": subject,
        "role": role,
        "inst": institution_id,
        "iat": now,
        "exp": now + int(ttl_s if ttl_s is not None else DEFAULT_TTL_S[role]),
    }
    if session_id:
        claims["sid"] = session_id
    if exam_scope:
        claims["xsc"] = exam_scope
    return jwt.encode(claims, _token_key(settings), algorithm=_ALGORITHM)


def verify_token(settings: Settings, token: str) -> TokenClaims:
    """Check signature, issuer and expiry; raises TokenError with the reason."""
    if not token:
        raise TokenError("no token: send 'Authorization: Bearer <token>'")
    try:
        claims = jwt.decode(
            token,
            _token_key(settings),
            algorithms=[_ALGORITHM],
            issuer=_ISSUER,
            options={"require": ["exp", "iat", "sub", "iss"]},
        )
    except jwt.ExpiredSignatureError as exc:
        raise TokenError("token expired") from exc
    except jwt.InvalidSignatureError as exc:
        raise TokenError("token signature does not verify") from exc
    except jwt.PyJWTError as exc:
        raise TokenError(f"token rejected: {exc}") from exc
    role = claims.get("role")
    if role not in ROLES or not claims.get("inst"):
        raise TokenError("token carries no valid role and institution")
    if role == "student" and not claims.get("sid"):
        raise TokenError("student token names no session")
    return TokenClaims(
        subject=str(claims["sub"]),
        role=role,
        institution_id=str(claims["inst"]),
        session_id=claims.get("sid"),
        expires_at=int(claims["exp"]),
        exam_scope=claims.get("xsc"),
    )

"""Signed, expiring API tokens: who is calling, for which institution and session.

Tokens are JWTs signed with HMAC-SHA256. The key is a random 256-bit secret created on
first use under ``PROCTORLAKE_HOME/keys`` (owner-only); it is kept apart from the Ed25519
audit-signing key because a MAC key that signs access must never sign audit records.
A student token names one session and reaches only that session; proctor and admin tokens
name an institution and reach only that institution's sessions; a staff token from an LTI
course launch also carries an exam scope and reaches only that course's exams.

Every token carries an audience (``aud``: the exam client, staff, or a stream ticket) checked
on each use, so a token minted for one purpose is refused for another, and an id (``jti``)
that can be revoked in every API process (``token_revocations``). Ending or erasing a session
revokes its student's tokens. An event stream cannot send a header, so it is opened with a
stream ticket: short-lived, single-use, bound to one path, exchanged for with the real token
in a POST; no long-lived token ever appears in a URL.
"""

from __future__ import annotations

import time
import uuid
from dataclasses import dataclass
from pathlib import Path

import jwt

from proctorlake.core.settings import Settings
from proctorlake.governance import erased_sessions
from proctorlake.governance.erased_sessions import SessionErased
from proctorlake.storage.key_files import read_or_create_key
from realtime.api import token_revocations

ROLES = ("student", "proctor", "admin")
AUDIENCE_STUDENT = "proctorlake-exam-client"
AUDIENCE_STAFF = "proctorlake-staff"
AUDIENCE_STREAM_TICKET = "proctorlake-stream-ticket"
API_AUDIENCES = (AUDIENCE_STUDENT, AUDIENCE_STAFF)
DEFAULT_TTL_S = {"student": 6 * 3600, "proctor": 12 * 3600, "admin": 12 * 3600}
_ALGORITHM = "HS256"
_ISSUER = "proctorlake"


class TokenError(ValueError):
    """The token is missing, malformed, forged or expired (the message says which)."""


class SessionTokensRevoked(TokenError):
    """The token's session ended or was erased, which revoked its tokens (answered 409, so
    a client knows to stop rather than sign in again)."""


@dataclass(frozen=True)
class TokenClaims:
    subject: str
    role: str
    institution_id: str
    session_id: str | None
    expires_at: int
    jti: str = ""
    issued_at: int = 0
    exam_scope: str | None = None  # exam-id prefix of the one course a staff token serves

    def reaches_exam(self, exam_id: str) -> bool:
        """Unscoped tokens reach every exam of their institution; scoped ones their course's."""
        return self.exam_scope is None or exam_id.startswith(self.exam_scope)

    def can_reach_session(self, session_id: str, institution_id: str) -> bool:
        """A student reaches its own session; staff reach their institution's sessions."""
        if self.role == "student":
            return self.session_id == session_id and self.institution_id == institution_id
        return self.institution_id == institution_id


def audience_for(role: str) -> str:
    """The one audience a role's API token is minted for and accepted with."""
    return AUDIENCE_STUDENT if role == "student" else AUDIENCE_STAFF


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
        "aud": audience_for(role),
        "jti": uuid.uuid4().hex,
        "iat": now,
        "exp": now + int(ttl_s if ttl_s is not None else DEFAULT_TTL_S[role]),
    }
    if session_id:
        claims["sid"] = session_id
    if exam_scope:
        claims["xsc"] = exam_scope
    return jwt.encode(claims, _token_key(settings), algorithm=_ALGORITHM)


def verify_token(
    settings: Settings, token: str, audiences: str | tuple[str, ...] = API_AUDIENCES
) -> TokenClaims:
    """Check signature, issuer, audience, expiry and revocation; raises TokenError."""
    claims = _decode(settings, token, audiences)
    role = claims.get("role")
    if role not in ROLES or not claims.get("inst"):
        raise TokenError("token carries no valid role and institution")
    if role == "student" and not claims.get("sid"):
        raise TokenError("student token names no session")
    if claims["aud"] != audience_for(role):
        raise TokenError(f"a {role} token must have the audience {audience_for(role)!r}")
    result = _claims(claims)
    _check_revocation(settings, result)
    return result


def _check_revocation(settings: Settings, claims: TokenClaims) -> None:
    if token_revocations.jti_revoked(settings, claims.jti):
        raise TokenError("token revoked")
    if claims.session_id is None:
        return
    reason = token_revocations.session_revocation(settings, claims.session_id, claims.issued_at)
    if reason is not None:
        if erased_sessions.is_erased(settings, claims.session_id):
            raise SessionErased(f"session {claims.session_id} was erased")  # 410, not 409
        raise SessionTokensRevoked(
            f"session {claims.session_id} is {reason}: its tokens are revoked"
        )


def _decode(settings: Settings, token: str, audiences: str | tuple[str, ...]) -> dict:
    if not token:
        raise TokenError("no token: send 'Authorization: Bearer <token>'")
    try:
        return jwt.decode(
            token,
            _token_key(settings),
            algorithms=[_ALGORITHM],
            issuer=_ISSUER,
            audience=list(audiences) if isinstance(audiences, tuple) else audiences,
            options={"require": ["exp", "iat", "sub", "iss", "aud", "jti"]},
        )
    except jwt.ExpiredSignatureError as exc:
        raise TokenError("token expired") from exc
    except jwt.InvalidSignatureError as exc:
        raise TokenError("token signature does not verify") from exc
    except jwt.InvalidAudienceError as exc:
        raise TokenError("token is not meant for this use (audience)") from exc
    except jwt.PyJWTError as exc:
        raise TokenError(f"token rejected: {exc}") from exc


def _claims(claims: dict) -> TokenClaims:
    return TokenClaims(
        subject=str(claims["sub"]),
        role=claims["role"],
        institution_id=str(claims["inst"]),
        session_id=claims.get("sid"),
        expires_at=int(claims["exp"]),
        jti=str(claims["jti"]),
        issued_at=int(claims["iat"]),
        exam_scope=claims.get("xsc"),
    )


def revoke_token(settings: Settings, claims: TokenClaims) -> None:
    """Revoke one token in every API process."""
    token_revocations.revoke_jti(settings, claims.jti, claims.expires_at)


def revoke_session_tokens(settings: Settings, session_id: str, reason: str) -> None:
    """Revoke every token naming the session, in every API process; called when it ends
    (``reason`` = its status; erasure ends an open session first, and an erased session is
    refused by its marker whatever its tokens say)."""
    token_revocations.revoke_session(settings, session_id, reason)


def issue_stream_ticket(settings: Settings, claims: TokenClaims, path: str) -> str:
    """A single-use ticket that opens the event stream at ``path`` for the token's holder."""
    now = int(time.time())
    ticket = {
        "iss": _ISSUER,
        "sub": claims.subject,
        "role": claims.role,
        "inst": claims.institution_id,
        "aud": AUDIENCE_STREAM_TICKET,
        "jti": uuid.uuid4().hex,
        "parent": claims.jti,
        "parent_iat": claims.issued_at,
        "path": path,
        "iat": now,
        "exp": min(now + settings.stream_ticket_ttl_s, claims.expires_at),
    }
    if claims.session_id:
        ticket["sid"] = claims.session_id
    if claims.exam_scope:
        ticket["xsc"] = claims.exam_scope  # a course's staff stay scoped on the stream too
    return jwt.encode(ticket, _token_key(settings), algorithm=_ALGORITHM)


def redeem_stream_ticket(settings: Settings, ticket: str, path: str) -> TokenClaims:
    """The claims of the token the ticket was exchanged for; the ticket is used up."""
    claims = _decode(settings, ticket, AUDIENCE_STREAM_TICKET)
    if claims.get("path") != path:
        raise TokenError("this stream ticket opens another stream")
    if not token_revocations.revoke_jti(settings, str(claims["jti"]), int(claims["exp"])):
        raise TokenError("stream ticket already used: ask for a new one")
    parent = _claims({**claims, "jti": claims["parent"], "iat": claims["parent_iat"]})
    _check_revocation(settings, parent)
    return parent

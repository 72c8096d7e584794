"""Short-lived sign-in links: a URL that signs one admin in, minted by whoever holds the home.

They let a script open a page already signed in (the demo printing a link, headless
screenshots) without typing a password into a form. A link is an HS256 token naming an
existing admin, valid for minutes, signed with a key kept in ``PROCTORLAKE_HOME/keys``: anyone
able to mint one can already read that home's accounts file and lake. A link signs in once:
its id is remembered until it expires, so a link copied from a history or a log is refused.
"""

from __future__ import annotations

import secrets
import time
from pathlib import Path
from urllib.parse import urlencode

import jwt

from proctorlake.core.settings import Settings
from proctorlake.storage.key_files import read_or_create_key
from proctorlake.storage.one_time_marks import OneTimeMarks, marks_folder

_AUDIENCE = "proctorlake-dashboard"
LINK_PARAM = "login"


class InvalidSignInLink(ValueError):
    """The link is forged, expired or malformed."""


def _key_path(settings: Settings) -> Path:
    return settings.home / "keys" / "dashboard_links.key"


def _link_key(settings: Settings) -> bytes:
    return read_or_create_key(_key_path(settings))


def sign_in_token(settings: Settings, user: str, ttl_s: int = 300) -> str:
    now = int(time.time())
    claims = {
        "sub": user,
        "aud": _AUDIENCE,
        "iat": now,
        "exp": now + ttl_s,
        "jti": secrets.token_urlsafe(16),
    }
    return jwt.encode(claims, _link_key(settings), algorithm="HS256")


def user_from_token(settings: Settings, token: str) -> str:
    """The admin a valid, unused token names (using it); raises InvalidSignInLink otherwise."""
    try:
        claims = jwt.decode(
            token,
            _link_key(settings),
            algorithms=["HS256"],
            audience=_AUDIENCE,
            options={"require": ["sub", "exp", "jti"]},
        )
    except jwt.PyJWTError as exc:
        raise InvalidSignInLink(f"sign-in link rejected: {exc}") from exc
    used = OneTimeMarks(marks_folder(settings.home, "sign-in-links"))
    if not used.claim(str(claims["jti"]), float(claims["exp"])):
        raise InvalidSignInLink("sign-in link rejected: it was already used; ask for a new one")
    return str(claims["sub"])


def sign_in_url(
    settings: Settings, user: str, base_url: str, page: str = "", ttl_s: int = 300, **params: str
) -> str:
    """``base_url/page?login=TOKEN&...``: opens ``page`` signed in as ``user``."""
    query = urlencode({LINK_PARAM: sign_in_token(settings, user, ttl_s), **params})
    return f"{base_url.rstrip('/')}/{page}?{query}"

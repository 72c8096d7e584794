"""Dashboard admin accounts: who may sign in, and which institution each one sees.

Accounts live in one JSON file (``settings.admin_users_path``, env ``PROCTORLAKE_ADMIN_USERS``)::

    {"alice": {"password_hash": "scrypt$...", "institution_id": "uni-north"},
     "carol@uni-north.edu": {"institution_id": "uni-north"}}

A password hash is only needed for password sign-in; an account reached through the OIDC
provider is looked up by the e-mail address the provider vouches for. Add an account with
``python -m dashboards.admins add USER --institution ID`` (prompts for the password); print a
short-lived sign-in link with ``python -m dashboards.admins link USER``.
"""

from __future__ import annotations

import argparse
import base64
import getpass
import hashlib
import hmac
import json
import os
import secrets
import sys
from dataclasses import dataclass
from pathlib import Path

from proctorlake.core.settings import Settings, load_settings

# scrypt cost: about 50 ms per check here, slow enough to blunt guessing, fast enough to sign in.
_SCRYPT_N, _SCRYPT_R, _SCRYPT_P = 2**14, 8, 1


class AdminAccountsError(ValueError):
    """The accounts file is unreadable or an account in it is malformed."""


@dataclass(frozen=True)
class Admin:
    """A signed-in admin: every page shows only ``institution_id``'s data."""

    user: str
    institution_id: str
    signed_in_with: str  # password | oidc | link


def hash_password(password: str) -> str:
    """An encoded salted scrypt hash, the form the accounts file stores."""
    if not password:
        raise ValueError("empty password")
    salt = secrets.token_bytes(16)
    digest = hashlib.scrypt(
        password.encode("utf-8"), salt=salt, n=_SCRYPT_N, r=_SCRYPT_R, p=_SCRYPT_P, dklen=32
    )
    b64 = base64.b64encode
    return f"scrypt${_SCRYPT_N}${_SCRYPT_R}${_SCRYPT_P}${b64(salt).decode()}${b64(digest).decode()}"


def verify_password(password: str, encoded: str) -> bool:
    """True when ``password`` matches ``encoded``; False for a mismatch or a malformed hash."""
    try:
        scheme, n, r, p, salt, digest = encoded.split("$")
        if scheme != "scrypt":
            return False
        expected = base64.b64decode(digest)
        actual = hashlib.scrypt(
            password.encode("utf-8"),
            salt=base64.b64decode(salt),
            n=int(n),
            r=int(r),
            p=int(p),
            dklen=len(expected),
        )
    except (ValueError, TypeError):
        return False
    return hmac.compare_digest(actual, expected)


# Checked against when the user is unknown, so a wrong name costs as long as a wrong password.
_DUMMY_HASH = hash_password(secrets.token_urlsafe(16))


def accounts_path(settings: Settings) -> Path:
    return settings.admin_users_path or settings.home / "admin_users.json"


def load_accounts(settings: Settings) -> dict[str, dict]:
    """Every account in the file ({} when the file does not exist yet)."""
    path = accounts_path(settings)
    if not path.exists():
        return {}
    try:
        accounts = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise AdminAccountsError(f"{path}: not a readable JSON accounts file ({exc})") from exc
    if not isinstance(accounts, dict):
        raise AdminAccountsError(f"{path}: expected an object of accounts")
    for user, account in accounts.items():
        if not isinstance(account, dict) or not account.get("institution_id"):
            raise AdminAccountsError(f"{path}: account {user!r} has no institution_id")
    return accounts


def authenticate(settings: Settings, user: str, password: str) -> Admin | None:
    """The admin for a correct user name and password, else None."""
    account = load_accounts(settings).get(user.strip())
    encoded = (account or {}).get("password_hash") or _DUMMY_HASH
    if not verify_password(password, encoded) or account is None:
        return None
    return Admin(user.strip(), account["institution_id"], "password")


def admin_for_identity(settings: Settings, user: str | None, signed_in_with: str) -> Admin | None:
    """The admin for an identity someone else vouched for (OIDC e-mail, a sign-in link)."""
    if not user:
        return None
    account = load_accounts(settings).get(user)
    if account is None:
        return None
    return Admin(user, account["institution_id"], signed_in_with)


def add_account(settings: Settings, user: str, institution_id: str, password: str | None) -> None:
    """Create or replace one account; the file is rewritten atomically, owner-only."""
    if not user.strip() or not institution_id.strip():
        raise ValueError("user and institution are required")
    accounts = load_accounts(settings)
    account: dict[str, str] = {"institution_id": institution_id.strip()}
    if password is not None:
        account["password_hash"] = hash_password(password)
    accounts[user.strip()] = account
    path = accounts_path(settings)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f"{path.name}.{os.getpid()}.partial")
    tmp.write_text(json.dumps(accounts, indent=2, sort_keys=True), encoding="utf-8")
    os.chmod(tmp, 0o600)
    os.replace(tmp, path)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m dashboards.admins", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)
    add = commands.add_parser("add", help="create or replace an admin account")
    add.add_argument("user")
    add.add_argument("--institution", required=True)
    add.add_argument("--password-stdin", action="store_true", help="read the password from stdin")
    add.add_argument("--no-password", action="store_true", help="OIDC-only account")
    link = commands.add_parser("link", help="print a sign-in link (valid for minutes)")
    link.add_argument("user")
    link.add_argument("--base-url", help="where the dashboard runs (default: local port)")
    link.add_argument("--page", default="", help="e.g. session_review")
    link.add_argument("--ttl", type=int, default=300, help="seconds the link stays valid")
    args = parser.parse_args(argv)
    settings = load_settings()
    if args.command == "link":
        return _print_link(settings, args.user, args.base_url, args.page, args.ttl)
    if args.no_password:
        password = None
    elif args.password_stdin:
        password = sys.stdin.readline().rstrip("\n")
    else:
        password = getpass.getpass(f"password for {args.user}: ")
    add_account(settings, args.user, args.institution, password)
    print(f"admin {args.user!r} of {args.institution!r} saved in {accounts_path(settings)}")
    return 0


def _print_link(settings: Settings, user: str, base_url: str | None, page: str, ttl: int) -> int:
    from dashboards.links import sign_in_url

    if admin_for_identity(settings, user, "link") is None:
        print(f"no admin account {user!r} in {accounts_path(settings)}", file=sys.stderr)
        return 2
    base_url = base_url or f"http://127.0.0.1:{settings.dashboard_port}"
    print(sign_in_url(settings, user, base_url, page, ttl_s=ttl))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

"""LTI 1.3 tool logic: platform registry, the tool's key, login state, id_token checks, roles.

The ``/lti`` router only speaks HTTP; everything that decides whether a launch is genuine
lives here. Validation uses PyJWT + cryptography directly (pylti1p3 is built around
Django/Flask request adapters). A launch is accepted only when:

- its ``state`` comes back with the browser that started the login: the login sets a
  short-lived cookie holding an HMAC-signed record (state, nonce, platform); nothing is
  written on the server per login, and logins are rate-limited per client address;
- its id_token is RS256-signed by a key in the platform's JWKS, names a registered issuer,
  client id (audience) and deployment, has not expired, and carries the login's nonce;
- the nonce and the state are used once: both are remembered (``OneTimeMarks``, files that
  survive API restarts and are pruned once expired) and a second use is a replay.

Roles are matched on full LTI 1.3 role URIs: a context (course) Instructor or course
Administrator is a proctor of that course only, an institution Administrator is an admin of
the institution, a context Learner is a student. Sub-roles (``membership/Learner#...``) and
unknown roles grant nothing. Registrations are a JSON list in ``PROCTORLAKE_LTI_PLATFORMS``:

    [{"issuer": "...", "client_id": "...", "deployment_ids": ["..."],
      "auth_login_url": "...", "jwks_url": "...", "institution_id": "..."}]
"""

from __future__ import annotations

import base64
import hashlib
import json
import re
import secrets
import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import httpx
import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from proctorlake.core.ids import is_valid_id
from proctorlake.core.settings import Settings
from proctorlake.storage.key_files import read_or_create_key
from proctorlake.storage.one_time_marks import OneTimeMarks, marks_folder

CLAIM = "https://purl.imsglobal.org/spec/lti/claim/"
STATE_TTL_S = 600
NONCE_KEEP_S = 24 * 3600  # past any id_token's life: a replayed nonce is refused for a day
JWKS_CACHE_S = 300
LEEWAY_S = 30
STATE_COOKIE_PREFIX = "proctorlake_lti_"
_STATE_AUDIENCE = "proctorlake-lti-state"
_STATE = re.compile(r"^[A-Za-z0-9_-]{20,100}$")

# LTI 1.3 role vocabularies (LTI Core 1.3, appendix A.2): context roles vs institution roles.
CONTEXT_ROLE = "http://purl.imsglobal.org/vocab/lis/v2/membership#"
INSTITUTION_ROLE = "http://purl.imsglobal.org/vocab/lis/v2/institution/person#"
ROLE_MAP = (  # full role URI -> (ProctorLake role, scoped to the launching course), strongest first
    (INSTITUTION_ROLE + "Administrator", "admin", False),
    (CONTEXT_ROLE + "Administrator", "proctor", True),
    (CONTEXT_ROLE + "Instructor", "proctor", True),
    (CONTEXT_ROLE + "Learner", "student", True),
)


class LtiRefused(Exception):
    """A login or launch this tool does not accept; ``status`` is the HTTP status that fits."""

    def __init__(self, status: int, detail: str) -> None:
        super().__init__(detail)
        self.status = status
        self.detail = detail


def refused(status: int, detail: str) -> LtiRefused:
    return LtiRefused(status, f"LTI launch refused: {detail}")


@dataclass(frozen=True)
class Platform:
    issuer: str
    client_id: str
    deployment_ids: tuple[str, ...]
    auth_login_url: str
    jwks_url: str
    institution_id: str


def load_platforms(settings: Settings) -> list[Platform]:
    path = settings.lti_platforms_path
    if path is None:
        raise LtiRefused(503, "no LTI platforms registered (set PROCTORLAKE_LTI_PLATFORMS)")
    try:
        entries = json.loads(Path(path).read_text())
        return [
            Platform(
                issuer=e["issuer"],
                client_id=e["client_id"],
                deployment_ids=tuple(e["deployment_ids"]),
                auth_login_url=e["auth_login_url"],
                jwks_url=e["jwks_url"],
                institution_id=e["institution_id"],
            )
            for e in entries
        ]
    except (OSError, ValueError, KeyError, TypeError) as exc:
        detail = f"LTI platform registrations at {path} are unreadable: {exc}"
        raise LtiRefused(503, detail) from exc


def find_platform(settings: Settings, issuer: str, client_id: str | None) -> Platform:
    for platform in load_platforms(settings):
        if platform.issuer == issuer and client_id in (None, platform.client_id):
            return platform
    raise refused(400, f"unknown platform issuer {issuer!r} / client id {client_id!r}")


# --- the tool's own key ----------------------------------------------------------------


def _tool_key(settings: Settings) -> rsa.RSAPrivateKey:
    path = settings.lti_tool_key_path
    if not path.exists():
        pem = rsa.generate_private_key(public_exponent=65537, key_size=2048).private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
        _create_once(path, pem)
    return serialization.load_pem_private_key(path.read_bytes(), password=None)


def _create_once(path: Path, content: bytes) -> None:
    """Write ``content`` at ``path`` owner-only unless another process already did."""
    import os

    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f"{path.name}.{os.getpid()}.partial")
    tmp.write_bytes(content)
    os.chmod(tmp, 0o600)
    try:
        os.link(tmp, path)
    except FileExistsError:
        pass
    finally:
        tmp.unlink(missing_ok=True)


def _b64(number: int) -> str:
    raw = number.to_bytes((number.bit_length() + 7) // 8, "big")
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode("ascii")


def tool_jwks(settings: Settings) -> dict:
    """The tool's public key set (served at ``/lti/jwks``)."""
    public = _tool_key(settings).public_key().public_numbers()
    kid = hashlib.sha256(_b64(public.n).encode()).hexdigest()[:16]
    key = {"kty": "RSA", "alg": "RS256", "use": "sig", "kid": kid}
    return {"keys": [key | {"n": _b64(public.n), "e": _b64(public.e)}]}


# --- login state, bound to the browser ----------------------------------------------------


@dataclass(frozen=True)
class LoginState:
    """What a login hands the browser: ``state`` and ``nonce`` go to the platform, the
    cookie stays with the browser and must come back with the launch."""

    state: str
    nonce: str
    cookie_name: str
    cookie_value: str


def state_cookie_name(state: str) -> str:
    """One cookie per login (two tabs may launch at once); the name shows 16 state chars."""
    return STATE_COOKIE_PREFIX + state[:16]


def _state_key(settings: Settings) -> bytes:
    return read_or_create_key(settings.home / "keys" / "lti_state_hmac.key")


def start_login(settings: Settings, platform: Platform, now: float | None = None) -> LoginState:
    """A fresh state and nonce, and the signed cookie that binds them to this browser."""
    issued = int(time.time() if now is None else now)
    state, nonce = secrets.token_urlsafe(32), secrets.token_urlsafe(32)
    record = {
        "aud": _STATE_AUDIENCE,
        "st": state,
        "nonce": nonce,
        "iss": platform.issuer,
        "cid": platform.client_id,
        "iat": issued,
        "exp": issued + STATE_TTL_S,
    }
    value = jwt.encode(record, _state_key(settings), algorithm="HS256")
    return LoginState(state, nonce, state_cookie_name(state), value)


def read_login_state(settings: Settings, state: str, cookie_value: str | None) -> dict:
    """The login record the browser's cookie holds for ``state``; refused if it is missing,
    forged, expired or made for another state (a launch from another browser)."""
    if not _STATE.fullmatch(state or ""):
        raise refused(400, "missing or malformed state")
    if not cookie_value:
        raise refused(
            400, "no login cookie for this state: the launch must come back to the browser "
            "that started the login (start again from the LMS)",
        )  # fmt: skip
    try:
        record = jwt.decode(
            cookie_value,
            _state_key(settings),
            algorithms=["HS256"],
            audience=_STATE_AUDIENCE,
            options={"require": ["exp", "iat", "st", "nonce", "iss", "cid"]},
        )
    except jwt.ExpiredSignatureError as exc:
        raise refused(400, "the login expired; start again from the LMS") from exc
    except jwt.PyJWTError as exc:
        raise refused(400, f"the login cookie is not one this tool set ({exc})") from exc
    if not secrets.compare_digest(str(record["st"]), state):
        raise refused(400, "the state does not match this browser's login")
    return record


class LoginRateLimit:
    """A token bucket per client address: how fast one address may start logins.

    A login costs no storage, but each one mints signed state; the bound keeps a flood from
    one address cheap to refuse. ``capacity`` covers a classroom behind one NAT address
    starting an exam at once; ``refill_per_s`` is the sustained rate after that.
    """

    def __init__(
        self,
        capacity: float = 100,
        refill_per_s: float = 2.0,
        max_addresses: int = 10_000,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.capacity, self.refill_per_s, self.max_addresses = capacity, refill_per_s, max_addresses
        self._clock = clock
        self._buckets: OrderedDict[str, tuple[float, float]] = OrderedDict()
        self._lock = threading.Lock()

    def allow(self, address: str) -> bool:
        """Take one token for ``address``; False when its bucket is empty."""
        now = self._clock()
        with self._lock:
            tokens, at = self._buckets.pop(address, (self.capacity, now))
            tokens = min(self.capacity, tokens + (now - at) * self.refill_per_s)
            allowed = tokens >= 1
            self._buckets[address] = (tokens - 1 if allowed else tokens, now)
            while len(self._buckets) > self.max_addresses:
                self._buckets.popitem(last=False)  # the longest-idle address goes first
            return allowed


# --- platform keys ----------------------------------------------------------------------

_jwks_cache: dict[str, tuple[float, dict]] = {}
_jwks_lock = threading.Lock()


def platform_jwks(platform: Platform, refresh: bool = False) -> dict:
    with _jwks_lock:
        cached = _jwks_cache.get(platform.jwks_url)
        if cached and not refresh and time.monotonic() - cached[0] < JWKS_CACHE_S:
            return cached[1]
    try:
        response = httpx.get(platform.jwks_url, timeout=10)
        response.raise_for_status()
        keys = response.json()
    except (httpx.HTTPError, ValueError) as exc:
        raise LtiRefused(502, f"could not fetch the platform's JWKS: {exc}") from exc
    with _jwks_lock:
        _jwks_cache[platform.jwks_url] = (time.monotonic(), keys)
    return keys


def _signing_key(platform: Platform, token: str):
    try:
        header = jwt.get_unverified_header(token)
    except jwt.PyJWTError as exc:
        raise refused(400, f"id_token is not a JWT: {exc}") from exc
    if header.get("alg") != "RS256":
        raise refused(401, f"id_token must be RS256, not {header.get('alg')!r}")
    for refresh in (False, True):  # a kid we do not know yet may be a rotated key
        for jwk in platform_jwks(platform, refresh).get("keys", []):
            if header.get("kid") in (None, jwk.get("kid")):
                return jwt.PyJWK(jwk).key
    raise refused(401, f"no key {header.get('kid')!r} in the platform's JWKS")


# --- launch validation ------------------------------------------------------------------


@dataclass(frozen=True)
class LtiLaunch:
    """A verified launch: who (``user``), as what, in which course and exam."""

    platform: Platform
    claims: dict
    role: str
    exam_scope: str | None  # staff of one course reach only exams under this prefix
    user: str
    exam_id: str | None
    student_name: str | None


class LaunchVerifier:
    """Checks launches against the registrations; remembers used states and nonces."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.used = OneTimeMarks(marks_folder(settings.home, "lti"))

    def verify(self, id_token: str, state: str, cookie_value: str | None) -> LtiLaunch:
        """The launch, or ``LtiRefused`` saying what was wrong."""
        login = read_login_state(self.settings, state, cookie_value)
        platform = find_platform(self.settings, login["iss"], login["cid"])
        claims = decode_id_token(platform, id_token)
        if not secrets.compare_digest(str(claims["nonce"]), str(login["nonce"])):
            raise refused(401, "id_token nonce does not match the login")
        keep_until = time.time() + NONCE_KEEP_S
        if not self.used.claim(f"state\n{state}", login["exp"] + LEEWAY_S):
            raise refused(400, "state already used (replayed launch)")
        if not self.used.claim(f"nonce\n{platform.issuer}\n{claims['nonce']}", keep_until):
            raise refused(400, "nonce already used (replayed launch)")
        check_launch_claims(platform, claims)
        return launch_of(platform, claims)


def decode_id_token(platform: Platform, id_token: str) -> dict:
    """The id_token's claims once its signature, issuer, audience and expiry check out."""
    try:
        claims = jwt.decode(
            id_token,
            _signing_key(platform, id_token),
            algorithms=["RS256"],
            audience=platform.client_id,
            issuer=platform.issuer,
            leeway=LEEWAY_S,
            options={"require": ["exp", "iat", "iss", "aud", "sub", "nonce"]},
        )
    except jwt.ExpiredSignatureError as exc:
        raise refused(401, "id_token expired") from exc
    except jwt.InvalidSignatureError as exc:
        raise refused(401, "id_token signature does not verify against the platform") from exc
    except jwt.InvalidIssuerError as exc:
        raise refused(401, "id_token issuer is not the platform that started the login") from exc
    except jwt.InvalidAudienceError as exc:
        raise refused(401, "id_token audience is not this tool's client id") from exc
    except jwt.PyJWTError as exc:
        raise refused(401, f"id_token rejected: {exc}") from exc
    if isinstance(claims["aud"], list) and claims.get("azp", platform.client_id) != (
        platform.client_id
    ):
        raise refused(401, "id_token authorized party is not this tool")
    return claims


def check_launch_claims(platform: Platform, claims: dict) -> None:
    """Deployment, LTI version and message type of a signature-checked id_token."""
    deployment = claims.get(CLAIM + "deployment_id")
    if deployment not in platform.deployment_ids:
        raise refused(403, f"unknown deployment id {deployment!r}")
    if claims.get(CLAIM + "version") != "1.3.0":
        raise refused(400, "not an LTI 1.3.0 launch")
    if claims.get(CLAIM + "message_type") != "LtiResourceLinkRequest":
        raise refused(400, f"unsupported message type {claims.get(CLAIM + 'message_type')!r}")


def role_of(roles: list) -> tuple[str, bool]:
    """(ProctorLake role, scoped to the course) for the strongest role URI matched exactly."""
    given = {str(r) for r in roles or ()}
    for uri, role, scoped in ROLE_MAP:
        if uri in given:
            return role, scoped
    raise refused(
        403,
        f"no supported role in {sorted(given)!r} (context Learner, Instructor or "
        "Administrator, or institution Administrator)",
    )


def safe_id(value: str, max_len: int = 128, allow_dots: bool = True) -> str:
    """An LMS id usable as a ProctorLake id (LMS ids may hold any character, at any length);
    anything else becomes a hash of it."""
    value = str(value)
    if is_valid_id(value) and len(value) <= max_len and (allow_dots or "." not in value):
        return value
    return "h-" + hashlib.sha256(value.encode()).hexdigest()[:32]


def course_scope(claims: dict) -> str:
    """The exam-id prefix of the launching course: every exam of the course starts with it."""
    context = claims.get(CLAIM + "context") or {}
    if not context.get("id"):
        raise refused(400, "the launch names no course (context claim)")
    # no dot inside the course part: the first dot ends it, so course "a" never reaches the
    # exams of course "a.b"; course + exam stay within an id's 128 characters
    return f"{safe_id(context['id'], 63, allow_dots=False)}."


def roster_name(claims: dict) -> str | None:
    """The student's name as the LMS roster gives it (``name``, else given + family)."""
    name = claims.get("name") or " ".join(
        str(p) for p in (claims.get("given_name"), claims.get("family_name")) if p
    )
    return str(name).strip()[:200] or None


def launch_of(platform: Platform, claims: dict) -> LtiLaunch:
    """Role, course scope, exam and roster name of a verified launch."""
    role, scoped = role_of(claims.get(CLAIM + "roles") or [])
    scope = course_scope(claims) if scoped else None
    exam_id = None
    if role == "student":
        link = claims.get(CLAIM + "resource_link") or {}
        if not link.get("id"):
            raise refused(400, "the launch names no resource link (the exam)")
        exam_id = f"{scope}{safe_id(link['id'], 64)}"
    return LtiLaunch(
        platform=platform,
        claims=claims,
        role=role,
        exam_scope=scope if role != "student" else None,
        user=safe_id(claims["sub"]),
        exam_id=exam_id,
        student_name=roster_name(claims) if role == "student" else None,
    )

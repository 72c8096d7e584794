"""The `lti` resource: LTI 1.3 tool endpoints (OIDC login initiation, launch, the tool's JWKS).

Validation uses PyJWT + cryptography directly (pylti1p3 is built around Django/Flask request
adapters). A launch is accepted only when the id_token is RS256-signed by a key in the
platform's JWKS, its issuer and audience (client id) are a registered platform, its
deployment id is registered, it has not expired, and its nonce and state come from a login
this tool started and are used exactly once (single-use files under
``PROCTORLAKE_HOME/lti/``, so a replay is refused even across API restarts). Registrations
are a JSON list in the file ``PROCTORLAKE_LTI_PLATFORMS`` names:

    [{"issuer": "...", "client_id": "...", "deployment_ids": ["..."],
      "auth_login_url": "...", "jwks_url": "...", "institution_id": "..."}]

Learners land on ``/exam`` with a student token for their (created or resumed) session;
Instructors land on ``/proctor`` with a proctor token, Administrators with an admin token.
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
import re
import secrets
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated
from urllib.parse import urlencode

import httpx
import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from fastapi import APIRouter, Form, HTTPException, Request
from fastapi.responses import RedirectResponse

from proctorlake.core.settings import Settings
from realtime.api.auth import issue_token
from realtime.api.deps import Services

router = APIRouter(prefix="/lti", tags=["lti"])

CLAIM = "https://purl.imsglobal.org/spec/lti/claim/"
STATE_TTL_S = 600
NONCE_KEEP_S = 24 * 3600
JWKS_CACHE_S = 300
LEEWAY_S = 30
ROLE_MAP = (  # LTI role suffix -> ProctorLake role, strongest first
    ("#Administrator", "admin"),
    ("#Instructor", "proctor"),
    ("#Learner", "student"),
)
_ID = re.compile(r"^[A-Za-z0-9_.-]{1,128}$")


@dataclass(frozen=True)
class Platform:
    issuer: str
    client_id: str
    deployment_ids: tuple[str, ...]
    auth_login_url: str
    jwks_url: str
    institution_id: str


def lti_error(status: int, detail: str) -> HTTPException:
    return HTTPException(status_code=status, detail=f"LTI launch refused: {detail}")


def load_platforms(settings: Settings) -> list[Platform]:
    path = settings.lti_platforms_path
    if path is None:
        raise HTTPException(503, "no LTI platforms registered (set PROCTORLAKE_LTI_PLATFORMS)")
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
        raise HTTPException(
            503, f"LTI platform registrations at {path} are unreadable: {exc}"
        ) from exc


def find_platform(settings: Settings, issuer: str, client_id: str | None) -> Platform:
    for platform in load_platforms(settings):
        if platform.issuer == issuer and client_id in (None, platform.client_id):
            return platform
    raise lti_error(400, f"unknown platform issuer {issuer!r} / client id {client_id!r}")


# --- the tool's own key ----------------------------------------------------------------


def _tool_key(settings: Settings) -> rsa.RSAPrivateKey:
    path = settings.lti_tool_key_path
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        pem = rsa.generate_private_key(public_exponent=65537, key_size=2048).private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
        tmp = path.with_name(f"{path.name}.{os.getpid()}.partial")
        tmp.write_bytes(pem)
        os.chmod(tmp, 0o600)
        try:
            os.link(tmp, path)
        except FileExistsError:
            pass
        finally:
            tmp.unlink(missing_ok=True)
    return serialization.load_pem_private_key(path.read_bytes(), password=None)


def _b64(number: int) -> str:
    raw = number.to_bytes((number.bit_length() + 7) // 8, "big")
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode("ascii")


def tool_jwks(settings: Settings) -> dict:
    public = _tool_key(settings).public_key().public_numbers()
    kid = hashlib.sha256(_b64(public.n).encode()).hexdigest()[:16]
    key = {"kty": "RSA", "alg": "RS256", "use": "sig", "kid": kid}
    return {"keys": [key | {"n": _b64(public.n), "e": _b64(public.e)}]}


# --- single-use state and nonces -------------------------------------------------------


def _lti_dir(settings: Settings, kind: str) -> Path:
    path = settings.home / "lti" / kind
    path.mkdir(parents=True, exist_ok=True)
    return path


def save_state(settings: Settings, state: str, record: dict) -> None:
    (_lti_dir(settings, "states") / f"{state}.json").write_text(json.dumps(record))


def consume_state(settings: Settings, state: str) -> dict:
    """The login's record; the file is claimed by an atomic rename, so it works once only."""
    if not re.fullmatch(r"[A-Za-z0-9_-]{20,100}", state or ""):
        raise lti_error(400, "missing or malformed state")
    folder = _lti_dir(settings, "states")
    claimed = folder / f"{state}.{secrets.token_hex(4)}.used"
    try:
        os.rename(folder / f"{state}.json", claimed)
    except FileNotFoundError as exc:
        raise lti_error(400, "unknown or already used state (start again from the LMS)") from exc
    record = json.loads(claimed.read_text())
    claimed.unlink()
    if time.time() - record["created"] > STATE_TTL_S:
        raise lti_error(400, "the login expired; start again from the LMS")
    return record


def use_nonce(settings: Settings, issuer: str, nonce: str) -> None:
    """Record the nonce; a second use of the same nonce is a replay."""
    digest = hashlib.sha256(f"{issuer}\n{nonce}".encode()).hexdigest()
    marker = _lti_dir(settings, "nonces") / digest
    try:
        with open(marker, "x") as handle:
            handle.write(str(int(time.time())))
    except FileExistsError as exc:
        raise lti_error(400, "nonce already used (replayed launch)") from exc


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
        raise HTTPException(502, f"could not fetch the platform's JWKS: {exc}") from exc
    with _jwks_lock:
        _jwks_cache[platform.jwks_url] = (time.monotonic(), keys)
    return keys


def _signing_key(platform: Platform, token: str):
    try:
        header = jwt.get_unverified_header(token)
    except jwt.PyJWTError as exc:
        raise lti_error(400, f"id_token is not a JWT: {exc}") from exc
    if header.get("alg") != "RS256":
        raise lti_error(401, f"id_token must be RS256, not {header.get('alg')!r}")
    for refresh in (False, True):  # a kid we do not know yet may be a rotated key
        for jwk in platform_jwks(platform, refresh).get("keys", []):
            if header.get("kid") in (None, jwk.get("kid")):
                return jwt.PyJWK(jwk).key
    raise lti_error(401, f"no key {header.get('kid')!r} in the platform's JWKS")


# --- launch handling --------------------------------------------------------------------


def validate_launch(settings: Settings, id_token: str, state: str) -> tuple[Platform, dict]:
    """The verified claims of a launch, or an HTTPException saying what was wrong."""
    login = consume_state(settings, state)
    platform = find_platform(settings, login["iss"], login["client_id"])
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
        raise lti_error(401, "id_token expired") from exc
    except jwt.InvalidSignatureError as exc:
        raise lti_error(401, "id_token signature does not verify against the platform") from exc
    except jwt.InvalidIssuerError as exc:
        raise lti_error(401, "id_token issuer is not the platform that started the login") from exc
    except jwt.InvalidAudienceError as exc:
        raise lti_error(401, "id_token audience is not this tool's client id") from exc
    except jwt.PyJWTError as exc:
        raise lti_error(401, f"id_token rejected: {exc}") from exc
    if (
        isinstance(claims["aud"], list)
        and claims.get("azp", platform.client_id) != platform.client_id
    ):
        raise lti_error(401, "id_token authorized party is not this tool")
    if not secrets.compare_digest(str(claims["nonce"]), login["nonce"]):
        raise lti_error(401, "id_token nonce does not match the login")
    use_nonce(settings, platform.issuer, str(claims["nonce"]))
    deployment = claims.get(CLAIM + "deployment_id")
    if deployment not in platform.deployment_ids:
        raise lti_error(403, f"unknown deployment id {deployment!r}")
    if claims.get(CLAIM + "version") != "1.3.0":
        raise lti_error(400, "not an LTI 1.3.0 launch")
    if claims.get(CLAIM + "message_type") != "LtiResourceLinkRequest":
        raise lti_error(400, f"unsupported message type {claims.get(CLAIM + 'message_type')!r}")
    return platform, claims


def role_of(claims: dict) -> str:
    roles = claims.get(CLAIM + "roles") or []
    for suffix, role in ROLE_MAP:
        if any(str(r).endswith(suffix) for r in roles):
            return role
    raise lti_error(403, f"no supported role in {roles!r} (Learner, Instructor, Administrator)")


def safe_id(value: str) -> str:
    """An LMS id usable as a ProctorLake id (LMS ids may hold any character)."""
    value = str(value)
    return value if _ID.match(value) else "h-" + hashlib.sha256(value.encode()).hexdigest()[:32]


@router.api_route("/login", methods=["GET", "POST"], summary="OIDC third-party login initiation")
async def login(request: Request) -> RedirectResponse:
    params = dict(request.query_params)
    if request.method == "POST":
        params |= {k: str(v) for k, v in (await request.form()).items()}
    settings = request.app.state.settings
    issuer, login_hint = params.get("iss"), params.get("login_hint")
    if not issuer or not login_hint:
        raise lti_error(400, "login needs iss and login_hint")
    platform = find_platform(settings, issuer, params.get("client_id"))
    state, nonce = secrets.token_urlsafe(32), secrets.token_urlsafe(32)
    save_state(
        settings,
        state,
        {"iss": platform.issuer, "client_id": platform.client_id, "nonce": nonce,
         "created": time.time()},
    )  # fmt: skip
    query = {
        "scope": "openid",
        "response_type": "id_token",
        "response_mode": "form_post",
        "prompt": "none",
        "client_id": platform.client_id,
        "redirect_uri": str(request.url_for("launch")),
        "login_hint": login_hint,
        "state": state,
        "nonce": nonce,
    }
    if params.get("lti_message_hint"):
        query["lti_message_hint"] = params["lti_message_hint"]
    return RedirectResponse(f"{platform.auth_login_url}?{urlencode(query)}", status_code=302)


@router.post("/launch", summary="LTI 1.3 resource link launch (id_token form post)")
def launch(
    services: Services,
    id_token: Annotated[str, Form()],
    state: Annotated[str, Form()],
) -> RedirectResponse:
    settings = services.settings
    platform, claims = validate_launch(settings, id_token, state)
    role = role_of(claims)
    user = safe_id(claims["sub"])
    if role != "student":
        token = issue_token(settings, user, role, platform.institution_id)
        return RedirectResponse(f"/proctor#{urlencode({'token': token})}", status_code=303)
    link = claims.get(CLAIM + "resource_link") or {}
    context = claims.get(CLAIM + "context") or {}
    if not link.get("id"):
        raise lti_error(400, "the launch names no resource link (the exam)")
    exam_id = safe_id(f"{context.get('id', 'course')}.{link['id']}")
    session = next(
        (
            s
            for s in services.registry.open_sessions(platform.institution_id)
            if s.exam_id == exam_id and s.student_id == user
        ),
        None,
    ) or services.registry.create(
        exam_id=exam_id, student_id=user, institution_id=platform.institution_id
    )
    token = issue_token(settings, user, "student", platform.institution_id, session.session_id)
    fragment = urlencode({"session": session.session_id, "token": token})
    return RedirectResponse(f"/exam#{fragment}", status_code=303)


@router.get("/jwks", summary="The tool's public keys (JWKS)")
def jwks(request: Request) -> dict:
    return tool_jwks(request.app.state.settings)

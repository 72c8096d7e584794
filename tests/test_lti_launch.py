"""LTI 1.3 launch over real HTTP: the tool (uvicorn subprocess) against a platform emulator
that signs real RS256 tokens and serves its JWKS on loopback."""

from __future__ import annotations

import re
import time
from html import unescape
from urllib.parse import parse_qs, urlparse

import httpx
import jwt
import pytest

from tests.fixtures.lti_platform import CLAIM, PlatformEmulator, new_key
from tests.fixtures.realtime import bearer

PROBLEM = "application/problem+json"


@pytest.fixture
def lti(lti_platform, realtime_api):
    """The platform is registered (env set) before the API process starts."""
    return realtime_api, lti_platform


def _login(client: httpx.Client, platform: PlatformEmulator, hint: str = "user-1") -> str:
    """Steps 1-2: the LMS starts the OIDC login; the tool redirects to the platform."""
    response = client.get(
        "/lti/login",
        params={
            "iss": platform.issuer,
            "login_hint": hint,
            "target_link_uri": f"{client.base_url}/lti/launch",
            "client_id": platform.client_id,
            "lti_deployment_id": platform.deployment_id,
        },
    )
    assert response.status_code == 302, response.text
    location = response.headers["location"]
    assert location.startswith(f"{platform.base_url}/auth?")
    query = parse_qs(urlparse(location).query)
    assert query["redirect_uri"] == [f"{client.base_url}/lti/launch"]
    assert query["response_mode"] == ["form_post"] and query["scope"] == ["openid"]
    return location


def _authorize(location: str) -> dict[str, str]:
    """Step 3: the platform answers with an auto-posting form (real HTTP to the emulator)."""
    page = httpx.get(location, timeout=10)
    assert page.status_code == 200, page.text
    fields = dict(re.findall(r'name="(\w+)" value="([^"]*)"', page.text))
    return {name: unescape(value) for name, value in fields.items()}


def _launch(client: httpx.Client, form: dict[str, str]) -> httpx.Response:
    return client.post("/lti/launch", data=form)


def _refused(response: httpx.Response, status: int, words: str) -> None:
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith(PROBLEM)
    assert words in response.json()["detail"], response.json()


def _fragment(response: httpx.Response) -> tuple[str, dict[str, str]]:
    location = urlparse(response.headers["location"])
    return location.path, {k: v[0] for k, v in parse_qs(location.fragment).items()}


@pytest.mark.slow
def test_learner_launch_signs_in_and_relaunch_resumes(lti) -> None:
    api, platform = lti
    with api.client() as client:
        response = _launch(client, _authorize(_login(client, platform, "learner-42")))
        assert response.status_code == 303, response.text
        path, params = _fragment(response)
        assert path == "/exam"
        session_id, token = params["session"], params["token"]
        info = client.get(f"/sessions/{session_id}", headers=bearer(token))
        assert info.status_code == 200, info.text
        assert info.json()["institution_id"] == platform.institution_id
        assert info.json()["exam_id"] == "course-101.midterm-7"
        assert client.get("/exam").status_code == 200

        again = _launch(client, _authorize(_login(client, platform, "learner-42")))
        assert _fragment(again)[1]["session"] == session_id  # resumed, not a second session

        other = _launch(client, _authorize(_login(client, platform, "learner-43")))
        assert _fragment(other)[1]["session"] != session_id


@pytest.mark.slow
@pytest.mark.parametrize(
    ("lti_role", "role"), [("Instructor", "proctor"), ("Administrator", "admin")]
)
def test_staff_roles_land_on_the_proctor_page(lti, lti_role: str, role: str) -> None:
    api, platform = lti
    platform.next_user = {"sub": "teacher-1", "role": lti_role}
    with api.client() as client:
        response = _launch(client, _authorize(_login(client, platform, "teacher-1")))
        path, params = _fragment(response)
        assert path == "/proctor"
        claims = jwt.decode(params["token"], options={"verify_signature": False})
        assert claims["role"] == role and claims["inst"] == platform.institution_id
        listing = client.get("/proctoring/sessions", headers=bearer(params["token"]))
        assert listing.status_code == 200, listing.text


@pytest.mark.slow
def test_bad_launches_are_refused(lti) -> None:
    api, platform = lti
    cases = [
        ({"sign_with": new_key()}, 401, "signature does not verify"),
        ({"claim_overrides": {"iss": "https://evil.example"}}, 401, "issuer"),
        ({"claim_overrides": {"aud": "someone-else"}}, 401, "audience"),
        ({"claim_overrides": {"exp": int(time.time()) - 120}}, 401, "expired"),
        ({"claim_overrides": {CLAIM + "deployment_id": "deploy-x"}}, 403, "unknown deployment"),
        ({"claim_overrides": {CLAIM + "roles": ["urn:x#Guest"]}}, 403, "no supported role"),
    ]
    with api.client() as client:
        for steering, status, words in cases:
            platform.sign_with = steering.get("sign_with")
            platform.claim_overrides = steering.get("claim_overrides", {})
            _refused(_launch(client, _authorize(_login(client, platform))), status, words)
        platform.sign_with, platform.claim_overrides = None, {}

        # Replays: the same form twice; an old token with a fresh login's state.
        form = _authorize(_login(client, platform))
        assert _launch(client, form).status_code == 303
        _refused(_launch(client, form), 400, "already used state")
        fresh = _authorize(_login(client, platform))
        _refused(_launch(client, {**fresh, "id_token": form["id_token"]}), 401, "nonce")

        # Tokens never issued after a login of this tool, and garbage.
        _refused(_launch(client, {"id_token": "x.y.z", "state": "A" * 43}), 400, "state")
        fresh = _authorize(_login(client, platform))
        _refused(_launch(client, {**fresh, "id_token": "not-a-jwt"}), 400, "not a JWT")
        _refused(
            client.get("/lti/login", params={"iss": "https://unknown", "login_hint": "u"}),
            400,
            "unknown platform",
        )
        # Nothing was created by the refused launches: one session for the one good launch.
        staff = api.staff_token(platform.institution_id)
        sessions = client.get("/proctoring/sessions", headers=bearer(staff)).json()
        assert len(sessions["sessions"] if isinstance(sessions, dict) else sessions) == 1


def test_tool_jwks_is_a_stable_rsa_key(lti) -> None:
    api, _ = lti
    with api.client() as client:
        first = client.get("/lti/jwks").json()
        second = client.get("/lti/jwks").json()
    assert first == second
    (key,) = first["keys"]
    assert key["kty"] == "RSA" and key["alg"] == "RS256" and key["kid"]
    jwt.PyJWK(key)  # parses as a usable public key

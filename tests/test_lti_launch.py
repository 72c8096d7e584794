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

from proctorlake.services.lti import INSTITUTION_ROLE, state_cookie_name
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
    ("lti_role", "role", "scope"),
    [
        ("Instructor", "proctor", "course-101."),
        ("Administrator", "proctor", "course-101."),  # a course admin administers the course
        (INSTITUTION_ROLE + "Administrator", "admin", None),
    ],
)
def test_staff_roles_land_on_the_proctor_page(lti, lti_role: str, role: str, scope) -> None:
    api, platform = lti
    platform.next_user = {"sub": "teacher-1", "role": lti_role}
    with api.client() as client:
        response = _launch(client, _authorize(_login(client, platform, "teacher-1")))
        path, params = _fragment(response)
        assert path == "/proctor"
        claims = jwt.decode(params["token"], options={"verify_signature": False})
        assert claims["role"] == role and claims["inst"] == platform.institution_id
        assert claims.get("xsc") == scope
        listing = client.get("/proctoring/sessions", headers=bearer(params["token"]))
        assert listing.status_code == 200, listing.text


@pytest.mark.slow
def test_finding_8_sub_roles_grant_nothing_and_course_staff_reach_only_their_course(lti) -> None:
    api, platform = lti
    with api.client() as client:
        for sub_role in (
            "http://purl.imsglobal.org/vocab/lis/v2/membership/Learner#Instructor",
            "http://purl.imsglobal.org/vocab/lis/v2/membership/Learner#Administrator",
        ):
            platform.next_user = {"sub": "learner-9", "role": sub_role}
            _refused(_launch(client, _authorize(_login(client, platform))), 403, "no supported")

        platform.next_user = {"sub": "learner-9", "role": "Learner"}
        learner = _fragment(_launch(client, _authorize(_login(client, platform))))[1]
        elsewhere = api.create_session(platform.institution_id, exam_id="course-202.final")

        platform.next_user = {"sub": "teacher-1", "role": "Administrator"}  # course admin
        staff = _fragment(_launch(client, _authorize(_login(client, platform))))[1]["token"]
        listing = client.get("/proctoring/sessions", headers=bearer(staff)).json()
        assert [s["session_id"] for s in listing] == [learner["session"]]
        assert client.get(f"/sessions/{learner['session']}", headers=bearer(staff)).is_success
        other = client.get(f"/sessions/{elsewhere['session_id']}", headers=bearer(staff))
        _refused(other, 403, "another course")
        created = client.post(
            "/sessions",
            json={
                "exam_id": "course-202.quiz",
                "student_id": "s-1",
                "institution_id": platform.institution_id,
            },
            headers=bearer(staff),
        )
        _refused(created, 403, "another course")


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

        # Replays: the same form twice (the login cookie went with the first launch); an old
        # token with a fresh login's state.
        form = _authorize(_login(client, platform))
        assert _launch(client, form).status_code == 303
        _refused(_launch(client, form), 400, "no login cookie")
        fresh = _authorize(_login(client, platform))
        _refused(_launch(client, {**fresh, "id_token": form["id_token"]}), 401, "nonce")

        # Tokens never issued after a login of this tool, and garbage.
        _refused(_launch(client, {"id_token": "x.y.z", "state": "A" * 43}), 400, "login cookie")
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


@pytest.mark.slow
def test_finding_9_launch_from_another_browser_is_refused(lti) -> None:
    api, platform = lti
    with api.client() as victim, api.client() as attacker:
        form = _authorize(_login(victim, platform, "learner-42"))
        _refused(_launch(attacker, form), 400, "no login cookie")
        # The attacker's own login cookie, sent under the name of the victim's state.
        _login(attacker, platform, "learner-66")
        (cookie,) = [c for c in attacker.cookies.jar if c.name.startswith("proctorlake_lti_")]
        forged = httpx.post(
            f"{api.base_url}/lti/launch",
            data=form,
            cookies={state_cookie_name(form["state"]): cookie.value},
        )
        _refused(forged, 400, "does not match this browser")
        assert _launch(victim, form).status_code == 303  # the victim's own browser gets in


@pytest.mark.slow
def test_finding_9_replayed_nonce_is_refused_even_with_the_cookie(lti) -> None:
    api, platform = lti
    with api.client() as client:
        form = _authorize(_login(client, platform))
        kept = {c.name: c.value for c in client.cookies.jar}
        assert _launch(client, form).status_code == 303
        replay = httpx.post(f"{api.base_url}/lti/launch", data=form, cookies=kept)
        _refused(replay, 400, "already used")
    api.restart()  # used states and nonces survive a restart
    replay = httpx.post(f"{api.base_url}/lti/launch", data=form, cookies=kept)
    _refused(replay, 400, "already used")


@pytest.mark.slow
def test_finding_9_login_flood_writes_no_files_and_is_rate_limited(lti) -> None:
    api, platform = lti
    home = api.settings.home

    def files() -> set:
        return {p for p in home.rglob("*") if p.is_file() and p.name != "api.log"}

    params = {"iss": platform.issuer, "login_hint": "u", "client_id": platform.client_id}
    with api.client() as client:
        assert client.get("/lti/login", params=params).status_code == 302  # makes the state key
        before = files()
        started = time.monotonic()
        codes = [client.get("/lti/login", params=params).status_code for _ in range(160)]
    elapsed = time.monotonic() - started
    allowed = codes.count(302)
    assert set(codes) == {302, 429}, codes
    assert allowed <= 99 + 2 * elapsed + 1  # the bucket's capacity plus what refilled
    assert files() == before  # no file per login

"""Who gets in: passwords, OIDC identities, sign-in links; and nobody sees pages signed out."""

from __future__ import annotations

import json
import subprocess
import sys
from urllib.parse import parse_qs, urlsplit

import jwt
import pytest
from streamlit.testing.v1 import AppTest

from dashboards import admins, links
from tests.fixtures.lakehouse import DASHBOARD_HOME, metrics, sign_in_form

OIDC_SECRETS = {
    "redirect_uri": "http://127.0.0.1:8501/oauth2callback",
    "cookie_secret": "a-cookie-secret",
    "client_id": "proctorlake",
    "client_secret": "not-used-here",
    "server_metadata_url": "http://127.0.0.1:9/.well-known/openid-configuration",
}


def _app() -> AppTest:
    return AppTest.from_file(str(DASHBOARD_HOME), default_timeout=60)


def test_password_hashes_verify_only_the_right_password():
    encoded = admins.hash_password("correct horse")
    assert encoded.startswith("scrypt$")
    assert "correct horse" not in encoded
    assert admins.verify_password("correct horse", encoded)
    assert not admins.verify_password("correct horsf", encoded)
    assert not admins.verify_password("correct horse", "scrypt$garbage")
    assert admins.hash_password("correct horse") != encoded  # salted


def test_signed_out_visitors_get_only_the_sign_in_page(lakehouse):
    app = _app().run()
    assert app.title[0].value == "ProctorLake admin sign-in"
    assert not app.metric
    with pytest.raises(ValueError, match="Could not find a navigation page"):
        app.switch_page("views/overview.py")


@pytest.mark.parametrize(("user", "password"), [("alice", "south-secret"), ("mallory", "x")])
def test_wrong_password_or_unknown_user_is_refused(lakehouse, user, password):
    app = sign_in_form(_app().run(), user, password)
    assert app.error[0].value == "Unknown user or wrong password."
    assert app.title[0].value == "ProctorLake admin sign-in"
    assert not app.metric


def test_password_sign_in_then_sign_out(lakehouse):
    app = sign_in_form(_app().run(), "alice", "north-secret")
    assert app.title[0].value == "Overview"
    assert app.caption[0].value == "Institution uni-north"
    assert "**alice**" in app.sidebar.markdown[0].value

    app.sidebar.button[0].click().run()
    assert app.title[0].value == "ProctorLake admin sign-in"
    assert not app.metric


def test_a_malformed_accounts_file_is_a_clear_error(lakehouse):
    admins.accounts_path(lakehouse.settings).write_text('{"alice": {"password_hash": "x"}}')
    app = sign_in_form(_app().run(), "alice", "north-secret")
    assert "has no institution_id" in app.error[0].value
    assert not app.metric


def test_sign_in_link_signs_in_once_and_leaves_the_url(lakehouse):
    app = _app()
    app.query_params[links.LINK_PARAM] = links.sign_in_token(lakehouse.settings, "bob")
    app.run()
    assert app.title[0].value == "Overview"
    assert metrics(app)["Sessions"] == "3"  # uni-south's sessions
    assert links.LINK_PARAM not in app.query_params


def test_finding_18_sign_in_link_works_once(lakehouse):
    token = links.sign_in_token(lakehouse.settings, "bob")
    first = _app()
    first.query_params[links.LINK_PARAM] = token
    first.run()
    assert first.title[0].value == "Overview"

    replayed = _app()  # another browser with the same link (from a history, a log, a chat)
    replayed.query_params[links.LINK_PARAM] = token
    replayed.run()
    assert replayed.title[0].value == "ProctorLake admin sign-in"
    assert not replayed.metric
    assert "already used" in replayed.error[0].value

    fresh = _app()  # a new link still works
    fresh.query_params[links.LINK_PARAM] = links.sign_in_token(lakehouse.settings, "bob")
    fresh.run()
    assert fresh.title[0].value == "Overview"


@pytest.mark.parametrize("kind", ["forged", "expired", "unknown user"])
def test_bad_sign_in_links_are_refused(lakehouse, kind):
    settings = lakehouse.settings
    token = {
        "forged": jwt.encode(
            {"sub": "alice", "aud": "proctorlake-dashboard", "exp": 4102444800},
            b"not-the-installation-key-0123456789",
            algorithm="HS256",
        ),
        "expired": links.sign_in_token(settings, "alice", ttl_s=-10),
        "unknown user": links.sign_in_token(settings, "mallory"),
    }[kind]
    app = _app()
    app.query_params[links.LINK_PARAM] = token
    app.run()
    assert app.title[0].value == "ProctorLake admin sign-in"
    assert not app.metric
    if kind != "unknown user":
        assert app.error[0].value.startswith("sign-in link rejected")


def test_oidc_identity_maps_to_its_institution(lakehouse):
    app = _app()
    app.secrets["auth"] = OIDC_SECRETS
    app.user = {
        "is_logged_in": True,
        "email": "carol@uni-north.edu",
        "email_verified": True,
        "name": "Carol",
    }
    app.run()
    assert app.title[0].value == "Overview"
    assert app.caption[0].value == "Institution uni-north"
    assert metrics(app)["Sessions"] == "4"


@pytest.mark.parametrize("verified", [False, None])
def test_finding_18_unverified_oidc_email_is_refused(lakehouse, verified):
    """An account's e-mail the provider has not verified signs nobody in."""
    user = {"is_logged_in": True, "email": "carol@uni-north.edu", "name": "Carol"}
    if verified is not None:
        user["email_verified"] = verified
    app = _app()
    app.secrets["auth"] = OIDC_SECRETS
    app.user = user
    app.run()
    assert app.title[0].value == "ProctorLake admin sign-in"
    assert not app.metric
    assert "has not verified the e-mail address carol@uni-north.edu" in app.error[0].value


def test_oidc_identity_without_an_account_is_refused(lakehouse):
    app = _app()
    app.secrets["auth"] = OIDC_SECRETS
    app.user = {"is_logged_in": True, "email": "eve@elsewhere.example", "email_verified": True}
    app.run()
    assert app.title[0].value == "ProctorLake admin sign-in"
    assert app.error[0].value == "eve@elsewhere.example is not an admin of any institution here"
    assert not app.metric


def test_oidc_configured_offers_the_provider_button(lakehouse):
    app = _app()
    app.secrets["auth"] = OIDC_SECRETS
    app.user = {"is_logged_in": False}
    app.run()
    assert app.button[0].label == "Sign in with your institution's account"


def test_admins_cli_adds_an_account_that_can_sign_in(lakehouse):
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "dashboards.admins",
            "add",
            "dave",
            "--institution",
            "uni-south",
            "--password-stdin",
        ],
        input="dave's secret\n",
        capture_output=True,
        text=True,
        check=True,
    )
    assert "dave" in result.stdout
    stored = json.loads(admins.accounts_path(lakehouse.settings).read_text())
    assert stored["dave"]["institution_id"] == "uni-south"
    assert "dave's secret" not in json.dumps(stored)
    assert admins.authenticate(lakehouse.settings, "dave", "dave's secret") == admins.Admin(
        "dave", "uni-south", "password"
    )
    assert stored["alice"]["institution_id"] == "uni-north"  # others kept


def test_admins_cli_prints_a_sign_in_link_for_known_admins_only(lakehouse):
    def link(user: str) -> subprocess.CompletedProcess:
        return subprocess.run(
            [sys.executable, "-m", "dashboards.admins", "link", user, "--page", "session_review"],
            capture_output=True,
            text=True,
        )

    printed = link("alice")
    assert printed.returncode == 0, printed.stderr
    url = urlsplit(printed.stdout.strip())
    assert (url.scheme, url.netloc, url.path) == (
        "http",
        f"127.0.0.1:{lakehouse.settings.dashboard_port}",
        "/session_review",
    )
    token = parse_qs(url.query)[links.LINK_PARAM][0]
    assert links.user_from_token(lakehouse.settings, token) == "alice"

    refused = link("mallory")
    assert refused.returncode == 2
    assert "no admin account 'mallory'" in refused.stderr
    assert not refused.stdout

"""Who is looking: OIDC through Streamlit where configured, a password otherwise, or a link.

OIDC is configured the Streamlit way, an ``[auth]`` section in ``.streamlit/secrets.toml``;
the provider's e-mail must be one it has verified (``email_verified``) and an account in the
admins file, which names the institution. Without ``[auth]`` admins sign in with the
password from that file.
"""

from __future__ import annotations

import streamlit as st

from dashboards import admins, links
from dashboards.admins import Admin
from proctorlake.core.settings import Settings, load_settings

_SESSION_KEY = "proctorlake_admin"


def oidc_configured() -> bool:
    try:
        return "auth" in st.secrets
    except FileNotFoundError:
        return False


def current_admin(settings: Settings) -> Admin | None:
    """The signed-in admin of this browser session, signing in from a link or OIDC if present."""
    admin = st.session_state.get(_SESSION_KEY)
    token = st.query_params.get(links.LINK_PARAM)
    if token:
        del st.query_params[links.LINK_PARAM]  # keep the token out of shared URLs
    if admin is not None:
        return admin
    if token:
        try:
            admin = admins.admin_for_identity(
                settings, links.user_from_token(settings, token), "link"
            )
        except links.InvalidSignInLink as exc:
            st.session_state["sign_in_error"] = str(exc)
    elif oidc_configured() and st.user.is_logged_in:
        admin = _oidc_admin(settings)
    if admin is not None:
        st.session_state[_SESSION_KEY] = admin
    return admin


def _oidc_admin(settings: Settings) -> Admin | None:
    """The admin for the provider's e-mail, only if the provider says it verified it (an
    unverified address may belong to anyone who typed it at the provider)."""
    email = st.user.get("email")
    if st.user.get("email_verified") not in (True, "true"):
        st.session_state["sign_in_error"] = (
            f"your identity provider has not verified the e-mail address {email}; "
            "verify it there, then sign in again"
        )
        return None
    admin = admins.admin_for_identity(settings, email, "oidc")
    if admin is None:
        st.session_state["sign_in_error"] = f"{email} is not an admin of any institution here"
    return admin


def require_admin() -> Admin:
    """The signed-in admin; stops the page for anyone else (pages call this first)."""
    admin = st.session_state.get(_SESSION_KEY)
    if admin is None:
        st.error("Sign in to see this page.")
        st.stop()
    return admin


def sign_out() -> None:
    st.session_state.pop(_SESSION_KEY, None)
    if oidc_configured() and st.user.is_logged_in:
        st.logout()


def sign_in_page() -> None:
    """The only page shown before signing in."""
    settings = load_settings()
    st.title("ProctorLake admin sign-in")
    if error := st.session_state.pop("sign_in_error", None):
        st.error(error)
    if oidc_configured():
        st.button("Sign in with your institution's account", on_click=st.login, type="primary")
        st.caption("Or sign in with a ProctorLake admin password:")
    with st.form("sign_in"):
        user = st.text_input("User")
        password = st.text_input("Password", type="password")
        submitted = st.form_submit_button("Sign in")
    if submitted:
        try:
            admin = admins.authenticate(settings, user, password)
        except admins.AdminAccountsError as exc:
            st.error(f"Sign-in is not configured correctly: {exc}")
            return
        if admin is None:
            st.error("Unknown user or wrong password.")
            return
        st.session_state[_SESSION_KEY] = admin
        st.rerun()
    if not admins.accounts_path(settings).exists():
        st.info(
            f"No admin accounts yet. Create one with "
            f"`python -m dashboards.admins add USER --institution ID` "
            f"(stored in {admins.accounts_path(settings)})."
        )

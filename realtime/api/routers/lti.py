"""The `lti` resource: LTI 1.3 tool endpoints (OIDC login initiation, launch, the tool's JWKS).

HTTP only; what makes a launch genuine is decided in ``proctorlake.services.lti``. The login
answers with a redirect to the platform and a cookie that binds the login's state to this
browser (``SameSite=None; Secure`` over HTTPS, as a cross-site LMS form post needs;
``SameSite=Lax`` over plain HTTP, for local development). Learners land on ``/exam`` with a
student token for their (created or resumed) session, named as the LMS roster names them;
course Instructors and Administrators land on ``/proctor`` with a proctor token for that
course's exams, institution Administrators with an admin token.
"""

from __future__ import annotations

from typing import Annotated
from urllib.parse import urlencode

from fastapi import APIRouter, Form, HTTPException, Request
from fastapi.responses import RedirectResponse
from starlette.concurrency import run_in_threadpool

from proctorlake.services import lti
from realtime.api.auth import issue_token
from realtime.api.deps import Services

router = APIRouter(prefix="/lti", tags=["lti"])


def _http(exc: lti.LtiRefused) -> HTTPException:
    return HTTPException(status_code=exc.status, detail=exc.detail)


@router.api_route("/login", methods=["GET", "POST"], summary="OIDC third-party login initiation")
async def login(request: Request, services: Services) -> RedirectResponse:
    client = request.client.host if request.client else "unknown"
    if not services.lti_logins.allow(client):
        raise HTTPException(429, "too many LTI logins from this address; retry in a few seconds")
    params = dict(request.query_params)
    if request.method == "POST":
        params |= {k: str(v) for k, v in (await request.form()).items()}
    issuer, login_hint = params.get("iss"), params.get("login_hint")
    if not issuer or not login_hint:
        raise _http(lti.refused(400, "login needs iss and login_hint"))
    settings = services.settings
    try:
        platform = lti.find_platform(settings, issuer, params.get("client_id"))
        started = lti.start_login(settings, platform)
    except lti.LtiRefused as exc:
        raise _http(exc) from exc
    query = {
        "scope": "openid",
        "response_type": "id_token",
        "response_mode": "form_post",
        "prompt": "none",
        "client_id": platform.client_id,
        "redirect_uri": str(request.url_for("launch")),
        "login_hint": login_hint,
        "state": started.state,
        "nonce": started.nonce,
    }
    if params.get("lti_message_hint"):
        query["lti_message_hint"] = params["lti_message_hint"]
    response = RedirectResponse(f"{platform.auth_login_url}?{urlencode(query)}", status_code=302)
    secure = request.url.scheme == "https"
    response.set_cookie(
        started.cookie_name,
        started.cookie_value,
        max_age=lti.STATE_TTL_S,
        path="/lti",
        httponly=True,
        secure=secure,
        samesite="none" if secure else "lax",
    )
    return response


@router.post("/launch", summary="LTI 1.3 resource link launch (id_token form post)")
async def launch(
    request: Request,
    services: Services,
    id_token: Annotated[str, Form()],
    state: Annotated[str, Form()],
) -> RedirectResponse:
    cookie_name = lti.state_cookie_name(state)
    try:
        found = await run_in_threadpool(
            services.lti_launches.verify, id_token, state, request.cookies.get(cookie_name)
        )
    except lti.LtiRefused as exc:
        raise _http(exc) from exc
    institution = found.platform.institution_id
    if found.role != "student":
        token = issue_token(
            services.settings, found.user, found.role, institution, exam_scope=found.exam_scope
        )
        target = f"/proctor#{urlencode({'token': token})}"
    else:
        session = await run_in_threadpool(_student_session, services, found)
        token = issue_token(services.settings, found.user, "student", institution, session)
        target = f"/exam#{urlencode({'session': session, 'token': token})}"
    response = RedirectResponse(target, status_code=303)
    response.delete_cookie(cookie_name, path="/lti")
    return response


def _student_session(services: Services, found: lti.LtiLaunch) -> str:
    """The learner's open session of this exam, or a new one with the LMS roster's name."""
    institution = found.platform.institution_id
    for session in services.registry.open_sessions(institution):
        if session.exam_id == found.exam_id and session.student_id == found.user:
            return session.session_id
    created = services.registry.create(
        exam_id=found.exam_id,
        student_id=found.user,
        institution_id=institution,
        student_name=found.student_name,
    )
    return created.session_id


@router.get("/jwks", summary="The tool's public keys (JWKS)")
def jwks(request: Request) -> dict:
    return lti.tool_jwks(request.app.state.settings)

"""Security review #18: tokens carry an audience and an id, and can be revoked everywhere."""

from __future__ import annotations

import subprocess
import sys
import time

import jwt
import pytest

from realtime.api.auth import (
    AUDIENCE_STAFF,
    SessionTokensRevoked,
    TokenError,
    issue_stream_ticket,
    issue_token,
    redeem_stream_ticket,
    revoke_session_tokens,
    revoke_token,
    token_key_path,
    verify_token,
)


def _forge(settings, **claims) -> str:
    now = int(time.time())
    base = {"iss": "proctorlake", "sub": "u", "iat": now, "exp": now + 60, "jti": "j-1"}
    return jwt.encode(base | claims, token_key_path(settings).read_bytes(), algorithm="HS256")


def test_security_18_tokens_carry_audience_and_id(settings):
    student = issue_token(settings, "stu", "student", "inst-a", "s-1")
    staff = issue_token(settings, "pro", "proctor", "inst-a")
    s_claims, p_claims = verify_token(settings, student), verify_token(settings, staff)
    assert s_claims.jti and p_claims.jti and s_claims.jti != p_claims.jti
    assert (
        jwt.decode(student, options={"verify_signature": False})["aud"]
        != (jwt.decode(staff, options={"verify_signature": False})["aud"])
    )
    with pytest.raises(TokenError, match="audience"):
        verify_token(settings, student, AUDIENCE_STAFF)


def test_security_18_audience_must_match_the_role(settings):
    issue_token(settings, "pro", "proctor", "inst-a")  # creates the key
    student_as_staff = _forge(
        settings, role="student", inst="inst-a", sid="s-1", aud=AUDIENCE_STAFF
    )
    with pytest.raises(TokenError, match="audience"):
        verify_token(settings, student_as_staff)
    no_audience = _forge(settings, role="proctor", inst="inst-a")
    with pytest.raises(TokenError):
        verify_token(settings, no_audience)


def test_security_18_revocation_is_shared_by_processes(settings):
    staff = issue_token(settings, "pro", "proctor", "inst-a")
    other = issue_token(settings, "pro", "proctor", "inst-a")
    revoke_token(settings, verify_token(settings, staff))
    check = (
        "import sys; from proctorlake.core.settings import load_settings;"
        "from realtime.api.auth import verify_token, TokenError\n"
        "try:\n verify_token(load_settings(), sys.argv[1]); print('valid')\n"
        "except TokenError as e: print(e)"
    )
    answers = [
        subprocess.run(
            [sys.executable, "-c", check, token], capture_output=True, text=True, check=True
        ).stdout.strip()
        for token in (staff, other)
    ]
    assert answers == ["token revoked", "valid"]


def test_security_18_session_revocation_covers_only_its_student_tokens(settings):
    student = issue_token(settings, "stu", "student", "inst-a", "s-1")
    neighbour = issue_token(settings, "stu2", "student", "inst-a", "s-2")
    staff = issue_token(settings, "pro", "proctor", "inst-a")
    revoke_session_tokens(settings, "s-1", "erased")
    with pytest.raises(SessionTokensRevoked, match="erased"):
        verify_token(settings, student)
    assert verify_token(settings, neighbour).session_id == "s-2"
    assert verify_token(settings, staff).role == "proctor"


def test_security_18_stream_ticket_is_single_use_and_bound_to_its_path(settings):
    staff = issue_token(settings, "pro", "proctor", "inst-a")
    claims = verify_token(settings, staff)
    ticket = issue_stream_ticket(settings, claims, "/proctoring/live")
    with pytest.raises(TokenError, match="audience"):
        verify_token(settings, ticket)  # a ticket is no bearer token
    with pytest.raises(TokenError, match="another stream"):
        redeem_stream_ticket(settings, ticket, "/sessions/s-1/events")
    assert redeem_stream_ticket(settings, ticket, "/proctoring/live").jti == claims.jti
    with pytest.raises(TokenError, match="already used"):
        redeem_stream_ticket(settings, ticket, "/proctoring/live")
    with pytest.raises(TokenError, match="audience"):
        redeem_stream_ticket(settings, staff, "/proctoring/live")  # a token is no ticket


def test_a_stream_ticket_keeps_the_course_scope_of_its_token(settings):
    """An LTI course's proctor opens the live stream with a ticket: the ticket must reach no
    more than the token it was exchanged for (found in the security write-up)."""
    staff = issue_token(settings, "pro", "proctor", "inst-a", exam_scope="course-101.")
    ticket = issue_stream_ticket(settings, verify_token(settings, staff), "/proctoring/live")
    redeemed = redeem_stream_ticket(settings, ticket, "/proctoring/live")
    assert redeemed.exam_scope == "course-101."
    assert redeemed.reaches_exam("course-101.midterm")
    assert not redeemed.reaches_exam("course-202.midterm")

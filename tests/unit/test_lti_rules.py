"""LTI rules on tiny inputs: role URIs, course scope, exam ids, login state, login rate."""

from __future__ import annotations

import pytest

from proctorlake.services import lti
from proctorlake.services.lti import CLAIM, CONTEXT_ROLE, INSTITUTION_ROLE, LtiRefused

PLATFORM = lti.Platform("https://lms", "tool", ("d-1",), "https://lms/auth", "https://lms/k", "i")


def test_roles_match_full_uris_only() -> None:
    assert lti.role_of([CONTEXT_ROLE + "Learner"]) == ("student", True)
    assert lti.role_of([CONTEXT_ROLE + "Instructor"]) == ("proctor", True)
    assert lti.role_of([CONTEXT_ROLE + "Administrator"]) == ("proctor", True)
    assert lti.role_of([INSTITUTION_ROLE + "Administrator"]) == ("admin", False)
    assert lti.role_of([CONTEXT_ROLE + "Learner", CONTEXT_ROLE + "Instructor"])[0] == "proctor"


@pytest.mark.parametrize(
    "roles",
    [
        ["http://purl.imsglobal.org/vocab/lis/v2/membership/Learner#Instructor"],
        ["http://purl.imsglobal.org/vocab/lis/v2/membership/Instructor#Administrator"],
        ["urn:evil#Administrator", "Instructor"],
        [INSTITUTION_ROLE + "Instructor"],
        [],
    ],
)
def test_sub_roles_and_look_alikes_grant_nothing(roles: list[str]) -> None:
    with pytest.raises(LtiRefused, match="no supported role") as refused:
        lti.role_of(roles)
    assert refused.value.status == 403


def _claims(role: str, context: str | None = "course-101", link: str = "midterm-7") -> dict:
    claims = {"sub": "u-1", "name": "Eileen Collins", CLAIM + "roles": [role]}
    claims[CLAIM + "resource_link"] = {"id": link}
    if context is not None:
        claims[CLAIM + "context"] = {"id": context}
    return claims


def test_launch_scopes_course_staff_and_names_the_learners_exam() -> None:
    teacher = lti.launch_of(PLATFORM, _claims(CONTEXT_ROLE + "Instructor"))
    assert (teacher.role, teacher.exam_scope, teacher.exam_id) == ("proctor", "course-101.", None)
    admin = lti.launch_of(PLATFORM, _claims(INSTITUTION_ROLE + "Administrator", context=None))
    assert (admin.role, admin.exam_scope) == ("admin", None)
    learner = lti.launch_of(PLATFORM, _claims(CONTEXT_ROLE + "Learner"))
    assert learner.exam_id == "course-101.midterm-7" and learner.exam_scope is None
    assert learner.student_name == "Eileen Collins"
    with pytest.raises(LtiRefused, match="names no course"):
        lti.launch_of(PLATFORM, _claims(CONTEXT_ROLE + "Instructor", context=None))


def test_long_or_odd_lms_ids_stay_valid_ids_within_128_chars() -> None:
    learner = lti.launch_of(PLATFORM, _claims(CONTEXT_ROLE + "Learner", "c" * 120, "l/" * 70))
    assert len(learner.exam_id) <= 128
    scope, _, link = learner.exam_id.partition(".")
    assert scope.startswith("h-") and link.startswith("h-")
    assert lti.safe_id("a b") != lti.safe_id("a c")


def test_roster_name_from_given_and_family_names() -> None:
    assert lti.roster_name({"given_name": "Ada", "family_name": "Lovelace"}) == "Ada Lovelace"
    assert lti.roster_name({}) is None


def test_login_state_is_bound_to_its_cookie(settings) -> None:
    started = lti.start_login(settings, PLATFORM)
    record = lti.read_login_state(settings, started.state, started.cookie_value)
    assert record["nonce"] == started.nonce and record["iss"] == PLATFORM.issuer
    assert started.cookie_name == lti.state_cookie_name(started.state)
    other = lti.start_login(settings, PLATFORM)
    with pytest.raises(LtiRefused, match="does not match this browser"):
        lti.read_login_state(settings, started.state, other.cookie_value)
    with pytest.raises(LtiRefused, match="no login cookie"):
        lti.read_login_state(settings, started.state, None)
    with pytest.raises(LtiRefused, match="not one this tool set"):
        lti.read_login_state(settings, started.state, started.cookie_value[:-4] + "AAAA")


def test_login_state_expires(settings) -> None:
    old = lti.start_login(settings, PLATFORM, now=1_000_000)
    with pytest.raises(LtiRefused, match="expired"):
        lti.read_login_state(settings, old.state, old.cookie_value)


def test_login_rate_limit_per_address_refills_and_forgets_idle_addresses() -> None:
    now = [0.0]
    limit = lti.LoginRateLimit(capacity=3, refill_per_s=1, max_addresses=2, clock=lambda: now[0])
    assert [limit.allow("a") for _ in range(4)] == [True, True, True, False]
    assert limit.allow("b")  # another address has its own bucket
    now[0] = 1.0
    assert limit.allow("a") and not limit.allow("a")
    limit.allow("c")  # a third address pushes out the longest idle one ("b")
    assert len(limit._buckets) == 2 and "b" not in limit._buckets


def test_course_scopes_never_overlap_when_course_ids_hold_dots() -> None:
    """Staff of course "a" must not reach the exams of course "a.b" (a prefix match would)."""
    staff_a = lti.launch_of(PLATFORM, _claims(CONTEXT_ROLE + "Instructor", context="a"))
    learner_ab = lti.launch_of(PLATFORM, _claims(CONTEXT_ROLE + "Learner", context="a.b"))
    assert not learner_ab.exam_id.startswith(staff_a.exam_scope)
    staff_ab = lti.launch_of(PLATFORM, _claims(CONTEXT_ROLE + "Instructor", context="a.b"))
    assert learner_ab.exam_id.startswith(staff_ab.exam_scope)

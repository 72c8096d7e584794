"""The check-in's attempts rule and step/outcome pairing (pure)."""

from __future__ import annotations

import pytest

from proctorlake.core.checkin import MAX_ATTEMPTS, PRIVACY_NOTICES, CheckinOutcome, CheckinStep
from proctorlake.core.vocabulary import Tier
from proctorlake.services.checkin import outcome_after


def test_the_last_allowed_failure_becomes_human_review() -> None:
    for attempt in range(1, MAX_ATTEMPTS):
        failed = outcome_after(CheckinStep.SCREEN, CheckinOutcome.FAILED, attempt)
        assert failed == CheckinOutcome.FAILED
    last = outcome_after(CheckinStep.SCREEN, CheckinOutcome.FAILED, MAX_ATTEMPTS)
    assert last == CheckinOutcome.HUMAN_REVIEW
    passed = outcome_after(CheckinStep.IDENTITY, CheckinOutcome.PASSED, MAX_ATTEMPTS)
    assert passed == CheckinOutcome.PASSED


@pytest.mark.parametrize(
    ("step", "outcome"),
    [
        (CheckinStep.CONSENT, CheckinOutcome.PASSED),
        (CheckinStep.CAMERA, CheckinOutcome.ACCEPTED),
    ],
)
def test_consent_is_accepted_or_declined_and_checks_pass_or_fail(step, outcome) -> None:
    with pytest.raises(ValueError):
        outcome_after(step, outcome, 1)


def test_every_tier_has_a_privacy_notice() -> None:
    assert set(PRIVACY_NOTICES) == set(Tier)

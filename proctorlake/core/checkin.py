"""The check-in before recording starts: its steps, the privacy notice per tier, its limits.

The exam client walks the steps in order (system check, privacy notice and consent, identity);
each may be retried, and after ``MAX_ATTEMPTS`` failures the student goes on and a human
reviews the session instead. Every step's outcome, the consent included, is a row of
``checkin_events``.
"""

from __future__ import annotations

from enum import StrEnum

from proctorlake.core.vocabulary import Tier

MAX_ATTEMPTS = 3
"""Failures of one step before the student goes on and a human reviews instead."""

MIN_UPLOAD_KBPS = 600
"""The stream needs ~300 kbit/s (a 35 kB webcam JPEG a second, a screen frame every 10 s,
the recording segments); twice that leaves room for a shared connection."""

BANDWIDTH_PROBE_BYTES = 256 * 1024
"""What the client uploads to measure its bandwidth (the API reads and discards it)."""

NOTICE_VERSION = "2026-03"


class CheckinStep(StrEnum):
    CAMERA = "camera"
    MICROPHONE = "microphone"
    SCREEN = "screen"
    BANDWIDTH = "bandwidth"
    CONSENT = "consent"
    IDENTITY = "identity"


class CheckinOutcome(StrEnum):
    PASSED = "passed"
    FAILED = "failed"
    HUMAN_REVIEW = "human_review"  # failed MAX_ATTEMPTS times: a person checks instead
    ACCEPTED = "accepted"  # consent given
    DECLINED = "declined"


PRIVACY_NOTICES: dict[Tier, str] = {
    Tier.NONE: (
        "This exam is not proctored. Nothing from your camera, microphone or screen is "
        "recorded or analysed."
    ),
    Tier.AI: (
        "This exam is proctored automatically. Your webcam and screen are recorded for the "
        "length of the exam and analysed by software that flags moments for later review by "
        "your institution's staff. No one watches live. Recordings are kept under your "
        "institution's retention policy and erased on request."
    ),
    Tier.AI_HUMAN: (
        "This exam is proctored by software and by people. Your webcam and screen are "
        "recorded for the length of the exam; software flags moments, and a proctor may "
        "watch live and message you. Recordings are kept under your institution's retention "
        "policy and erased on request."
    ),
}
"""What the student agrees to, by tier (``NOTICE_VERSION``)."""

"""The session summary's pure parts: risk score and identity outcome."""

import datetime as dt

from spark_jobs.session_reports import risk_score, verification_outcome


def test_risk_score_weighs_severity_confidence_and_review() -> None:
    high = {"severity": "high", "confidence": 1.0, "resolution": None}
    assert risk_score([]) == 0.0
    assert risk_score([high]) == 30.0
    assert risk_score([high | {"resolution": "dismissed"}]) == 0.0
    assert risk_score([high | {"resolution": "confirmed"}]) == 60.0
    assert risk_score([{"severity": "low", "confidence": 0.5}]) == 2.5
    assert risk_score([high] * 5) == 100.0  # capped


def test_latest_identity_check_decides() -> None:
    t = dt.datetime(2026, 3, 2, 9, tzinfo=dt.UTC)
    failed = {"verified": False, "similarity_score": 0.2, "verified_at": t}
    passed = {"verified": True, "similarity_score": 0.9, "verified_at": t + dt.timedelta(minutes=2)}
    assert verification_outcome([]) == ("not_verified", None)
    assert verification_outcome([passed, failed]) == ("verified", 0.9)
    assert verification_outcome([failed]) == ("failed", 0.2)

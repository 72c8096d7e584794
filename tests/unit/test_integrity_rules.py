"""The integrity rules on tiny event sequences: spans need the policy's threshold, one-off
events are an incident each, hidden + unfocused is one span."""

from __future__ import annotations

from models.integrity_rules import DEFAULT_THRESHOLDS, IntegrityObservation, IntegrityRules
from proctorlake.core.policy import ExamPolicy, IntegrityThresholds
from proctorlake.core.vocabulary import IntegrityEventType as K
from proctorlake.core.vocabulary import IntegrityPhase as P


def _run(events, thresholds=DEFAULT_THRESHOLDS) -> list[tuple]:
    rules = IntegrityRules("s-1")
    out = []
    for kind, phase, ts, *size in events:
        obs = IntegrityObservation(kind, phase, ts, *size)
        out += [
            (e.kind.value, e.flag.type, e.flag.start_s, e.flag.end_s, e.flag.severity)
            for e in rules.feed(obs, thresholds)
        ]
    out += [
        (e.kind.value, e.flag.type, e.flag.start_s, e.flag.end_s, e.flag.severity)
        for e in rules.finish()
    ]
    return out


def test_a_six_second_tab_switch_is_left_exam_window_opened_live_then_closed() -> None:
    events = [
        (K.WINDOW_BLURRED, P.START, 10.0),
        (K.PAGE_HIDDEN, P.START, 10.1),
        (K.PAGE_HIDDEN, P.STILL, 13.1),
        (K.PAGE_HIDDEN, P.STILL, 15.1),
        (K.PAGE_HIDDEN, P.END, 16.0),
        (K.WINDOW_BLURRED, P.END, 16.1),
    ]
    assert _run(events) == [
        ("opened", "left_exam_window", 10.0, 15.1, "medium"),
        ("updated", "left_exam_window", 10.0, 16.0, "medium"),
        ("closed", "left_exam_window", 10.0, 16.1, "medium"),
    ]


def test_a_glance_away_shorter_than_the_policy_is_nothing() -> None:
    events = [(K.PAGE_HIDDEN, P.START, 10.0), (K.PAGE_HIDDEN, P.END, 13.0)]
    assert _run(events) == []
    strict = IntegrityThresholds(left_window_min_s=2.0)
    assert _run(events, strict) == [("closed", "left_exam_window", 10.0, 13.0, "medium")]


def test_one_off_events_are_one_incident_each() -> None:
    events = [
        (K.PASTE, P.INSTANT, 4.0),
        (K.COPY, P.INSTANT, 5.0),
        (K.PRINT_SCREEN, P.INSTANT, 6.0),
        (K.SECOND_DISPLAY, P.INSTANT, 0.5),
    ]
    assert [(e[1], e[4]) for e in _run(events)] == [
        ("paste_detected", "medium"),
        ("copy_detected", "low"),
        ("screenshot_key", "medium"),
        ("second_display", "medium"),
    ]


def test_a_window_below_the_floor_long_enough_is_window_too_small() -> None:
    events = [
        (K.WINDOW_SIZE, P.INSTANT, 1.0, 1280, 800),
        (K.WINDOW_SIZE, P.INSTANT, 20.0, 600, 800),
        (K.WINDOW_SIZE, P.STILL, 26.0, 600, 800),
        (K.WINDOW_SIZE, P.INSTANT, 30.0, 1280, 800),
    ]
    assert _run(events) == [
        ("opened", "window_too_small", 20.0, 26.0, "low"),
        ("closed", "window_too_small", 20.0, 30.0, "low"),
    ]


def test_an_open_span_is_closed_when_the_session_ends() -> None:
    events = [(K.FULLSCREEN_EXITED, P.START, 1.0), (K.FULLSCREEN_EXITED, P.STILL, 9.0)]
    assert _run(events) == [
        ("opened", "fullscreen_exited", 1.0, 9.0, "low"),
        ("closed", "fullscreen_exited", 1.0, 9.0, "low"),
    ]


def test_policy_thresholds_round_trip_through_the_stored_json() -> None:
    policy = ExamPolicy(integrity=IntegrityThresholds(left_window_min_s=8.0, min_window_width=1024))
    assert ExamPolicy.from_stored_json(policy.to_json()) == policy
    assert ExamPolicy.from_stored_json('{"alert_min_severity": "high"}').integrity == (
        IntegrityThresholds()
    )


def test_the_batch_path_rebuilds_the_same_incidents_from_landed_rows() -> None:
    import datetime as dt

    import pandas as pd

    from models.temporal_rules import incident_id
    from spark_jobs.observation_rows import integrity_incidents_for_session

    start = dt.datetime(2026, 5, 4, 9, 0, tzinfo=dt.UTC)
    events = [
        ("page_hidden", "start", 10.0),
        ("page_hidden", "end", 17.0),
        ("paste", "instant", 20.0),
    ]
    rows = pd.DataFrame(
        {
            "session_id": "s-1",
            "institution_id": "inst-a",
            "kind": [k for k, _, _ in events],
            "phase": [p for _, p, _ in events],
            "session_ts": [t for _, _, t in events],
            "occurred_at": [start + dt.timedelta(seconds=t) for _, _, t in events],
            "width": None,
            "height": None,
            "session_date": "2026-05-04",
            "session_started_at": start,
            "policy_json": ExamPolicy(
                integrity=IntegrityThresholds(left_window_min_s=8.0)
            ).to_json(),
        }
    )
    assert integrity_incidents_for_session(rows)["incident_type"].tolist() == ["paste_detected"]
    rows["policy_json"] = None  # the default policy: 5 s
    out = integrity_incidents_for_session(rows)
    assert out[["incident_type", "start_s", "end_s", "source"]].values.tolist() == [
        ["left_exam_window", 10.0, 17.0, "batch"],
        ["paste_detected", 20.0, 20.0, "batch"],
    ]
    assert out["incident_id"].iloc[0] == incident_id("s-1", "left_exam_window", 10.0)


def test_a_policy_with_an_unknown_or_negative_threshold_is_refused() -> None:
    import pytest

    from proctorlake.core.policy import ExamPolicyError

    with pytest.raises(ExamPolicyError, match="unknown"):
        ExamPolicy.from_json('{"integrity": {"left_window_s": 3}}')
    with pytest.raises(ExamPolicyError, match=">= 0"):
        ExamPolicy.from_json('{"integrity": {"left_window_min_s": -1}}')

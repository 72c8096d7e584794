"""The temporal rule engine (models/temporal_rules.py) on hand-made observations."""

from __future__ import annotations

import uuid

import pytest

from models.faces import FaceBox
from models.screen_apps import ScreenObservation
from models.temporal_rules import (
    DEFAULT_PARAMS,
    INCIDENT_TYPES,
    Flag,
    RuleParams,
    SessionRules,
    flags_to_json,
    incident_id,
    observations_to_flags,
)
from models.webcam import THUMBNAIL_SIZE, WebcamObservation

W, H = 640, 480
FACE = FaceBox(260, 100, 120, 120, 0.97)
SECOND_FACE = FaceBox(40, 120, 80, 80, 0.7)
NEUTRAL_RATIO = 2.0
OPEN_EYES = 0.33  # the Iris model's lid gap / eye width on open eyes (real clips: 0.27-0.42)
SHUT_EYES = 0.06  # ... and on shut ones (0.04-0.09)


def thumb(level: int) -> bytes:
    w, h = THUMBNAIL_SIZE
    return bytes([level]) * (w * h * 3)


def face(
    ts: float,
    yaw: float = 0.0,
    pitch: float = 0.0,
    ratio: float = NEUTRAL_RATIO,
    level=90,
    gaze: float | None = None,
    openness: float = OPEN_EYES,
):
    return WebcamObservation(
        ts,
        1,
        (FACE,),
        yaw,
        pitch,
        ratio,
        W,
        H,
        thumb(level),
        gaze,
        0.0 if gaze else None,
        openness if gaze else None,
    )


def faces(ts: float, second_score: float = 0.7) -> WebcamObservation:
    second = FaceBox(40, 120, 80, 80, second_score)
    return WebcamObservation(ts, 2, (FACE, second), 0.0, 0.0, NEUTRAL_RATIO, W, H, thumb(90))


def empty(ts: float, level: int = 90) -> WebcamObservation:
    return WebcamObservation(ts, 0, (), None, None, None, W, H, thumb(level))


def screen(ts: float, banned: bool) -> ScreenObservation:
    title = "ChatGPT - Chrome" if banned else "ProctorLake exam"
    return ScreenObservation(ts, (title,), (title,) if banned else (), 0.9 if banned else 0.0)


def calibrated(rules: SessionRules, start: float = 0.0, n: int = 10, yaws=None) -> float:
    """Feed ``n`` steady frontal frames; returns the next timestamp."""
    for i in range(n):
        rules.feed_webcam(face(start + i, yaw=(yaws[i] if yaws else 0.0)))
    return start + n


def flags_of(webcam=(), screens=(), params: RuleParams = DEFAULT_PARAMS) -> list[Flag]:
    return observations_to_flags(webcam, screens, params, session_id="s-1")


# --- persistence: min durations, short negatives, merging ---------------------------------


@pytest.mark.parametrize("seconds", [1, 2])
def test_two_faces_for_less_than_three_seconds_stay_quiet(seconds):
    frames = [face(t) for t in range(5)] + [faces(5 + t) for t in range(seconds)]
    assert flags_of(frames + [face(5 + seconds + t) for t in range(5)]) == []


def test_two_faces_for_three_seconds_open_exactly_at_the_third_sample():
    rules = SessionRules("s-1")
    kinds = [[e.kind for e in rules.feed_webcam(faces(t))] for t in range(4)]
    assert kinds == [[], [], ["opened"], ["updated"]]


def test_a_flag_spans_first_to_last_positive_plus_one_sample_period():
    (flag,) = flags_of([face(0), *[faces(t) for t in range(10, 15)], face(15)])
    assert (flag.type, flag.start_s, flag.end_s) == ("multiple_faces", 10.0, 15.0)
    assert flag.frame_timestamps == (10.0, 11.0, 12.0, 13.0, 14.0)


def test_one_missed_detection_does_not_split_an_incident():
    seen = [faces(t) for t in (10, 11, 13, 14)]  # second 12 missed
    (flag,) = flags_of(seen)
    assert (flag.start_s, flag.end_s) == (10.0, 15.0)
    assert 12.0 not in flag.frame_timestamps


def test_a_gap_longer_than_two_seconds_makes_two_incidents():
    seen = [faces(t) for t in (10, 11, 12, 16, 17, 18)]
    assert [(f.start_s, f.end_s) for f in flags_of(seen)] == [(10.0, 13.0), (16.0, 19.0)]


def test_a_short_run_after_a_gap_is_not_merged_into_the_previous_incident():
    seen = [faces(t) for t in (10, 11, 12, 20)]
    assert [(f.start_s, f.end_s) for f in flags_of(seen)] == [(10.0, 13.0)]


def test_events_of_one_incident_share_its_id_and_end_with_closed():
    rules = SessionRules("s-9")
    events = []
    for t in range(5):
        events += rules.feed_webcam(faces(t))
    events += rules.feed_webcam(face(9))  # past the gap: the incident closes
    assert [e.kind for e in events] == ["opened", "updated", "updated", "closed"]
    assert {e.incident_id for e in events} == {incident_id("s-9", "multiple_faces", 0.0)}
    assert events[-1].flag.end_s == 5.0


def test_finish_closes_open_incidents_and_drops_unopened_runs():
    rules = SessionRules("s-1")
    for t in range(4):
        rules.feed_webcam(faces(t))
    rules.feed_screen(screen(0.0, banned=False))
    closed = rules.finish()
    assert [(e.kind, e.flag.type) for e in closed] == [("closed", "multiple_faces")]
    assert rules.finish() == []


# --- severity ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("incident_type", "duration", "severity"),
    [
        ("multiple_faces", 3.0, "medium"),
        ("multiple_faces", 9.9, "medium"),
        ("multiple_faces", 10.0, "high"),
        ("face_not_visible", 3.0, "low"),
        ("face_not_visible", 10.0, "medium"),
        ("face_not_visible", 29.0, "medium"),
        ("face_not_visible", 30.0, "high"),
        ("gaze_away", 7.0, "low"),
        ("gaze_away", 8.0, "medium"),
        ("gaze_away", 15.0, "high"),
        ("unauthorized_app", 0.0, "high"),
    ],
)
def test_severity_steps_per_incident_type(incident_type, duration, severity):
    assert DEFAULT_PARAMS.rule(incident_type).severity(duration) == severity


def test_every_incident_type_has_a_rule_and_three_second_minimum_on_the_webcam():
    assert {r.incident_type for r in DEFAULT_PARAMS.rules} == set(INCIDENT_TYPES)
    for kind in ("multiple_faces", "face_not_visible", "gaze_away"):
        rule = DEFAULT_PARAMS.rule(kind)
        assert (rule.min_duration_s, rule.max_gap_s, rule.sample_period_s) == (3.0, 2.0, 1.0)


def test_severity_rises_while_an_incident_lasts():
    rules = SessionRules("s-1")
    severities = [e.flag.severity for t in range(12) for e in rules.feed_webcam(faces(t))]
    assert severities[0] == "medium" and severities[-1] == "high"
    assert severities.index("high") == 7  # the update at second 9: 10 s long


# --- multiple faces confidence -------------------------------------------------------------


def test_a_stronger_second_face_gives_more_confidence():
    weak = flags_of([faces(t, second_score=0.55) for t in range(4)])[0]
    strong = flags_of([faces(t, second_score=0.9) for t in range(4)])[0]
    assert 0.5 < weak.confidence < strong.confidence <= 1.0
    assert strong.confidence == pytest.approx(0.9)  # the weaker face's probability


# --- face not visible / turned away from the body region -----------------------------------


@pytest.mark.parametrize(("seconds", "severity"), [(3, "low"), (12, "medium"), (31, "high")])
def test_no_face_at_all_is_face_not_visible_with_duration_severity(seconds, severity):
    (flag,) = flags_of([empty(t) for t in range(seconds)])
    assert (flag.type, flag.severity, flag.end_s) == ("face_not_visible", severity, seconds)
    assert flag.confidence == pytest.approx(0.9)  # no body reference to compare with


def test_no_face_with_the_body_still_there_is_gaze_away_not_face_not_visible():
    frames = [face(t, level=90) for t in range(10)] + [empty(10 + t, level=92) for t in range(5)]
    (flag,) = flags_of(frames)
    assert (flag.type, flag.start_s, flag.end_s) == ("gaze_away", 10.0, 15.0)
    assert flag.confidence == pytest.approx(0.55)


def test_no_face_with_the_body_region_changed_is_face_not_visible():
    frames = [face(t, level=90) for t in range(10)] + [empty(10 + t, level=200) for t in range(5)]
    (flag,) = flags_of(frames)
    assert flag.type == "face_not_visible"
    assert flag.confidence == pytest.approx(min(1.0, 0.6 + 110 / 128))


def test_body_change_is_relative_to_the_last_frontal_frames():
    rules = SessionRules("s-1")
    assert rules.body_change(empty(0)) is None
    calibrated(rules)
    assert rules.body_change(empty(10, level=90)) == pytest.approx(0.0)
    assert rules.body_change(empty(10, level=154)) == pytest.approx(0.5)


# --- gaze away from head pose, calibration ---------------------------------------------------


def test_neutral_pose_is_the_median_of_the_first_calibration_samples_facing_the_camera():
    rules = SessionRules("s-1")
    rules.feed_webcam(face(0, yaw=10.0, pitch=4.0))
    rules.feed_webcam(face(1, yaw=-12.0, pitch=6.0))
    assert rules.neutral_pose is None  # fewer than three samples
    rules.feed_webcam(face(2, yaw=20.0, pitch=5.0))
    assert rules.neutral_pose == (10.0, 5.0)
    rules.feed_webcam(face(3, yaw=40.0, pitch=30.0))  # turned past 35 degrees: left out
    assert rules.neutral_pose == (10.0, 5.0)


def test_a_head_turned_away_in_the_first_seconds_does_not_become_the_neutral_pose():
    frames = [face(0), face(1)]
    frames += [face(t, yaw=40.0, ratio=NEUTRAL_RATIO * 0.85) for t in range(2, 8)]
    frames += [face(t) for t in range(8, 30)]
    (flag,) = flags_of(frames)
    assert (flag.type, flag.start_s, flag.end_s) == ("gaze_away", 2, 8)


def test_a_camera_far_off_axis_calibrates_on_all_its_samples():
    rules = SessionRules("s-1")
    for t, yaw in enumerate([40.0, 44.0, 42.0, 43.0, 41.0, 42.0, 40.0, 44.0, 42.0, 42.0]):
        rules.feed_webcam(face(t, yaw=yaw))
    assert rules.neutral_pose == (42.0, 0.0)
    assert flags_of([face(t, yaw=42.0 + (t % 3)) for t in range(30)]) == []


def test_calibration_stops_after_its_sample_count():
    rules = SessionRules("s-1", RuleParams(calibration_samples=3))
    for t, yaw in enumerate((5.0, 5.0, 5.0)):
        rules.feed_webcam(face(t, yaw=yaw))
    for t in range(3, 10):
        rules.feed_webcam(face(t, yaw=5.0 + (t % 2) * 10.0))  # within the 18 deg threshold
    assert rules.neutral_pose == (5.0, 0.0)


def test_a_turn_past_the_yaw_threshold_with_foreshortened_eyes_is_gaze_away():
    frames = [face(t) for t in range(10)]
    frames += [face(10 + t, yaw=30.0, ratio=NEUTRAL_RATIO * 0.9) for t in range(4)]
    (flag,) = flags_of(frames)
    assert (flag.type, flag.start_s, flag.end_s, flag.severity) == ("gaze_away", 10, 14, "low")
    assert flag.confidence == pytest.approx(0.6 + 12 / 50)


@pytest.mark.parametrize("yaw", [10.0, -17.0])
def test_a_turn_inside_the_yaw_threshold_stays_quiet(yaw):
    frames = [face(t) for t in range(10)]
    frames += [face(10 + t, yaw=yaw, ratio=NEUTRAL_RATIO * 0.9) for t in range(20)]
    assert flags_of(frames) == []


def test_noisy_sessions_need_foreshortening_before_a_turn_counts():
    jitter = [-8.0, 8.0, -8.0, 8.0, -8.0, 8.0, -8.0, 8.0, -8.0, 8.0]  # robust spread ~11.9
    spiky = [face(t, yaw=jitter[t]) for t in range(10)]
    no_shrink = spiky + [face(10 + t, yaw=30.0) for t in range(5)]
    assert flags_of(no_shrink) == []  # 30 deg < 4 x 11.9: landmark jitter, not a turn
    shrunk = spiky + [face(10 + t, yaw=30.0, ratio=NEUTRAL_RATIO * 0.9) for t in range(5)]
    assert [f.type for f in flags_of(shrunk)] == ["gaze_away"]


def test_looking_down_is_looking_away_unless_pitch_is_switched_off():
    frames = [face(t) for t in range(10)] + [face(10 + t, pitch=40.0) for t in range(5)]
    (flag,) = flags_of(frames)
    assert (flag.type, flag.start_s) == ("gaze_away", 10.0)
    assert flags_of(frames, params=RuleParams(pitch_threshold_deg=None)) == []
    nod = [face(t) for t in range(10)] + [face(10 + t, pitch=15.0) for t in range(5)]
    assert flags_of(nod) == []  # within 20 degrees of the neutral pitch


def test_looking_up_counts_only_past_thirty_degrees():
    calibration = [face(t) for t in range(10)]
    (flag,) = flags_of(calibration + [face(10 + t, pitch=-35.0) for t in range(4)])
    assert (flag.type, flag.start_s, flag.end_s) == ("gaze_away", 10.0, 14.0)
    thinking = calibration + [face(10 + t, pitch=-25.0) for t in range(6)]
    assert flags_of(thinking) == []  # a glance up, past the downward 20 but not 30
    assert flags_of(thinking + [face(16 + t, pitch=-35.0) for t in range(2)]) == []


def test_eyes_only_glance_of_three_seconds_is_gaze_away_and_shorter_is_not():
    calibration = [face(t, gaze=0.45 + 0.01 * (t % 3)) for t in range(10)]
    long_glance = calibration + [face(10 + t, gaze=0.31) for t in range(4)]
    (flag,) = flags_of(long_glance + [face(14 + t, gaze=0.46) for t in range(3)])
    assert (flag.type, flag.start_s) == ("gaze_away", 10.0)
    short = calibration + [face(10 + t, gaze=0.31) for t in range(2)]
    assert flags_of(short + [face(12 + t, gaze=0.46) for t in range(5)]) == []
    wander = calibration + [face(10 + t, gaze=0.46 + 0.04 * (-1) ** t) for t in range(8)]
    assert flags_of(wander) == []  # within 0.10 of the neutral 0.46


def test_shut_eyes_are_not_an_eyes_only_glance_whatever_the_iris_reads():
    """The Iris model still places an iris under shut lids, 0.1-0.2 eye widths off (a real
    clip, pexels_emotions): with the eyes shut only the head's pose is judged."""
    calibration = [face(t, gaze=0.45 + 0.01 * (t % 3)) for t in range(10)]
    back = [face(16 + t, gaze=0.46) for t in range(3)]
    shut = [face(10 + t, gaze=0.31, openness=SHUT_EYES) for t in range(6)]
    assert flags_of(calibration + shut + back) == []
    (flag,) = flags_of(calibration + [face(10 + t, gaze=0.31) for t in range(6)] + back)
    assert (flag.type, flag.start_s, flag.end_s) == ("gaze_away", 10.0, 16.0)
    squinting = [face(10 + t, gaze=0.31, openness=0.16) for t in range(6)]  # laughing: judged
    assert [f.type for f in flags_of(calibration + squinting + back)] == ["gaze_away"]
    shut_and_turned = [
        face(10 + t, yaw=45.0, ratio=1.6, gaze=0.31, openness=SHUT_EYES) for t in range(6)
    ]
    assert [f.type for f in flags_of(calibration + shut_and_turned + back)] == ["gaze_away"]


def test_shut_eyes_in_calibration_do_not_set_the_open_eyed_reference():
    """Open-eyed openness is the calibration's upper quartile: a student who starts with a
    few seconds of shut eyes still has them judged shut afterwards."""
    calibration = [face(t, gaze=0.46, openness=SHUT_EYES) for t in range(4)]
    calibration += [face(4 + t, gaze=0.46) for t in range(6)]
    shut = [face(10 + t, gaze=0.31, openness=SHUT_EYES) for t in range(6)]
    assert flags_of(calibration + shut) == []
    assert [
        f.type for f in flags_of(calibration + [face(10 + t, gaze=0.31) for t in range(6)])
    ] == ["gaze_away"]


def test_a_two_second_glance_stays_quiet():
    frames = [face(t) for t in range(10)]
    frames += [face(10 + t, yaw=45.0, ratio=1.6) for t in range(2)]
    frames += [face(12 + t) for t in range(10)]
    assert flags_of(frames) == []


# --- screen ----------------------------------------------------------------------------------


def test_one_banned_screen_sample_is_an_unauthorized_app_incident():
    (flag,) = flags_of(screens=[screen(0, False), screen(10, True), screen(20, False)])
    assert (flag.type, flag.start_s, flag.end_s, flag.severity) == (
        "unauthorized_app",
        10.0,
        20.0,
        "high",
    )


def test_banned_samples_ten_seconds_apart_merge_and_thirty_apart_do_not():
    merged = flags_of(screens=[screen(10, True), screen(20, True)])
    assert [(f.start_s, f.end_s) for f in merged] == [(10.0, 30.0)]
    apart = flags_of(screens=[screen(10, True), screen(40, True)])
    assert [(f.start_s, f.end_s) for f in apart] == [(10.0, 20.0), (40.0, 50.0)]


# --- ids, ordering, the evaluation contract --------------------------------------------------


def test_incident_id_is_a_uuid5_of_session_type_and_start_second():
    first = incident_id("s-1", "gaze_away", 10.2)
    assert first == incident_id("s-1", "gaze_away", 10.9)  # same second
    assert uuid.UUID(first).version == 5
    others = {
        incident_id("s-1", "gaze_away", 11.0),
        incident_id("s-2", "gaze_away", 10.0),
        incident_id("s-1", "multiple_faces", 10.0),
    }
    assert first not in others and len(others) == 3


def test_replaying_a_session_gives_the_same_ids():
    frames = [faces(t) for t in range(5)]

    def ids() -> list[str]:
        rules = SessionRules("s-1")
        return [e.incident_id for f in frames for e in rules.feed_webcam(f)]

    assert ids() == ids()


def test_flags_come_sorted_by_start_then_type_across_tracks():
    webcam = [faces(t) for t in range(20, 24)] + [empty(t) for t in range(30, 34)]
    flags = flags_of(webcam, [screen(0, True), screen(20, True)])
    assert [(f.start_s, f.type) for f in flags] == [
        (0.0, "unauthorized_app"),
        (20.0, "multiple_faces"),
        (20.0, "unauthorized_app"),
        (30.0, "face_not_visible"),
    ]


def test_batch_flags_equal_the_closed_events_of_the_incremental_rules():
    webcam = [faces(t) for t in range(4)] + [face(t) for t in range(4, 14)]
    webcam += [face(t, yaw=35.0, ratio=1.7) for t in range(14, 24)]
    rules = SessionRules("s-1")
    events = [e for o in webcam for e in rules.feed_webcam(o)] + rules.finish()
    closed = sorted((e.flag for e in events if e.kind == "closed"), key=lambda f: f.start_s)
    assert flags_of(list(reversed(webcam))) == closed  # batch sorts by time itself
    assert [f.type for f in closed] == ["multiple_faces", "gaze_away"]


def test_flags_to_json_rounds_to_milliseconds():
    flag = Flag("gaze_away", 1.23456, 5.00049, 0.87654, "low", (1.23456,))
    assert flags_to_json([flag], 60.0004) == {
        "flags": [
            {
                "type": "gaze_away",
                "start_s": 1.235,
                "end_s": 5.0,
                "confidence": 0.877,
                "severity": "low",
            }
        ],
        "video_seconds": 60.0,
    }

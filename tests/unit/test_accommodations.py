"""The accommodation record and the one suppression rule both paths ask, on tiny inputs."""

from __future__ import annotations

import datetime as dt

import pytest

from proctorlake.core.accommodations import (
    BREAK_GRACE_S,
    Accommodation,
    AccommodationError,
    BreakWindow,
    break_windows,
    describe,
    suppression_reason,
)
from proctorlake.core.vocabulary import SuppressionReason

GAZE_EXEMPT = Accommodation(exempt_incident_types=("gaze_away",))


def test_an_exempt_detector_is_suppressed_and_the_others_are_not() -> None:
    assert suppression_reason("gaze_away", 10, 40, GAZE_EXEMPT) == SuppressionReason.EXEMPT
    assert suppression_reason("multiple_faces", 10, 40, GAZE_EXEMPT) is None
    assert suppression_reason("gaze_away", 10, 40, Accommodation()) is None


def test_a_threshold_suppresses_only_shorter_flags() -> None:
    longer_gaze = Accommodation(min_duration_s={"gaze_away": 10})
    assert suppression_reason("gaze_away", 0, 9.5, longer_gaze) == SuppressionReason.THRESHOLD
    assert suppression_reason("gaze_away", 0, 10, longer_gaze) is None
    assert suppression_reason("face_not_visible", 0, 4, longer_gaze) is None


def test_an_absence_within_a_break_is_suppressed_but_not_a_second_person() -> None:
    one_break = Accommodation(breaks_allowed=1, break_max_s=300)
    window = [BreakWindow(100, 260)]
    reason = suppression_reason("face_not_visible", 103, 250, one_break, window)
    assert reason == SuppressionReason.BREAK
    # leaving just before clicking and clicking just after sitting down still count
    grace = BREAK_GRACE_S - 1
    assert suppression_reason("face_not_visible", 100 - grace, 260 + grace, one_break, window)
    assert suppression_reason("multiple_faces", 103, 250, one_break, window) is None
    # an absence that outlasts the break is raised
    assert suppression_reason("face_not_visible", 103, 400, one_break, window) is None
    # an open break covers at most the allowance
    still_open = [BreakWindow(100, None)]
    assert suppression_reason("face_not_visible", 103, 390, one_break, still_open)
    assert suppression_reason("face_not_visible", 103, 500, one_break, still_open) is None


def test_break_windows_sit_on_the_paths_timeline_and_never_exceed_the_allowance() -> None:
    origin = dt.datetime(2026, 3, 1, 9, 0, tzinfo=dt.UTC)
    spans = [
        (origin + dt.timedelta(seconds=60), origin + dt.timedelta(seconds=120)),
        (origin + dt.timedelta(seconds=600), origin + dt.timedelta(seconds=2000)),
        (origin + dt.timedelta(seconds=3000), None),
    ]
    assert break_windows(spans, origin, 300) == [
        BreakWindow(60, 120),
        BreakWindow(600, 900),
        BreakWindow(3000, None),
    ]


@pytest.mark.parametrize(
    "fields",
    [
        {"exempt_incident_types": ("stream_gap",)},  # not a detector's: nothing to exempt
        {"exempt_incident_types": ("gaze",)},
        {"min_duration_s": {"gaze_away": -1}},
        {"min_duration_s": {"typing": 5}},
        {"breaks_allowed": 99},
        {"break_max_s": 0},
    ],
)
def test_an_impossible_accommodation_is_refused(fields: dict) -> None:
    with pytest.raises(AccommodationError):
        Accommodation(**fields)


def test_the_record_round_trips_through_json_and_reads_in_one_line() -> None:
    accommodation = Accommodation(("gaze_away",), 2, 600, {"face_not_visible": 20})
    assert Accommodation.from_json(accommodation.to_json()) == accommodation
    assert Accommodation.from_json(None) == Accommodation()
    assert describe(accommodation) == (
        "exempt: gaze_away; 2 break(s) of 10 min; face_not_visible only after 20 s"
    )
    assert describe(Accommodation()) == "none"

"""The Review queue page ranks the institution's sessions by their unreviewed incidents, with
the reasons beside the score; a reviewer's decision takes the session out and moves the
false-flag share on the Overview."""

from __future__ import annotations

from proctorlake.services import reviews
from tests.fixtures.lakehouse import incident_id, metrics, signed_in_app


def _queue(app) -> list[tuple]:
    frame = app.dataframe[0].value
    return list(zip(frame["session"], frame["score"], frame["reasons"], strict=True))


def test_the_queue_ranks_sessions_and_a_decision_takes_one_out(lakehouse):
    app = signed_in_app("alice", "views/review_queue.py")
    assert not app.exception, app.exception
    # uni-north's pending incidents (confidence 0.8): N3 one high, N1 and N2 one medium each
    assert _queue(app) == [
        ("N3", 24.0, "1 high: multiple_faces 20 s"),
        ("N1", 12.0, "1 medium: gaze_away 10 s"),
        ("N2", 12.0, "1 medium: gaze_away 10 s"),
    ]
    assert app.dataframe[0].value["open"].tolist()[0] == "session_review?session=N3"

    overview = signed_in_app("alice")
    assert metrics(overview)["False-flag share"] == "33.3%"  # 2 dismissed of 6 reviewed
    reviews.record_review(
        lakehouse.settings,
        "uni-north",
        incident_id("N3", "multiple_faces", 3400),
        "dismissed",
        reviewer="alice",
    )
    app.run()
    assert [row[0] for row in _queue(app)] == ["N1", "N2"]
    overview.run()
    assert metrics(overview)["False-flag share"] == "42.9%"  # 3 of 7

"""Erasure finds a session's rows in a table the lander merged into several times: delta-rs
merges write ``session_id`` as ``string_view`` while the table declares ``string``, and a
filter on the bare field failed in pyarrow's statistics pushdown (the erasure answered 500)."""

from __future__ import annotations

from proctorlake.core import schemas
from proctorlake.core.messages import IntegrityEventMessage
from proctorlake.core.policy import IntegrityThresholds
from proctorlake.governance.erasure.delta_tables import count_session_rows, rows_by_session
from proctorlake.storage import lake
from realtime.workers.topic_lander import integrity_row


def _row(session_id: str, event_id: str) -> dict:
    message = IntegrityEventMessage(
        session_id=session_id,
        event_id=event_id,
        institution_id="inst-a",
        kind="paste",
        phase="instant",
        occurred_at_ms=1_780_000_000_000,
        session_ts=1.0,
        thresholds=IntegrityThresholds(),
    )
    return integrity_row(message)


def test_rows_merged_in_several_batches_are_counted_and_read(settings) -> None:
    for batch in ([_row("s-a", "1")], [_row("s-b", "2"), _row("s-a", "3")], [_row("s-b", "4")]):
        lake.merge_rows(settings, schemas.INTEGRITY_EVENTS, batch, ["event_id"])
    assert count_session_rows(settings, "integrity_events", ["s-a"]) == 2
    rows = rows_by_session(settings, "integrity_events", ["s-b"], ["event_id"])
    assert sorted(rows["event_id"].to_pylist()) == ["2", "4"]

"""Topic contracts: every record round-trips, refuses what it does not know, matches the
Delta columns it lands in, and its JSON Schema in docs/contracts is current."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import pytest

from proctorlake.core import schemas
from proctorlake.core.messages import (
    MESSAGE_BY_TOPIC,
    DetectionMessage,
    FrameMessage,
    IncidentMessage,
    MessageFormatError,
    ProctorActionMessage,
    SessionEventMessage,
    json_schemas,
)
from proctorlake.core.topics import ALL_TOPICS

CONTRACTS = Path(__file__).resolve().parents[2] / "docs" / "contracts"
NOW = dt.datetime(2026, 11, 30, 12, 0, tzinfo=dt.UTC)


def incident(**changes) -> IncidentMessage:
    fields = dict(
        incident_id="i-1",
        session_id="s-1",
        institution_id="inst-a",
        incident_type="multiple_faces",
        severity="high",
        confidence=0.9,
        start_s=3.0,
        end_s=9.0,
        state="opened",
        trigger_captured_at_ms=1,
        event_at_ms=2,
    )
    return IncidentMessage(**(fields | changes))


def detection() -> DetectionMessage:
    return DetectionMessage(
        session_id="s-1",
        institution_id="inst-a",
        track="webcam",
        frame_ts=1.0,
        captured_at_ms=1000,
        detection_type="webcam_frame",
        confidence=0.5,
        face_count=1,
        detail="{}",
        model_version="m",
    )


SAMPLES = [
    incident(),
    detection(),
    ProctorActionMessage(
        session_id="s-1",
        action_id="a-1",
        institution_id="inst-a",
        proctor_id="p-1",
        action_type="message",
        message="hello",
        created_at=NOW,
    ),
    SessionEventMessage(
        session_id="s-1",
        event="gap",
        institution_id="inst-a",
        student_id="u-1",
        exam_id="e-1",
        at=NOW,
        gap_from_ms=1,
        gap_to_ms=9000,
    ),
]


@pytest.mark.parametrize("message", SAMPLES, ids=lambda m: type(m).__name__)
def test_each_record_round_trips_through_its_bytes(message):
    again = type(message).from_json_bytes(message.to_json_bytes())
    assert again == message
    assert MESSAGE_BY_TOPIC[message.topic.name] is type(message)


@pytest.mark.parametrize("message", SAMPLES, ids=lambda m: type(m).__name__)
def test_a_reader_refuses_a_schema_version_it_does_not_know(message):
    payload = json.loads(message.to_json_bytes()) | {"v": 2}
    with pytest.raises(MessageFormatError, match="schema version 2"):
        type(message).from_payload(payload)


def test_unknown_fields_and_unknown_enum_values_are_refused():
    payload = json.loads(incident().to_json_bytes())
    with pytest.raises(MessageFormatError, match="extra"):
        IncidentMessage.from_payload(payload | {"auto_action": "end_session"})
    with pytest.raises(MessageFormatError, match="severity"):
        IncidentMessage.from_payload(payload | {"severity": "urgent"})
    with pytest.raises(MessageFormatError, match="incident_type"):
        IncidentMessage.from_payload(payload | {"incident_type": "person_swapped"})
    with pytest.raises(MessageFormatError, match="not JSON"):
        IncidentMessage.from_json_bytes(b"\xff{")
    with pytest.raises(MessageFormatError, match="object"):
        IncidentMessage.from_payload([1, 2])


def test_incidents_carry_facts_only_never_policy():
    fields = set(IncidentMessage.model_fields)
    assert not fields & {"alert", "auto_action", "tier", "review_status"}


def test_frame_headers_round_trip_and_route_by_track():
    frame = FrameMessage(
        session_id="s-1",
        institution_id="inst-a",
        track="screen",
        captured_at_ms=11_500,
        started_at_ms=1_000,
    )
    again = FrameMessage.from_headers("s-1", frame.to_headers())
    assert again == frame
    assert again.topic.name == "frames.screen"
    assert again.frame_ts == 10.5
    assert FrameMessage.from_headers("s-1", frame.to_headers()).end_of_session is False
    names = {name for name, _ in frame.to_headers()}
    assert "session_id" not in names  # it is the record key


def test_frame_headers_that_are_not_json_are_refused():
    with pytest.raises(MessageFormatError, match="header"):
        FrameMessage.from_headers("s-1", [("track", b"webcam")])


def test_detection_records_hold_every_stream_detections_column():
    landed_by_lander = {"captured_at", "session_date"}
    columns = set(schemas.STREAM_DETECTIONS.column_names) - landed_by_lander
    assert columns <= set(DetectionMessage.model_fields)


def test_incident_records_hold_every_stream_incidents_fact_column():
    added_on_landing = {"review_status", "event_at", "session_date"}
    columns = set(schemas.STREAM_INCIDENTS.column_names) - added_on_landing
    assert columns <= set(IncidentMessage.model_fields)


def test_every_topic_has_exactly_one_record_type():
    assert {t.name for t in ALL_TOPICS} == set(MESSAGE_BY_TOPIC)


def test_committed_json_schemas_are_current():
    """docs/contracts is generated: `python -m proctorlake.core.messages docs/contracts`."""
    generated = json_schemas()
    committed = {p.name for p in CONTRACTS.glob("*.schema.json")}
    assert committed == set(generated)
    for name, schema in generated.items():
        on_disk = json.loads((CONTRACTS / name).read_text())
        assert on_disk == json.loads(json.dumps(schema)), f"{name} is stale: regenerate it"

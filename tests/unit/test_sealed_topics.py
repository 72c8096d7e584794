"""The one publish path: typed messages only, personal topics sealed, erased keys refuse."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import pytest

from proctorlake.core.messages import (
    DetectionMessage,
    FrameMessage,
    IncidentMessage,
    MessageFormatError,
    SessionEventMessage,
)
from proctorlake.core.settings import load_settings
from proctorlake.governance import keystore, sealed_topics


@dataclass
class Sent:
    topic: str
    key: str
    value: bytes
    headers: list | None = None
    partition: int = 0
    offset: int = 0

    @property
    def record(self):
        """What a consumer would get back (key as bytes)."""
        return ConsumedRecord(self.topic, self.key.encode(), self.value, self.headers)


@dataclass
class ConsumedRecord:
    topic: str
    key: bytes
    value: bytes
    headers: list | None


class RecordingProducer:
    """Stands in for the broker: keeps what would have been sent."""

    def __init__(self) -> None:
        self.sent: list[Sent] = []

    def send(self, topic, key, value, headers=None):
        self.sent.append(Sent(topic, key, value, headers))
        return self.sent[-1]


@pytest.fixture
def settings(tmp_path):
    return load_settings({"PROCTORLAKE_HOME": str(tmp_path)})


def session_event(session_id: str = "s-1") -> SessionEventMessage:
    return SessionEventMessage(
        session_id=session_id,
        event="created",
        institution_id="inst-a",
        student_id="student-secret-id",
        exam_id="e-1",
        at=dt.datetime(2026, 11, 30, tzinfo=dt.UTC),
    )


def test_publish_refuses_anything_but_a_typed_message(settings):
    producer = RecordingProducer()
    with pytest.raises(TypeError, match="TopicMessage"):
        sealed_topics.publish(settings, producer, {"session_id": "s-1"})
    frame = FrameMessage(
        session_id="s-1", institution_id="i", track="webcam", captured_at_ms=1, started_at_ms=0
    )
    with pytest.raises(TypeError):
        sealed_topics.publish(settings, producer, frame)
    assert producer.sent == []


def test_personal_topics_are_sealed_and_come_back_typed(settings):
    producer = RecordingProducer()
    sealed_topics.publish(settings, producer, session_event())
    (sent,) = producer.sent
    assert sent.topic == "sessions" and sent.key == "s-1"
    assert b"student-secret-id" not in sent.value
    assert sealed_topics.decode(settings, sent.record) == session_event()


def test_detections_are_sealed_for_the_face_embeddings_they_carry(settings):
    producer = RecordingProducer()
    message = DetectionMessage(
        session_id="s-1",
        institution_id="inst-a",
        track="webcam",
        frame_ts=1.0,
        captured_at_ms=1000,
        detection_type="webcam_frame",
        confidence=0.5,
        detail='{"embedding":[0.0123,-0.0456]}',
        model_version="m",
    )
    sealed_topics.publish(settings, producer, message)
    assert b"0.0123" not in producer.sent[0].value
    assert sealed_topics.decode(settings, producer.sent[0].record) == message


def test_an_erased_session_cannot_be_read_back(settings):
    producer = RecordingProducer()
    sealed_topics.publish(settings, producer, session_event("s-2"))
    keystore.destroy_session_key(settings, "s-2")
    with pytest.raises(keystore.KeyErased):
        sealed_topics.decode(settings, producer.sent[0].record)


def test_a_record_whose_key_and_session_differ_is_refused(settings):
    producer = RecordingProducer()
    sealed_topics.publish(settings, producer, session_event("s-3"))
    sent = producer.sent[0]
    forged = ConsumedRecord(
        sent.topic,
        b"s-4",
        keystore.seal(settings, "s-4", keystore.unseal(settings, "s-3", sent.value)),
        None,
    )
    with pytest.raises(MessageFormatError, match="key"):
        sealed_topics.decode(settings, forged)


def test_frames_travel_as_headers_plus_a_sealed_image(settings):
    producer = RecordingProducer()
    frame = FrameMessage(
        session_id="s-1", institution_id="i", track="webcam", captured_at_ms=5, started_at_ms=0
    )
    sealed_topics.publish_frame(settings, producer, frame, b"\xff\xd8\xffJPEG")
    (sent,) = producer.sent
    assert sent.topic == "frames.webcam" and b"JPEG" not in sent.value
    again, image = sealed_topics.decode_frame(settings, sent.record)
    assert again == frame and image == b"\xff\xd8\xffJPEG"
    marker = frame.model_copy(update={"end_of_session": True})
    sealed_topics.publish_frame(settings, producer, marker, b"")
    assert sealed_topics.decode_frame(settings, producer.sent[-1].record) == (marker, None)


def test_a_forged_incident_without_the_session_key_is_refused(settings):
    """Security review #15: what can end an exam is authenticated. An incident written to
    the broker by anyone without the session's key (plain JSON, or sealed with another key)
    does not decode."""
    producer = RecordingProducer()
    message = IncidentMessage(
        incident_id="i-forged",
        session_id="s-5",
        institution_id="inst-a",
        incident_type="multiple_faces",
        severity="high",
        confidence=1.0,
        start_s=0.0,
        end_s=3.0,
        state="opened",
        trigger_captured_at_ms=1,
        event_at_ms=2,
    )
    sealed_topics.publish(settings, producer, message)
    genuine = producer.sent[0].record
    assert sealed_topics.decode(settings, genuine) == message
    plain = ConsumedRecord("incidents", b"s-5", message.to_json_bytes(), None)
    with pytest.raises(MessageFormatError, match="forged or damaged"):
        sealed_topics.decode(settings, plain)
    other_key = keystore.seal(settings, "s-6", message.to_json_bytes())
    with pytest.raises(MessageFormatError, match="forged or damaged"):
        sealed_topics.decode(settings, ConsumedRecord("incidents", b"s-5", other_key, None))

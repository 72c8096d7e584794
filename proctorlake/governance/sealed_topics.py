"""The one way onto and off a topic: typed messages in, sealed records out, and back.

:func:`publish` is the only place in the product that calls ``producer.send``; it takes a
:class:`~proctorlake.core.messages.TopicMessage` and nothing else, so no hand-built dict can
reach Kafka. Records of topics that carry personal data, or that can end an exam (incidents),
are sealed (AES-256-GCM) with the session's key from :mod:`proctorlake.governance.keystore`:
a record forged by someone who can write to the broker but has no key fails to decode (the
GCM tag authenticates it). Erasing the session destroys the key, and :func:`decode` then
raises :class:`~proctorlake.governance.keystore.KeyErased`.
"""

from __future__ import annotations

from typing import Any

from cryptography.exceptions import InvalidTag

from proctorlake.core.messages import (
    MESSAGE_BY_TOPIC,
    FrameMessage,
    MessageFormatError,
    TopicMessage,
)
from proctorlake.core.settings import Settings
from proctorlake.core.topics import Topic
from proctorlake.governance import keystore

__all__ = ["MessageFormatError", "decode", "decode_frame", "publish", "publish_frame"]


def _seal(settings: Settings, topic: Topic, session_id: str, body: bytes) -> bytes:
    return keystore.seal(settings, session_id, body) if topic.sealed else body


def _unseal(settings: Settings, topic: Topic, session_id: str, value: bytes) -> bytes:
    if not topic.sealed:
        return value
    try:
        return keystore.unseal(settings, session_id, value)
    except (ValueError, InvalidTag) as exc:
        raise MessageFormatError(
            f"{topic.name}: record is not sealed with its session's key (forged or damaged)"
        ) from exc


def publish(settings: Settings, producer: Any, message: TopicMessage) -> Any:
    """Send ``message`` on its topic, keyed by its session; returns the send future."""
    if not isinstance(message, TopicMessage) or isinstance(message, FrameMessage):
        raise TypeError(f"publish takes a non-frame TopicMessage, not {type(message).__name__}")
    value = _seal(settings, message.topic, message.session_id, message.to_json_bytes())
    return producer.send(message.topic.name, key=message.session_id, value=value)


def publish_frame(settings: Settings, producer: Any, frame: FrameMessage, image: bytes) -> Any:
    """Send a frame: its metadata as headers, the image sealed as the value (an
    end-of-session marker has no image)."""
    if not isinstance(frame, FrameMessage):
        raise TypeError(f"publish_frame takes a FrameMessage, not {type(frame).__name__}")
    value = _seal(settings, frame.topic, frame.session_id, image) if image else b""
    return producer.send(
        frame.topic.name, key=frame.session_id, value=value, headers=frame.to_headers()
    )


def _session_of(record: Any) -> str:
    if record.key is None:
        raise MessageFormatError(f"{record.topic}: a record without a session key")
    return record.key.decode("utf-8")


def decode(settings: Settings, record: Any) -> TopicMessage:
    """The typed message of a consumed (non-frame) record."""
    message_type = MESSAGE_BY_TOPIC.get(record.topic)
    if message_type is None or message_type is FrameMessage:
        raise MessageFormatError(f"{record.topic}: not a message topic")
    session_id = _session_of(record)
    body = _unseal(settings, message_type.TOPIC, session_id, record.value)
    message = message_type.from_json_bytes(body)
    if message.session_id != session_id:
        raise MessageFormatError(f"{record.topic}: record key and session_id differ")
    return message


def decode_frame(settings: Settings, record: Any) -> tuple[FrameMessage, bytes | None]:
    """A frames record's metadata and unsealed image (None for the end-of-session marker)."""
    frame = FrameMessage.from_headers(_session_of(record), record.headers)
    if frame.end_of_session:
        return frame, None
    return frame, _unseal(settings, frame.topic, frame.session_id, record.value)

"""Fan-out of topic events to server-sent-event clients inside one API process.

A follower thread tails the ``incidents``, ``proctor.actions`` and ``sessions`` topics (every
partition, from the end) and hands each event to the asyncio loop, where subscribers filter
it: a proctor stream sees its institution's incidents at or above a severity and its identity
reviews, an exam client sees only its own session's proctor actions. Each incident's latest
state, and each identity check that needs a human, is kept per session for the proctor page;
the live page shows only sessions whose tier has a human.
"""

from __future__ import annotations

import asyncio
import json
import logging
import threading
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field

from kafka.errors import KafkaError

from proctorlake.core.messages import (
    IncidentMessage,
    MessageFormatError,
    ProctorActionMessage,
    SessionEventMessage,
)
from proctorlake.core.settings import Settings
from proctorlake.core.topics import INCIDENTS, PROCTOR_ACTIONS, SESSIONS
from proctorlake.core.vocabulary import SessionEventType
from proctorlake.governance import keystore, sealed_topics
from proctorlake.storage import kafka_io

log = logging.getLogger(__name__)
QUEUE_LIMIT = 1000


@dataclass(eq=False)
class Subscriber:
    queue: asyncio.Queue
    accepts: Callable[[str, dict], bool]


@dataclass
class LiveFeed:
    """Subscribers by kind, the incident timeline, and the loop they live on."""

    loop: asyncio.AbstractEventLoop | None = None
    subscribers: set[Subscriber] = field(default_factory=set)
    timeline: dict[str, dict[str, dict]] = field(default_factory=dict)
    reviews: dict[str, dict[str, dict]] = field(default_factory=dict)  # session -> record -> item
    loaded: set[str] = field(default_factory=set)  # sessions whose Delta history was read
    erased: set[str] = field(default_factory=set)  # never remembered again
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def subscribe(self, accepts: Callable[[str, dict], bool]) -> Subscriber:
        subscriber = Subscriber(asyncio.Queue(QUEUE_LIMIT), accepts)
        self.subscribers.add(subscriber)
        return subscriber

    def unsubscribe(self, subscriber: Subscriber) -> None:
        self.subscribers.discard(subscriber)

    def incidents_of(self, session_id: str) -> list[dict]:
        with self._lock:
            return sorted(
                self.timeline.get(session_id, {}).values(), key=lambda i: (i["start_s"], i["id"])
            )

    def remember_incident(self, incident: dict, only_if_new: bool = False) -> None:
        """Keep the incident's latest state (history read from Delta never overwrites)."""
        with self._lock:
            if incident["session_id"] in self.erased:
                return
            incidents = self.timeline.setdefault(incident["session_id"], {})
            if only_if_new and incident["incident_id"] in incidents:
                return
            incidents[incident["incident_id"]] = {"id": incident["incident_id"], **incident}

    def reviews_of(self, session_id: str) -> list[dict]:
        with self._lock:
            return sorted(self.reviews.get(session_id, {}).values(), key=lambda r: r["at"])

    def remember_review(self, review: dict, only_if_new: bool = False) -> None:
        """Keep an identity check that a human must review (Delta history never overwrites)."""
        with self._lock:
            if review["session_id"] in self.erased:
                return
            reviews = self.reviews.setdefault(review["session_id"], {})
            if only_if_new and review["record_id"] in reviews:
                return
            reviews[review["record_id"]] = review

    def forget_erased(self, session_id: str) -> None:
        """Forget an erased session and ignore its late events from now on."""
        with self._lock:
            self.erased.add(session_id)
        self.forget(session_id)

    def forget(self, session_id: str) -> None:
        """Drop an evicted session's incidents and reviews (Delta still has them)."""
        with self._lock:
            self.timeline.pop(session_id, None)
            self.reviews.pop(session_id, None)
            self.loaded.discard(session_id)

    def publish(self, kind: str, event: dict) -> None:
        """Thread-safe: deliver an event to matching subscribers on the loop."""
        if self.loop is None:
            return
        self.loop.call_soon_threadsafe(self._deliver, kind, event)

    def _deliver(self, kind: str, event: dict) -> None:
        for subscriber in list(self.subscribers):
            if subscriber.accepts(kind, event):
                if subscriber.queue.full():
                    subscriber.queue.get_nowait()  # a stalled client loses its oldest event
                subscriber.queue.put_nowait((kind, event))


REVIEW_FIELDS = (
    "record_id",
    "session_id",
    "institution_id",
    "student_id",
    "exam_id",
    "verified",
    "review_required",
    "similarity_score",
    "reasons",
    "at",
)


def review_item(event: dict) -> dict:
    """The proctor page's review item of a ``verified`` sessions event (kind: identity)."""
    item = {name: event.get(name) for name in REVIEW_FIELDS}
    item["reasons"] = list(item["reasons"] or [])
    item["kind"] = "identity"
    return item


def sse_message(kind: str, event: dict, event_id: str | None = None) -> str:
    lines = [f"event: {kind}"]
    if event_id:
        lines.append(f"id: {event_id}")
    lines.append("data: " + json.dumps(event, separators=(",", ":")))
    return "\n".join(lines) + "\n\n"


SSE_KEEPALIVE_S = 15.0


async def relay_events(
    is_disconnected: Callable[[], Awaitable[bool]],
    queue: asyncio.Queue,
    event_id: Callable[[str, dict], str | None],
) -> AsyncIterator[str]:
    """SSE messages for each (kind, event) a subscriber receives, with keepalive comments,
    until the client goes away (the two live streams of the API share this loop)."""
    while not await is_disconnected():
        try:
            kind, event = await asyncio.wait_for(queue.get(), SSE_KEEPALIVE_S)
        except TimeoutError:
            yield ": keepalive\n\n"
            continue
        yield sse_message(kind, event, event_id(kind, event))


LIFECYCLE_EVENTS = (SessionEventType.CREATED, SessionEventType.STARTED, SessionEventType.ENDED)
"""Session events that change the session's row: every API process re-reads it on each."""


class TopicFollower(threading.Thread):
    """Tails incidents, proctor actions and session events into the feed. An incident is
    shown as ``incident_view`` makes it (the API's policy: alert, automatic action), then
    handed to ``on_incident``; the id of a session whose row changed (in any API process)
    is handed to ``on_lifecycle`` before the event is shown."""

    def __init__(
        self,
        settings: Settings,
        feed: LiveFeed,
        incident_view: Callable[[IncidentMessage], dict],
        on_incident: Callable[[dict], None],
        on_lifecycle: Callable[[str], object] = lambda session_id: None,
    ) -> None:
        super().__init__(name="topic-follower", daemon=True)
        self.settings = settings
        self.feed = feed
        self.incident_view = incident_view
        self.on_incident = on_incident
        self.on_lifecycle = on_lifecycle
        self.ready = threading.Event()
        self._halt = threading.Event()

    def stop(self) -> None:
        self._halt.set()

    def run(self) -> None:
        consumer = kafka_io.make_tail_consumer(
            self.settings, [INCIDENTS, PROCTOR_ACTIONS, SESSIONS]
        )
        try:
            for partition in consumer.assignment():
                consumer.position(partition)  # resolve the end offsets before serving
            self.ready.set()
            while not self._halt.is_set():
                try:
                    batches = consumer.poll(timeout_ms=200)
                except KafkaError as exc:
                    log.warning("follower poll failed: %s", exc)
                    continue
                for records in batches.values():
                    for record in records:
                        self._handle(record)
        finally:
            consumer.close()

    def _handle(self, record) -> None:
        try:
            message = sealed_topics.decode(self.settings, record)
        except keystore.KeyErased:
            return  # the session was erased: its events are gone on purpose
        except MessageFormatError as exc:
            log.warning("skipped a malformed %s record: %s", record.topic, exc)
            return
        if isinstance(message, IncidentMessage):
            self._handle_incident(message)
        elif isinstance(message, ProctorActionMessage):
            self.feed.publish("action", message.model_dump(mode="json"))
        elif isinstance(message, SessionEventMessage):
            self._handle_session_event(message)

    def _handle_incident(self, message: IncidentMessage) -> None:
        try:
            incident = self.incident_view(message)
        except Exception:  # e.g. a session this API cannot see: skip it, keep following
            log.exception("no view for incident %s", message.incident_id)
            return
        self.feed.remember_incident(incident)
        self.feed.publish("incident", incident)
        try:
            self.on_incident(incident)
        except Exception:  # a failed automatic action must not stop the live feed
            log.exception("automatic action failed for incident %s", message.incident_id)

    def _handle_session_event(self, message: SessionEventMessage) -> None:
        if message.event in LIFECYCLE_EVENTS:
            try:
                self.on_lifecycle(message.session_id)
            except Exception:  # e.g. erased meanwhile: the feed goes on
                log.exception("could not refresh session %s", message.session_id)
        event = message.model_dump(mode="json")
        if message.event == SessionEventType.VERIFIED and message.review_required:
            review = review_item(event)
            self.feed.remember_review(review)
            self.feed.publish("review", review)
        else:
            lifecycle = ("event", "session_id", "institution_id", "status", "at")
            lifecycle += ("gap_from_ms", "gap_to_ms")
            self.feed.publish("session", {name: event.get(name) for name in lifecycle})

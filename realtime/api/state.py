"""The realtime API's long-lived parts, built once per process and shared by the routers."""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass

from proctorlake.core.settings import Settings
from proctorlake.core.topics import IncidentEvent
from proctorlake.services.lti import LaunchVerifier, LoginRateLimit
from proctorlake.storage import kafka_io
from proctorlake.storage.object_store import open_object_store
from realtime.api.frame_intake import FrameIntake
from realtime.api.live_feed import LiveFeed, TopicFollower
from realtime.api.proctor_actions import AUTO_PROCTOR_ID, ProctorActions
from realtime.api.recording_upload import RecordingUploads
from realtime.api.session_registry import SessionRegistry

log = logging.getLogger(__name__)


@dataclass
class RealtimeServices:
    settings: Settings
    producer: object
    registry: SessionRegistry
    intake: FrameIntake
    uploads: RecordingUploads
    actions: ProctorActions
    feed: LiveFeed
    lti_launches: LaunchVerifier
    lti_logins: LoginRateLimit
    follower: TopicFollower | None = None

    @classmethod
    def build(cls, settings: Settings) -> RealtimeServices:
        producer = kafka_io.make_producer(settings)
        registry = SessionRegistry(settings, producer)
        return cls(
            settings=settings,
            producer=producer,
            registry=registry,
            intake=FrameIntake(settings, producer),
            uploads=RecordingUploads(open_object_store(settings)),
            actions=ProctorActions(settings, producer, registry),
            feed=LiveFeed(),
            lti_launches=LaunchVerifier(settings),
            lti_logins=LoginRateLimit(),
        )

    def start(self, loop: asyncio.AbstractEventLoop) -> None:
        """Read open sessions back from Delta, then follow the topics from their end."""
        restored = self.registry.load_open_sessions()
        log.info("restored %d open sessions", restored)
        self.feed.loop = loop
        self.follower = TopicFollower(self.settings, self.feed, self.apply_policy)
        self.follower.start()
        if not self.follower.ready.wait(timeout=30):
            raise RuntimeError("could not attach to the incidents topic within 30 s")

    def close(self) -> None:
        if self.follower is not None:
            self.follower.stop()
            self.follower.join(timeout=5)
        self.producer.close(timeout=5)

    def apply_policy(self, incident: dict) -> None:
        """Take the automatic action the exam's policy names for an extreme incident."""
        if incident.get("auto_action") != "end_session":
            return
        if incident.get("state") != IncidentEvent.OPENED:
            return
        session = self.registry.get(incident["session_id"])
        if not session.is_open:
            return
        self.actions.end_session(
            session,
            AUTO_PROCTOR_ID,
            reason=f"automatic: {incident['incident_type']} (policy names it extreme)",
            action_id=f"auto-{incident['incident_id']}",
        )

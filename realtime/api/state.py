"""The realtime API's long-lived parts, built once per process and shared by the routers."""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass

from proctorlake.core.settings import Settings
from proctorlake.services.lti import LaunchVerifier, LoginRateLimit
from proctorlake.storage import kafka_io
from proctorlake.storage.object_store import ObjectStore, open_object_store
from proctorlake.storage.video_timeline import segment_limits
from realtime.api.frame_intake import FrameIntake
from realtime.api.incident_policy import IncidentPolicy, takes_automatic_action
from realtime.api.live_feed import LiveFeed, TopicFollower
from realtime.api.proctor_actions import AUTO_PROCTOR_ID, ProctorActions
from realtime.api.recording_upload import RecordingUploads
from realtime.api.request_limits import RequestLimits
from realtime.api.session_allowances import SessionAllowances
from realtime.api.session_janitor import SessionJanitor
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
    incident_policy: IncidentPolicy
    allowances: SessionAllowances
    store: ObjectStore
    limits: RequestLimits
    lti_launches: LaunchVerifier
    lti_logins: LoginRateLimit
    follower: TopicFollower | None = None
    janitor: SessionJanitor | None = None

    @classmethod
    def build(cls, settings: Settings) -> RealtimeServices:
        producer = kafka_io.make_producer(settings)
        registry = SessionRegistry(settings, producer)
        store = open_object_store(settings)
        allowances = SessionAllowances(settings)
        services = cls(
            settings=settings,
            producer=producer,
            registry=registry,
            intake=FrameIntake(settings, producer, store),
            uploads=RecordingUploads(
                settings,
                store,
                segment_limits(settings.chunk_seconds),
                settings.session_chunk_quota_bytes,
            ),
            actions=ProctorActions(settings, producer, registry),
            feed=LiveFeed(),
            incident_policy=IncidentPolicy(registry, allowances),
            allowances=allowances,
            store=store,
            limits=RequestLimits(settings),
            lti_launches=LaunchVerifier(settings),
            lti_logins=LoginRateLimit(),
        )
        registry.on_evict += [
            services.intake.forget,
            services.feed.forget,
            services.limits.forget_session,
            allowances.forget,
        ]
        return services

    def start(self, loop: asyncio.AbstractEventLoop) -> None:
        """Read open sessions back from Delta, then follow the topics from their end."""
        restored = self.registry.load_open_sessions()
        log.info("restored %d open sessions", restored)
        self.feed.loop = loop
        self.follower = TopicFollower(
            self.settings,
            self.feed,
            self.incident_policy.view,
            self.apply_policy,
            on_lifecycle=self.registry.refresh,
        )
        self.follower.start()
        if not self.follower.ready.wait(timeout=30):
            raise RuntimeError("could not attach to the incidents topic within 30 s")
        self.janitor = SessionJanitor(self.registry)
        self.janitor.start()

    def close(self) -> None:
        if self.janitor is not None:
            self.janitor.stop()
            self.janitor.join(timeout=5)
        if self.follower is not None:
            self.follower.stop()
            self.follower.join(timeout=5)
        self.producer.close(timeout=5)

    def apply_policy(self, incident: dict) -> None:
        """Take the automatic action the exam's policy names for an extreme incident."""
        if not takes_automatic_action(incident):
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

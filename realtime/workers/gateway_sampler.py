"""The gateway sampler: per publishing session, a webcam frame a second and a screen frame
every 10 s, from the streams the gateway received.

Every second it looks at the sessions the gateway holds (their rooms), starts a
:class:`~proctorlake.services.gateway_sampling.TrackSampler` per track
(:data:`~proctorlake.services.gateway_sampling.TRACK_SAMPLING`) for each new one and points
them at the room's current publisher: a client that reconnected is a new publisher, forwarded
again.
"""

from __future__ import annotations

import json
import logging
import threading
import urllib.error

from proctorlake.core.settings import Settings
from proctorlake.services.gateway_recording import ROOM_FILE, GatewayRoom
from proctorlake.services.gateway_sampling import (
    TRACK_SAMPLING,
    TrackSampler,
    current_publisher,
)
from proctorlake.storage import gateway
from proctorlake.storage.kafka_io import make_producer

PASS_INTERVAL_S = 1.0
log = logging.getLogger("realtime.gateway_sampler")


def run_sampler(settings: Settings, stop: threading.Event) -> None:
    """Sample until ``stop`` is set; a gateway that is down (restarting) is waited for."""
    producer = make_producer(settings)
    samplers: dict[str, list[TrackSampler]] = {}
    try:
        while not stop.wait(PASS_INTERVAL_S):
            root = gateway.gateway_paths(settings).recordings_dir
            for meta in sorted(root.glob(f"*/{ROOM_FILE}")) if root.exists() else []:
                room = GatewayRoom(**json.loads(meta.read_text()))
                try:
                    publisher = current_publisher(settings, room.session_id)
                    tracks = samplers.get(room.session_id)
                    if publisher is None:
                        for sampler in samplers.pop(room.session_id, []):
                            sampler.close()
                        continue
                    if tracks is None:
                        tracks = samplers[room.session_id] = [
                            TrackSampler(settings, producer, room, sampling)
                            for sampling in TRACK_SAMPLING
                        ]
                    for sampler in tracks:
                        if sampler.publisher != publisher:
                            sampler.forward_from(publisher)
                            log.info(
                                "sampling %s %s from publisher %s",
                                room.session_id,
                                sampler.sampling.track,
                                publisher[:8],
                            )
                except (gateway.GatewayError, urllib.error.URLError, OSError) as exc:
                    log.warning("sampler pass on %s failed: %s", room.session_id, exc)
            producer.flush(timeout=5)
    finally:
        for tracks in samplers.values():
            for sampler in tracks:
                sampler.close()
        producer.close(timeout=5)

"""The gateway sampler: one webcam frame a second per publishing session, from the gateway.

Every second it looks at the sessions the gateway holds (their rooms), starts a
:class:`~proctorlake.services.gateway_sampling.WebcamSampler` for each new one and points it at
the room's current publisher: a client that reconnected is a new publisher, forwarded again.
"""

from __future__ import annotations

import json
import logging
import threading
import urllib.error

from proctorlake.core.settings import Settings
from proctorlake.services.gateway_recording import ROOM_FILE, GatewayRoom
from proctorlake.services.gateway_sampling import WebcamSampler, current_publisher
from proctorlake.storage import gateway
from proctorlake.storage.kafka_io import make_producer

PASS_INTERVAL_S = 1.0
log = logging.getLogger("realtime.gateway_sampler")


def run_sampler(settings: Settings, stop: threading.Event) -> None:
    """Sample until ``stop`` is set; a gateway that is down (restarting) is waited for."""
    producer = make_producer(settings)
    samplers: dict[str, WebcamSampler] = {}
    try:
        while not stop.wait(PASS_INTERVAL_S):
            root = gateway.gateway_paths(settings).recordings_dir
            for meta in sorted(root.glob(f"*/{ROOM_FILE}")) if root.exists() else []:
                room = GatewayRoom(**json.loads(meta.read_text()))
                try:
                    publisher = current_publisher(settings, room.session_id)
                    sampler = samplers.get(room.session_id)
                    if publisher is None:
                        if sampler is not None:
                            samplers.pop(room.session_id).close()
                        continue
                    if sampler is None:
                        sampler = samplers[room.session_id] = WebcamSampler(
                            settings, producer, room
                        )
                    if sampler.publisher != publisher:
                        sampler.forward_from(publisher)
                        log.info("sampling %s from publisher %s", room.session_id, publisher[:8])
                except (gateway.GatewayError, urllib.error.URLError, OSError) as exc:
                    log.warning("sampler pass on %s failed: %s", room.session_id, exc)
            producer.flush(timeout=5)
    finally:
        for sampler in samplers.values():
            sampler.close()
        producer.close(timeout=5)

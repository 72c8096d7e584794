"""The gateway sampler: per publishing session, a webcam frame a second and a screen frame
every 10 s, from the streams the gateway received.

Every second it looks at the sessions the gateway holds (their rooms), starts a
:class:`~proctorlake.services.gateway_sampling.TrackSampler` per track
(:data:`~proctorlake.services.gateway_sampling.TRACK_SAMPLING`) for each new one and points
them at the room's current publisher: a client that reconnected is a new publisher, forwarded
again. The gateway is asked who publishes only for a room whose webcam forward has been quiet
for a second (new, left, reconnecting): a camera sends frames all the time, so a session that
streams costs no request to the gateway (it was four HTTP requests a room a second, paid by
the sampler and by Janus). Every track's socket is read by the worker's one thread.
"""

from __future__ import annotations

import json
import logging
import selectors
import threading
import time
import urllib.error

from kafka import KafkaProducer

from proctorlake.core.settings import Settings
from proctorlake.core.vocabulary import Track
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
    """Sample until ``stop`` is set; a gateway that is down (restarting) is waited for.

    One thread does it all: between passes (one a second) it waits on every track's socket at
    once and hands each packet to its track (:meth:`TrackSampler.receive`), decoding and
    publishing included; a track that fails is logged and the others go on. A pass's requests
    to the gateway take milliseconds; meanwhile the packets wait in the sockets' buffers."""
    producer = make_producer(settings)
    samplers: dict[str, list[TrackSampler]] = {}
    selector = selectors.DefaultSelector()
    next_pass = time.monotonic() + PASS_INTERVAL_S
    try:
        while not stop.is_set():
            for key, _ in selector.select(max(0.0, next_pass - time.monotonic())):
                _receive(key.data)
            if time.monotonic() < next_pass:
                continue
            next_pass = time.monotonic() + PASS_INTERVAL_S
            _sampler_pass(settings, producer, samplers, selector)
            producer.flush(timeout=5)
    finally:
        for tracks in samplers.values():
            for sampler in tracks:
                _close(sampler, selector)
        selector.close()
        producer.close(timeout=5)


def _sampler_pass(
    settings: Settings,
    producer: KafkaProducer,
    samplers: dict[str, list[TrackSampler]],
    selector: selectors.BaseSelector,
) -> None:
    """Start sampling new rooms, point quiet ones at their current publisher, drop empty ones."""
    root = gateway.gateway_paths(settings).recordings_dir
    for meta in sorted(root.glob(f"*/{ROOM_FILE}")) if root.exists() else []:
        room = GatewayRoom(**json.loads(meta.read_text()))
        tracks = samplers.get(room.session_id)
        if tracks and not _webcam(tracks).quiet_for(PASS_INTERVAL_S):
            continue  # the webcam still flows from the publisher it was forwarded from
        try:
            publisher = current_publisher(settings, room.session_id)
            if publisher is None:
                for sampler in samplers.pop(room.session_id, []):
                    _close(sampler, selector)
                continue
            if tracks is None:
                tracks = samplers[room.session_id] = [
                    TrackSampler(settings, producer, room, sampling) for sampling in TRACK_SAMPLING
                ]
                for sampler in tracks:
                    selector.register(sampler.sock, selectors.EVENT_READ, sampler)
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


def _receive(sampler: TrackSampler) -> None:
    try:
        sampler.receive()
    except Exception:  # one track's fault (a sample not published) must not stop the others
        log.exception("sampling %s %s failed", sampler.room.session_id, sampler.sampling.track)


def _webcam(tracks: list[TrackSampler]) -> TrackSampler:
    return next(t for t in tracks if t.sampling.track == Track.WEBCAM)


def _close(sampler: TrackSampler, selector: selectors.BaseSelector) -> None:
    """Stop one track's sampler and say what it cost: frames it received, decoded, published."""
    selector.unregister(sampler.sock)
    sampler.close()
    log.info(
        "stopped sampling %s %s: %d frames received, %d decoded (%d of them refused), %d published",
        sampler.room.session_id,
        sampler.sampling.track,
        sampler.frames_received,
        sampler.frames_decoded,
        sampler.frames_undecodable,
        sampler.frames_published,
    )

"""The gateway recorder: rotates Janus's recordings and stores the closed ones as chunks.

One pass a second over ``PROCTORLAKE_HOME/gateway/recordings`` (see
:mod:`proctorlake.services.gateway_recording`): a recording is rotated between 2 s
(``ROTATE_EARLY_S``) and 1 s before it reaches ``PROCTORLAKE_CHUNK_SECONDS``, so a chunk never
passes the upload's one-chunk bound. A pass looks through ``/proc`` once (which files Janus
holds open), so passes are not made more often than rotation needs.
"""

from __future__ import annotations

import logging
import threading
import urllib.error

from proctorlake.core.settings import Settings
from proctorlake.services.gateway_recording import GatewayRecordingError, collect_all
from proctorlake.storage.gateway import GatewayError

PASS_INTERVAL_S = 1.0
log = logging.getLogger("realtime.gateway_recorder")


def run_recorder(settings: Settings, stop: threading.Event) -> None:
    """Collect until ``stop`` is set; a gateway that is down (restarting) is waited for."""
    while not stop.wait(PASS_INTERVAL_S):
        try:
            for entry in collect_all(settings):
                log.info(
                    "stored %s chunk at %d ms (chain %s)",
                    entry["track"],
                    entry["chunk_start_ms"],
                    entry["chain"][:8],
                )
        except (GatewayError, GatewayRecordingError, urllib.error.URLError, OSError) as exc:
            log.warning("recorder pass failed: %s", exc)

"""The one stream-gap rule: a webcam silence this long is a gap (network drop, reconnect).

The API (which publishes a ``gap`` session event when a reconnecting client's frame arrives)
and the detector workers (which raise a ``stream_gap`` incident that lands in Delta) both ask
this module, so the two never disagree on what a gap is.
"""

from __future__ import annotations

STREAM_GAP_S = 5.0
"""A webcam frame is expected every second; five missing seconds is more than jitter or a
slow upload (frames are retried for up to ~3 s by the exam client)."""


def is_stream_gap(previous_s: float, current_s: float) -> bool:
    """Whether the time between two consecutive webcam frames (seconds) is a gap."""
    return current_s - previous_s > STREAM_GAP_S

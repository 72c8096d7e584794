"""Screens only when they change: OCR a screen frame only if it differs from the last one read.

An exam screen rarely changes between two samples 10 s apart, and OCR is the screen track's
whole cost (~0.36 s of one core per 1280x720 frame). The gate compares each frame's grey
thumbnail with the thumbnail of the last frame that was read (not the last one reused, so
slow drift is read again) and reuses that read while nothing but a few cells changed. Every
``recheck_every``-th sample is read anyway, a safety net for a change too small to see.
Both paths use it: the realtime screen worker (one gate per session) and the Spark job (one
per recording chunk).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field, replace

import cv2
import numpy as np

from models.screen_apps import DEFAULT_ALLOWED, DEFAULT_BANNED, ScreenObservation
from models.screen_apps import analyze_screen_frames as read_screen_frames

THUMBNAIL_SIZE = (160, 90)
"""Grey thumbnail, cells of 8x8 px at 1280x720: a 17 px title word spans a dozen cells."""

CELL_DIFF = 16
"""A cell changed when its mean grey level moved by more than this (0-255); H.264 noise on a
static screen stays within a few levels (measured on the bench's and the dev sets' screens)."""

MAX_CHANGED_CELLS = 16
"""A screen is unchanged while at most this many cells changed: a moving mouse pointer (old
and new place, up to 12 cells) is not a change; a new window or title changes hundreds."""

MAX_MEAN_DIFF = 1.0
"""...and the whole thumbnail moved by less than this on average (a dimmed or shifted screen
is read again)."""

RECHECK_EVERY = 6
"""Read at least every 6th sample (a minute at one sample per 10 s) whatever the gate says."""


def screen_thumbnail(rgb: np.ndarray) -> np.ndarray:
    """The grey thumbnail the gate compares (area-averaged, so pixel noise cancels)."""
    gray = cv2.cvtColor(np.ascontiguousarray(rgb), cv2.COLOR_RGB2GRAY)
    return cv2.resize(gray, THUMBNAIL_SIZE, interpolation=cv2.INTER_AREA).astype(np.int16)


def unchanged(a: np.ndarray, b: np.ndarray) -> bool:
    """Whether two thumbnails show the same screen (see the thresholds above)."""
    diff = np.abs(a - b)
    changed_cells = int(np.count_nonzero(diff > CELL_DIFF))
    return changed_cells <= MAX_CHANGED_CELLS and float(diff.mean()) < MAX_MEAN_DIFF


@dataclass
class ScreenChangeGate:
    """One screen's memory of its last read; counts frames read and frames reused."""

    recheck_every: int = RECHECK_EVERY
    banned: Sequence[str] = DEFAULT_BANNED
    allowed: Sequence[str] = DEFAULT_ALLOWED
    read: int = 0
    reused: int = 0
    _thumbnail: np.ndarray | None = field(default=None, repr=False)
    _last: ScreenObservation | None = field(default=None, repr=False)
    _since_read: int = 0

    def observe(self, frame: np.ndarray, frame_ts: float) -> ScreenObservation:
        """The frame's observation: the last read re-stamped while the screen is unchanged,
        else a fresh OCR read (which becomes the new reference)."""
        thumbnail = screen_thumbnail(frame)
        if (
            self._last is not None
            and self._thumbnail is not None
            and self._since_read + 1 < self.recheck_every
            and unchanged(self._thumbnail, thumbnail)
        ):
            self._since_read += 1
            self.reused += 1
            read_at = self._last.frame_ts
            return replace(self._last, frame_ts=float(frame_ts), read_at_s=read_at)
        (observation,) = read_screen_frames([frame], [frame_ts], self.banned, self.allowed)
        self._thumbnail, self._last, self._since_read = thumbnail, observation, 0
        self.read += 1
        return observation

    def forget(self) -> None:
        """Drop the reference (the session ended): the next frame is read."""
        self._thumbnail, self._last, self._since_read = None, None, 0


def analyze_screen_frames_gated(
    frames: Sequence[np.ndarray], timestamps_s: Sequence[float], gate: ScreenChangeGate
) -> list[ScreenObservation]:
    """``analyze_screen_frames`` for consecutive frames of one screen, through its gate."""
    if len(frames) != len(timestamps_s):
        raise ValueError("one timestamp per frame")
    return [gate.observe(f, t) for f, t in zip(frames, timestamps_s, strict=True)]

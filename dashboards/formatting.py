"""How numbers read on the pages (one place, so tests and pages agree)."""

from __future__ import annotations


def video_clock(seconds: float) -> str:
    """Video time as ``m:ss`` or ``h:mm:ss``."""
    whole = int(seconds)
    hours, rest = divmod(whole, 3600)
    minutes, secs = divmod(rest, 60)
    return f"{hours}:{minutes:02d}:{secs:02d}" if hours else f"{minutes}:{secs:02d}"


def share(value: float | None) -> str:
    """A fraction as a percentage with one decimal; an en dash when there is nothing to divide."""
    return "–" if value is None else f"{value:.1%}"

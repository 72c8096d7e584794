"""A student's accommodations for one exam, and the one rule that suppresses a flag by them.

Admins set them (API or dashboard); both paths ask :func:`suppression_reason` about each flag:
the batch analysis before it writes gold ``incidents``, the API before it shows or alerts a
realtime incident. A suppressed flag is counted (``suppressed_incidents``), never raised.
The record is checked when it is built, so an accommodation naming an incident type nothing
emits is refused instead of silently never applying.
"""

from __future__ import annotations

import datetime as dt
import json
import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field

from proctorlake.core.vocabulary import (
    DETECTED_INCIDENT_TYPES,
    IncidentType,
    SuppressionReason,
)

MAX_BREAKS = 20
MAX_BREAK_S = 3600.0
DEFAULT_BREAK_S = 600.0
"""Ten minutes: a common test-centre allowance for a rest break."""

BREAK_GRACE_S = 10.0
"""An absence that starts or ends this close to a break still belongs to it: the student
clicks the button, then stands up; sits down, then clicks to resume."""

ABSENCE_INCIDENT_TYPES: tuple[IncidentType, ...] = (
    IncidentType.FACE_NOT_VISIBLE,
    IncidentType.GAZE_AWAY,
    IncidentType.STREAM_GAP,
)
"""What being away from the desk during an approved break looks like to the detectors."""


class AccommodationError(ValueError):
    """The accommodation names something the product does not have, or an impossible value."""


@dataclass(frozen=True)
class Accommodation:
    """``exempt_incident_types``: never raised for this student (e.g. ``gaze_away`` for a
    student who reads aloud to the side); ``breaks_allowed`` breaks of at most
    ``break_max_s`` each; ``min_duration_s``: per incident type, a flag shorter than this is
    not raised (a per-detector threshold, on top of the rules' own 3 s)."""

    exempt_incident_types: tuple[IncidentType, ...] = ()
    breaks_allowed: int = 0
    break_max_s: float = DEFAULT_BREAK_S
    min_duration_s: Mapping[str, float] = field(default_factory=dict)

    def __post_init__(self) -> None:
        known = [t.value for t in DETECTED_INCIDENT_TYPES]
        exempt = []
        for name in self.exempt_incident_types:
            if name not in known:
                raise AccommodationError(
                    f"exempt incident type {name!r} is not a detector's; choose from {known}"
                )
            exempt.append(IncidentType(name))
        thresholds = {}
        for name, seconds in dict(self.min_duration_s).items():
            if name not in known:
                raise AccommodationError(f"threshold for {name!r}: choose from {known}")
            if not isinstance(seconds, int | float) or not 0 <= seconds <= 86400:
                raise AccommodationError(f"threshold for {name!r} must be 0-86400 s")
            thresholds[IncidentType(name).value] = float(seconds)
        if not isinstance(self.breaks_allowed, int) or not 0 <= self.breaks_allowed <= MAX_BREAKS:
            raise AccommodationError(f"breaks_allowed must be 0-{MAX_BREAKS}")
        if not 0 < float(self.break_max_s) <= MAX_BREAK_S:
            raise AccommodationError(f"break_max_s must be 1-{MAX_BREAK_S:.0f}")
        object.__setattr__(self, "exempt_incident_types", tuple(sorted(set(exempt))))
        object.__setattr__(self, "min_duration_s", dict(sorted(thresholds.items())))
        object.__setattr__(self, "break_max_s", float(self.break_max_s))

    def to_dict(self) -> dict:
        return {
            "exempt_incident_types": [t.value for t in self.exempt_incident_types],
            "breaks_allowed": self.breaks_allowed,
            "break_max_s": self.break_max_s,
            "min_duration_s": dict(self.min_duration_s),
        }

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), sort_keys=True)

    @classmethod
    def from_dict(cls, data: Mapping) -> Accommodation:
        return cls(
            tuple(data.get("exempt_incident_types", ())),
            data.get("breaks_allowed", 0),
            data.get("break_max_s", DEFAULT_BREAK_S),
            dict(data.get("min_duration_s", {})),
        )

    @classmethod
    def from_json(cls, text: str | None) -> Accommodation:
        return cls.from_dict(json.loads(text)) if text else cls()


NO_ACCOMMODATION = Accommodation()


@dataclass(frozen=True)
class BreakWindow:
    """A break on a path's own timeline (seconds from that path's origin); ``end_s`` is None
    while the break is still open."""

    start_s: float
    end_s: float | None


def break_windows(
    breaks: Iterable[tuple[dt.datetime, dt.datetime | None]],
    origin: dt.datetime,
    break_max_s: float,
) -> list[BreakWindow]:
    """Wall-clock breaks on a path's timeline (batch: the session's start; stream: its
    creation). A break never counts longer than the allowance, open or not."""
    windows = []
    for started, ended in breaks:
        start = (started - origin).total_seconds()
        end = start + break_max_s
        if ended is not None:
            end = min(end, (ended - origin).total_seconds())
        windows.append(BreakWindow(start, end if ended is not None else None))
    return windows


def _within(window: BreakWindow, start_s: float, end_s: float, max_s: float) -> bool:
    stop = window.start_s + max_s if window.end_s is None else window.end_s
    return start_s >= window.start_s - BREAK_GRACE_S and end_s <= stop + BREAK_GRACE_S


def suppression_reason(
    incident_type: str,
    start_s: float,
    end_s: float,
    accommodation: Accommodation,
    breaks: Sequence[BreakWindow] = (),
) -> SuppressionReason | None:
    """Why this flag is not raised for this student (None: it is raised).

    ``end_s`` may be the end so far of an incident still open: a realtime incident shorter
    than its threshold is suppressed until it grows past it."""
    if incident_type in accommodation.exempt_incident_types:
        return SuppressionReason.EXEMPT
    threshold = accommodation.min_duration_s.get(incident_type)
    if threshold is not None and end_s - start_s < threshold - 1e-9:
        return SuppressionReason.THRESHOLD
    if incident_type in ABSENCE_INCIDENT_TYPES and any(
        _within(w, start_s, end_s, accommodation.break_max_s) for w in breaks
    ):
        return SuppressionReason.BREAK
    return None


def describe(accommodation: Accommodation) -> str:
    """One line for a page: what this student is allowed."""
    parts = []
    if accommodation.exempt_incident_types:
        parts.append(f"exempt: {', '.join(accommodation.exempt_incident_types)}")
    if accommodation.breaks_allowed:
        minutes = math.ceil(accommodation.break_max_s / 60)
        parts.append(f"{accommodation.breaks_allowed} break(s) of {minutes} min")
    parts += [f"{t} only after {s:g} s" for t, s in accommodation.min_duration_s.items()]
    return "; ".join(parts) or "none"

"""An exam's policy: what alerts a proctor and what may act on a session by itself.

Only the API applies it (workers publish facts). A policy is checked when it is built, so one
that names an incident type nothing emits, or an unknown severity, is refused at load instead
of silently never firing.
"""

from __future__ import annotations

import json
from dataclasses import dataclass

from proctorlake.core.vocabulary import (
    EMITTED_INCIDENT_TYPES,
    IncidentType,
    RecordingMode,
    Severity,
)


class ExamPolicyError(ValueError):
    """The policy names something the product does not have."""


@dataclass(frozen=True)
class ExamPolicy:
    """``extreme_incident_types`` are the only incidents that end a session automatically;
    every other flag only queues for human review. The default names none: the one case the
    product's charter allows to act alone is another person taking over the exam, and no
    detector emits that yet."""

    extreme_incident_types: tuple[IncidentType, ...] = ()
    alert_min_severity: Severity = Severity.MEDIUM
    liveness_required: bool = True
    """The identity check needs a selfie burst that shows a live person (the default; an exam
    may waive it, e.g. for a supervised test centre)."""
    recording: RecordingMode = RecordingMode.SERVER
    """Where the recording is made: the gateway (``server``) or the browser's upload
    (``client``, for networks that block WebRTC)."""

    def __post_init__(self) -> None:
        extreme = []
        for name in self.extreme_incident_types:
            if name not in EMITTED_INCIDENT_TYPES:
                raise ExamPolicyError(
                    f"policy names incident type {name!r}, which nothing emits; "
                    f"choose from {[t.value for t in EMITTED_INCIDENT_TYPES]}"
                )
            extreme.append(IncidentType(name))
        if self.alert_min_severity not in list(Severity):
            raise ExamPolicyError(
                f"alert_min_severity {self.alert_min_severity!r} is not one of "
                f"{[s.value for s in Severity]}"
            )
        object.__setattr__(self, "extreme_incident_types", tuple(extreme))
        object.__setattr__(self, "alert_min_severity", Severity(self.alert_min_severity))
        if self.recording not in list(RecordingMode):
            raise ExamPolicyError(
                f"recording {self.recording!r} is not one of {[m.value for m in RecordingMode]}"
            )
        object.__setattr__(self, "recording", RecordingMode(self.recording))

    def alerts(self, severity: str) -> bool:
        """Whether an incident of ``severity`` alerts a live proctor."""
        return Severity.rank_of(severity) >= self.alert_min_severity.rank

    def ends_session_on(self, incident_type: str) -> bool:
        return incident_type in self.extreme_incident_types

    def to_json(self) -> str:
        return json.dumps(
            {
                "extreme_incident_types": [t.value for t in self.extreme_incident_types],
                "alert_min_severity": self.alert_min_severity.value,
                "liveness_required": self.liveness_required,
                "recording": self.recording.value,
            }
        )

    @classmethod
    def from_stored_json(cls, text: str | None) -> ExamPolicy:
        """The policy stored with an existing session. Sessions created before a type was
        retired (``different_person`` was the default before anything emitted it) keep
        working: a type nothing emits could never fire, so dropping it changes nothing."""
        if not text:
            return cls()
        data = json.loads(text)
        emitted = [t for t in data.get("extreme_incident_types", ()) if t in EMITTED_INCIDENT_TYPES]
        return cls._from_dict({**data, "extreme_incident_types": emitted})

    @classmethod
    def from_json(cls, text: str | None) -> ExamPolicy:
        """A policy given as JSON (the default when none was given); refused when it names a
        type nothing emits."""
        return cls._from_dict(json.loads(text)) if text else cls()

    @classmethod
    def _from_dict(cls, data: dict) -> ExamPolicy:
        return cls(
            tuple(data.get("extreme_incident_types", ())),
            data.get("alert_min_severity", Severity.MEDIUM),
            bool(data.get("liveness_required", True)),
            data.get("recording", RecordingMode.SERVER),
        )

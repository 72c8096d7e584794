"""Retention periods: the default from settings, overridden per institution by a JSON file.

Pure configuration, read by the retention run, the storage lifecycle rules and the CLI; it
imports nothing else of governance, so every one of them can build on it.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field

from proctorlake.core.settings import Settings


class RetentionPolicyError(ValueError):
    """The per-institution retention file is unreadable or names a bad period."""


@dataclass(frozen=True)
class RetentionPolicy:
    default_days: int
    institutions: dict[str, int] = field(default_factory=dict)

    def days_for(self, institution_id: str) -> int:
        return self.institutions.get(institution_id, self.default_days)

    def periods(self) -> list[int]:
        """Every distinct retention period in use (for lifecycle rules)."""
        return sorted({self.default_days, *self.institutions.values()})


def _check_days(days: object, where: str) -> int:
    if not isinstance(days, int) or isinstance(days, bool) or days < 1:
        raise RetentionPolicyError(f"{where}: retention_days must be a positive whole number")
    return days


def load_retention_policy(settings: Settings) -> RetentionPolicy:
    """The default from settings plus the overrides file, if there is one.

    File format: ``{"institutions": {"uni-north": {"retention_days": 1095}}}``.
    """
    default = _check_days(settings.retention_days, "PROCTORLAKE_RETENTION_DAYS")
    path = settings.retention_policy_path
    if path is None or not path.exists():
        return RetentionPolicy(default)
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        entries = data.get("institutions", {})
        if not isinstance(entries, dict):
            raise TypeError("'institutions' must be an object")
        overrides = {
            str(inst): _check_days(entry.get("retention_days"), f"{path}: {inst}")
            for inst, entry in entries.items()
        }
    except (OSError, ValueError, TypeError, AttributeError) as exc:
        if isinstance(exc, RetentionPolicyError):
            raise
        raise RetentionPolicyError(f"{path}: not a retention policy ({exc})") from exc
    return RetentionPolicy(default, overrides)

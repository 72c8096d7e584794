"""The broker: crypto-shredding, because a Kafka log cannot forget one record on demand.

Records that carry personal data (frames, session and proctor events) are sealed by their
producers with a per-session key (``proctorlake.governance.keystore``).
Deleting them from the broker is
not possible in any useful time: compaction only drops records superseded by a newer value
for the same key and never touches the active segment, and older segments are removed only
when retention expires for the whole segment (days), in every replica and backup. Destroying
the session's key makes every copy unreadable at once, wherever it sits. The key store also
leaves an "erased" marker, so a producer can never seal new records for an erased session.
"""

from __future__ import annotations

from proctorlake.core.settings import Settings
from proctorlake.governance.keystore import destroy_session_key


def destroy_session_keys(settings: Settings, session_ids: list[str]) -> dict:
    destroyed = sum(1 for s in session_ids if destroy_session_key(settings, s))
    return {"keys_destroyed": destroyed, "sessions_sealed_off": len(session_ids)}

"""Whether a consumer group of the stream path is ready: every member joined, partitions dealt.

Workers join their group after loading their models; until the group is stable, frames queue
on the topic. The latency bench waits for this before its sessions start (``proctorlake up``
does not wait yet).
"""

from __future__ import annotations

import time
from dataclasses import dataclass

from kafka.admin import KafkaAdminClient
from kafka.errors import KafkaError

from proctorlake.core.settings import Settings
from proctorlake.storage.kafka_security import connection_options


@dataclass(frozen=True)
class GroupState:
    group_id: str
    state: str
    members: int

    def ready(self, members: int) -> bool:
        return self.state == "Stable" and self.members >= members


def _admin(settings: Settings) -> KafkaAdminClient:
    return KafkaAdminClient(
        bootstrap_servers=settings.kafka_bootstrap,
        request_timeout_ms=5000,
        **connection_options(settings),
    )


def _describe(admin: KafkaAdminClient, group_id: str) -> GroupState:
    try:
        info = admin.describe_groups([group_id])[group_id]
    except KafkaError as exc:
        if not exc.retriable:
            raise
        return GroupState(group_id, type(exc).__name__, 0)
    return GroupState(group_id, info.get("group_state", ""), len(info.get("members") or []))


def describe_group(settings: Settings, group_id: str) -> GroupState:
    """The group's state as the broker's coordinator sees it ("Dead" when it never existed;
    the retriable error's name while the coordinator is still being set up)."""
    admin = _admin(settings)
    try:
        return _describe(admin, group_id)
    finally:
        admin.close()


def wait_for_group(
    settings: Settings, group_id: str, members: int, timeout_s: float = 60.0
) -> GroupState:
    """Block until ``group_id`` is stable with at least ``members`` members; TimeoutError else."""
    deadline = time.monotonic() + timeout_s
    admin = _admin(settings)
    try:
        while True:
            state = _describe(admin, group_id)
            if state.ready(members):
                return state
            if time.monotonic() >= deadline:
                raise TimeoutError(
                    f"consumer group {group_id!r} is {state.state or 'unknown'} with "
                    f"{state.members} of {members} members after {timeout_s:.0f} s"
                )
            time.sleep(0.2)
    finally:
        admin.close()

"""The proof on the local backend: erase one student among three, then look at every byte.

Everything lives under one PROCTORLAKE_HOME: Delta tables, objects, caches, keys and the
real broker's log segments. Before erasure the scan must find the student (so the scan can
fail); after it, nothing: not the id, name or email, not a frame of their video, not a JPEG
they streamed. Time travel before the erasure fails, the other students keep every row and
object, and records on the topics can no longer be unsealed.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from deltalake import DeltaTable

from proctorlake.core import topics
from proctorlake.core.settings import Settings
from proctorlake.governance import keystore
from proctorlake.governance.erasure import erase, verify_certificate
from proctorlake.governance.erasure.delta_tables import count_session_rows, tables_in_erasure_order
from proctorlake.storage import lake
from proctorlake.storage.object_store import object_keys_for_session, open_object_store
from tests.fixtures.erasure import (
    build_lakehouse,
    iter_home_files,
    scan,
    student_frame_hashes,
    student_needles,
)
from tests.fixtures.waiting import read_topic_to_end


def session_row_counts(settings: Settings) -> dict[tuple[str, str], int]:
    counts: dict[tuple[str, str], int] = {}
    for ref in tables_in_erasure_order(settings):
        for session_id in lake.read_table(settings, ref.name).column("session_id").to_pylist():
            counts[(ref.name, session_id)] = counts.get((ref.name, session_id), 0) + 1
    return counts


def session_objects(settings: Settings, session_id: str) -> dict[str, bytes]:
    store = open_object_store(settings)
    return {k: store.get_bytes(k) for k in store.list(object_keys_for_session(session_id))}


def consume_all(settings: Settings, topic: topics.Topic) -> list:
    """Every record on the topic, read to its end offsets (not until a quiet spell)."""
    return read_topic_to_end(settings.kafka_bootstrap, topic.name, topic.partitions)


@pytest.mark.slow
def test_erased_student_leaves_no_byte_and_others_stay_intact(
    broker_settings: Settings, tmp_path: Path
) -> None:
    settings = broker_settings
    students = build_lakehouse(settings, tmp_path / "work", settings.kafka_bootstrap)
    alice, others = students[0], students[1:]
    frames = student_frame_hashes(settings, alice, tmp_path / "frames")
    needles = student_needles(alice)
    assert len(frames) > 20 and len(needles) == 3 + 10

    before = scan(iter_home_files(settings.home), needles, frames, tmp_path / "scan")
    found = {hit.needle for hit in before}
    assert {"student id", "name", "email", "video frame"} <= found, found
    segments = [data for where, data in iter_home_files(settings.home) if where.endswith(".log")]
    assert any(alice.session_ids[0].encode() in data for data in segments), "her records are there"
    counts_before = session_row_counts(settings)
    objects_before = {s: session_objects(settings, s) for o in others for s in o.session_ids}
    versions_before = {
        ref.name: DeltaTable(lake.delta_uri(settings, ref.name)).version()
        for ref in tables_in_erasure_order(settings)
        if count_session_rows(settings, ref.name, alice.session_ids)
    }

    certificate = erase(settings, alice.student_id)

    # Not one byte of Alice anywhere under the home: tables, logs, objects, caches, broker.
    after = scan(iter_home_files(settings.home), needles, frames, tmp_path / "scan")
    assert after == [], [(h.where, h.needle) for h in after]
    assert any((settings.kafka_dir).rglob("*.log")), "the broker's segments were scanned"

    # Time travel to any version before the erasure fails in every table that held her rows.
    for name, version in versions_before.items():
        with pytest.raises(Exception):  # noqa: B017 - delta-rs raises its own error types
            DeltaTable(lake.delta_uri(settings, name), version=version).to_pyarrow_table()

    # Everyone else is intact: same rows per table and session, same object bytes.
    counts_after = session_row_counts(settings)
    alice_sessions = set(alice.session_ids)
    assert counts_after == {k: v for k, v in counts_before.items() if k[1] not in alice_sessions}
    assert {s: session_objects(settings, s) for o in others for s in o.session_ids} == (
        objects_before
    )
    for other in others:
        assert student_frame_hashes(settings, other, tmp_path / "frames") & frames == set()

    # The broker still holds the records, sealed: Alice's cannot be opened, the others' can.
    records = consume_all(settings, topics.FRAMES_WEBCAM) + consume_all(settings, topics.SESSIONS)
    assert len(records) == sum(6 * len(s.session_ids) for s in students)
    for record in records:
        session_id = record.key.decode()
        if session_id in alice_sessions:
            with pytest.raises(keystore.KeyErased):
                keystore.unseal(settings, session_id, record.value)
        else:
            assert keystore.unseal(settings, session_id, record.value)
    with pytest.raises(keystore.KeyErased):  # and nothing new can be sealed for her sessions
        keystore.seal(settings, alice.session_ids[0], b"late frame")

    # The certificate: signed, complete, and what the audit table holds.
    assert verify_certificate(certificate, settings)
    body = certificate.body
    assert not body["noop"] and body["session_ids"] == sorted(alice.session_ids)
    tables = body["stores"]["delta_tables"]
    assert tables["exam_sessions"]["rows_removed"] == 2
    assert tables["detection_events"]["rows_removed"] == 6
    assert body["stores"]["objects"]["objects_removed"] >= 10
    assert body["stores"]["broker"]["keys_destroyed"] == 2
    log_rows = lake.read_table(settings, "erasure_log").to_pylist()
    assert [r["request_id"] for r in log_rows] == [certificate.request_id]
    assert json.loads(log_rows[0]["certificate_json"]) == body

    # Institution counts survive without any link back.
    kept = lake.read_table(settings, "anonymized_sessions").to_pylist()
    assert sorted(r["institution_id"] for r in kept) == ["uni-north", "uni-north"]
    assert sum(r["incident_count"] for r in kept) == 2
    assert not any(alice.student_id in json.dumps(r, default=str) for r in kept)

"""The proof on S3: a real S3 API server on 127.0.0.1 (moto), versioned bucket.

On a versioned bucket every delete only stacks a marker: the bytes of each recording, each
replaced identity photo and each Delta file stay readable by version id. After erasure,
every version of every object in the bucket and every file under the home is scanned.
"""

from __future__ import annotations

import itertools
from pathlib import Path

import pytest
from deltalake import DeltaTable

from proctorlake.core.settings import Settings
from proctorlake.governance.erasure import erase, verify_certificate
from proctorlake.governance.erasure.delta_tables import count_session_rows, tables_in_erasure_order
from proctorlake.storage import lake
from proctorlake.storage.object_store import S3ObjectStore
from tests.fixtures.erasure import (
    build_lakehouse,
    iter_bucket_versions,
    iter_home_files,
    scan,
    student_frame_hashes,
    student_needles,
)


def everything(settings: Settings):
    return itertools.chain(iter_bucket_versions(settings), iter_home_files(settings.home))


@pytest.mark.slow
def test_erasure_on_a_versioned_bucket_leaves_no_version(
    s3_settings: Settings, tmp_path: Path
) -> None:
    settings = s3_settings
    students = build_lakehouse(settings, tmp_path / "work")
    alice, others = students[0], students[1:]
    frames = student_frame_hashes(settings, alice, tmp_path / "frames")
    needles = student_needles(alice)
    store = S3ObjectStore(settings)
    noncurrent = [
        v
        for v in store.client.list_object_versions(Bucket=store.bucket)["Versions"]
        if not v["IsLatest"]
    ]
    assert noncurrent, "the bucket really keeps old versions"

    before = {hit.needle for hit in scan(everything(settings), needles, frames, tmp_path / "s")}
    assert {"student id", "name", "email", "video frame"} <= before, before
    rows_before = {
        ref.name: lake.read_table(settings, ref.name).num_rows
        for ref in tables_in_erasure_order(settings)
    }
    versions_before = {
        ref.name: DeltaTable(
            lake.delta_uri(settings, ref.name), storage_options=lake.storage_options(settings)
        ).version()
        for ref in tables_in_erasure_order(settings)
        if count_session_rows(settings, ref.name, alice.session_ids)
    }
    other_frames = {o.student_id: student_frame_hashes(settings, o, tmp_path / "f") for o in others}

    certificate = erase(settings, alice.student_id)

    after = scan(everything(settings), needles, frames, tmp_path / "s")
    assert after == [], [(h.where, h.needle) for h in after]
    for name, version in versions_before.items():
        with pytest.raises(Exception):  # noqa: B017 - delta-rs raises its own error types
            DeltaTable(
                lake.delta_uri(settings, name),
                version=version,
                storage_options=lake.storage_options(settings),
            ).to_pyarrow_table()
            pytest.fail(f"{name} still reads version {version}")
    removed = certificate.body["stores"]["delta_tables"]
    for name, count in rows_before.items():
        assert lake.read_table(settings, name).num_rows == count - removed[name]["rows_removed"]
    assert removed["exam_sessions"]["rows_removed"] == 2
    for other in others:
        assert (
            student_frame_hashes(settings, other, tmp_path / "f") == other_frames[other.student_id]
        )
    objects = certificate.body["stores"]["objects"]
    assert objects["versions_removed"] > objects["objects_removed"]  # old versions went too
    assert objects["delete_markers_removed"] >= 2
    assert verify_certificate(certificate, settings)

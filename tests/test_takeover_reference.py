"""A verified identity is the takeover check's reference (issue 13, item 6).

``proctorlake.services.identity.verified_face`` reads the session's latest identity record
(Delta, written by deltalake as the API does) and its stored selfie; the batch rules get it
joined onto the session's detection rows.
"""

from __future__ import annotations

import datetime as dt
import json

import cv2
import numpy as np
import pandas as pd

from models.embeddings import detect_and_embed, paired_distances
from models.webcam import THUMBNAIL_SIZE, WebcamObservation
from proctorlake.core import schemas
from proctorlake.samples import Segment, WebcamScript, render_webcam_frames
from proctorlake.services.identity import identity_object_key, verified_face
from proctorlake.storage import lake
from proctorlake.storage.object_store import open_object_store
from spark_jobs.observation_rows import incidents_for_session

AT = dt.datetime(2026, 1, 12, 9, tzinfo=dt.UTC)


def identity_record(session_id: str, verified: bool, at: dt.datetime) -> dict:
    return {
        "record_id": f"idv-{session_id}-{at.minute}",
        "session_id": session_id,
        "institution_id": "inst-a",
        "exam_id": "exam-1",
        "student_id": "student-1",
        "verified": verified,
        "similarity_score": 0.7 if verified else 0.2,
        "ocr_name": None,
        "ocr_id_number": None,
        "liveness": None,
        "signature": None,
        "verified_at": at,
        "month": at.strftime("%Y-%m"),
    }


def test_the_latest_verified_selfie_is_the_reference_and_a_failed_retry_drops_it(settings):
    script = WebcamScript((Segment("present", 1.0),), face="grace_hopper")
    selfie = next(render_webcam_frames(script, seed=1, fps=1))
    ok, jpeg = cv2.imencode(".jpg", selfie[:, :, ::-1])
    assert ok
    assert verified_face(settings, "s-ref") is None  # no identity table yet
    open_object_store(settings).put_bytes(identity_object_key("s-ref", "selfie"), jpeg.tobytes())
    lake.append_rows(settings, schemas.IDENTITY_VERIFICATIONS, [identity_record("s-ref", True, AT)])

    face = verified_face(settings, "s-ref")
    assert face is not None and face.shape == (128,)
    (same,) = detect_and_embed(selfie)
    assert paired_distances(face, same.vector)[0] < 0.1

    later = AT + dt.timedelta(minutes=5)
    lake.append_rows(
        settings, schemas.IDENTITY_VERIFICATIONS, [identity_record("s-ref", False, later)]
    )
    assert verified_face(settings, "s-ref") is None
    assert verified_face(settings, "s-other") is None


def _rows(observations, reference) -> pd.DataFrame:
    return pd.DataFrame(
        [
            {
                "session_id": "s-ref",
                "institution_id": "inst-a",
                "session_date": "2026-01-12",
                "track": "webcam",
                "detail": json.dumps(o.to_dict()),
                "session_started_at": AT,
                "takeover_reference": reference,
            }
            for o in observations
        ]
    )


def test_the_batch_rules_compare_with_the_joined_reference_from_the_first_sample():
    """A stranger sits the whole recording: only a verified reference can tell."""
    stranger = tuple(np.eye(128)[1])
    thumb = bytes(THUMBNAIL_SIZE[0] * THUMBNAIL_SIZE[1] * 3)
    observations = [
        WebcamObservation(t, 0, (), None, None, None, 640, 480, thumb, embedding=stranger)
        for t in (0.0, 30.0, 60.0)
    ]
    assert incidents_for_session(_rows(observations, None)).empty
    verified = np.eye(128, dtype=np.float32)[0]
    out = incidents_for_session(_rows(observations, verified))
    assert out["incident_type"].tolist() == ["different_person"]
    assert (out["start_s"].iloc[0], out["severity"].iloc[0]) == (0.0, "high")

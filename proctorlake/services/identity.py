"""Pre-exam identity verification of a session's student: check, sign, store, announce.

The API router and the ``verify-identity`` command both come here. ``check_uploads`` runs
``models.identity_verification`` on the uploaded bytes; ``verify_session_student`` does that
for a session and then keeps the evidence: the two photos (re-encoded as JPEG, which drops
EXIF metadata) at ``sessions/{id}/identity/``, an Ed25519-signed ``identity_verifications``
row, and a ``verified`` event on the sealed ``sessions`` topic.

What the card must say comes from the roster (the session row: the name and ID number given
at session creation or by the LMS launch), never from the student's request. The exam
policy decides whether a live selfie burst is required, and it is unless the exam waives
it. A check that runs but fails does not block the student: its event says
``review_required`` and a proctor looks. Unusable input raises ``IdentityInputError``
before anything is stored or published.
"""

from __future__ import annotations

import datetime as dt
import json
import uuid
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from models.identity_verification import (
    MAX_BURST_FRAME_BYTES,
    MAX_BURST_FRAMES,
    IdentityCheck,
    IdentityInputError,
    check_identity,
    decode_image,
)
from proctorlake.core import schemas
from proctorlake.core.messages import SessionEventMessage
from proctorlake.core.settings import Settings
from proctorlake.core.vocabulary import SessionEventType
from proctorlake.governance import erased_sessions, sealed_topics
from proctorlake.governance.signing import sign_record
from proctorlake.storage import lake
from proctorlake.storage.object_store import ObjectNotFound, open_object_store


@dataclass(frozen=True)
class IdentitySubject:
    """Whose identity is checked, and what the roster and the exam policy expect."""

    session_id: str
    institution_id: str
    exam_id: str
    student_id: str
    roster_name: str | None
    roster_id_number: str | None
    liveness_required: bool = True


@dataclass(frozen=True)
class IdentityUploads:
    """The photos as sent: the ID card, a selfie, and the selfie burst (may be empty)."""

    id_photo: bytes
    selfie: bytes
    burst: Sequence[bytes] = ()


@dataclass(frozen=True)
class IdentityOutcome:
    """A completed check and the signed record it left."""

    check: IdentityCheck
    record_id: str
    signature: str


def identity_object_key(session_id: str, name: str) -> str:
    return f"sessions/{session_id}/identity/{name}.jpg"


def verified_face(settings: Settings, session_id: str) -> np.ndarray | None:
    """The 128-d face of the session's verified selfie: the takeover check's reference
    (``models.takeover``). None when the session's latest identity check was not verified
    (its stored selfie is then not a verified face) or there was none: the check then learns
    the session's first minute instead."""
    import pyarrow as pa
    import pyarrow.compute as pc

    from models.embeddings import detect_and_embed

    table = lake.open_table(settings, schemas.IDENTITY_VERIFICATIONS.name)
    if table is None:
        return None
    rows = (
        table.to_pyarrow_dataset()
        .to_table(
            filter=pc.field("session_id").cast(pa.string()) == session_id,
            columns=["verified", "verified_at"],
        )
        .to_pylist()
    )
    if not rows or not max(rows, key=lambda row: row["verified_at"])["verified"]:
        return None
    try:
        jpeg = open_object_store(settings).get_bytes(identity_object_key(session_id, "selfie"))
    except ObjectNotFound:
        return None  # erased since
    faces = detect_and_embed(decode_image(jpeg, "selfie_photo"))
    return faces[0].vector if faces else None


def check_uploads(
    uploads: IdentityUploads,
    expected_name: str | None,
    expected_id_number: str | None,
    liveness_required: bool,
) -> tuple[IdentityCheck, dict[str, np.ndarray]]:
    """Decode the uploads and run the check; returns it with the decoded ID photo and selfie."""
    if len(uploads.burst) > MAX_BURST_FRAMES:
        raise IdentityInputError(413, f"a burst has at most {MAX_BURST_FRAMES} frames")
    if liveness_required and not uploads.burst:
        raise IdentityInputError(
            422,
            "this exam requires a liveness check: send a selfie burst (a few seconds of "
            "camera frames, field 'burst') with the photos",
        )
    id_image = decode_image(uploads.id_photo, "id_photo")
    selfie = decode_image(uploads.selfie, "selfie_photo")
    burst = [
        decode_image(frame, f"burst frame {i}", MAX_BURST_FRAME_BYTES)
        for i, frame in enumerate(uploads.burst)
    ]
    check = check_identity(id_image, selfie, burst or None, expected_name, expected_id_number)
    return check, {"id_photo": id_image, "selfie": selfie}


def verify_session_student(
    settings: Settings, producer, subject: IdentitySubject, uploads: IdentityUploads
) -> IdentityOutcome:
    """Check the session's student against the roster, then store, sign and announce it."""
    check, images = check_uploads(
        uploads, subject.roster_name, subject.roster_id_number, subject.liveness_required
    )
    store = open_object_store(settings)
    record = build_record(settings, subject, check)
    with erased_sessions.admitted_session(settings, subject.session_id):
        for name, image in images.items():
            store.put_bytes(identity_object_key(subject.session_id, name), _jpeg(image))
        lake.append_rows(settings, schemas.IDENTITY_VERIFICATIONS, [record])
    publish_verified(settings, producer, subject, check, record)
    return IdentityOutcome(check, record["record_id"], record["signature"])


def signed_payload(record: dict) -> dict:
    """The fields the signature covers (the row minus the signature and partition column)."""
    payload = {k: v for k, v in record.items() if k not in ("signature", "month")}
    payload["verified_at"] = record["verified_at"].isoformat()
    return payload


def build_record(settings: Settings, subject: IdentitySubject, check: IdentityCheck) -> dict:
    """An ``identity_verifications`` row, signed: institution, exam, student, score, time."""
    now = dt.datetime.now(dt.UTC).replace(microsecond=0)
    record = {
        "record_id": f"idv-{uuid.uuid4().hex}",
        "session_id": subject.session_id,
        "institution_id": subject.institution_id,
        "exam_id": subject.exam_id,
        "student_id": subject.student_id,
        "verified": check.verified,
        "similarity_score": check.similarity_score,
        "ocr_name": check.ocr_name,
        "ocr_id_number": check.ocr_id_number,
        "liveness": json.dumps(check.liveness.to_dict()) if check.liveness else None,
        "verified_at": now,
        "month": now.strftime("%Y-%m"),
    }
    record["signature"] = sign_record(settings, signed_payload(record))
    return record


def publish_verified(
    settings: Settings, producer, subject: IdentitySubject, check: IdentityCheck, record: dict
) -> None:
    """The ``verified`` event on the sealed ``sessions`` topic (it names the student)."""
    event = SessionEventMessage(
        event=SessionEventType.VERIFIED,
        session_id=subject.session_id,
        institution_id=subject.institution_id,
        student_id=subject.student_id,
        exam_id=subject.exam_id,
        verified=check.verified,
        review_required=not check.verified,
        record_id=record["record_id"],
        similarity_score=check.similarity_score,
        reasons=list(check.reasons),
        at=record["verified_at"],
    )
    sealed_topics.publish(settings, producer, event).get(timeout=15)


def _jpeg(image: np.ndarray) -> bytes:
    import cv2

    ok, encoded = cv2.imencode(".jpg", image[:, :, ::-1], [cv2.IMWRITE_JPEG_QUALITY, 92])
    if not ok:
        raise IdentityInputError(415, "the photo could not be re-encoded")
    return encoded.tobytes()

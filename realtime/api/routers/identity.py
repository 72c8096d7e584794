"""The `identity` resource: pre-exam identity verification of a session's student.

``POST /sessions/{session_id}/verify-identity`` takes the ID card photo, a selfie and an
optional selfie burst (a few dozen frames for liveness), runs ``models.identity_verification``
and answers ``{verified, similarity_score, ocr, liveness, record_id, ...}``. Every completed
check becomes an Ed25519-signed row in ``identity_verifications``; the two photos are stored
(re-encoded as JPEG, which drops EXIF metadata) at ``sessions/{id}/identity/``. A check that
fails does not block the student: it publishes a ``verified`` event with ``verified=false``
and ``review_required=true`` on the sealed ``sessions`` topic, which the proctor page shows
as a human review item. Bad input is refused before anything is stored or published.
"""

from __future__ import annotations

import datetime as dt
import json
import uuid
from typing import Annotated

import numpy as np
from fastapi import APIRouter, File, Form, UploadFile
from pydantic import BaseModel, Field
from starlette.concurrency import run_in_threadpool

from models.identity_verification import (
    MAX_BURST_FRAME_BYTES,
    MAX_BURST_FRAMES,
    MAX_IMAGE_BYTES,
    IdentityCheck,
    IdentityInputError,
    check_identity,
    decode_image,
)
from proctorlake.core import schemas
from proctorlake.core.messages import SessionEventMessage
from proctorlake.core.settings import Settings
from proctorlake.core.vocabulary import SessionEventType
from proctorlake.governance import sealed_topics
from proctorlake.governance.signing import sign_record
from proctorlake.storage import lake
from proctorlake.storage.object_store import open_object_store
from realtime.api.deps import Claims, Services, session_for
from realtime.api.frame_intake import FrameRejected
from realtime.api.session_registry import ExamSession

router = APIRouter(tags=["identity"])


class OcrReading(BaseModel):
    name: str | None
    id_number: str | None


class IdentityVerification(BaseModel):
    verified: bool
    similarity_score: float = Field(description="1 - embedding distance; same person >= 0.54")
    distance: float
    ocr: OcrReading
    name_matches: bool | None
    id_number_matches: bool | None
    liveness: dict | None
    reasons: list[str]
    review_required: bool
    record_id: str
    signature: str


def identity_object_key(session_id: str, name: str) -> str:
    return f"sessions/{session_id}/identity/{name}.jpg"


def signed_payload(record: dict) -> dict:
    """The fields the signature covers (the row minus the signature and partition column)."""
    payload = {k: v for k, v in record.items() if k not in ("signature", "month")}
    payload["verified_at"] = record["verified_at"].isoformat()
    return payload


def build_record(settings: Settings, session: ExamSession, check: IdentityCheck) -> dict:
    """An ``identity_verifications`` row, signed: institution, exam, student, score, time."""
    now = dt.datetime.now(dt.UTC).replace(microsecond=0)
    record = {
        "record_id": f"idv-{uuid.uuid4().hex}",
        "session_id": session.session_id,
        "institution_id": session.institution_id,
        "exam_id": session.exam_id,
        "student_id": session.student_id,
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


def _jpeg(image: np.ndarray) -> bytes:
    import cv2

    ok, encoded = cv2.imencode(".jpg", image[:, :, ::-1], [cv2.IMWRITE_JPEG_QUALITY, 92])
    if not ok:
        raise IdentityInputError(415, "the photo could not be re-encoded")
    return encoded.tobytes()


async def _read_upload(upload: UploadFile, what: str, limit: int) -> bytes:
    """The upload's bytes, refused with 413 as soon as it passes ``limit``."""
    chunks, size = [], 0
    while chunk := await upload.read(1024 * 1024):
        size += len(chunk)
        if size > limit:
            raise IdentityInputError(413, f"{what} passed the {limit}-byte limit")
        chunks.append(chunk)
    return b"".join(chunks)


def _record_and_publish(services, session: ExamSession, check: IdentityCheck, images) -> dict:
    settings = services.settings
    store = open_object_store(settings)
    for name, image in images.items():
        store.put_bytes(identity_object_key(session.session_id, name), _jpeg(image))
    record = build_record(settings, session, check)
    lake.append_rows(settings, schemas.IDENTITY_VERIFICATIONS, [record])
    event = SessionEventMessage(
        event=SessionEventType.VERIFIED,
        session_id=session.session_id,
        institution_id=session.institution_id,
        student_id=session.student_id,
        exam_id=session.exam_id,
        verified=check.verified,
        review_required=not check.verified,
        record_id=record["record_id"],
        similarity_score=check.similarity_score,
        reasons=list(check.reasons),
        at=record["verified_at"],
    )
    sealed_topics.publish(settings, services.producer, event).get(timeout=15)
    return record


@router.post(
    "/sessions/{session_id}/verify-identity",
    response_model=IdentityVerification,
    summary="Match a selfie to the ID card photo, read the card, check liveness",
)
async def verify_identity(
    session_id: str,
    claims: Claims,
    services: Services,
    id_photo: Annotated[UploadFile, File(description="photo of the ID card (JPEG/PNG)")],
    selfie_photo: Annotated[UploadFile, File(description="a selfie (JPEG/PNG)")],
    burst: Annotated[
        list[UploadFile] | None,
        File(description=f"optional selfie burst, up to {MAX_BURST_FRAMES} frames"),
    ] = None,
    expected_name: Annotated[str | None, Form(max_length=200)] = None,
    expected_id_number: Annotated[str | None, Form(max_length=64)] = None,
) -> IdentityVerification:
    session = session_for(services, claims, session_id)
    try:
        id_bytes = await _read_upload(id_photo, "id_photo", MAX_IMAGE_BYTES)
        selfie_bytes = await _read_upload(selfie_photo, "selfie_photo", MAX_IMAGE_BYTES)
        frames = burst or []
        if len(frames) > MAX_BURST_FRAMES:
            raise IdentityInputError(413, f"a burst has at most {MAX_BURST_FRAMES} frames")
        burst_bytes = [
            await _read_upload(f, f"burst frame {i}", MAX_BURST_FRAME_BYTES)
            for i, f in enumerate(frames)
        ]

        def work() -> tuple[IdentityCheck, dict]:
            id_image = decode_image(id_bytes, "id_photo")
            selfie = decode_image(selfie_bytes, "selfie_photo")
            burst_images = [
                decode_image(b, f"burst frame {i}", MAX_BURST_FRAME_BYTES)
                for i, b in enumerate(burst_bytes)
            ]
            check = check_identity(
                id_image, selfie, burst_images or None, expected_name, expected_id_number
            )
            images = {"id_photo": id_image, "selfie": selfie}
            return check, _record_and_publish(services, session, check, images)

        check, record = await run_in_threadpool(work)
    except IdentityInputError as exc:
        raise FrameRejected(exc.status, str(exc)) from exc
    return IdentityVerification(
        verified=check.verified,
        similarity_score=check.similarity_score,
        distance=check.distance,
        ocr=OcrReading(name=check.ocr_name, id_number=check.ocr_id_number),
        name_matches=check.name_matches,
        id_number_matches=check.id_number_matches,
        liveness=check.liveness.to_dict() if check.liveness else None,
        reasons=check.reasons,
        review_required=not check.verified,
        record_id=record["record_id"],
        signature=record["signature"],
    )

"""The `identity` resource: pre-exam identity verification of a session's student.

``POST /sessions/{session_id}/verify-identity`` takes the ID card photo, a selfie and a
selfie burst (a few dozen frames for liveness; required unless the exam's policy waives it)
and answers ``{verified, similarity_score, ocr, liveness, record_id, ...}``. The name and ID
number the card must show come from the session's roster, not from the request. HTTP only:
the check, the signed record, the stored photos and the ``verified`` event are
``proctorlake.services.identity``'s. Bad input, including an ID photo that is the selfie
again, is refused as a problem before anything is stored or published.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, File, UploadFile
from pydantic import BaseModel, Field
from starlette.concurrency import run_in_threadpool

from models.identity_verification import (
    MAX_BURST_FRAME_BYTES,
    MAX_BURST_FRAMES,
    MAX_IMAGE_BYTES,
    IdentityInputError,
)
from proctorlake.services.identity import IdentitySubject, IdentityUploads, verify_session_student
from realtime.api.deps import Claims, Services, session_for
from realtime.api.frame_intake import FrameRejected

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


async def _read_upload(upload: UploadFile, what: str, limit: int) -> bytes:
    """The upload's bytes, refused with 413 as soon as it passes ``limit``."""
    chunks, size = [], 0
    while chunk := await upload.read(1024 * 1024):
        size += len(chunk)
        if size > limit:
            raise IdentityInputError(413, f"{what} passed the {limit}-byte limit")
        chunks.append(chunk)
    return b"".join(chunks)


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
        File(description=f"selfie burst for liveness, up to {MAX_BURST_FRAMES} frames"),
    ] = None,
) -> IdentityVerification:
    session = session_for(services, claims, session_id)
    subject = IdentitySubject(
        session_id=session.session_id,
        institution_id=session.institution_id,
        exam_id=session.exam_id,
        student_id=session.student_id,
        roster_name=session.student_name,
        roster_id_number=session.student_id_number,
        liveness_required=session.policy.liveness_required,
    )
    try:
        frames = burst or []
        if len(frames) > MAX_BURST_FRAMES:
            raise IdentityInputError(413, f"a burst has at most {MAX_BURST_FRAMES} frames")
        uploads = IdentityUploads(
            id_photo=await _read_upload(id_photo, "id_photo", MAX_IMAGE_BYTES),
            selfie=await _read_upload(selfie_photo, "selfie_photo", MAX_IMAGE_BYTES),
            burst=[
                await _read_upload(f, f"burst frame {i}", MAX_BURST_FRAME_BYTES)
                for i, f in enumerate(frames)
            ],
        )
        outcome = await run_in_threadpool(
            verify_session_student, services.settings, services.producer, subject, uploads
        )
    except IdentityInputError as exc:
        raise FrameRejected(exc.status, str(exc)) from exc
    check = outcome.check
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
        record_id=outcome.record_id,
        signature=outcome.signature,
    )

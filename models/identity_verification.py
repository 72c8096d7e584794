"""Pre-exam identity check: ID photo vs selfie face match, ID card OCR, and liveness.

Pure: image bytes or arrays in, a typed result out. Storage, signing and publishing happen
at the edges (the API router and the CLI). Input problems a student can fix (no face, two
faces, not an image, too large) raise ``IdentityInputError`` with a message that says what
to do; a check that runs but does not pass returns ``verified=False`` with reasons, which
sends the student to a human reviewer instead of blocking them.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass, field

import numpy as np

from models.capture_reuse import reused_capture
from models.embeddings import (
    SAME_PERSON_MAX_DISTANCE,
    FaceEmbedding,
    detect_and_embed,
    paired_distances,
    similarity_from_distance,
)
from models.identity_text import IdCardText, id_numbers_match, names_match, read_id_card
from models.image_header import MAX_DECODE_PIXELS, ImageRejected, read_image_header
from models.liveness import LivenessResult, assess_liveness

MAX_IMAGE_BYTES = 10 * 1024 * 1024
MAX_IMAGE_PIXELS = MAX_DECODE_PIXELS  # a 48 MP phone photo is refused before it is decoded
MAX_BURST_FRAMES = 60
MAX_BURST_FRAME_BYTES = 2 * 1024 * 1024


class IdentityInputError(ValueError):
    """An input the check cannot use; ``status`` is the HTTP status that fits it."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status


@dataclass(frozen=True)
class IdentityCheck:
    verified: bool
    similarity_score: float
    distance: float
    ocr_name: str | None
    ocr_id_number: str | None
    name_matches: bool | None  # None when no expected name was given
    id_number_matches: bool | None
    liveness: LivenessResult | None  # None when no burst was sent
    reasons: list[str] = field(default_factory=list)

    def to_dict(self) -> dict:
        data = asdict(self)
        data["ocr"] = {"name": data.pop("ocr_name"), "id_number": data.pop("ocr_id_number")}
        return data


def decode_image(data: bytes, what: str, max_bytes: int = MAX_IMAGE_BYTES) -> np.ndarray:
    """RGB uint8 pixels of an uploaded JPEG/PNG/WebP, or a clear IdentityInputError."""
    import cv2

    if len(data) > max_bytes:
        raise IdentityInputError(413, f"{what} is {len(data)} bytes; the limit is {max_bytes}")
    if not data:
        raise IdentityInputError(400, f"{what} is empty")
    try:
        # header only: the pixel cap holds before any pixel is decoded
        read_image_header(data, what, MAX_IMAGE_PIXELS, ("JPEG", "PNG", "WEBP"))
    except ImageRejected as exc:
        if exc.status == 415:
            raise IdentityInputError(
                415, f"{what} is not an image (send a JPEG, PNG or WebP photo)"
            ) from exc
        raise IdentityInputError(exc.status, str(exc)) from exc
    image = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_COLOR)
    if image is None:
        raise IdentityInputError(415, f"{what} could not be decoded as an image")
    return cv2.cvtColor(image, cv2.COLOR_BGR2RGB)


def _one_face(faces: list[FaceEmbedding], what: str) -> FaceEmbedding:
    if not faces:
        raise IdentityInputError(
            422, f"no face found in the {what}: use a well-lit, front-facing, unobstructed photo"
        )
    if len(faces) > 1:
        raise IdentityInputError(
            422, f"{len(faces)} faces found in the {what}: exactly one person must be in it"
        )
    return faces[0]


def _id_face(faces: list[FaceEmbedding]) -> FaceEmbedding:
    """The card holder's portrait: the largest face (cards may print a small ghost copy)."""
    if not faces:
        return _one_face(faces, "ID photo")
    largest = max(faces, key=lambda f: f.box[2] * f.box[3])
    others = [f for f in faces if f is not largest and f.box[2] > 0.6 * largest.box[2]]
    if others:
        raise IdentityInputError(
            422, f"{len(others) + 1} faces found in the ID photo: show only the ID card"
        )
    return largest


def check_identity(
    id_photo: np.ndarray,
    selfie: np.ndarray,
    burst: Sequence[np.ndarray] | None = None,
    expected_name: str | None = None,
    expected_id_number: str | None = None,
    max_distance: float = SAME_PERSON_MAX_DISTANCE,
) -> IdentityCheck:
    """Match the selfie to the ID photo's face, read the card, and check liveness.

    Verified means: same person (distance within the calibrated threshold), the card's name
    and number match the expected ones when given, and the burst (when sent) is live and
    shows the selfie's person. An ID photo that is the selfie again (one capture sent twice)
    is refused outright: the face match would prove nothing.
    """
    id_face = _id_face(detect_and_embed(id_photo, upsample=1))
    selfie_face = _one_face(detect_and_embed(selfie, upsample=1), "selfie")
    distance = float(paired_distances(id_face.vector, selfie_face.vector)[0])
    reuse = reused_capture(id_photo, selfie, id_face.landmarks5, selfie_face.landmarks5, distance)
    if reuse:
        raise IdentityInputError(422, reuse)
    reasons = []
    if distance > max_distance:
        reasons.append(f"the selfie does not match the ID photo (distance {distance:.2f})")

    card: IdCardText = read_id_card(id_photo)
    name_ok = None
    if expected_name:
        name_ok = card.name is not None and names_match(expected_name, card.name)
        if not name_ok:
            reasons.append("the name on the ID card does not match the registered name")
    number_ok = None
    if expected_id_number:
        number_ok = card.id_number is not None and id_numbers_match(
            expected_id_number, card.id_number
        )
        if not number_ok:
            reasons.append("the ID number on the card does not match the registered one")

    liveness = None
    if burst:
        if len(burst) > MAX_BURST_FRAMES:
            raise IdentityInputError(413, f"a burst has at most {MAX_BURST_FRAMES} frames")
        liveness = assess_liveness(burst)
        if not liveness.passed:
            reasons.append(f"liveness not shown: {liveness.reason}")
        middle = detect_and_embed(burst[len(burst) // 2], upsample=1)
        if middle and paired_distances(middle[0].vector, selfie_face.vector)[0] > max_distance:
            reasons.append("the burst shows a different person from the selfie")

    return IdentityCheck(
        verified=not reasons,
        similarity_score=round(float(similarity_from_distance(distance)), 4),
        distance=round(distance, 4),
        ocr_name=card.name,
        ocr_id_number=card.id_number,
        name_matches=name_ok,
        id_number_matches=number_ok,
        liveness=liveness,
        reasons=reasons,
    )

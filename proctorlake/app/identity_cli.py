"""``proctorlake verify-identity``: the API's identity check on local files.

Prints the same fields as ``POST /sessions/{id}/verify-identity``; nothing is stored or
signed (there is no session), so ``record_id`` is null.
"""

from __future__ import annotations

from pathlib import Path

IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".webp", ".bmp")


def verify_identity_files(
    id_photo: Path,
    selfie: Path,
    burst_dir: Path | None = None,
    expected_name: str | None = None,
    expected_id_number: str | None = None,
) -> dict:
    """Run face match, OCR and (with a burst folder of frames, sorted by name) liveness.

    Raises ``models.identity_verification.IdentityInputError`` for unusable input and
    ``FileNotFoundError`` for missing files.
    """
    from models.identity_verification import MAX_BURST_FRAME_BYTES, check_identity, decode_image

    id_image = decode_image(Path(id_photo).read_bytes(), str(id_photo))
    selfie_image = decode_image(Path(selfie).read_bytes(), str(selfie))
    burst = None
    if burst_dir is not None:
        paths = sorted(p for p in Path(burst_dir).iterdir() if p.suffix.lower() in IMAGE_SUFFIXES)
        if not paths:
            raise FileNotFoundError(f"no image frames in {burst_dir}")
        burst = [decode_image(p.read_bytes(), str(p), MAX_BURST_FRAME_BYTES) for p in paths]
    check = check_identity(id_image, selfie_image, burst, expected_name, expected_id_number)
    result = check.to_dict()
    result["review_required"] = not check.verified
    result["record_id"] = None
    return result

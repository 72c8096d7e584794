"""``proctorlake verify-identity``: the API's identity check on local files.

Runs the same service as ``POST /sessions/{id}/verify-identity`` (the same checks, the same
refusal of one capture sent as both photos) and prints the same fields; nothing is stored or
signed (there is no session), so ``record_id`` is null. The operator names the expected
name and number here, as the roster does for the API.
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
    require_liveness: bool = False,
) -> dict:
    """Run face match, OCR and (with a burst folder of frames, sorted by name) liveness.

    Raises ``models.identity_verification.IdentityInputError`` for unusable input and
    ``FileNotFoundError`` for missing files.
    """
    from proctorlake.services.identity import IdentityUploads, check_uploads

    burst: list[bytes] = []
    if burst_dir is not None:
        paths = sorted(p for p in Path(burst_dir).iterdir() if p.suffix.lower() in IMAGE_SUFFIXES)
        if not paths:
            raise FileNotFoundError(f"no image frames in {burst_dir}")
        burst = [p.read_bytes() for p in paths]
    uploads = IdentityUploads(Path(id_photo).read_bytes(), Path(selfie).read_bytes(), burst)
    check, _ = check_uploads(uploads, expected_name, expected_id_number, require_liveness)
    result = check.to_dict()
    result["review_required"] = not check.verified
    result["record_id"] = None
    return result

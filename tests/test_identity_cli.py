"""The verify-identity command's function on files: same fields as the API."""

from __future__ import annotations

import cv2
import pytest

from models.embeddings import detect_and_embed
from models.identity_pairs import astronaut, vary
from models.identity_samples import face_crop, held_photo_burst, photograph_card, render_id_card
from models.identity_verification import IdentityInputError
from proctorlake.app.identity_cli import verify_identity_files


def _write(path, rgb) -> None:
    cv2.imwrite(str(path), rgb[:, :, ::-1])


def test_files_verified_and_held_photo_burst_fails(tmp_path) -> None:
    import numpy as np

    face = astronaut()
    box = detect_and_embed(face)[0].box
    card = photograph_card(render_id_card(face_crop(face, box), "Eileen Collins", "S0481027"), 6)
    _write(tmp_path / "card.jpg", card)
    _write(tmp_path / "selfie.png", vary(face, "light", np.random.default_rng(1)))
    result = verify_identity_files(
        tmp_path / "card.jpg", tmp_path / "selfie.png", expected_name="EILEEN COLLINS"
    )
    assert result["verified"] is True and result["record_id"] is None
    assert result["ocr"]["id_number"] == "S0481027" and result["name_matches"] is True
    assert result["liveness"] is None

    burst = tmp_path / "burst"
    burst.mkdir()
    for i, frame in enumerate(held_photo_burst(face, frames=12, seed=2)):
        _write(burst / f"{i:03d}.jpg", frame)
    held = verify_identity_files(tmp_path / "card.jpg", tmp_path / "selfie.png", burst)
    assert held["verified"] is False and held["review_required"] is True
    assert held["liveness"]["passed"] is False


def test_not_an_image_is_a_clear_error(tmp_path) -> None:
    (tmp_path / "card.jpg").write_text("hello")
    with pytest.raises(IdentityInputError, match="not an image"):
        verify_identity_files(tmp_path / "card.jpg", tmp_path / "card.jpg")

"""Face embeddings on real faces, torch distances, the device choice and the calibration."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from models.embeddings import (
    SAME_PERSON_MAX_DISTANCE,
    detect_and_embed,
    paired_distances,
    pairwise_distances,
    same_person,
)
from models.identity_calibration import calibrate
from models.identity_pairs import astronaut, carphone_frames, grace_hopper, vary
from proctorlake.core.devices import torch_device


@pytest.fixture(scope="module")
def faces() -> dict[str, np.ndarray]:
    rng = np.random.default_rng(3)
    frames = carphone_frames()
    return {
        "astronaut": detect_and_embed(astronaut())[0].vector,
        "astronaut_dim": detect_and_embed(vary(astronaut(), "light", rng))[0].vector,
        "grace": detect_and_embed(grace_hopper())[0].vector,
        "carphone_early": detect_and_embed(frames[10])[0].vector,
        "carphone_late": detect_and_embed(frames[110])[0].vector,
    }


def test_one_face_found_and_the_badge_ignored() -> None:
    found = detect_and_embed(astronaut())
    assert len(found) == 1
    face = found[0]
    assert face.vector.shape == (128,) and face.landmarks5.shape == (5, 2)
    x, y, w, h = face.box
    # The face is in the upper middle of the 512x512 picture, not on the suit.
    assert 120 < x + w / 2 < 260 and 40 < y + h / 2 < 160


def test_same_person_accepted_and_different_people_rejected(faces) -> None:
    d = pairwise_distances(np.stack(list(faces.values())), np.stack(list(faces.values())))
    names = list(faces)
    idx = {name: i for i, name in enumerate(names)}
    assert same_person(d[idx["astronaut"], idx["astronaut_dim"]])
    assert same_person(d[idx["carphone_early"], idx["carphone_late"]])
    assert not same_person(d[idx["astronaut"], idx["grace"]])
    assert not same_person(d[idx["grace"], idx["carphone_late"]])
    assert not same_person(d[idx["astronaut"], idx["carphone_early"]])


def test_two_faces_and_no_face() -> None:
    left, right = astronaut(), grace_hopper()[:512, :512]
    both = np.concatenate([left, right], axis=1)
    assert len(detect_and_embed(both)) == 2
    rng = np.random.default_rng(0)
    assert detect_and_embed(rng.integers(0, 255, (480, 640, 3), dtype=np.uint8)) == []
    assert detect_and_embed(np.full((300, 300), 128, dtype=np.uint8)) == []


def test_huge_image_is_downscaled_with_boxes_in_input_pixels() -> None:
    import cv2

    big = cv2.resize(astronaut(), (3072, 3072), interpolation=cv2.INTER_CUBIC)
    small_face = detect_and_embed(astronaut())[0]
    big_face = detect_and_embed(big)[0]
    assert big_face.box[2] == pytest.approx(small_face.box[2] * 6, rel=0.2)
    assert paired_distances(big_face.vector, small_face.vector)[0] < SAME_PERSON_MAX_DISTANCE


def test_torch_distances_match_numpy(faces) -> None:
    a = np.stack(list(faces.values()))
    expected = np.linalg.norm(a[:, None, :] - a[None, :, :], axis=2)
    np.testing.assert_allclose(pairwise_distances(a, a), expected, atol=1e-4)
    anti_diagonal = expected[:, ::-1].diagonal()
    np.testing.assert_allclose(paired_distances(a, a[::-1]), anti_diagonal, atol=1e-5)
    with pytest.raises(ValueError):
        pairwise_distances(np.zeros((2, 64)), a)


def test_device_comes_from_one_setting(monkeypatch) -> None:
    monkeypatch.delenv("PROCTORLAKE_TORCH_DEVICE", raising=False)
    expected = "cuda" if torch.cuda.is_available() else "cpu"
    assert torch_device().type == expected
    monkeypatch.setenv("PROCTORLAKE_TORCH_DEVICE", "cpu")
    assert torch_device() == torch.device("cpu")


@pytest.mark.slow
def test_calibration_holds_on_held_out_people() -> None:
    report = calibrate(seed=11, lfw_count=30)
    assert report["people"] >= 20
    for half in report["held_out"]:
        assert half["same_pairs"] > 20 and half["different_pairs"] > 300
        assert half["far"] <= 0.01
        assert half["frr"] <= 0.05
    assert 0.35 <= report["threshold"] <= 0.6

"""Portrait phone videos: sensor frames stored sideways plus a display matrix (issue 13, item 2).

Every reader must show the picture as a player does: the probe, the transcode that ingest and
``analyze`` share (whose chunks the batch path and the dashboard's thumbnails read), and
decord's sampling.
"""

from __future__ import annotations

from pathlib import Path

import av
import numpy as np
import pytest

from models.face_mesh import face_mesh_models
from models.webcam import analyze_webcam_frames
from proctorlake.samples import Segment, WebcamScript
from proctorlake.samples.webcam import make_webcam_recording
from proctorlake.services.analyze import analyze_recording
from proctorlake.storage.video import (
    iter_decoded_frames,
    probe,
    sample_frames,
    transcode_to_cfr_chunks,
    upright,
)

PORTRAIT = (360, 480)  # width x height as displayed


@pytest.fixture(scope="module")
def phone_clip(tmp_path_factory) -> Path:
    """8 s of a student in front of a phone held upright (display matrix -90 degrees)."""
    path = tmp_path_factory.mktemp("phone") / "portrait.mp4"
    script = WebcamScript((Segment("present", 8.0),), face="grace_hopper")
    make_webcam_recording(path, script, seed=4, fps=5, size=PORTRAIT, display_rotation_deg=-90)
    return path


def _mesh_presence(images: list[np.ndarray]) -> list[float]:
    """The face mesh's own face-presence probability on BlazeFace's face in each image."""
    models = face_mesh_models()
    faces = [found[0] for found in models.detect(images)]
    return [mesh.presence for mesh in models.landmarks(images, faces, with_iris=False)]


def test_the_clip_is_stored_sideways_where_the_face_mesh_is_lost(phone_clip):
    """BlazeFace still boxes a face lying on its side, but its keypoints and the mesh on them
    are not to be trusted: the stored picture itself must not be what the detectors see."""
    with av.open(str(phone_clip)) as container:
        frames = list(container.decode(video=0))
        assert frames[0].rotation == -90
        raw = [frame.to_ndarray(format="rgb24") for frame in frames[::5]]  # 1 per second
    assert raw[0].shape[:2] == (PORTRAIT[0], PORTRAIT[1])  # landscape pixels
    upright_frames = [upright(image, -90) for image in raw]
    assert min(_mesh_presence(upright_frames)) > 0.99
    assert sum(p < 0.9 for p in _mesh_presence(raw)) >= len(raw) // 2


def test_probe_reports_the_displayed_size(phone_clip):
    info = probe(phone_clip)
    assert (info.width, info.height, info.rotation_deg) == (*PORTRAIT, 270)


def test_every_reader_gives_the_upright_picture(phone_clip, tmp_path):
    decoded = [image for _, image in iter_decoded_frames(phone_clip)]
    sampled = [image for _, image in sample_frames(phone_clip, 1.0)]
    assert decoded[0].shape[:2] == (PORTRAIT[1], PORTRAIT[0])
    assert np.array_equal(decoded[0], sampled[0])  # decord honours the same matrix
    chunks = transcode_to_cfr_chunks(phone_clip, tmp_path, 5, 300)
    _, first = next(sample_frames(chunks[0].path, 1.0))
    assert first.shape[:2] == (PORTRAIT[1], PORTRAIT[0])
    assert analyze_webcam_frames([first], [0.0])[0].face_count == 1


def test_analyze_finds_the_face_upright_and_flags_nothing(phone_clip):
    assert analyze_recording(phone_clip)["flags"] == []


def test_upright_turns_counter_clockwise():
    image = np.arange(6).reshape(2, 3)
    assert np.array_equal(upright(image, 90), [[2, 5], [1, 4], [0, 3]])
    assert np.array_equal(upright(image, -90), upright(image, 270))
    assert upright(image, 0) is image

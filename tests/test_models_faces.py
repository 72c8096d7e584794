"""Face counting and head pose on real faces composited into webcam-like frames."""

from __future__ import annotations

import numpy as np
import pytest
from skimage import data

from models.faces import SCORE_THRESHOLD, FaceBox, count_faces, detect_faces, detection_gray
from models.head_pose import estimate_head_poses
from models.webcam import WebcamObservation, analyze_webcam_frames
from proctorlake.samples import Segment, WebcamScript, render_webcam_frames


def _frames(*segments: Segment, face: str = "astronaut", seed: int = 0) -> list[np.ndarray]:
    script = WebcamScript(tuple(segments), face, "grace_hopper", background_seed=seed)
    return list(render_webcam_frames(script, seed=seed, fps=1))


def test_counts_one_two_and_no_faces():
    frames = _frames(Segment("present", 2), Segment("second_person", 3), Segment("absent", 2))
    counts = [d.count for d in detect_faces(frames)]
    assert counts[:2] == [1, 1]
    assert counts[3:5] == [2, 2]  # the second person has slid in after 0.6 s
    assert counts[5:] == [0, 0]


def test_batch_equals_single_frame_calls():
    frames = _frames(Segment("present", 1), Segment("second_person", 2))
    assert [d.count for d in detect_faces(frames)] == [count_faces(f) for f in frames]


def test_score_threshold_rejects_the_astronaut_badge():
    photo = data.astronaut()
    faces = detect_faces([photo], detection_width=photo.shape[1])[0].faces
    assert len(faces) == 1 and faces[0].score > 1.0
    loose = detect_faces([photo], score_threshold=-0.5, detection_width=photo.shape[1])[0]
    assert loose.count == 2  # the badge on the suit, which the default threshold keeps out
    assert min(f.score for f in loose.faces) < SCORE_THRESHOLD


@pytest.mark.parametrize("face", ["astronaut", "grace_hopper", "lfw_03"])
def test_dim_light_still_finds_the_face(face):
    frames = _frames(Segment("present", 3, gamma=2.2), face=face, seed=2)
    assert [d.count for d in detect_faces(frames)] == [1, 1, 1]


def test_small_frames_are_scaled_up_to_detect():
    frame = _frames(Segment("present", 1))[0][::2, ::2]  # 320x240 webcam
    detection = detect_faces([frame])[0]
    assert detection.count == 1
    box = detection.faces[0]
    assert 40 <= box.w <= 110 and 0 <= box.x < 320  # in the small frame's own pixels


def test_head_pose_measures_turns_with_sign_and_size():
    frames = _frames(
        Segment("present", 1),
        Segment("turned", 2, yaw_deg=40),
        Segment("turned", 2, yaw_deg=-40),
    )
    yaws = []
    for frame in (frames[0], frames[2], frames[4]):
        gray, scale = detection_gray(frame)
        face = detect_faces([frame])[0].faces[0]
        scaled = FaceBox(*(round(v * scale) for v in (face.x, face.y, face.w, face.h)), face.score)
        yaws.append(estimate_head_poses(gray, [scaled], gray.shape[::-1])[0].yaw_deg)
    frontal, right, left = yaws
    assert abs(frontal) < 12
    assert right - frontal > 20 and frontal - left > 20


def test_observations_round_trip_through_plain_dicts():
    frames = _frames(Segment("present", 1), Segment("second_person", 2))[::2]
    observations = analyze_webcam_frames(frames, [0.0, 2.0])
    assert [o.face_count for o in observations] == [1, 2]
    assert observations[0].yaw_deg is not None
    for obs in observations:
        assert WebcamObservation.from_dict(obs.to_dict()) == obs

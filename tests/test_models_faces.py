"""Face counting, head pose, gaze and eye openness on real faces in webcam-like frames."""

from __future__ import annotations

import numpy as np
import pytest
from skimage import data

from models.faces import SCORE_THRESHOLD, count_faces, detect_faces
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


def test_score_threshold_keeps_the_astronaut_and_not_her_badge():
    photo = data.astronaut()
    faces = detect_faces([photo])[0].faces
    assert len(faces) == 1 and faces[0].score > 0.9
    assert 170 <= faces[0].x <= 190 and faces[0].y < 120  # her face, not the suit's badge
    loose = detect_faces([photo], score_threshold=0.05)[0]
    assert all(f.score < SCORE_THRESHOLD for f in loose.faces[1:])


@pytest.mark.parametrize("face", ["astronaut", "grace_hopper", "lfw_03"])
def test_dim_light_still_finds_the_face(face):
    frames = _frames(Segment("present", 3, gamma=2.2), face=face, seed=2)
    assert [d.count for d in detect_faces(frames)] == [1, 1, 1]


def test_small_frames_are_found_in_their_own_pixels():
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
    observations = analyze_webcam_frames(frames, [float(i) for i in range(len(frames))])
    frontal, right, left = (observations[i].yaw_deg for i in (0, 2, 4))
    assert abs(frontal) < 12
    assert right - frontal > 20 and frontal - left > 20
    assert observations[2].eye_nose_ratio < 0.9 * observations[0].eye_nose_ratio


def test_gaze_and_eye_openness_of_a_frontal_face():
    (obs,) = analyze_webcam_frames(_frames(Segment("present", 1)), [0.0])
    assert 0.35 < obs.gaze_x < 0.65  # looking at the camera: irises mid-eye
    assert abs(obs.gaze_y) < 0.2
    assert 0.15 < obs.eye_openness < 0.6  # open eyes


def test_observations_round_trip_through_plain_dicts():
    frames = _frames(Segment("present", 1), Segment("second_person", 2))[::2]
    observations = analyze_webcam_frames(frames, [0.0, 2.0])
    assert [o.face_count for o in observations] == [1, 2]
    assert observations[0].yaw_deg is not None
    for obs in observations:
        assert WebcamObservation.from_dict(obs.to_dict()) == obs

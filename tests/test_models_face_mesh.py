"""MediaPipe's face models on torch, checked against LiteRT running the same .tflite files."""

from __future__ import annotations

import zipfile

import cv2
import numpy as np
import pytest
from ai_edge_litert.interpreter import Interpreter
from skimage import data

from models.face_mesh import (
    DETECTOR_SIZE,
    EYELID_CONTOUR,
    IRIS_CROP_SCALE,
    IRIS_SIZE,
    LEFT_EYE_CORNERS,
    MESH_SIZE,
    RIGHT_EYE_CORNERS,
    eyelid_openness,
    face_mesh_models,
    letterbox,
    rotated_crop,
)
from models.face_model_files import FACE_MODEL_FILES, face_model_path
from models.faces import find_faces
from models.mesh_pose import MIN_EYE_WIDTH_PX, mesh_pose
from proctorlake.samples import Segment, WebcamScript, render_webcam_frames
from proctorlake.storage.face_models import missing_face_models, unpack_face_models


def _frames(*segments: Segment, face: str = "astronaut", seed: int = 0) -> list[np.ndarray]:
    script = WebcamScript(tuple(segments), face, "grace_hopper", background_seed=seed)
    return list(render_webcam_frames(script, seed=seed, fps=1))


def _litert(name: str, image: np.ndarray, low: float) -> list[np.ndarray]:
    """One image through LiteRT's own interpreter (the reference), outputs in file order."""
    interpreter = Interpreter(model_path=str(face_model_path(name)), num_threads=1)
    interpreter.allocate_tensors()
    (given,) = interpreter.get_input_details()
    scaled = image.astype(np.float32)[None] * ((1.0 - low) / 255.0) + low
    interpreter.set_tensor(given["index"], scaled)
    interpreter.invoke()
    return [interpreter.get_tensor(d["index"]) for d in interpreter.get_output_details()]


@pytest.fixture(scope="module")
def real_frames() -> list[np.ndarray]:
    """Real faces: two photos, a dim webcam frame, a turned head and glasses-free LFW crop."""
    rendered = _frames(Segment("present", 1, gamma=2.2), Segment("turned", 1, yaw_deg=35))
    lfw = _frames(Segment("present", 1), face="lfw_03", seed=2)
    return [data.astronaut(), *rendered, *lfw]


def test_torch_port_matches_litert_landmark_by_landmark(real_frames):
    models = face_mesh_models()
    for frame in real_frames:
        square, *_ = letterbox(frame, DETECTOR_SIZE)
        ours = models._run(models.detector, square[None], -1.0)
        reference = _litert("face_detection_short_range", square, -1.0)
        for got, want in zip(ours, reference, strict=True):
            assert np.abs(got - want).max() < 1e-3 * max(1.0, np.abs(want).max())

        (face, *_) = models.detect([frame])[0]
        side = max(face.w, face.h) * 1.5
        centre = np.array([face.x + face.w / 2, face.y + face.h / 2])
        crop, _ = rotated_crop(frame, centre, side, 0.1, MESH_SIZE, False)
        mesh, presence = models._run(models.mesh, crop[None], 0.0)
        ref_mesh, ref_presence = _litert("face_landmark", crop, 0.0)
        # 468 points in the 192-px crop: every one within 0.01 px of LiteRT's.
        per_point = np.abs(mesh.reshape(468, 3) - ref_mesh.reshape(468, 3)).max(axis=1)
        assert per_point.shape == (468,) and per_point.max() < 0.01
        assert abs(float(presence.ravel()[0]) - float(ref_presence.ravel()[0])) < 1e-3

        points = models.landmarks([frame], [face], with_iris=False)[0].landmarks
        for corners, mirror in ((RIGHT_EYE_CORNERS, False), (LEFT_EYE_CORNERS, True)):
            a, b = points[corners[0], :2], points[corners[1], :2]
            eye, _ = rotated_crop(
                frame, (a + b) / 2, 2.3 * np.linalg.norm(b - a), 0, IRIS_SIZE, mirror
            )
            contour, iris = models._run(models.iris, eye[None], 0.0)
            ref_contour, ref_iris = _litert("iris_landmark", eye, 0.0)
            assert np.abs(contour - ref_contour).max() < 0.01
            assert np.abs(iris - ref_iris).max() < 0.01


def test_counts_one_two_and_no_faces():
    frames = _frames(Segment("present", 2), Segment("second_person", 3), Segment("absent", 2))
    counts = [len(faces) for faces in face_mesh_models().detect(frames)]
    assert counts[:2] == [1, 1]
    assert counts[3:5] == [2, 2]
    assert counts[5:] == [0, 0]


def test_finds_dim_and_turned_faces(real_frames):
    found = face_mesh_models().detect(real_frames)
    assert [len(faces) for faces in found] == [1, 1, 1, 1]


def test_batch_equals_single_frame_calls(real_frames):
    models = face_mesh_models()
    batched = models.detect(real_frames)
    single = [models.detect([frame])[0] for frame in real_frames]
    for a, b in zip(batched, single, strict=True):
        assert [round(f.x, 3) for f in a] == [round(f.x, 3) for f in b]


def test_mesh_and_irises_land_on_the_astronauts_eyes():
    photo = data.astronaut()
    models = face_mesh_models()
    (face,) = models.detect([photo])[0]
    assert 170 <= face.x <= 190 and 85 <= face.w <= 105  # her face, not the badge
    result = models.landmarks([photo], [face])[0]
    assert result.presence > 0.9
    assert result.landmarks.shape == (468, 3)
    for eye, (outer, inner) in zip(
        result.irises, (RIGHT_EYE_CORNERS, LEFT_EYE_CORNERS), strict=True
    ):
        a, b = result.landmarks[outer, :2], result.landmarks[inner, :2]
        t = float(np.dot(eye[0] - a, b - a) / np.dot(b - a, b - a))
        assert 0.25 < t < 0.75  # the iris centre sits between its eye's corners
        assert abs(eye[0][1] - (a[1] + b[1]) / 2) < 0.3 * np.linalg.norm(b - a)


def test_eye_openness_comes_from_the_iris_models_own_lids():
    """The Iris model's first 16 eye points are the eye's contour in the mesh's order: corners
    at 0 and 8, lids' middles at 12 (upper) and 4 (lower), as read here on LiteRT's output."""
    photo = data.astronaut()
    models = face_mesh_models()
    (face,) = models.detect([photo])[0]
    result = models.landmarks([photo], [face])[0]
    outer, inner = (result.landmarks[i, :2] for i in RIGHT_EYE_CORNERS)
    side = float(np.linalg.norm(inner - outer)) * IRIS_CROP_SCALE
    angle = float(np.arctan2(*(inner - outer)[::-1]))
    crop, _ = rotated_crop(photo, (outer + inner) / 2, side, angle, IRIS_SIZE, False)
    contour, iris = (o.reshape(-1, 3) for o in _litert("iris_landmark", crop, 0.0))
    corner_out, corner_in, upper, lower = (contour[i, :2] for i in EYELID_CONTOUR)
    centre = iris[0, :2]
    assert corner_out[0] < centre[0] < corner_in[0]  # outer corner on the crop's left
    assert upper[1] < centre[1] < lower[1]  # image y grows downwards
    assert 0.2 < eyelid_openness(contour) < 0.5  # her eyes are open
    assert result.eyelid_openness[0] == pytest.approx(eyelid_openness(contour), abs=1e-3)


def test_irises_too_small_to_read_give_no_gaze():
    """The astronaut sitting back: her eye span falls under MIN_EYE_WIDTH_PX, and the iris is
    no longer placed within the eye (eyes-only gaze is not judged); her pose still is."""
    photo = data.astronaut()
    models = face_mesh_models()
    poses = []
    for size in (512, 240):
        small = cv2.resize(photo, (size, size), interpolation=cv2.INTER_AREA)
        frame = cv2.copyMakeBorder(small, 0, 512 - size, 0, 512 - size, cv2.BORDER_REPLICATE)
        (face,) = find_faces([frame])[0]
        mesh = models.landmarks([frame], [face])[0]
        poses.append(mesh_pose(mesh.landmarks, mesh.irises, (512, 512), mesh.eyelid_openness))
        eyes = [np.linalg.norm(mesh.landmarks[a, :2] - mesh.landmarks[b, :2])
                for a, b in (RIGHT_EYE_CORNERS, LEFT_EYE_CORNERS)]  # fmt: skip
        assert (np.mean(eyes) >= MIN_EYE_WIDTH_PX) == (size == 512)
    full, small = poses
    assert full.gaze_x is not None and 0.3 < full.gaze_x < 0.7
    assert small.gaze_x is None and small.gaze_y is None
    assert abs(small.yaw_deg - full.yaw_deg) < 15.0


def _wheel(path, contents: dict[str, bytes]):
    with zipfile.ZipFile(path, "w") as archive:
        for inner, data in contents.items():
            archive.writestr(inner, data)
    return path


def test_setup_unpacks_the_pinned_models_and_refuses_changed_ones(tmp_path):
    real = {
        inner: face_model_path(name).read_bytes() for name, (inner, _) in FACE_MODEL_FILES.items()
    }
    assert missing_face_models(tmp_path) == sorted(FACE_MODEL_FILES)
    unpack_face_models(_wheel(tmp_path / "good.whl", real), tmp_path / "good")
    assert missing_face_models(tmp_path / "good") == []

    changed = dict(real)
    changed[FACE_MODEL_FILES["iris_landmark"][0]] += b"\0"
    with pytest.raises(RuntimeError, match="iris_landmark.tflite"):
        unpack_face_models(_wheel(tmp_path / "bad.whl", changed), tmp_path / "bad")
    assert "iris_landmark" in missing_face_models(tmp_path / "bad")

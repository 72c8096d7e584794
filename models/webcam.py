"""Per-frame webcam analysis: faces, head pose of the main face, and a tiny frame thumbnail.

Stateless on purpose: Spark executors run it on any chunk of frames in any order; everything
that needs the session's history (neutral pose, persistence) lives in ``temporal_rules``.
"""

from __future__ import annotations

import base64
from collections.abc import Sequence
from dataclasses import asdict, dataclass

import cv2
import numpy as np

from models.face_mesh import face_mesh_models
from models.faces import SCORE_THRESHOLD, FaceBox, face_box, find_faces
from models.mesh_pose import mesh_pose

THUMBNAIL_SIZE = (20, 15)
"""Width x height of the colour thumbnail kept per frame. The session rules compare the
region under the last seen face with it to tell a head turned away (body still there) from
a student who left; 900 bytes per second of video."""

WEBCAM_SAMPLE_EVERY_S = 1.0
"""Webcam frames are sampled once per second: each observation is one session-second,
which is what the persistence rules count."""

MODEL_VERSION = "blazeface-short+facemesh+iris-torch-v2+resnet30s"


@dataclass(frozen=True)
class WebcamObservation:
    """What one sampled webcam frame shows. Boxes are in the frame's own pixels, strongest
    first; yaw ... eye_openness describe the largest face and are None without one (gaze
    also when its irises were not found). Rows written before the mesh have no gaze or
    eye openness and read back as None. ``embedding`` is the largest face's 128-d vector on
    the few samples the takeover check embeds (``models.takeover``), None on the others."""

    frame_ts: float
    face_count: int
    faces: tuple[FaceBox, ...]
    yaw_deg: float | None
    pitch_deg: float | None
    eye_nose_ratio: float | None
    frame_width: int
    frame_height: int
    thumbnail: bytes
    gaze_x: float | None = None
    gaze_y: float | None = None
    eye_openness: float | None = None
    embedding: tuple[float, ...] | None = None

    def to_dict(self) -> dict:
        """Plain JSON-safe fields (the thumbnail as base64)."""
        row = asdict(self)
        row["faces"] = [asdict(f) for f in self.faces]
        row["thumbnail"] = base64.b64encode(self.thumbnail).decode("ascii")
        return row

    @classmethod
    def from_dict(cls, row: dict) -> WebcamObservation:
        faces = tuple(FaceBox(**f) for f in row["faces"])
        thumb = row["thumbnail"]
        embedding = row.get("embedding")
        return cls(
            **{
                **row,
                "faces": faces,
                "thumbnail": base64.b64decode(thumb) if isinstance(thumb, str) else thumb,
                "embedding": None if embedding is None else tuple(embedding),
            }
        )

    @property
    def main_face(self) -> FaceBox | None:
        return max(self.faces, key=lambda f: f.w * f.h) if self.faces else None

    def thumbnail_array(self) -> np.ndarray:
        w, h = THUMBNAIL_SIZE
        return np.frombuffer(self.thumbnail, dtype=np.uint8).reshape(h, w, 3)


def frame_thumbnail(frame: np.ndarray) -> bytes:
    """Area-averaged RGB thumbnail, brightness-normalised so light changes move it little."""
    small = cv2.resize(frame, THUMBNAIL_SIZE, interpolation=cv2.INTER_AREA).astype(np.float32)
    if small.ndim == 2:
        small = np.repeat(small[:, :, None], 3, axis=2)
    small *= 128.0 / max(1.0, float(small.mean()))
    return np.clip(small, 0, 255).astype(np.uint8).tobytes()


def analyze_webcam_frames(
    frames: Sequence[np.ndarray],
    timestamps_s: Sequence[float],
    score_threshold: float = SCORE_THRESHOLD,
) -> list[WebcamObservation]:
    """One observation per RGB frame (a batch; a single frame is a batch of one). Faces are
    found in every frame in one batched pass (``models.faces.find_faces``), then the largest
    face of each frame gets its mesh and irises in a second batched pass."""
    if len(frames) != len(timestamps_s):
        raise ValueError("one timestamp per frame")
    models = face_mesh_models()
    found = find_faces(frames, score_threshold)
    with_face = [i for i, faces in enumerate(found) if faces]
    mains = [max(found[i], key=lambda c: c.w * c.h) for i in with_face]
    meshes = dict(
        zip(with_face, models.landmarks([frames[i] for i in with_face], mains), strict=True)
    )
    observations = []
    for index, (frame, ts, faces) in enumerate(zip(frames, timestamps_s, found, strict=True)):
        height, width = frame.shape[:2]
        pose = None
        if index in meshes:
            mesh = meshes[index]
            pose = mesh_pose(mesh.landmarks, mesh.irises, (width, height), mesh.eyelid_openness)
        observations.append(
            WebcamObservation(
                float(ts),
                len(faces),
                tuple(face_box(c) for c in faces),
                pose.yaw_deg if pose else None,
                pose.pitch_deg if pose else None,
                pose.eye_nose_ratio if pose else None,
                width,
                height,
                frame_thumbnail(frame),
                pose.gaze_x if pose else None,
                pose.gaze_y if pose else None,
                pose.eye_openness if pose else None,
            )
        )
    return observations

"""MediaPipe's face pipeline on torch: BlazeFace boxes, 468 mesh points, iris centres. Batched.

The three Apache-2.0 networks (BlazeFace short range, Face Mesh, Iris) run as
:class:`models.tflite_torch.TfliteGraph` on ``PROCTORLAKE_TORCH_DEVICE`` (CUDA when present,
else CPU; same code either way). Pre- and post-processing follow MediaPipe's own graphs
(``face_detection_short_range.pbtxt``, ``face_landmark_front_cpu.pbtxt``,
``iris_landmark_cpu.pbtxt``): letterboxed 128x128 input in [-1, 1], SSD anchors and weighted
non-maximum suppression; a rotated 1.5x face crop at 192x192 in [0, 1]; rotated 2.3x eye crops
at 64x64, the left eye mirrored. Unlike MediaPipe there is no frame-to-frame tracking: frames
are sampled once per second and any chunk may be analysed alone, so each frame is detected.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import cv2
import numpy as np
import torch

from models.face_model_files import face_model_path
from models.tflite_torch import TfliteGraph
from proctorlake.core.devices import torch_device

DETECTOR_SIZE = 128
MESH_SIZE = 192
IRIS_SIZE = 64
BATCH_SIZE = 32
"""Frames (and crops) per forward pass: enough to fill a GPU's queue, small enough that one
batch's activations stay in a CPU's cache (16-32 measured fastest per frame on CPU)."""

MIN_DETECTION_SCORE = 0.5
"""MediaPipe's own default for BlazeFace short range (``min_score_thresh``)."""

NMS_IOU = 0.3
"""MediaPipe's weighted non-maximum suppression overlap for BlazeFace."""

MESH_CROP_SCALE = 1.5
"""The face box is enlarged this much (square) before the mesh runs, as MediaPipe does."""

IRIS_CROP_SCALE = 2.3
"""Eye crops are this many eye widths wide, as in MediaPipe's iris graph."""

# Mesh indices (MediaPipe's canonical face topology). "Right"/"left" are the person's own.
RIGHT_EYE_CORNERS = (33, 133)  # outer, inner
LEFT_EYE_CORNERS = (263, 362)  # outer, inner
# The Iris model's 71 eye points start with the eye's 16 contour points in the mesh's order
# (MediaPipe's iris graph maps them back onto mesh points 33, 7, 163, 144, 145, ...).
EYELID_CONTOUR = (0, 8, 12, 4)  # outer corner, inner corner, upper lid, lower lid
NOSE_BASE = 2
FOREHEAD = 10
CHIN = 152
RIGHT_CHEEK = 234
LEFT_CHEEK = 454


@dataclass(frozen=True)
class FaceCandidate:
    """A BlazeFace detection in frame pixels: box, score and its 6 keypoints (eyes first)."""

    x: float
    y: float
    w: float
    h: float
    score: float
    keypoints: np.ndarray  # (6, 2): right eye, left eye, nose, mouth, right ear, left ear


@dataclass(frozen=True)
class MeshResult:
    """The dense landmarks of one face in frame pixels (z on the same scale as x)."""

    landmarks: np.ndarray  # (468, 3)
    presence: float  # the mesh model's own face-presence probability
    irises: np.ndarray | None  # (2, 5, 2): right then left eye, centre first; None if not run
    eyelid_openness: tuple[float, float] | None = None  # right, left; None if not run


@dataclass(frozen=True)
class EyeReading:
    """What the Iris model reads of one face's two eyes (right eye first)."""

    irises: np.ndarray  # (2, 5, 2): iris centre and 4 edge points per eye, frame pixels
    openness: tuple[float, float]  # lid gap / eye width per eye, from the model's own lids


def eyelid_openness(eye_points: np.ndarray) -> float:
    """Lid gap / corner-to-corner width of one eye from the Iris model's 71 eye points (any
    similarity frame: the ratio does not change with the crop's scale or rotation).

    Read from the Iris model, not the mesh: on a real clip with the eyes shut the mesh's lids
    stayed 0.15-0.19 apart (open: about 0.3), and with a hand over one eye the mesh drew it
    open; the Iris model's lids read 0.04-0.14 shut and 0.27-0.42 open."""
    outer, inner, upper, lower = (eye_points[i, :2] for i in EYELID_CONTOUR)
    width = max(1e-6, float(np.linalg.norm(inner - outer)))
    return float(np.linalg.norm(upper - lower)) / width


def ssd_anchors() -> np.ndarray:
    """BlazeFace short range's 896 anchor centres (x, y) in [0, 1]: 16x16 cells with 2 anchors
    (stride 8) then 8x8 cells with 6 (three stride-16 layers of 2), as MediaPipe builds them."""
    rows = []
    for grid, per_cell in ((16, 2), (8, 6)):
        centres = (np.arange(grid, dtype=np.float32) + 0.5) / grid
        yy, xx = np.meshgrid(centres, centres, indexing="ij")
        cells = np.stack([xx.ravel(), yy.ravel()], axis=1)
        rows.append(np.repeat(cells, per_cell, axis=0))
    return np.concatenate(rows)


_ANCHORS = ssd_anchors()


def letterbox(frame: np.ndarray, size: int) -> tuple[np.ndarray, float, float, float]:
    """The frame scaled into a size x size square (aspect kept, zero padded); returns it with
    the scale and the x/y padding, in the square's pixels."""
    height, width = frame.shape[:2]
    scale = size / max(height, width)
    new_w, new_h = max(1, round(width * scale)), max(1, round(height * scale))
    interpolation = cv2.INTER_AREA if scale < 1 else cv2.INTER_LINEAR
    resized = cv2.resize(frame, (new_w, new_h), interpolation=interpolation)
    pad_x, pad_y = (size - new_w) // 2, (size - new_h) // 2
    square = np.zeros((size, size, 3), dtype=np.uint8)
    square[pad_y : pad_y + new_h, pad_x : pad_x + new_w] = resized
    return square, scale, float(pad_x), float(pad_y)


def decode_detections(
    regressors: np.ndarray,
    logits: np.ndarray,
    min_score: float = MIN_DETECTION_SCORE,
    iou: float = NMS_IOU,
) -> list[tuple[np.ndarray, float]]:
    """BlazeFace outputs (896x16, 896) of one image -> [(box+keypoints as 16 values in [0, 1]
    square coordinates: cx, cy, w, h, then 6 (x, y)), score)], weighted NMS, best first."""
    scores = 1.0 / (1.0 + np.exp(-np.clip(logits.astype(np.float64), -100.0, 100.0)))
    keep = np.flatnonzero(scores >= min_score)
    if keep.size == 0:
        return []
    raw = regressors[keep] / DETECTOR_SIZE
    anchors = np.tile(_ANCHORS[keep], (1, 8))
    raw[:, [0, 1, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15]] += anchors[
        :, [0, 1] + list(range(4, 16))
    ]
    order = np.argsort(-scores[keep])
    raw, kept_scores = raw[order], scores[keep][order]
    boxes = np.stack(
        [
            raw[:, 0] - raw[:, 2] / 2,
            raw[:, 1] - raw[:, 3] / 2,
            raw[:, 0] + raw[:, 2] / 2,
            raw[:, 1] + raw[:, 3] / 2,
        ],
        axis=1,
    )
    results = []
    remaining = np.ones(len(raw), dtype=bool)
    for i in range(len(raw)):
        if not remaining[i]:
            continue
        overlap = _iou(boxes[i], boxes) >= iou
        group = remaining & overlap
        remaining &= ~overlap
        weights = kept_scores[group]
        blended = (raw[group] * weights[:, None]).sum(axis=0) / weights.sum()
        results.append((blended, float(kept_scores[i])))
    return results


def _iou(box: np.ndarray, boxes: np.ndarray) -> np.ndarray:
    x0 = np.maximum(box[0], boxes[:, 0])
    y0 = np.maximum(box[1], boxes[:, 1])
    x1 = np.minimum(box[2], boxes[:, 2])
    y1 = np.minimum(box[3], boxes[:, 3])
    inter = np.clip(x1 - x0, 0, None) * np.clip(y1 - y0, 0, None)
    area = (box[2] - box[0]) * (box[3] - box[1])
    areas = (boxes[:, 2] - boxes[:, 0]) * (boxes[:, 3] - boxes[:, 1])
    return inter / np.maximum(area + areas - inter, 1e-9)


def rotated_crop(
    frame: np.ndarray, centre: np.ndarray, side: float, angle: float, size: int, mirror: bool
) -> tuple[np.ndarray, np.ndarray]:
    """A size x size crop of a square (centre, side, rotation in radians) of the frame; returns
    it and the 2x3 affine map from crop pixels back to frame pixels."""
    cos, sin = np.cos(angle), np.sin(angle)
    unit = side / size
    flip = -1.0 if mirror else 1.0
    # crop (u, v) -> frame: centre + R @ ((u - size/2) * flip, v - size/2) * unit
    back = np.array(
        [
            [cos * unit * flip, -sin * unit, 0.0],
            [sin * unit * flip, cos * unit, 0.0],
        ]
    )
    back[:, 2] = centre - back[:, :2] @ np.array([size / 2.0, size / 2.0])
    crop = cv2.warpAffine(
        frame,
        back,
        (size, size),
        flags=cv2.INTER_LINEAR | cv2.WARP_INVERSE_MAP,
        borderMode=cv2.BORDER_CONSTANT,
    )
    return crop, back


class FaceMeshModels:
    """BlazeFace, Face Mesh and Iris on one torch device, loaded once per process."""

    def __init__(self, models_dir: Path | None = None, device: torch.device | None = None):
        self.device = device or torch_device()
        if self.device.type == "cpu":
            # Processes are the parallelism on a CPU (Spark task slots, detector workers), as
            # for the OCR. torch's own thread pool only fought them: two threads per process
            # on the busy 2-core machine cost 110 ms of CPU per frame against 22 ms with one.
            torch.set_num_threads(1)
        self.detector = self._load("face_detection_short_range", models_dir)
        self.mesh = self._load("face_landmark", models_dir)
        self.iris = self._load("iris_landmark", models_dir)

    def _load(self, name: str, models_dir: Path | None) -> TfliteGraph:
        return TfliteGraph(face_model_path(name, models_dir)).eval().to(self.device)

    def _run(self, graph: TfliteGraph, images: np.ndarray, low: float) -> list[np.ndarray]:
        """uint8 NHWC images -> the graph's outputs, in batches, input mapped to [low, 1]."""
        outputs: list[list[np.ndarray]] = []
        with torch.inference_mode():
            for start in range(0, len(images), BATCH_SIZE):
                chunk = images[start : start + BATCH_SIZE]
                # A lone image goes through as a pair: torch's CPU kernels take another
                # path for a batch of one, whose sums differ in the last bits, and a frame's
                # row must not depend on what else a realtime poll carried (issue 13: both
                # paths write identical rows). Batches of 2 or more agree with each other.
                padded = np.concatenate([chunk, chunk]) if len(chunk) == 1 else chunk
                batch = torch.from_numpy(padded).to(self.device)
                batch = batch.float() * ((1.0 - low) / 255.0) + low
                outputs.append([o[: len(chunk)].float().cpu().numpy() for o in graph(batch)])
        return [np.concatenate(parts) for parts in zip(*outputs, strict=True)]

    def detect(
        self, frames: Sequence[np.ndarray], min_score: float = MIN_DETECTION_SCORE
    ) -> list[list[FaceCandidate]]:
        """Faces in each RGB frame (frame pixels), strongest first."""
        if not frames:
            return []
        squares, geometry = [], []
        for frame in frames:
            square, scale, pad_x, pad_y = letterbox(_rgb(frame), DETECTOR_SIZE)
            squares.append(square)
            geometry.append((scale, pad_x, pad_y))
        regressors, logits = self._run(self.detector, np.stack(squares), -1.0)
        results = []
        for (scale, pad_x, pad_y), reg, logit in zip(geometry, regressors, logits, strict=True):
            faces = []
            for values, score in decode_detections(reg, logit[:, 0], min_score):
                xy = values.reshape(8, 2) * DETECTOR_SIZE
                xy = (xy - [pad_x, pad_y]) / scale
                cx, cy = xy[0]
                w, h = values[2] * DETECTOR_SIZE / scale, values[3] * DETECTOR_SIZE / scale
                faces.append(FaceCandidate(cx - w / 2, cy - h / 2, w, h, score, xy[2:]))
            results.append(faces)
        return results

    def landmarks(
        self, frames: Sequence[np.ndarray], faces: Sequence[FaceCandidate], with_iris: bool = True
    ) -> list[MeshResult]:
        """The mesh (and irises) of one face per frame, as BlazeFace found it."""
        if not frames:
            return []
        crops, maps = [], []
        for frame, face in zip(frames, faces, strict=True):
            right_eye, left_eye = face.keypoints[0], face.keypoints[1]
            # Rotate so the eyes are level (MediaPipe: target angle 0 between keypoints 0, 1).
            angle = float(np.arctan2(left_eye[1] - right_eye[1], left_eye[0] - right_eye[0]))
            centre = np.array([face.x + face.w / 2, face.y + face.h / 2])
            side = max(face.w, face.h) * MESH_CROP_SCALE
            crop, back = rotated_crop(_rgb(frame), centre, side, angle, MESH_SIZE, False)
            crops.append(crop)
            maps.append((back, side / MESH_SIZE))
        points, presence = self._run(self.mesh, np.stack(crops), 0.0)
        meshes = []
        for raw, (back, unit) in zip(points, maps, strict=True):
            local = raw.reshape(468, 3)
            xy = local[:, :2] @ back[:, :2].T + back[:, 2]
            meshes.append(np.column_stack([xy, local[:, 2] * unit]))
        scores = 1.0 / (1.0 + np.exp(-presence.reshape(-1)))
        if not with_iris:
            return [
                MeshResult(mesh, float(score), None)
                for mesh, score in zip(meshes, scores, strict=True)
            ]
        return [
            MeshResult(mesh, float(score), eyes.irises, eyes.openness)
            for mesh, score, eyes in zip(meshes, scores, self.eyes(frames, meshes), strict=True)
        ]

    def eyes(self, frames: Sequence[np.ndarray], meshes: Sequence[np.ndarray]) -> list[EyeReading]:
        """Iris points (right eye, left eye; 5 each, centre first) and each eye's openness per
        face mesh."""
        crops, maps = [], []
        for frame, mesh in zip(frames, meshes, strict=True):
            rgb = _rgb(frame)
            for (outer, inner), mirror in ((RIGHT_EYE_CORNERS, False), (LEFT_EYE_CORNERS, True)):
                a, b = mesh[outer, :2], mesh[inner, :2]
                # The iris model is trained on the eye on the image's left (MediaPipe's
                # iris graph mirrors the other one): both crops put the outer corner on the
                # crop's left, level with the eye's own axis (image-right for a level face).
                axis = a - b if mirror else b - a
                angle = float(np.arctan2(axis[1], axis[0]))
                side = float(np.linalg.norm(b - a)) * IRIS_CROP_SCALE
                crop, back = rotated_crop(rgb, (a + b) / 2, side, angle, IRIS_SIZE, mirror)
                crops.append(crop)
                maps.append(back)
        contours, iris = self._run(self.iris, np.stack(crops), 0.0)
        points = [
            raw.reshape(5, 3)[:, :2] @ back[:, :2].T + back[:, 2]
            for raw, back in zip(iris, maps, strict=True)
        ]
        openness = [eyelid_openness(raw.reshape(71, 3)) for raw in contours]
        return [
            EyeReading(np.stack(points[i : i + 2]), (openness[i], openness[i + 1]))
            for i in range(0, len(points), 2)
        ]


def _rgb(frame: np.ndarray) -> np.ndarray:
    return cv2.cvtColor(frame, cv2.COLOR_GRAY2RGB) if frame.ndim == 2 else frame


@lru_cache(maxsize=1)
def face_mesh_models() -> FaceMeshModels:
    """The process's models on the configured device, loaded once (about 0.2 s)."""
    return FaceMeshModels()

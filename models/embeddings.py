"""Face embeddings (dlib ResNet, 128-d) and their distances, computed in torch.

Faces are found with dlib's HOG detector and aligned with the 5-point landmark model
(eye corners + nose); the 68-point model is not used here because its training data
(iBUG 300-W) excludes commercial use. Model files come from the installed
``face_recognition_models`` package, so nothing is downloaded at run time.

Distances are Euclidean, the metric dlib's ResNet was trained for. They are computed in
torch, batched, on the device ``proctorlake.core.devices.torch_device()`` picks (a GPU when
present), because mid-exam takeover checks compare every sampled frame with the verified
reference face.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache

import numpy as np
import torch

from proctorlake.core.devices import torch_device

EMBEDDING_DIM = 128

# Same-person distance threshold, calibrated by ``python -m models.identity_calibration`` on
# the real-face pair set (astronaut, Grace Hopper, carphone frames, 100 LFW crops; 343 same
# and 38,160 different pairs): the most lenient threshold with FAR <= 0.1% (FAR 0.073%,
# FRR 0% on all pairs). Tuned on one half of the people and tested on the other it gave
# 0.46 / 0.42 with held-out FAR 0.20% / 0.06% and FRR 0% / 0%. dlib's usual cut-off 0.6
# gives FAR 4.4% here (mostly among the blurry 25 px LFW crops).
SAME_PERSON_MAX_DISTANCE = 0.46

# HOG scores below this are not faces: a badge on the astronaut's suit scores 0.12 with
# one upsampling step, real faces in the pair set score above 0.35.
MIN_DETECTION_SCORE = 0.25

# Images are scaled so their longer side is at most this before detection: phone photos of
# 4000 px cost seconds in HOG and add nothing to a 150 px aligned face chip.
MAX_IMAGE_SIDE = 1280


@dataclass(frozen=True)
class FaceEmbedding:
    """One face: where it is (in the input image's pixels), how sure, and its 128-d vector."""

    box: tuple[int, int, int, int]  # x, y, width, height
    detection_score: float
    landmarks5: np.ndarray  # (5, 2) float: 2 corners of each eye, then the nose base
    vector: np.ndarray  # (128,) float32


@lru_cache(maxsize=1)
def _dlib_models():
    import dlib
    import face_recognition_models as frm

    return (
        dlib.get_frontal_face_detector(),
        dlib.shape_predictor(frm.pose_predictor_five_point_model_location()),
        dlib.face_recognition_model_v1(frm.face_recognition_model_location()),
    )


def _as_rgb_uint8(image: np.ndarray) -> np.ndarray:
    if image.dtype != np.uint8:
        raise ValueError(f"expected a uint8 image, got {image.dtype}")
    if image.ndim == 2:
        image = np.repeat(image[:, :, None], 3, axis=2)
    if image.ndim != 3 or image.shape[2] not in (3, 4):
        raise ValueError(f"expected an HxW, HxWx3 or HxWx4 image, got shape {image.shape}")
    return np.ascontiguousarray(image[:, :, :3])


def _downscale(image: np.ndarray, max_side: int) -> tuple[np.ndarray, float]:
    import cv2

    longest = max(image.shape[:2])
    if longest <= max_side:
        return image, 1.0
    scale = max_side / longest
    size = (round(image.shape[1] * scale), round(image.shape[0] * scale))
    return cv2.resize(image, size, interpolation=cv2.INTER_AREA), scale


def detect_and_embed(
    image: np.ndarray,
    upsample: int = 1,
    min_score: float = MIN_DETECTION_SCORE,
    max_side: int = MAX_IMAGE_SIDE,
) -> list[FaceEmbedding]:
    """Every face in an RGB (or gray) uint8 image, best detection score first.

    Detection runs without upsampling first and upsamples (up to ``upsample`` steps) only
    when nothing was found: that finds the small face on a photographed ID card, while
    upsampling a large face lowers its score (a 150 px carphone face: 1.13 -> 0.23).
    ``min_score`` drops the false faces that upsampling also finds.
    """
    import dlib

    detector, predictor, encoder = _dlib_models()
    rgb, scale = _downscale(_as_rgb_uint8(image), max_side)
    gray = np.ascontiguousarray(rgb.mean(axis=2).astype(np.uint8))
    found = []
    for level in range(upsample + 1):  # upsampling only when needed: it lowers big faces' scores
        rects, scores, _ = detector.run(gray, level, 0.0)
        found = [(r, s) for r, s in zip(rects, scores, strict=True) if s >= min_score]
        if found:
            break
    found.sort(key=lambda item: -item[1])
    if not found:
        return []
    shapes = dlib.full_object_detections()
    for rect, _ in found:
        shapes.append(predictor(rgb, rect))
    vectors = encoder.compute_face_descriptor(rgb, shapes)
    faces = []
    for (rect, score), shape, vector in zip(found, shapes, vectors, strict=True):
        points = np.array([(p.x, p.y) for p in shape.parts()], dtype=np.float64) / scale
        faces.append(
            FaceEmbedding(
                box=(
                    round(rect.left() / scale),
                    round(rect.top() / scale),
                    round(rect.width() / scale),
                    round(rect.height() / scale),
                ),
                detection_score=float(score),
                landmarks5=points,
                vector=np.asarray(vector, dtype=np.float32),
            )
        )
    return faces


def embed_face_at(image: np.ndarray, box: tuple[int, int, int, int]) -> np.ndarray:
    """The 128-d vector of the face already found at ``box`` (x, y, w, h in ``image``'s
    pixels): the webcam path has its BlazeFace boxes, so only alignment and the ResNet run."""
    import dlib

    _, predictor, encoder = _dlib_models()
    rgb = _as_rgb_uint8(image)
    x, y, w, h = (int(v) for v in box)
    shape = predictor(rgb, dlib.rectangle(x, y, x + w, y + h))
    return np.asarray(encoder.compute_face_descriptor(rgb, shape), dtype=np.float32)


def embed_batch(images: Sequence[np.ndarray], upsample: int = 1) -> list[list[FaceEmbedding]]:
    """Faces of each image in a batch (the single-image call is a batch of one)."""
    return [detect_and_embed(image, upsample=upsample) for image in images]


def _tensor(vectors: np.ndarray | torch.Tensor, device: torch.device) -> torch.Tensor:
    if not torch.is_tensor(vectors):
        vectors = np.ascontiguousarray(vectors, dtype=np.float32)
    tensor = torch.as_tensor(vectors)
    tensor = tensor.to(device=device, dtype=torch.float32)
    if tensor.ndim == 1:
        tensor = tensor[None, :]
    if tensor.ndim != 2 or tensor.shape[1] != EMBEDDING_DIM:
        raise ValueError(f"expected (n, {EMBEDDING_DIM}) embeddings, got {tuple(tensor.shape)}")
    return tensor


def pairwise_distances(a: np.ndarray | torch.Tensor, b: np.ndarray | torch.Tensor) -> np.ndarray:
    """Euclidean distances between every row of ``a`` (n, 128) and of ``b`` (m, 128): (n, m)."""
    device = torch_device()
    with torch.no_grad():
        distances = torch.cdist(_tensor(a, device), _tensor(b, device))
    return distances.cpu().numpy()


def paired_distances(a: np.ndarray | torch.Tensor, b: np.ndarray | torch.Tensor) -> np.ndarray:
    """Euclidean distance of row i of ``a`` to row i of ``b``, for n pairs at once: (n,)."""
    device = torch_device()
    with torch.no_grad():
        ta, tb = _tensor(a, device), _tensor(b, device)
        if ta.shape != tb.shape:
            raise ValueError(f"pair batches differ in shape: {ta.shape} vs {tb.shape}")
        distances = torch.linalg.vector_norm(ta - tb, dim=1)
    return distances.cpu().numpy()


def similarity_from_distance(distance: float | np.ndarray) -> float | np.ndarray:
    """A 0..1 score for people to read: 1 - distance, floored at 0 (same person from 0.54 up)."""
    return np.clip(1.0 - np.asarray(distance, dtype=np.float64), 0.0, 1.0)[()]


def same_person(distance: float, max_distance: float = SAME_PERSON_MAX_DISTANCE) -> bool:
    return bool(distance <= max_distance)

"""Takeover (``different_person``): someone else sitting the exam in the candidate's place.

The one flag the product may act on by itself, so it is built to stay quiet: a face embedding
(``models.embeddings``, dlib ResNet 128-d) of the only face in frame is taken on a schedule,
not every second (it costs several times a frame's face detection and mesh): the first clear
single-face sample of each 30 s window, and the first one after an absence (who comes back
may be someone else). Each embedding is compared with the session's reference: the verified
identity's selfie when the session has one, otherwise the faces of its first minute.
``models.temporal_rules`` raises ``different_person`` when two embedded samples in a row are
farther from the reference than :data:`DIFFERENT_PERSON_MIN_DISTANCE`; one sample that
matches again ends it.

Both paths call :func:`add_embeddings` with an :class:`EmbeddingSchedule` kept per session
(stream) or per recording chunk (batch; chunks start on a 30 s boundary, so the schedules
agree), and the embedding travels in the observation's ``detail``.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field, replace

import numpy as np

from models.webcam import WebcamObservation

TAKEOVER_SAMPLE_EVERY_S = 30.0
"""One embedding per 30 s window (issue 13): a takeover lasting a minute gives two samples."""
RETURN_AFTER_ABSENCE_S = 3.0
"""An absence this long (the shortest ``face_not_visible`` event) earns a sample on return;
1-2 s dropouts of the detector do not."""
MIN_FACE_SCORE = 0.85
"""A face is embedded only when BlazeFace finds it this surely (its probability); until then
the sample stays due (the next clear second of the window takes it). On the real clips of the
dev set, embedding every single-face second and comparing it with the clip's first face, the
samples farthest from their own person were the unclear ones: pexels_emotions with a hand over
the mouth and eyes shut (0.84, distance 0.63, followed by 0.89 at 0.62: two in a row over the
threshold under a gate of 0.84 or less, a false takeover) and foreman_panaway turning away
(0.851, 0.65, alone). At 0.85: 241 of 246 samples compared, no two in a row over 0.60; at
0.9 the largest distance falls to 0.52, but the synthetic swaps' blurred LFW faces (BlazeFace
0.85-0.9) are then never compared and swap recall falls from 7/9 to 5/9. A face that never
scores 0.85 (a very blurred or dim webcam) is never compared, so no takeover is found for it."""
REFERENCE_WINDOW_S = 60.0
"""Without a verified identity, the samples of the session's first minute are the reference.
Counted from the session's start, not from the first clear face: a candidate whose face is
never clear in that minute leaves no reference (nothing is compared), rather than letting
whoever is clear later become it."""
DIFFERENT_PERSON_MIN_DISTANCE = 0.60
"""Embedding distance above which a sample is someone else. Identity verification accepts
up to 0.46 (FAR 0.1% on photo pairs, ``models/embeddings.py``); webcam frames of one person
drift further (light, pose, expression): on the 14 real clips of the dev set, every clear
single-face second compared with the clip's first clear face stayed at or below 0.525
(``bench/takeover_distances.py``, models/README.md), while the synthetic swaps' strangers sit
at 0.65-0.80 (one pair of blurry LFW crops at 0.51). dlib's own cut-off, 0.6, sits between,
and a flag needs two such samples in a row."""


@dataclass
class EmbeddingSchedule:
    """Which samples get an embedding: call :meth:`due` once per sample, in time order."""

    every_s: float = TAKEOVER_SAMPLE_EVERY_S
    absence_s: float = RETURN_AFTER_ABSENCE_S
    min_score: float = MIN_FACE_SCORE
    window: int | None = None
    absent_since: float | None = None

    def due(self, ts: float, face_count: int, score: float = math.inf) -> bool:
        """Whether this sample (``score``: its face's BlazeFace probability) gets an embedding."""
        if face_count == 0:
            if self.absent_since is None:
                self.absent_since = ts
            return False
        if face_count >= 2 or score < self.min_score:
            return False  # whose face is whose is unknown / too unclear to compare
        returned = self.absent_since is not None and ts - self.absent_since >= self.absence_s
        self.absent_since = None
        window = math.floor(ts / self.every_s)
        if returned or window != self.window:
            self.window = window
            return True
        return False


def add_embeddings(
    observations: Sequence[WebcamObservation],
    frames: Sequence[np.ndarray],
    schedule: EmbeddingSchedule,
) -> list[WebcamObservation]:
    """The observations (in time order) with the main face's embedding on the due ones."""
    from models.embeddings import embed_face_at

    out = []
    for observation, frame in zip(observations, frames, strict=True):
        face = observation.main_face
        score = face.score if face is not None else 0.0
        if schedule.due(observation.frame_ts, observation.face_count, score) and face is not None:
            vector = embed_face_at(frame, (face.x, face.y, face.w, face.h))
            observation = replace(observation, embedding=embedding_values(vector))
        out.append(observation)
    return out


def embedding_values(vector: np.ndarray) -> tuple[float, ...]:
    """The vector as stored in ``detail``: 4 decimals (distances move by < 1e-3)."""
    return tuple(round(float(v), 4) for v in vector)


@dataclass
class TakeoverReference:
    """The session's reference faces and how far each new sample is from them."""

    vectors: list[np.ndarray] = field(default_factory=list)
    verified: bool = False
    window_s: float = REFERENCE_WINDOW_S

    @classmethod
    def of_verified(cls, vector: np.ndarray) -> TakeoverReference:
        return cls([np.asarray(vector, dtype=np.float32)], verified=True)

    def distance(self, ts: float, embedding: Sequence[float]) -> float | None:
        """Distance of a sample (``ts``: seconds since the session started) to the nearest
        reference face; None while the first minute is being learnt, or without a reference."""
        vector = np.asarray(embedding, dtype=np.float32)
        if not self.verified and ts < self.window_s:
            self.vectors.append(vector)
            return None
        if not self.vectors:
            return None
        return float(min(np.linalg.norm(ref - vector) for ref in self.vectors))


def sample_confidence(distance: float, threshold: float = DIFFERENT_PERSON_MIN_DISTANCE) -> float:
    """0.5 at the threshold, 1.0 at 0.3 past it (different people sit at 0.8-1.0)."""
    return float(min(1.0, max(0.5, 0.5 + (distance - threshold) / 0.6)))

"""The takeover check on real clips with no takeover (every flag is a false alarm).

Two runs per clip. As shipped: ``proctorlake analyze``'s observations (an embedding every
30 s and at each return) through the shared rules, counting ``different_person`` flags; clips
under a minute are all reference there, so this alone proves little. Dense: every single-face
second embedded and compared with the clip's first embedded face, so every second of real
footage tests the threshold; it reports the largest distance and how many times two samples
in a row passed the threshold. ``python bench/takeover_distances.py FOLDER``
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np

from models.takeover import DIFFERENT_PERSON_MIN_DISTANCE, EmbeddingSchedule, add_embeddings
from models.temporal_rules import observations_to_flags
from models.webcam import analyze_webcam_frames
from proctorlake.services.analyze import recording_observations
from proctorlake.storage.video import iter_decoded_frames


def dense_distances(clip: Path) -> list[float]:
    """Distance of every single-face second to the clip's first embedded face."""
    frames, stamps, next_s = [], [], 0.0
    for t, image in iter_decoded_frames(clip):
        if t + 1e-6 >= next_s:
            frames.append(image)
            stamps.append(t)
            next_s += 1.0
    schedule = EmbeddingSchedule(every_s=1.0)
    observations = add_embeddings(analyze_webcam_frames(frames, stamps), frames, schedule)
    vectors = [np.asarray(o.embedding) for o in observations if o.embedding is not None]
    return [float(np.linalg.norm(v - vectors[0])) for v in vectors[1:]]


def main(folder: str) -> None:
    worst, false_alarms, dense_pairs, dense_samples = 0.0, 0, 0, 0
    clips = sorted(Path(folder).glob("*.mp4"))
    for clip in clips:
        webcam, _, seconds = recording_observations(clip)
        flags = [f for f in observations_to_flags(webcam) if f.type == "different_person"]
        distances = dense_distances(clip)
        over = [d > DIFFERENT_PERSON_MIN_DISTANCE for d in distances]
        pairs = sum(1 for a, b in zip(over, over[1:], strict=False) if a and b)
        worst = max([worst, *distances])
        false_alarms += len(flags)
        dense_pairs += pairs
        dense_samples += len(distances)
        row = {
            "clip": clip.name,
            "seconds": seconds,
            "embedded_as_shipped": sum(o.embedding is not None for o in webcam),
            "different_person": len(flags),
            "dense_samples": len(distances),
            "dense_max_distance": round(max(distances, default=0.0), 3),
            "dense_p95_distance": round(float(np.percentile(distances, 95)), 3)
            if distances
            else None,
            "dense_two_in_a_row_over": pairs,
        }
        print(json.dumps(row), flush=True)
    summary = {
        "clips": len(clips),
        "false_alarms": false_alarms,
        "dense_samples": dense_samples,
        "dense_max_distance": round(worst, 3),
        "dense_two_in_a_row_over": dense_pairs,
    }
    print(json.dumps(summary))


if __name__ == "__main__":
    main(sys.argv[1])

"""Recall of the takeover check on synthetic swaps, and its quiet on the same person back.

For every face of the samples, two seeded sessions rendered at 1 fps: the candidate sits the
first 62 s, leaves for 4 s, then either someone else (the next face in ``FACE_NAMES``) or the
candidate again, in dimmer light, sits 64 s more. Each runs the shared detectors, the takeover
schedule and rules (as the batch path does) and prints whether ``different_person`` was
raised and the distances of the samples after the first minute.
``python bench/takeover_swaps.py``
"""

from __future__ import annotations

import json

from models.takeover import EmbeddingSchedule, TakeoverReference, add_embeddings
from models.temporal_rules import observations_to_flags
from models.webcam import analyze_webcam_frames
from proctorlake.samples import Segment, WebcamScript, render_webcam_frames
from proctorlake.samples.faces import FACE_NAMES


def run(script: WebcamScript, seed: int) -> dict:
    frames = list(render_webcam_frames(script, seed=seed, fps=1))
    schedule = EmbeddingSchedule()
    observations = []
    for i in range(0, len(frames), 16):
        batch = frames[i : i + 16]
        stamps = [float(t) for t in range(i, i + len(batch))]
        observations += add_embeddings(analyze_webcam_frames(batch, stamps), batch, schedule)
    reference = TakeoverReference()
    distances = [reference.distance(o.frame_ts, o.embedding) for o in observations if o.embedding]
    flags = [f for f in observations_to_flags(observations) if f.type == "different_person"]
    return {
        "raised": bool(flags),
        "start_s": flags[0].start_s if flags else None,
        "distances": [round(d, 3) for d in distances if d is not None],
    }


def main() -> None:
    swaps_raised = same_raised = 0
    for i, face in enumerate(FACE_NAMES):
        other = FACE_NAMES[(i + 1) % len(FACE_NAMES)]
        first = (Segment("present", 62.0), Segment("absent", 4.0))
        swap = WebcamScript((*first, Segment("takeover", 64.0)), face, other, background_seed=i)
        back = WebcamScript((*first, Segment("present", 64.0, gamma=1.8)), face, other, i)
        swapped, same = run(swap, seed=100 + i), run(back, seed=200 + i)
        swaps_raised += swapped["raised"]
        same_raised += same["raised"]
        print(json.dumps({"face": face, "swap_to": other, "swap": swapped, "same": same}))
    n = len(FACE_NAMES)
    print(
        json.dumps(
            {"swaps": n, "recall": round(swaps_raised / n, 3), "same_person_flags": same_raised}
        )
    )


if __name__ == "__main__":
    main()

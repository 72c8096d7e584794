"""Issue 19's check on the screen gate: the dev sets' screen clips with and without it.

Renders the screen clips of a seeded dev set exactly as ``proctorlake.samples.devset`` does
(the same random draws, webcam clips skipped), samples each as ``proctorlake analyze`` does,
and analyses the frames twice: every frame read by OCR, and through
``models.screen_changes.ScreenChangeGate``. Prints per clip the frames read and reused and
whether the flags are the same; the last line is a JSON object with ``flags_equal`` (all
clips), the frames read and reused, and the OCR CPU seconds of both ways.

    .venv/bin/python bench/screen_changes.py [--seed 0] [--clips 18] [--screens 6]
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import av  # noqa: E402,F401  (before decord)

from models.screen_apps import SCREEN_SAMPLE_EVERY_S  # noqa: E402
from models.screen_changes import ScreenChangeGate, analyze_screen_frames_gated  # noqa: E402
from models.temporal_rules import observations_to_flags  # noqa: E402
from proctorlake.samples.devset import FACE_NAMES, GAMMAS, SIZES, random_screen, random_script  # noqa: E402
from proctorlake.samples.screen import make_screen_recording  # noqa: E402
from proctorlake.storage.video import sample_frames  # noqa: E402


def screen_clips(out_dir: Path, seed: int, clips: int, screens: int, duration_s: float):
    """The dev set's screen recordings (same draws as ``build_dev_set``)."""
    rng = np.random.default_rng(seed)
    for i in range(min(clips, screens)):
        face = FACE_NAMES[i % len(FACE_NAMES)]
        gamma = GAMMAS[(i // len(FACE_NAMES) + i) % len(GAMMAS)]
        random_script(rng, face, gamma, duration_s)
        rng.integers(len(SIZES))
        path = out_dir / f"clip_{i:03d}_screen.mp4"
        make_screen_recording(path, random_screen(rng, duration_s), seed + i)
        yield path


def flags_of(observations: list) -> list[tuple]:
    return [(f.type, f.start_s, f.end_s) for f in observations_to_flags([], observations)]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--clips", type=int, default=18)
    parser.add_argument("--screens", type=int, default=6)
    parser.add_argument("--duration", type=float, default=60.0)
    args = parser.parse_args()
    totals = {"read": 0, "reused": 0, "cpu_every_frame_s": 0.0, "cpu_gated_s": 0.0}
    equal = True
    with tempfile.TemporaryDirectory(prefix="proctorlake-screen-gate-") as tmp:
        for path in screen_clips(Path(tmp), args.seed, args.clips, args.screens, args.duration):
            sampled = list(sample_frames(path, SCREEN_SAMPLE_EVERY_S))
            frames, stamps = [f for _, f in sampled], [t for t, _ in sampled]
            started = time.process_time()
            every = analyze_screen_frames_gated(frames, stamps, ScreenChangeGate(recheck_every=1))
            totals["cpu_every_frame_s"] += time.process_time() - started
            gate = ScreenChangeGate()
            started = time.process_time()
            gated = analyze_screen_frames_gated(frames, stamps, gate)
            totals["cpu_gated_s"] += time.process_time() - started
            same = flags_of(every) == flags_of(gated)
            equal &= same
            totals["read"] += gate.read
            totals["reused"] += gate.reused
            print(f"{path.name}: read {gate.read}, reused {gate.reused}, flags equal: {same}")
    result = {"seed": args.seed, "flags_equal": equal}
    result |= {k: round(v, 2) if isinstance(v, float) else v for k, v in totals.items()}
    print(json.dumps(result))


if __name__ == "__main__":
    main()

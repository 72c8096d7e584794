"""A seeded, labelled dev set of webcam (and some screen) recordings from real faces.

``python -m proctorlake.samples.devset OUT_DIR [--seed 0] [--clips 18]`` writes the videos
and ``labels.json`` in issue 3's contract (name, webcam, screen, duration_s, events), plus
the script of each clip (face, light, segments) so the evaluation can break results down by
face and by lighting (the fairness table). Tune on this set, never on the held-out one.
"""

from __future__ import annotations

import argparse
import json
from dataclasses import asdict
from pathlib import Path

import numpy as np

from proctorlake.samples.faces import FACE_NAMES
from proctorlake.samples.screen import ScreenSegment, make_screen_recording
from proctorlake.samples.webcam import Segment, WebcamScript, make_webcam_recording

GAMMAS = (1.0, 1.4, 1.8, 2.2)
"""Base lighting of the clips: gamma 1.0 (bright) to 2.2 (dim room)."""


SIZES = ((640, 480),) * 8 + ((1280, 720), (320, 240))
"""Most clips at 640x480, some HD and some small, to exercise the detection scale."""


def random_script(
    rng: np.random.Generator,
    face: str,
    gamma: float,
    duration_s: float,
    lead_in_s: tuple[float, float] = (10.0, 14.0),
):
    """Segments alternating normal work with events and hard negatives, all seeded. The
    first ``lead_in_s`` (a range) the student works normally; a short lead-in puts events
    inside the rules' calibration seconds."""
    second = str(rng.choice([f for f in FACE_NAMES if f != face]))
    segments = [Segment("present", float(rng.uniform(*lead_in_s)), gamma)]
    while sum(s.duration_s for s in segments) < duration_s - 12:
        roll = rng.random()
        if roll < 0.2:
            seg = Segment("absent", float(rng.uniform(3.5, 10)), gamma)
        elif roll < 0.4:
            seg = Segment("second_person", float(rng.uniform(3.5, 10)), gamma)
        elif roll < 0.6:
            yaw = float(rng.choice([-1, 1]) * rng.uniform(35, 65))
            seg = Segment("turned", float(rng.uniform(3.5, 8)), gamma, yaw)
        elif roll < 0.75:
            yaw = float(rng.choice([-1, 1]) * rng.uniform(40, 65))
            seg = Segment("glance", float(rng.uniform(1.0, 2.0)), gamma, yaw)
        elif roll < 0.9:
            seg = Segment("dropout", float(rng.uniform(1.0, 2.0)), gamma)
        else:
            seg = Segment("present", float(rng.uniform(4, 8)), min(2.2, gamma + 0.8))  # dimming
        segments += [seg, Segment("present", float(rng.uniform(4, 8)), gamma)]
    used = sum(s.duration_s for s in segments)
    segments.append(Segment("present", max(4.0, duration_s - used), gamma))
    return WebcamScript(
        tuple(segments),
        face,
        second,
        background_seed=int(rng.integers(1 << 30)),
        face_scale=float(rng.uniform(0.75, 1.15)),
    )


def random_screen(rng: np.random.Generator, duration_s: float) -> tuple[ScreenSegment, ...]:
    """Exam, allowed tools and a body-text mention of ChatGPT, with banned windows >= 20 s."""
    banned = ["chatgpt", "whatsapp", "discord", "search"]
    harmless = ["calculator", "news"]
    segments = [ScreenSegment(float(rng.uniform(12, 20)), "exam")]
    while sum(s.duration_s for s in segments) < duration_s - 25:
        name = str(rng.choice(banned if rng.random() < 0.6 else harmless))
        segments.append(ScreenSegment(float(rng.uniform(12, 22)), name, "exam"))
        segments.append(ScreenSegment(float(rng.uniform(8, 12)), "exam"))
    used = sum(s.duration_s for s in segments)
    segments.append(ScreenSegment(max(5.0, duration_s - used), "exam"))
    return tuple(segments)


def build_dev_set(
    out_dir: Path,
    seed: int = 0,
    clips: int = 18,
    duration_s: float = 60.0,
    screens: int = 6,
    fps: int = 10,
    lead_in_s: tuple[float, float] = (10.0, 14.0),
) -> Path:
    """Write the clips and labels.json; returns the labels path."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    labels = []
    for i in range(clips):
        face = FACE_NAMES[i % len(FACE_NAMES)]
        gamma = GAMMAS[(i // len(FACE_NAMES) + i) % len(GAMMAS)]
        script = random_script(rng, face, gamma, duration_s, lead_in_s)
        name = f"clip_{i:03d}"
        size = SIZES[int(rng.integers(len(SIZES)))]
        truth = make_webcam_recording(
            out_dir / f"{name}.mp4", script, seed * 1000 + i, fps=fps, size=size
        )
        entry = {
            "name": name,
            "webcam": f"{name}.mp4",
            "screen": None,
            "duration_s": truth.duration_s,
            "events": truth.events_as_dicts(),
            "face": face,
            "gamma": gamma,
            "size": list(size),
            "face_scale": script.face_scale,
            "segments": [asdict(s) for s in script.segments],
        }
        if i < screens:
            screen = make_screen_recording(
                out_dir / f"{name}_screen.mp4", random_screen(rng, truth.duration_s), seed + i
            )
            entry["screen"] = f"{name}_screen.mp4"
            entry["events"] += [asdict(e) for e in screen.events]
        labels.append(entry)
    path = out_dir / "labels.json"
    path.write_text(json.dumps(labels, indent=1))
    return path


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("out_dir", type=Path)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--clips", type=int, default=18)
    parser.add_argument("--duration", type=float, default=60.0)
    parser.add_argument("--screens", type=int, default=6)
    parser.add_argument(
        "--lead-in",
        type=float,
        nargs=2,
        default=(10.0, 14.0),
        metavar=("MIN_S", "MAX_S"),
        help="normal work before the first event (short: events during calibration)",
    )
    args = parser.parse_args(argv)
    print(
        build_dev_set(
            args.out_dir,
            args.seed,
            args.clips,
            args.duration,
            args.screens,
            lead_in_s=tuple(args.lead_in),
        )
    )


if __name__ == "__main__":
    main()

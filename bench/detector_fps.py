"""Webcam detector throughput: BlazeFace + face mesh + irises + head pose and gaze per 640x480
frame, on one core (``--device cuda``: on a GPU, frames/s of the whole process).

Each frame is one session-second, so frames per second per core is also session-seconds
analysed per second per core. Frames are real faces rendered by the sample generator (one
face, two faces, nobody, a turned head). CPU time of this single-threaded process is the
measure (wall time is printed too: on a shared machine it includes waiting for a core).
The last line is a JSON object with ``frames_per_s_per_core``.
"""

from __future__ import annotations

import argparse
import json
import os
import time

import cv2
import torch

from models.webcam import analyze_webcam_frames
from proctorlake.samples import Segment, WebcamScript, render_webcam_frames

ROUNDS = 3


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--device", default="cpu", help="torch device: cpu (default), cuda")
    args = parser.parse_args()
    os.environ["PROCTORLAKE_TORCH_DEVICE"] = args.device
    cv2.setNumThreads(1)
    torch.set_num_threads(1)  # one core: the figure is per core
    script = WebcamScript(
        (
            Segment("present", 20),
            Segment("second_person", 10),
            Segment("absent", 5),
            Segment("turned", 5, yaw_deg=45),
            Segment("present", 10, gamma=2.2),
        ),
        "grace_hopper",
        "astronaut",
        background_seed=1,
    )
    frames = list(render_webcam_frames(script, seed=1, fps=1, size=(640, 480)))
    stamps = [float(t) for t in range(len(frames))]
    analyze_webcam_frames(frames[:2], stamps[:2])  # load the detector and landmark model
    cpu0, wall0 = time.process_time(), time.perf_counter()
    for _ in range(ROUNDS):
        analyze_webcam_frames(frames, stamps)
    cpu, wall = time.process_time() - cpu0, time.perf_counter() - wall0
    n = len(frames) * ROUNDS
    result = {
        "frames_per_s_per_core": round(n / cpu, 1),
        "ms_per_frame_cpu": round(1000 * cpu / n, 2),
        "frames_per_s_wall": round(n / wall, 1),
        "frame_size": "640x480",
        "device": args.device,
        "frames": n,
        "load_average_1min": round(os.getloadavg()[0], 2),
    }
    print(json.dumps(result))


if __name__ == "__main__":
    main()

"""Derived real clips: the real set's gaps filled from its own footage, labelled by construction.

A labelled real set (``../shared/realvideo``'s ``labels.json`` format) has no second person, no
portrait phone video and nobody sitting far from the camera. This builds them from its clips,
seeded:

- ``rot<deg>_<clip>``: the clip stored as a phone stores portrait video (sensor frames turned
  back, a display matrix turning them upright); its labels are the original's.
- ``far<size>_<clip>``: the clip shrunk into a 640x480 frame so the candidate's face is
  ``size`` hundredths of the frame's width (a student sitting back); its labels are the
  original's.
- ``second<size>_<clip>``: a real person from another clip pasted into the background beside
  the candidate (a feathered ellipse around the donor's head, the donor's own motion kept):
  once for 5 s (a ``multiple_faces`` event) and once for 1.5 s (a short negative). ``size``
  is the pasted face's width in thousandths of the frame width (40: 26 px at 640x480).

``python -m proctorlake.samples.derived_real SRC_DIR OUT_DIR [--seed 0]``, then
``proctorlake evaluate OUT_DIR``. The pasted faces test the code paths and the detector's
reach with real faces, not a real second person's light and pose: only real footage does.
"""

from __future__ import annotations

import argparse
import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from models.faces import detect_faces
from proctorlake.storage.video import iter_decoded_frames, probe, write_video

PASTE_FACE_WIDTHS = (0.04, 0.07, 0.11, 0.16)
"""Pasted face width as a share of the frame width: 26, 45, 70 and 102 px at 640 px wide. The
issue asks for second faces down to about 24 px; BlazeFace short range on the whole frame found
faces from about 93 px (models/README.md)."""
EVENT_S = 5.0
SHORT_S = 1.5
ROTATIONS = (90, 270)
SHRUNK_FACE_WIDTHS = (0.13, 0.09, 0.07)
"""The candidate's face width, as a share of the frame width, in the shrunk copies: a student
sitting back from the camera (83, 58 and 45 px at 640x480; the real clips' faces are
0.27-0.4)."""
SHRUNK_FRAME = (640, 480)


@dataclass(frozen=True)
class Paste:
    """A donor head shown from ``start_s`` for ``duration_s`` at ``(x, y)`` (top left)."""

    start_s: float
    duration_s: float
    x: int
    y: int


@dataclass(frozen=True)
class DonorHead:
    """Where the donor's head sits in its own frames, and what scale makes its face ``width``."""

    clip: Path
    start_s: float
    window: tuple[int, int, int, int]  # x, y, w, h around the head, donor pixels
    scale: float


def _largest_face(frame: np.ndarray) -> tuple[int, int, int, int] | None:
    faces = detect_faces([frame])[0].faces
    if not faces:
        return None
    face = max(faces, key=lambda f: f.w * f.h)
    return face.x, face.y, face.w, face.h


def _frame_at(path: Path, t: float) -> np.ndarray:
    return next(iter_decoded_frames(path, t))[1]


def head_window(face: tuple[int, int, int, int], size: tuple[int, int]) -> tuple[int, ...]:
    """A 1.5 x 2 face-sized window around a face box (head and hair, little background)."""
    x, y, w, h = face
    ww, wh = round(1.5 * w), round(2.0 * h)
    left = min(max(0, x + w // 2 - ww // 2), size[0] - ww)
    top = min(max(0, y + h // 2 - round(0.45 * wh)), size[1] - wh)
    return max(0, left), max(0, top), min(ww, size[0]), min(wh, size[1])


def feathered_ellipse(width: int, height: int) -> np.ndarray:
    """An alpha mask (height, width, 1) in [0, 1]: 1 inside an ellipse, soft at its edge."""
    yy, xx = np.mgrid[0:height, 0:width].astype(np.float32)
    r = np.hypot((xx + 0.5 - width / 2) / (width / 2), (yy + 0.5 - height / 2) / (height / 2))
    return np.clip((1.0 - r) / 0.2, 0.0, 1.0)[..., None]


def place_beside(
    main_face: tuple[int, int, int, int] | None,
    patch: tuple[int, int],
    size: tuple[int, int],
    rng: np.random.Generator,
) -> tuple[int, int] | None:
    """Top-left corner for a patch in the background beside the main face (the wider side),
    at head height; None when it fits on neither side."""
    pw, ph = patch
    width, height = size
    if ph > height:
        return None
    if main_face is None:
        left_room, right_start = width, 0
    else:
        x, _, w, _ = main_face
        margin = w // 4
        left_room, right_start = x - margin, x + w + margin
    sides = []
    if left_room >= pw:
        sides.append((left_room - pw, 0, left_room - pw))
    if width - right_start >= pw:
        sides.append((width - right_start - pw, right_start, width - pw))
    if not sides:
        return None
    _, low, high = max(sides)
    top_high = min(height - ph, round(0.35 * height))
    return int(rng.integers(low, high + 1)), int(rng.integers(0, top_high + 1))


def donor_frames(donor: DonorHead, fps: float) -> Iterator[np.ndarray]:
    """The donor's head patches from ``start_s`` on, looping, scaled and at the target's rate."""
    x, y, w, h = donor.window
    size = (max(2, round(w * donor.scale)), max(2, round(h * donor.scale)))
    while True:
        tick = 0.0
        for t, frame in iter_decoded_frames(donor.clip, donor.start_s):
            if t - donor.start_s + 1e-6 < tick:
                continue
            tick += 1.0 / fps
            yield cv2.resize(frame[y : y + h, x : x + w], size, interpolation=cv2.INTER_AREA)


def paste_heads(
    clip: Path, donor: DonorHead, pastes: list[Paste], fps: float
) -> Iterator[np.ndarray]:
    """The clip's frames with the donor's head pasted during each paste."""
    heads = donor_frames(donor, fps)
    mask = None
    for t, frame in iter_decoded_frames(clip):
        t = round(t, 6)  # frame times from the container's time base, e.g. 3.2999999
        active = [p for p in pastes if p.start_s <= t < p.start_s + p.duration_s]
        if active:
            head = next(heads).astype(np.float32)
            if mask is None:
                mask = feathered_ellipse(head.shape[1], head.shape[0])
            p = active[0]
            region = frame[p.y : p.y + head.shape[0], p.x : p.x + head.shape[1]]
            blended = mask * head + (1.0 - mask) * region.astype(np.float32)
            frame = frame.copy()
            frame[p.y : p.y + head.shape[0], p.x : p.x + head.shape[1]] = blended.astype(np.uint8)
        yield frame


def paste_times(duration_s: float, rng: np.random.Generator) -> tuple[float, float]:
    """Starts of the 5 s event and the 1.5 s short negative, 3 s or more apart, in the clip."""
    if duration_s < EVENT_S + SHORT_S + 7.0:
        raise ValueError(f"a {duration_s:.1f} s clip is too short for two pastes")
    event_first = bool(rng.integers(2))
    first_len, second_len = (EVENT_S, SHORT_S) if event_first else (SHORT_S, EVENT_S)
    first = float(rng.uniform(2.0, duration_s - first_len - second_len - 5.0))
    second = float(rng.uniform(first + first_len + 3.0, duration_s - second_len - 0.5))
    first, second = round(first, 2), round(second, 2)  # as the labels give them
    return (first, second) if event_first else (second, first)


def _label(entry: dict, name: str, rotation: int, conditions: str) -> dict:
    return {
        **entry,
        "name": name,
        "file": f"{name}.mp4",
        "webcam": f"{name}.mp4",
        "screen": None,
        "derived_from": entry["name"],
        "rotation_deg": rotation,
        "events": list(entry.get("events", [])),
        "short_negatives": list(entry.get("short_negatives", [])),
        "conditions": f"DERIVED: {conditions}. Original: {entry.get('conditions', '')}",
    }


def rotated_copy(entry: dict, source_dir: Path, out_dir: Path, rotation: int) -> dict:
    """Store one clip as a phone stores portrait video; its labels stay the original's."""
    clip = source_dir / entry["file"]
    name = f"rot{rotation}_{entry['name']}"
    frames = (frame for _, frame in iter_decoded_frames(clip))
    write_video(
        out_dir / f"{name}.mp4",
        frames,
        round(probe(clip).fps),
        display_rotation_deg=rotation,
    )
    conditions = f"stored with a {rotation} degree display matrix (portrait phone video)"
    return _label(entry, name, rotation, conditions)


def shrink_into_frame(frame: np.ndarray, share: float) -> np.ndarray:
    """The picture made ``share`` of a 640x480 frame's size, centred, edges repeated outward
    (no second face in the border, unlike a blurred copy of the picture)."""
    width, height = SHRUNK_FRAME
    small_w, small_h = max(2, round(width * share)), max(2, round(height * share))
    full = cv2.resize(frame, SHRUNK_FRAME, interpolation=cv2.INTER_AREA)
    small = cv2.resize(full, (small_w, small_h), interpolation=cv2.INTER_AREA)
    left, top = (width - small_w) // 2, (height - small_h) // 2
    return cv2.copyMakeBorder(
        small, top, height - small_h - top, left, width - small_w - left, cv2.BORDER_REPLICATE
    )


def shrunk_copy(entry: dict, source_dir: Path, out_dir: Path, face_width: float) -> dict:
    """The clip shrunk into a 640x480 frame so its candidate's face is ``face_width`` of the
    frame's width (measured at 1 s); the labels stay the original's."""
    clip = source_dir / entry["file"]
    info = probe(clip)
    face = _largest_face(_frame_at(clip, min(1.0, info.duration_s / 2)))
    if face is None:
        raise ValueError(f"no face in {entry['name']} at 1 s to measure")
    share = min(1.0, face_width * info.width / face[2])
    name = f"far{round(face_width * 100):02d}_{entry['name']}"
    frames = (shrink_into_frame(frame, share) for _, frame in iter_decoded_frames(clip))
    write_video(out_dir / f"{name}.mp4", frames, round(info.fps))
    conditions = (
        f"shrunk into a 640x480 frame (edges repeated) so the face is {face_width:.2f} of "
        f"the frame's width, about {round(face_width * 640)} px: a student sitting back"
    )
    return _label(entry, name, 0, conditions)


def _span(start_s: float, length_s: float, note: str) -> dict:
    end_s = round(start_s + length_s, 2)
    return {"type": "multiple_faces", "start_s": start_s, "end_s": end_s, "note": note}


def pasted_clips(
    entry: dict,
    donor_entry: dict,
    source_dir: Path,
    out_dir: Path,
    face_widths: tuple[float, ...],
    rng: np.random.Generator,
) -> list[dict]:
    """One clip per face width: the donor's head beside the candidate for 5 s and 1.5 s."""
    clip, donor_clip = source_dir / entry["file"], source_dir / donor_entry["file"]
    info, donor_info = probe(clip), probe(donor_clip)
    donor_start = float(rng.uniform(0.0, max(0.0, donor_info.duration_s - 8.0)))
    donor_face = _largest_face(_frame_at(donor_clip, donor_start))
    if donor_face is None:
        raise ValueError(f"no face in {donor_entry['name']} at {donor_start:.1f} s to paste")
    window = head_window(donor_face, (donor_info.width, donor_info.height))
    labels = []
    for share in face_widths:
        scale = share * info.width / donor_face[2]
        patch = (round(window[2] * scale), round(window[3] * scale))
        event_s, short_s = paste_times(info.duration_s, rng)
        pastes = []
        for start, length in ((event_s, EVENT_S), (short_s, SHORT_S)):
            main = _largest_face(_frame_at(clip, start + length / 2))
            corner = place_beside(main, patch, (info.width, info.height), rng)
            if corner is None:
                break
            pastes.append(Paste(start, length, *corner))
        if len(pastes) < 2:
            print(f"skipped: {entry['name']} has no room for a {patch[0]} px head beside it")
            continue
        name = f"second{round(share * 1000):03d}_{entry['name']}"
        donor = DonorHead(donor_clip, donor_start, window, scale)
        frames = paste_heads(clip, donor, pastes, info.fps)
        write_video(out_dir / f"{name}.mp4", frames, round(info.fps))
        conditions = (
            f"{donor_entry['name']}'s head pasted beside the candidate (face "
            f"{round(share * info.width)} px wide) at {pastes[0]} and {pastes[1]}"
        )
        label = _label(entry, name, 0, conditions)
        label["events"].append(_span(event_s, EVENT_S, "pasted second person"))
        label["short_negatives"].append(_span(short_s, SHORT_S, "pasted, 1.5 s"))
        labels.append(label)
    return labels


def build_derived_set(
    source_dir: Path,
    out_dir: Path,
    seed: int = 0,
    rotate: tuple[str, ...] = ("clm_talk2", "foreman_panaway", "gaze_backlit"),
    targets: tuple[str, ...] = ("clm_talk1", "clm_talk2", "franck_laugh"),
    donors: tuple[str, ...] = ("pexels_emotions", "franck_laugh"),
    face_widths: tuple[float, ...] = PASTE_FACE_WIDTHS,
    shrink: tuple[str, ...] = ("clm_talk1", "franck_laugh", "gaze_backlit", "pexels_emotions"),
    shrunk_face_widths: tuple[float, ...] = SHRUNK_FACE_WIDTHS,
) -> Path:
    """Write the derived clips and their labels.json; returns the labels path.

    Targets take the donors in turn, skipping themselves (the same person appears in several
    clips, so donors should be other people than their targets)."""
    source_dir, out_dir = Path(source_dir), Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    entries = {e["name"]: e for e in json.loads((source_dir / "labels.json").read_text())}
    rng = np.random.default_rng(seed)
    labels = [
        rotated_copy(entries[name], source_dir, out_dir, ROTATIONS[i % len(ROTATIONS)])
        for i, name in enumerate(rotate)
    ]
    for i, name in enumerate(targets):
        others = [d for d in donors if d != name]
        donor = entries[others[i % len(others)]]
        labels += pasted_clips(entries[name], donor, source_dir, out_dir, face_widths, rng)
    labels += [
        shrunk_copy(entries[name], source_dir, out_dir, width)
        for name in shrink
        for width in shrunk_face_widths
    ]
    path = out_dir / "labels.json"
    path.write_text(json.dumps(labels, indent=1))
    return path


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("source_dir", type=Path, help="a labelled real set (labels.json)")
    parser.add_argument("out_dir", type=Path)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    print(build_derived_set(args.source_dir, args.out_dir, args.seed))


if __name__ == "__main__":
    main()

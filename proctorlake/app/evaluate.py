"""``proctorlake evaluate DATASET_DIR``: score the detectors against a labelled set.

``labels.json`` is a list of ``{"name", "webcam", "screen", "duration_s", "events": [{"type",
"start_s", "end_s"}]}`` (paths relative to the folder). A flag matches an event when the
types are equal and they overlap by at least 1 s; events shorter than 3 s do not exist.
Per type: events, recall, flags, false flags, false-flag share (false flags / flags), false
flags per hour; plus overall figures. Clips that also carry ``face``, ``gamma`` and
``segments`` (the dev-set generator writes them) give the fairness table: face-not-visible
false flags and per-second face detection recall by face and by lighting.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections import defaultdict
from collections.abc import Callable
from pathlib import Path

from models.screen_apps import ScreenObservation
from models.temporal_rules import DEFAULT_PARAMS, INCIDENT_TYPES, RuleParams, observations_to_flags
from models.webcam import WebcamObservation
from proctorlake.services.analyze import recording_observations

MATCH_OVERLAP_S = 1.0
MIN_EVENT_S = 3.0
BOUNDARY_MARGIN_S = 1.0
"""Seconds next to a segment change are left out of detection recall (the person moves in)."""


def _overlap(a: dict, b: dict) -> float:
    return min(a["end_s"], b["end_s"]) - max(a["start_s"], b["start_s"])


def match(flags: list[dict], events: list[dict]) -> tuple[set[int], set[int]]:
    """Indices of matched events and of flags that match some event."""
    hit_events, true_flags = set(), set()
    for i, e in enumerate(events):
        for j, f in enumerate(flags):
            if f["type"] == e["type"] and _overlap(f, e) >= MATCH_OVERLAP_S:
                hit_events.add(i)
                true_flags.add(j)
    return hit_events, true_flags


def _present_seconds(segments: list[dict]) -> list[tuple[float, float]]:
    """(second, gamma) sampled while a frontal face is on camera, away from changes."""
    out, t = [], 0.0
    for seg in segments:
        start, end = t, t + seg["duration_s"]
        if seg["kind"] in ("present", "second_person"):
            second = float(int(start + BOUNDARY_MARGIN_S) + 1)
            while second <= end - BOUNDARY_MARGIN_S:
                out.append((second, seg["gamma"]))
                second += 1.0
        t = end
    return out


def _nearest(value: float, choices: tuple[float, ...]) -> float:
    return min(choices, key=lambda c: abs(c - value))


def _observations(clip: dict, dataset_dir: Path, cache_dir: Path | None):
    """The clip's per-frame observations, from ``cache_dir`` when already computed there
    (tuning the rules re-scores a set without re-running the detectors)."""
    screen = dataset_dir / clip["screen"] if clip.get("screen") else None
    cached = Path(cache_dir) / f"{clip['name']}.json" if cache_dir is not None else None
    if cached is not None and cached.is_file():
        payload = json.loads(cached.read_text())
        return (
            [WebcamObservation.from_dict(o) for o in payload["webcam"]],
            [ScreenObservation.from_dict(o) for o in payload["screen"]],
            payload["seconds"],
        )
    webcam, screen_obs, seconds = recording_observations(dataset_dir / clip["webcam"], screen)
    if cached is not None:
        cached.parent.mkdir(parents=True, exist_ok=True)
        payload = {
            "webcam": [o.to_dict() for o in webcam],
            "screen": [o.to_dict() for o in screen_obs],
            "seconds": seconds,
        }
        cached.write_text(json.dumps(payload))
    return webcam, screen_obs, seconds


def evaluate_dataset(
    dataset_dir: Path,
    params: RuleParams = DEFAULT_PARAMS,
    progress: Callable[[str], None] | None = None,
    cache_dir: Path | None = None,
) -> dict:
    """Run the analysis on every labelled clip and score it (see the module docstring)."""
    dataset_dir = Path(dataset_dir)
    labels = json.loads((dataset_dir / "labels.json").read_text())
    counts = {t: defaultdict(float) for t in INCIDENT_TYPES}
    hours = 0.0
    fair_face: dict = defaultdict(lambda: defaultdict(float))
    fair_gamma: dict = defaultdict(lambda: defaultdict(float))
    clips = []
    for clip in labels:
        if progress is not None:
            progress(clip["name"])
        webcam, screen_obs, seconds = _observations(clip, dataset_dir, cache_dir)
        flags = [f.to_json() for f in observations_to_flags(webcam, screen_obs, params)]
        events = [e for e in clip["events"] if e["end_s"] - e["start_s"] >= MIN_EVENT_S]
        hit_events, true_flags = match(flags, events)
        hours += clip.get("duration_s", seconds) / 3600.0
        for i, e in enumerate(events):
            counts[e["type"]]["events"] += 1
            counts[e["type"]]["hits"] += i in hit_events
        for j, f in enumerate(flags):
            counts[f["type"]]["flags"] += 1
            counts[f["type"]]["false_flags"] += j not in true_flags
        clips.append({"name": clip["name"], "flags": flags, "events": events})
        if "face" in clip and "segments" in clip:
            false_absent = sum(
                1
                for j, f in enumerate(flags)
                if f["type"] == "face_not_visible" and j not in true_flags
            )
            found = {o.frame_ts: o.face_count > 0 for o in webcam}
            gamma_group = _nearest(clip["gamma"], (1.0, 1.4, 1.8, 2.2))
            for group in (fair_face[clip["face"]], fair_gamma[gamma_group]):
                group["face_not_visible_false_flags"] += false_absent
                group["hours"] += clip["duration_s"] / 3600.0
            for second, gamma in _present_seconds(clip["segments"]):
                if second in found:
                    for group in (
                        fair_face[clip["face"]],
                        fair_gamma[_nearest(gamma, (1.0, 1.4, 1.8, 2.2))],
                    ):
                        group["face_seconds"] += 1
                        group["faces_found"] += found[second]
    return {
        "per_type": {t: _figures(c, hours) for t, c in counts.items()},
        "overall": _figures(_total(counts.values()), hours),
        "video_hours": round(hours, 4),
        "fairness": {
            "by_face": {k: _fairness(v) for k, v in sorted(fair_face.items())},
            "by_gamma": {str(k): _fairness(v) for k, v in sorted(fair_gamma.items())},
        },
        "clips": clips,
    }


def _total(parts) -> dict:
    total: dict = defaultdict(float)
    for part in parts:
        for key, value in part.items():
            total[key] += value
    return total


def _figures(c: dict, hours: float) -> dict:
    events, flags, false = int(c["events"]), int(c["flags"]), int(c["false_flags"])
    return {
        "events": events,
        "recall": round(c["hits"] / events, 4) if events else None,
        "flags": flags,
        "false_flags": false,
        "false_flag_share": round(false / flags, 4) if flags else 0.0,
        "false_flags_per_hour": round(false / hours, 2) if hours else 0.0,
    }


def _fairness(g: dict) -> dict:
    return {
        "face_not_visible_false_flags": int(g["face_not_visible_false_flags"]),
        "face_not_visible_false_flags_per_hour": round(
            g["face_not_visible_false_flags"] / g["hours"], 2
        )
        if g["hours"]
        else 0.0,
        "detection_recall": round(g["faces_found"] / g["face_seconds"], 4)
        if g["face_seconds"]
        else None,
        "face_seconds": int(g["face_seconds"]),
    }


def format_report(report: dict) -> str:
    """Plain-text tables: per type + overall, then fairness by face and by lighting."""
    head = f"{'type':<18}{'events':>7}{'recall':>8}{'flags':>7}{'false':>7}{'share':>8}{'/hour':>8}"
    lines = [head, "-" * len(head)]
    rows = [*report["per_type"].items(), ("overall", report["overall"])]
    for name, f in rows:
        recall = "-" if f["recall"] is None else f"{f['recall']:.2f}"
        lines.append(
            f"{name:<18}{f['events']:>7}{recall:>8}{f['flags']:>7}{f['false_flags']:>7}"
            f"{f['false_flag_share']:>8.3f}{f['false_flags_per_hour']:>8.1f}"
        )
    lines.append(f"video hours: {report['video_hours']}")
    for title, key in (("face", "by_face"), ("gamma", "by_gamma")):
        groups = report["fairness"][key]
        if not groups:
            continue
        lines += ["", f"{title:<14}{'det.recall':>11}{'seconds':>9}{'FNV false':>11}{'/hour':>8}"]
        for name, g in groups.items():
            recall = "-" if g["detection_recall"] is None else f"{g['detection_recall']:.3f}"
            lines.append(
                f"{name:<14}{recall:>11}{g['face_seconds']:>9}"
                f"{g['face_not_visible_false_flags']:>11}"
                f"{g['face_not_visible_false_flags_per_hour']:>8.1f}"
            )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Score the detectors on a labelled set.")
    parser.add_argument("dataset_dir", type=Path)
    parser.add_argument("--json", action="store_true", help="print the report as JSON")
    parser.add_argument(
        "--cache", type=Path, default=None, help="keep per-clip observations here (tuning)"
    )
    args = parser.parse_args(argv)
    report = evaluate_dataset(
        args.dataset_dir, progress=lambda n: print(n, file=sys.stderr), cache_dir=args.cache
    )
    print(json.dumps(report, indent=1) if args.json else format_report(report))
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""Derived clips from a labelled set: a rotated copy reads as the original, a pasted second
person is where and when its labels say, and the analyser scores them (issue 13, item 1)."""

from __future__ import annotations

import json

import numpy as np
import pytest

from proctorlake.app.evaluate import evaluate_dataset
from proctorlake.samples import make_webcam_recording
from proctorlake.samples.derived_real import EVENT_S, SHORT_S, build_derived_set
from proctorlake.samples.webcam import Segment, WebcamScript
from proctorlake.storage.video import iter_decoded_frames, probe


def _labelled_set(root, clips: dict[str, str]) -> None:
    """A tiny set in ../shared/realvideo's labels.json format: one person per clip, 16 s."""
    labels = []
    for name, face in clips.items():
        script = WebcamScript(
            (Segment("present", 16.0),), face=face, background_seed=3, face_scale=0.75
        )
        truth = make_webcam_recording(root / f"{name}.mp4", script, seed=7, fps=10)
        labels.append(
            {
                "name": name,
                "file": f"{name}.mp4",
                "source": "generated",
                "licence": "test",
                "duration_s": truth.duration_s,
                "rotation_deg": 0,
                "events": [],
                "short_negatives": [],
                "conditions": "one person at a desk",
            }
        )
    (root / "labels.json").write_text(json.dumps(labels))


def _frames(path) -> list[np.ndarray]:
    return [frame.astype(np.int16) for _, frame in iter_decoded_frames(path)]


@pytest.mark.slow
def test_derived_clips_carry_their_construction_in_labels_and_pixels(tmp_path):
    source, out = tmp_path / "real", tmp_path / "derived"
    source.mkdir()
    _labelled_set(source, {"alone": "astronaut", "donor": "grace_hopper"})

    labels_path = build_derived_set(
        source, out, seed=1, rotate=("alone",), targets=("alone",), donors=("donor",),
        face_widths=(0.2,), shrink=("alone",), shrunk_face_widths=(0.07,),
    )  # fmt: skip

    labels = {entry["name"]: entry for entry in json.loads(labels_path.read_text())}
    assert set(labels) == {"rot90_alone", "second200_alone", "far07_alone"}

    # the rotated copy is stored turned, and reads upright as the original did
    rotated = out / labels["rot90_alone"]["file"]
    assert probe(rotated).rotation_deg == 90
    original, turned = _frames(source / "alone.mp4"), _frames(rotated)
    assert len(turned) == len(original)
    assert np.abs(turned[40] - original[40]).mean() < 4.0

    # the pasted head changes the frames only while its labels say it is there
    pasted = labels["second200_alone"]
    (event,) = pasted["events"]
    (short,) = pasted["short_negatives"]
    assert event["type"] == short["type"] == "multiple_faces"
    assert event["end_s"] - event["start_s"] == pytest.approx(EVENT_S, abs=0.01)
    assert short["end_s"] - short["start_s"] == pytest.approx(SHORT_S, abs=0.01)
    # re-encoding moves pixels by a few levels; a pasted head moves a tenth of the frame a lot
    changed = [
        float(np.mean(np.abs(a - b).max(axis=2) > 40) > 0.02)
        for a, b in zip(_frames(out / pasted["file"]), original, strict=True)
    ]
    times = np.round(np.arange(len(changed)) / 10.0, 6)
    inside = np.zeros(len(changed), bool)
    for span in (event, short):
        inside |= (times >= span["start_s"]) & (times < span["end_s"])
    assert np.mean(np.asarray(changed)[inside]) == 1.0
    assert np.mean(np.asarray(changed)[~inside]) == 0.0

    # the shrunk copy: a 640x480 frame, the face a small part of it, the labels the original's
    far = labels["far07_alone"]
    assert (far["events"], far["short_negatives"]) == ([], [])
    assert (probe(out / far["file"]).width, probe(out / far["file"]).height) == (640, 480)

    # scored like any labelled set: the 5 s second person is found, the 1.5 s one is not,
    # and the face sitting back (45 px) is still found (no false absence)
    report = evaluate_dataset(out)
    faces = report["per_type"]["multiple_faces"]
    assert (faces["events"], faces["recall"], faces["false_flags"]) == (1, 1.0, 0)
    assert report["overall"]["false_flags"] == 0

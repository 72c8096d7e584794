"""The talking rule on tiny inputs, and the bundled Silero model loading from the package."""

from __future__ import annotations

import numpy as np
import pytest

from models.speech import (
    BIN_S,
    SpeechBin,
    model_path,
    speech_bins,
    speech_probabilities,
    talking_flags,
)
from proctorlake.core.policy import ExamPolicy, ExamPolicyError


def _bins(pattern: str) -> list[SpeechBin]:
    """One bin per character: '#' speech, '.' silence."""
    return [SpeechBin(i * BIN_S, 0.9 if c == "#" else 0.1) for i, c in enumerate(pattern)]


def test_sustained_speech_with_short_pauses_is_one_low_flag() -> None:
    pattern = "...." + "#" * 12 + "...." + "#" * 12 + "...."  # 7 s with a 1 s pause
    flags = talking_flags(_bins(pattern))
    assert [(f.type, f.start_s, f.end_s, f.severity) for f in flags] == [
        ("talking", 1.0, 8.0, "low")
    ]


def test_short_utterances_and_long_pauses_raise_nothing() -> None:
    assert talking_flags(_bins("#" * 16 + "." * 8 + "#" * 16)) == []  # 4 s, 2 s pause, 4 s


def test_bins_pool_windows_by_their_maximum() -> None:
    probabilities = np.array([0.1] * 7 + [0.8] + [0.1] * 8, dtype=np.float32)
    bins = speech_bins(probabilities, offset_s=10.0)
    assert [b.start_s for b in bins] == pytest.approx([10.0, 10.256])
    assert [b.probability for b in bins] == pytest.approx([0.8, 0.1])


def test_the_model_is_the_file_inside_the_package_and_silence_is_not_speech() -> None:
    path = model_path()
    assert path.is_file() and "site-packages" in str(path)
    assert float(np.max(speech_probabilities(np.zeros(16000, np.float32)))) < 0.1


def test_no_policy_may_end_a_session_on_talking() -> None:
    with pytest.raises(ExamPolicyError, match="advisory"):
        ExamPolicy(extreme_incident_types=("talking",))


def test_batch_rows_carry_the_bins_and_the_session_rule_joins_chunks() -> None:
    import pandas as pd

    from spark_jobs.observation_rows import incidents_for_session, speech_rows

    def chunk(start_ms: int) -> dict:
        return {
            "session_id": "s-1",
            "institution_id": "inst-a",
            "chunk_start_ms": start_ms,
            "chunk_end_ms": start_ms + 10_000,
            "session_date": "2026-05-04",
        }

    # speech from 7 s to 14 s, across the boundary of two 10 s chunks; a bin past a chunk's
    # video end is not that chunk's
    first = [SpeechBin(7.0 + i * BIN_S, 0.9) for i in range(12)] + [SpeechBin(10.0, 0.9)]
    second = [SpeechBin(10.0 + i * BIN_S, 0.9) for i in range(16)]
    rows = speech_rows(chunk(0), first) + speech_rows(chunk(10_000), second)
    assert [r["frame_ts"] for r in rows] == [7.0, 8.0, 9.0, 10.0, 11.0, 12.0, 13.0]
    assert {r["track"] for r in rows} == {"audio"}
    frame = pd.DataFrame(rows).assign(session_started_at=None)
    out = incidents_for_session(frame)
    assert out[["incident_type", "start_s", "end_s", "severity"]].values.tolist() == [
        ["talking", 7.0, 14.0, "low"]
    ]

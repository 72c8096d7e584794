"""Speech in the microphone track: Silero VAD per 32 ms window, then a persistence rule.

Sustained speech becomes a ``talking`` flag of low severity. Speech is not cheating (people
read questions aloud, mutter, answer a door): the flag is something for a reviewer to look at,
and no policy may act on it alone (``proctorlake.core.policy`` refuses it as extreme).

The model is Silero VAD v5 (MIT), the ONNX file shipped inside the ``silero-vad`` pip
package: nothing is downloaded. It is run with onnxruntime directly rather than through
``silero_vad.load_silero_vad``, whose import sets torch's global thread count to one for the
whole process (the face models share that process).
"""

from __future__ import annotations

import functools
import importlib.util
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from models.temporal_rules import Flag, PersistenceRule, PersistenceTracker
from proctorlake.core.vocabulary import IncidentState, IncidentType, Severity

SAMPLE_RATE = 16000
WINDOW = 512
"""Samples per model call at 16 kHz (32 ms), the only window the model takes."""
_CONTEXT = 64
"""Samples of the previous window the model sees before each window."""

BIN_S = 0.25
"""Window probabilities are pooled into bins of this length before the rule sees them."""
SPEECH_PROBABILITY = 0.5
"""A bin is speech when any of its windows reaches this probability (Silero's own default
threshold)."""

TALKING_RULE = PersistenceRule(
    IncidentType.TALKING.value,
    min_duration_s=5.0,
    max_gap_s=1.5,
    sample_period_s=BIN_S,
    severity_after_s=((0.0, Severity.LOW.value),),
)
"""5 s of speech opens ``talking``: a sentence read aloud takes about 3 s, a conversation
runs longer. Pauses up to 1.5 s (breaths, sentence ends in espeak-ng and read speech
measured here: 0.3-0.8 s) continue it. Always low severity."""


def model_path() -> Path:
    """The ONNX file inside the installed ``silero-vad`` package (found without importing it)."""
    spec = importlib.util.find_spec("silero_vad")
    if spec is None or not spec.submodule_search_locations:
        raise RuntimeError("silero-vad is not installed (pip install silero-vad)")
    return Path(next(iter(spec.submodule_search_locations))) / "data" / "silero_vad.onnx"


@functools.cache
def _session():
    import onnxruntime

    options = onnxruntime.SessionOptions()
    options.inter_op_num_threads = 1
    options.intra_op_num_threads = 1
    return onnxruntime.InferenceSession(
        str(model_path()), sess_options=options, providers=["CPUExecutionProvider"]
    )


def speech_probabilities(samples: np.ndarray) -> np.ndarray:
    """One speech probability per 32 ms window of mono float samples at 16 kHz."""
    session = _session()
    samples = np.asarray(samples, dtype=np.float32).reshape(-1)
    count = -(-len(samples) // WINDOW)
    padded = np.zeros(count * WINDOW + _CONTEXT, np.float32)
    padded[_CONTEXT : _CONTEXT + len(samples)] = samples
    state = np.zeros((2, 1, 128), np.float32)
    rate = np.array(SAMPLE_RATE, dtype=np.int64)
    out = np.zeros(count, np.float32)
    for i in range(count):
        window = padded[i * WINDOW : (i + 1) * WINDOW + _CONTEXT].reshape(1, -1)
        prob, state = session.run(None, {"input": window, "state": state, "sr": rate})
        out[i] = float(prob.reshape(-1)[0])
    return out


MODEL_VERSION = "silero-vad-v5-onnx"


@dataclass(frozen=True)
class SpeechBin:
    start_s: float
    probability: float


def speech_bins(probabilities: np.ndarray, offset_s: float = 0.0) -> list[SpeechBin]:
    """Pool window probabilities into ``BIN_S`` bins (max: one clearly voiced window in a
    quarter second is speech; unvoiced consonants score low)."""
    per_bin = round(BIN_S * SAMPLE_RATE / WINDOW) or 1
    bins = []
    for i in range(0, len(probabilities), per_bin):
        chunk = probabilities[i : i + per_bin]
        bins.append(SpeechBin(offset_s + i * WINDOW / SAMPLE_RATE, float(np.max(chunk))))
    return bins


def talking_flags(
    bins: list[SpeechBin], rule: PersistenceRule = TALKING_RULE, session_id: str = ""
) -> list[Flag]:
    """Closed ``talking`` flags from speech bins in time order (the shared persistence rule)."""
    tracker = PersistenceTracker(rule, session_id)
    flags: list[Flag] = []
    for b in bins:
        positive = b.probability >= SPEECH_PROBABILITY
        events = tracker.observe(b.start_s, positive, b.probability)
        flags += [e.flag for e in events if e.kind == IncidentState.CLOSED]
    flags += [e.flag for e in tracker.close()]
    return flags

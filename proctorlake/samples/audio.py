"""Seeded microphone tracks: synthetic speech (espeak-ng), fan noise and keyboard clicks.

Generated at run time so no audio file is committed; the speech comes from Debian's
``espeak-ng`` (installed by ``scripts/setup.sh``).
"""

from __future__ import annotations

import shutil
import subprocess
import tempfile
import wave
from pathlib import Path

import numpy as np

RATE = 16000

READ_ALOUD = (
    "The quick brown fox jumps over the lazy dog. I am reading the second question aloud, "
    "because it helps me think about the answer. Now the third part asks about the integral "
    "of x squared from zero to one."
)
"""About 13 s at espeak-ng's 150 words a minute."""


def speech(text: str = READ_ALOUD, words_per_minute: int = 150) -> np.ndarray:
    """``text`` spoken by espeak-ng, mono float32 at 16 kHz, leading and trailing silence cut
    (so the speech's bounds are the array's)."""
    binary = shutil.which("espeak-ng")
    if binary is None:
        raise RuntimeError("espeak-ng is not installed (scripts/setup.sh installs it)")
    with tempfile.TemporaryDirectory(prefix="proctorlake-speech-") as scratch:
        path = Path(scratch) / "speech.wav"
        subprocess.run(
            [binary, "-s", str(words_per_minute), "-w", str(path), text],
            check=True,
            capture_output=True,
        )
        with wave.open(str(path)) as wav:
            rate = wav.getframerate()
            pcm = np.frombuffer(wav.readframes(wav.getnframes()), np.int16) / 32768.0
    index = np.arange(int(len(pcm) * RATE / rate)) * rate // RATE
    samples = pcm[index].astype(np.float32)
    loud = np.nonzero(np.abs(samples) > 0.01)[0]
    return samples[loud[0] : loud[-1] + 1] if len(loud) else samples


def fan_noise(seconds: float, seed: int = 0, level: float = 0.15) -> np.ndarray:
    """A laptop fan: low-frequency rumble (integrated white noise, high-passed) and a hum."""
    rng = np.random.default_rng(seed)
    n = int(seconds * RATE)
    rumble = np.cumsum(rng.standard_normal(n))
    rumble -= np.convolve(rumble, np.ones(400) / 400, "same")
    rumble /= max(1e-9, float(np.abs(rumble).max()))
    hum = np.sin(2 * np.pi * 120 * np.arange(n) / RATE)
    return (level * rumble + 0.2 * level * hum).astype(np.float32)


def keyboard_clicks(seconds: float, seed: int = 0, level: float = 0.5) -> np.ndarray:
    """Typing: a short decaying noise burst every 80-400 ms."""
    rng = np.random.default_rng(seed + 1)
    n = int(seconds * RATE)
    out = np.zeros(n, np.float32)
    click = np.exp(-np.arange(400) / 60.0)
    at = 0
    while True:
        at += int(rng.uniform(0.08, 0.4) * RATE)
        if at + len(click) >= n:
            return out
        out[at : at + len(click)] += level * rng.standard_normal(len(click)) * click


def room_track(seconds: float, seed: int = 0) -> np.ndarray:
    """A quiet exam room: fan noise and typing, no voice."""
    return fan_noise(seconds, seed) + keyboard_clicks(seconds, seed)


def write_wav(path: Path, samples: np.ndarray) -> Path:
    """16-bit mono WAV at 16 kHz (what Chromium's fake microphone plays)."""
    pcm = (np.clip(samples, -1.0, 1.0) * 32767).astype("<i2")
    with wave.open(str(path), "wb") as wav:
        wav.setnchannels(1)
        wav.setsampwidth(2)
        wav.setframerate(RATE)
        wav.writeframes(pcm.tobytes())
    return Path(path)


def with_speech(track: np.ndarray, voice: np.ndarray, at_s: float, gain: float = 0.6) -> np.ndarray:
    """``track`` with ``voice`` mixed in from ``at_s`` (cut at the track's end)."""
    out = track.copy()
    start = int(at_s * RATE)
    end = min(len(out), start + len(voice))
    out[start:end] += gain * voice[: end - start]
    return out

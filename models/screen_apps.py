"""Unauthorized applications on screen: OCR of screen frames, window titles matched against a
per-exam banned list (fuzzy, case-insensitive) and an allowed list.

Only window titles count. OCR reads every word on the screen, and a page that merely
mentions "ChatGPT" in its text is not ChatGPT being open, so a text line is a title only
when it sits in a title bar: a thin band of uniform colour, set off from what lies below it.
"""

from __future__ import annotations

import re
import warnings
from collections.abc import Sequence
from dataclasses import dataclass
from difflib import SequenceMatcher
from functools import lru_cache

import numpy as np

DEFAULT_BANNED = (
    "ChatGPT",
    "WhatsApp",
    "Discord",
    "Telegram",
    "Messenger",
    "Slack",
    "Google Search",
    "Bing",
    "DuckDuckGo",
    "Chegg",
    "Gemini",
    "Copilot",
    "Claude",
)
"""Banned by default; an exam passes its own list."""

DEFAULT_ALLOWED = ("ProctorLake", "Calculator")
"""A title matching an allowed entry is never flagged (the exam itself, permitted tools)."""

MATCH_RATIO = 0.82
"""Minimum difflib similarity between a banned name and the best same-length window of a
title (case-insensitive): tolerates one or two OCR slips in a short name."""

SCREEN_SAMPLE_EVERY_S = 10.0
"""Screen frames are sampled (and OCR'd) this often; OCR costs ~0.3-0.5 s of one core per
1280x720 frame."""


@dataclass(frozen=True)
class ScreenObservation:
    frame_ts: float
    titles: tuple[str, ...]
    banned_titles: tuple[str, ...]
    confidence: float
    read_at_s: float | None = None
    """When the titles were last read by OCR: this frame's own time, or an earlier frame's
    when the screen had not changed since (``models.screen_changes``); None means this frame."""

    @property
    def reused(self) -> bool:
        """Whether the titles are an earlier frame's read, not this frame's."""
        return self.read_at_s is not None and self.read_at_s != self.frame_ts

    def to_dict(self) -> dict:
        return {
            "frame_ts": self.frame_ts,
            "titles": list(self.titles),
            "banned_titles": list(self.banned_titles),
            "confidence": self.confidence,
            "read_at_s": self.frame_ts if self.read_at_s is None else self.read_at_s,
        }

    def redacted(self) -> ScreenObservation:
        """The observation without the window titles themselves (a title may carry personal
        data: a document name, an e-mail address): banned titles become the banned
        application's name. This is what is stored and sent; the rules need no more."""
        apps = tuple(sorted({banned_in_title(t) or "?" for t in self.banned_titles}))
        return ScreenObservation(self.frame_ts, (), apps, self.confidence, self.read_at_s)

    @classmethod
    def from_dict(cls, row: dict) -> ScreenObservation:
        return cls(
            float(row["frame_ts"]),
            tuple(row["titles"]),
            tuple(row["banned_titles"]),
            float(row["confidence"]),
            float(row.get("read_at_s", row["frame_ts"])),
        )


def _normalise(text: str) -> str:
    return re.sub(r"\s+", " ", re.sub(r"[^0-9a-z]+", " ", text.lower())).strip()


def fuzzy_contains(text: str, name: str, ratio: float = MATCH_RATIO) -> bool:
    """Whether ``name`` appears in ``text`` as whole words, allowing small OCR errors
    ("Chat GPT", "ChatGPl"), case-insensitively; "Bing" does not match inside "climbing"."""
    words, target = _normalise(text).split(), _normalise(name)
    if not words or not target:
        return False
    squeezed = target.replace(" ", "")
    n = len(target.split())
    for size in {max(1, n - 1), n, n + 1}:
        for start in range(0, max(1, len(words) - size + 1)):
            window = words[start : start + size]
            for candidate in (" ".join(window), "".join(window)):
                if candidate in (target, squeezed):
                    return True
                best = max(
                    SequenceMatcher(None, candidate, target).ratio(),
                    SequenceMatcher(None, candidate, squeezed).ratio(),
                )
                if best >= ratio:
                    return True
    return False


def banned_in_title(
    title: str,
    banned: Sequence[str] = DEFAULT_BANNED,
    allowed: Sequence[str] = DEFAULT_ALLOWED,
) -> str | None:
    """The banned name a window title shows, or None (allowed titles never match)."""
    if any(fuzzy_contains(title, a) for a in allowed):
        return None
    return next((b for b in banned if fuzzy_contains(title, b)), None)


OCR_THREADS = 1
"""ONNX Runtime threads per OCR call. Callers run in parallel already (Spark tasks, Kafka
consumer workers); extra intra-op threads only fight them for the same cores."""

TEXT_SCORE = 0.5
"""Minimum recogniser score for a text line (rapidocr's own default)."""


@lru_cache(maxsize=1)
def ocr_engine():
    """rapidocr's ONNX text detector + recogniser (bundled in the wheel), loaded once."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        from rapidocr_onnxruntime import RapidOCR

    return RapidOCR(intra_op_num_threads=OCR_THREADS, inter_op_num_threads=OCR_THREADS)


TITLE_BAR_MAX_HEIGHT = 2.2
"""A title bar is at most this many text heights tall (band edges within ~0.6 line above
and below the text)."""

TITLE_BAR_MIN_SPAN_PX = 320
"""...and its colour runs at least this far along the line (a window is wide; a button is not)."""


BAND_COLOUR_STEP = 14
"""Mean per-channel difference (0-255) that separates a title bar from its surroundings."""


def _colour_distance(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    return np.abs(a.astype(np.int16) - b.astype(np.int16)).mean(axis=-1)


def title_bar_of(
    image: np.ndarray, box: Sequence[Sequence[float]]
) -> tuple[int, int, int, int] | None:
    """The title bar (top, bottom, left, right) an OCR text box sits in, or None when the
    text is not in one (see the module docstring)."""
    xs = [p[0] for p in box]
    ys = [p[1] for p in box]
    h, w = image.shape[:2]
    x0, x1 = int(max(0, min(xs))), int(min(w, max(xs)))
    y0, y1 = int(max(0, min(ys))), int(min(h, max(ys)))
    if x1 - x0 < 4 or y1 - y0 < 4:
        return None
    text_h = y1 - y0
    background = np.median(image[y0:y1, x0:x1].reshape(-1, 3), axis=0)
    row_colour = np.median(image[:, x0:x1], axis=1)  # per row, the colour most of it has
    differs = _colour_distance(row_colour, background) > BAND_COLOUR_STEP
    # A bar's edges are region boundaries (3+ rows of another colour), not a 1-px rule or
    # the glyphs of a neighbouring text line.
    below = next(
        (y for y in range(y1, min(h - 2, y1 + 3 * text_h)) if differs[y : y + 3].all()), None
    )
    above = next(
        (y for y in range(y0, max(1, y0 - 3 * text_h), -1) if differs[y - 2 : y + 1].all()),
        None,
    )
    if below is None or above is None or below - above > TITLE_BAR_MAX_HEIGHT * text_h:
        return None
    best = (0, 0)
    # Measure the band's length on its plain rows just inside its edges, clear of glyphs.
    for row in (above + 2, below - 2):
        same = _colour_distance(image[row], background) <= BAND_COLOUR_STEP
        left, right = x0, x1
        while left > 0 and same[left - 1]:
            left -= 1
        while right < w - 1 and same[right + 1]:
            right += 1
        best = max(best, (right - left, left), key=lambda r: r[0])
    if best[0] < TITLE_BAR_MIN_SPAN_PX:
        return None
    return above, below, best[1], best[1] + best[0]


def _recognise(engine, bgr: np.ndarray, box: Sequence[Sequence[float]]) -> str | None:
    """The text of one detected line (axis-aligned crop; title bars are horizontal)."""
    xs = [p[0] for p in box]
    ys = [p[1] for p in box]
    h, w = bgr.shape[:2]
    x0, x1 = int(max(0, min(xs))), int(min(w, max(xs) + 1))
    y0, y1 = int(max(0, min(ys))), int(min(h, max(ys) + 1))
    result, _ = engine(np.ascontiguousarray(bgr[y0:y1, x0:x1]), use_det=False, use_cls=False)
    if not result:
        return None
    text, score = result[0][0], float(result[0][1])
    return text if score >= TEXT_SCORE and text.strip() else None


def read_titles(image: np.ndarray) -> list[str]:
    """Window titles OCR finds on one RGB screen frame; body text is left out, and the
    pieces OCR splits one title bar into are joined left to right.

    Text is located first and only lines inside a title bar are recognised: recognising
    every line of body text cost about half of the OCR time and was then thrown away."""
    engine = ocr_engine()
    bgr = np.ascontiguousarray(image[:, :, ::-1])
    boxes, _ = engine(bgr, use_cls=False, use_rec=False)
    bars: dict[tuple[int, int, int], list[tuple[float, str]]] = {}
    for box in boxes or ():
        bar = title_bar_of(image, box)
        if bar is None:
            continue
        text = _recognise(engine, bgr, box)
        if text is None:
            continue
        near = (k for k in bars if all(abs(a - b) <= 3 for a, b in zip(k, bar[:3], strict=True)))
        key = next(near, (bar[0], bar[1], bar[2]))
        bars.setdefault(key, []).append((min(p[0] for p in box), text))
    return [" ".join(t for _, t in sorted(parts)) for _, parts in sorted(bars.items())]


def analyze_screen_frames(
    frames: Sequence[np.ndarray],
    timestamps_s: Sequence[float],
    banned: Sequence[str] = DEFAULT_BANNED,
    allowed: Sequence[str] = DEFAULT_ALLOWED,
) -> list[ScreenObservation]:
    """One observation per RGB screen frame: its window titles and the banned ones."""
    if len(frames) != len(timestamps_s):
        raise ValueError("one timestamp per frame")
    observations = []
    for frame, ts in zip(frames, timestamps_s, strict=True):
        titles = read_titles(frame)
        hits = tuple(t for t in titles if banned_in_title(t, banned, allowed))
        observations.append(ScreenObservation(float(ts), tuple(titles), hits, 0.9 if hits else 0.0))
    return observations

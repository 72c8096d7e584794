"""Seeded screen recordings: rendered desktops with windows and their title bars.

Titles are what ``models.screen_apps`` reads. Allowed windows ("Exam — ProctorLake",
"Calculator"), banned ones ("ChatGPT", "WhatsApp", "Discord", a search page), and a page
whose *body* mentions ChatGPT while its title is harmless (not a banned app) are provided as
ready-made :data:`WINDOWS`. Text is drawn with DejaVu Sans, which matplotlib ships.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw, ImageFont

from proctorlake.samples.webcam import MIN_EVENT_S, TruthEvent
from proctorlake.storage.video import write_video


@dataclass(frozen=True)
class Window:
    title: str
    body: tuple[str, ...]
    banned: bool  # ground truth: is this an unauthorized application?


WINDOWS: dict[str, Window] = {
    "exam": Window(
        "Exam — ProctorLake",
        (
            "Question 4 of 20",
            "Compute the derivative of f(x) = x^2 sin(x).",
            "Answer:",
        ),
        False,
    ),
    "calculator": Window("Calculator", ("7  8  9  /", "4  5  6  *", "1  2  3  -"), False),
    "news": Window(
        "Schools and AI — The Daily Herald",
        (
            "Teachers report that ChatGPT is now part of homework.",
            "Some universities ban ChatGPT during exams;",
            "others allow it with citations.",
        ),
        False,
    ),
    "chatgpt": Window("ChatGPT", ("How can I help you today?", "Message ChatGPT"), True),
    "whatsapp": Window("WhatsApp", ("Study group", "Anyone has question 4?"), True),
    "discord": Window("Discord | #exam-help", ("general", "exam-help", "voice"), True),
    "search": Window(
        "derivative of x^2 sin x - Google Search",
        ("About 1,240,000 results", "Derivative calculator - step by step"),
        True,
    ),
}


@dataclass(frozen=True)
class ScreenSegment:
    """``duration_s`` showing ``front`` (focused, large) over an optional ``back`` window."""

    duration_s: float
    front: str
    back: str | None = None


@dataclass(frozen=True)
class ScreenTruth:
    path: Path
    duration_s: float
    fps: int
    events: tuple[TruthEvent, ...]


@lru_cache(maxsize=4)
def _font(size: int, bold: bool = False) -> ImageFont.FreeTypeFont:
    import matplotlib

    name = "DejaVuSans-Bold.ttf" if bold else "DejaVuSans.ttf"
    path = Path(matplotlib.__file__).parent / "mpl-data" / "fonts" / "ttf" / name
    return ImageFont.truetype(str(path), size)


def _draw_window(draw: ImageDraw.ImageDraw, window: Window, box, bar_colour, rng) -> None:
    x0, y0, x1, y1 = box
    bar_h = 34
    draw.rectangle(box, fill=(248, 248, 246), outline=(90, 90, 90))
    draw.rectangle((x0, y0, x1, y0 + bar_h), fill=bar_colour)
    draw.text((x0 + 14, y0 + 8), window.title, fill=(235, 235, 235), font=_font(17))
    for k, colour in enumerate(((230, 80, 70), (240, 190, 60), (90, 190, 90))):
        cx = x1 - 20 - 24 * k
        draw.ellipse((cx - 7, y0 + 10, cx + 7, y0 + 24), fill=colour)
    y = y0 + bar_h + 28
    for line in window.body:
        draw.text((x0 + 30, y), line, fill=(30, 30, 30), font=_font(18))
        y += 34
    if window.title.startswith("Exam"):
        draw.rectangle((x0 + 30, y, x0 + 420, y + 40), outline=(120, 120, 120))
    jitter = int(rng.integers(0, 3))
    draw.line((x0 + 30, y1 - 30 - jitter, x1 - 30, y1 - 30 - jitter), fill=(220, 220, 220))


def render_screen(segment: ScreenSegment, size: tuple[int, int], seed: int) -> np.ndarray:
    """One desktop frame: wallpaper, taskbar, the back window, the front window."""
    rng = np.random.default_rng(seed)
    width, height = size
    wallpaper = tuple(int(c) for c in rng.integers(100, 200, size=3))
    image = Image.new("RGB", size, wallpaper)
    draw = ImageDraw.Draw(image)
    draw.rectangle((0, height - 40, width, height), fill=(25, 25, 30))
    bars = [(45, 55, 70), (60, 45, 80), (35, 70, 60), (70, 50, 45)]
    if segment.back is not None:
        box = (int(width * 0.45), int(height * 0.06), int(width * 0.97), int(height * 0.7))
        _draw_window(draw, WINDOWS[segment.back], box, bars[int(rng.integers(4))], rng)
    x0 = int(width * rng.uniform(0.03, 0.1))
    y0 = int(height * rng.uniform(0.1, 0.2))
    box = (x0, y0, x0 + int(width * 0.62), y0 + int(height * 0.62))
    _draw_window(draw, WINDOWS[segment.front], box, bars[int(rng.integers(4))], rng)
    return np.asarray(image)


def screen_truth(segments: tuple[ScreenSegment, ...]) -> tuple[TruthEvent, ...]:
    """unauthorized_app events: spans where any visible window is banned (>= 3 s)."""
    spans: list[list[float]] = []
    t = 0.0
    for seg in segments:
        banned = WINDOWS[seg.front].banned or (seg.back is not None and WINDOWS[seg.back].banned)
        if banned and spans and spans[-1][1] == t:
            spans[-1][1] = t + seg.duration_s
        elif banned:
            spans.append([t, t + seg.duration_s])
        t += seg.duration_s
    return tuple(TruthEvent("unauthorized_app", a, b) for a, b in spans if b - a >= MIN_EVENT_S)


def render_screen_frames(
    segments: tuple[ScreenSegment, ...], seed: int, fps: int = 2, size=(1280, 720)
) -> Iterator[np.ndarray]:
    """Frames of the segments; each segment's desktop is rendered once, plus a moving cursor."""
    rng = np.random.default_rng(seed)
    t_start = 0.0
    for k, seg in enumerate(segments):
        base = render_screen(seg, size, seed * 1000 + k)
        n = round((t_start + seg.duration_s) * fps) - round(t_start * fps)
        for _ in range(n):
            frame = base.copy()
            cx, cy = int(rng.integers(50, size[0] - 50)), int(rng.integers(50, size[1] - 90))
            frame[cy : cy + 14, cx : cx + 3] = 255
            yield frame
        t_start += seg.duration_s


def make_screen_recording(
    path: Path,
    segments: tuple[ScreenSegment, ...],
    seed: int,
    fps: int = 2,
    size: tuple[int, int] = (1280, 720),
    codec: str = "libx264",
) -> ScreenTruth:
    """Render and encode a screen recording; its truth lists unauthorized_app events."""
    write_video(Path(path), render_screen_frames(segments, seed, fps, size), fps, codec=codec)
    duration = sum(s.duration_s for s in segments)
    return ScreenTruth(Path(path), duration, fps, screen_truth(segments))


def demo_screen_segments(duration_s: float = 90.0) -> tuple[ScreenSegment, ...]:
    """Exam on screen, a news page mentioning ChatGPT (not banned) 15-30 s, ChatGPT open
    40-60 s, the calculator beside the exam 60-70 s."""
    return (
        ScreenSegment(15.0, "exam"),
        ScreenSegment(15.0, "news", "exam"),
        ScreenSegment(10.0, "exam"),
        ScreenSegment(20.0, "chatgpt", "exam"),
        ScreenSegment(10.0, "calculator", "exam"),
        ScreenSegment(max(1.0, duration_s - 70.0), "exam"),
    )

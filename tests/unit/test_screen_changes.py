"""The unchanged-screen gate's comparison on rendered desktops (no OCR)."""

from __future__ import annotations

import numpy as np
from PIL import Image, ImageDraw

from models.screen_changes import screen_thumbnail, unchanged
from proctorlake.samples.screen import ScreenSegment, render_screen


def with_pointer(frame: np.ndarray, x: int, y: int) -> np.ndarray:
    """The frame with a mouse pointer (3x14 px, white) at (x, y), as the recordings draw it."""
    out = frame.copy()
    out[y : y + 14, x : x + 3] = 255
    return out


def test_a_moved_pointer_and_codec_noise_are_not_a_change_but_a_new_window_is():
    exam = render_screen(ScreenSegment(1, "exam"), (1280, 720), seed=4)
    noise = np.random.default_rng(0).integers(-3, 4, exam.shape)
    noisy = np.clip(exam.astype(np.int16) + noise, 0, 255).astype(np.uint8)
    moved = with_pointer(with_pointer(noisy, 301, 205), 903, 447)
    chatgpt = render_screen(ScreenSegment(1, "chatgpt", "exam"), (1280, 720), seed=4)
    assert unchanged(screen_thumbnail(exam), screen_thumbnail(noisy))
    assert unchanged(screen_thumbnail(exam), screen_thumbnail(moved))
    assert not unchanged(screen_thumbnail(exam), screen_thumbnail(chatgpt))


def test_a_new_title_in_the_same_window_is_a_change():
    exam = render_screen(ScreenSegment(1, "exam"), (1280, 720), seed=4)
    # The title bar: the first row with a long run of one dark colour.
    dark = (exam.max(axis=2) < 90) & (exam.min(axis=2) > 30)
    top = int(np.nonzero(dark.sum(axis=1) > 600)[0][0])
    left = int(np.nonzero(dark[top])[0][0])
    colour = tuple(int(c) for c in exam[top, left])
    image = Image.fromarray(exam)
    draw = ImageDraw.Draw(image)
    draw.rectangle((left + 8, top + 4, left + 260, top + 30), fill=colour)
    draw.text((left + 14, top + 8), "WhatsApp", fill=(235, 235, 235))
    retitled = np.asarray(image)
    assert not np.array_equal(exam, retitled)
    assert not unchanged(screen_thumbnail(exam), screen_thumbnail(retitled))

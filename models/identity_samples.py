"""Seeded sample ID cards and photos of them, for tests and the demo.

A card is rendered with PIL in a DejaVu font that matplotlib ships (so it exists on every
machine that installs ProctorLake), carries a real face photo, a name and an ID number, and
is then "photographed": placed on a desk-like background under a perspective warp with a
little blur and noise, as a student holding a card to a webcam or phone would produce.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

CARD_SIZE = (856, 540)  # ISO/IEC 7810 ID-1 aspect ratio at ~10 px/mm


def _font(size: int, bold: bool = False):
    import matplotlib
    from PIL import ImageFont

    name = "DejaVuSans-Bold.ttf" if bold else "DejaVuSans.ttf"
    return ImageFont.truetype(str(Path(matplotlib.get_data_path()) / "fonts" / "ttf" / name), size)


def render_id_card(
    face: np.ndarray,
    name: str,
    id_number: str,
    institution: str = "STATE UNIVERSITY",
) -> np.ndarray:
    """A flat, front-on student ID card (RGB uint8) with the face on the left."""
    from PIL import Image, ImageDraw

    width, height = CARD_SIZE
    card = Image.new("RGB", CARD_SIZE, (226, 236, 246))
    draw = ImageDraw.Draw(card)
    draw.rectangle((0, 0, width, 92), fill=(24, 62, 120))
    draw.text((32, 22), institution, font=_font(40, bold=True), fill=(255, 255, 255))
    photo = Image.fromarray(face).resize((260, 320))
    card.paste(photo, (36, 130))
    draw.rectangle((36, 130, 296, 450), outline=(40, 40, 40), width=2)
    label, value = _font(24), _font(38, bold=True)
    draw.text((330, 140), "NAME", font=label, fill=(90, 90, 90))
    draw.text((330, 172), name, font=value, fill=(10, 10, 10))
    draw.text((330, 262), "ID NO.", font=label, fill=(90, 90, 90))
    draw.text((330, 294), id_number, font=value, fill=(10, 10, 10))
    draw.text((330, 384), "STUDENT", font=label, fill=(90, 90, 90))
    return np.asarray(card)


def photograph_card(
    card: np.ndarray, seed: int = 0, tilt: float = 0.12, size: tuple[int, int] = (1280, 960)
) -> np.ndarray:
    """The card as a camera sees it: on a background, in perspective, slightly blurred."""
    import cv2

    rng = np.random.default_rng(seed)
    out_w, out_h = size
    background = np.full((out_h, out_w, 3), (120, 98, 80), dtype=np.float32)
    background += rng.normal(0, 6, background.shape)
    h, w = card.shape[:2]
    source = np.float32([[0, 0], [w, 0], [w, h], [0, h]])
    cx, cy, half_w, half_h = out_w / 2, out_h / 2, out_w * 0.36, out_w * 0.36 * h / w
    # The right edge leans away from the camera: shorter and pushed in (perspective).
    target = np.float32(
        [
            [cx - half_w, cy - half_h],
            [cx + half_w * (1 - tilt), cy - half_h * (1 - tilt)],
            [cx + half_w * (1 - tilt), cy + half_h * (1 - tilt)],
            [cx - half_w, cy + half_h],
        ]
    )
    target += rng.uniform(-12, 12, target.shape).astype(np.float32)
    matrix = cv2.getPerspectiveTransform(source, target)
    warped = cv2.warpPerspective(card, matrix, size, flags=cv2.INTER_LINEAR)
    mask = cv2.warpPerspective(np.ones((h, w), np.float32), matrix, size)[:, :, None]
    photo = warped.astype(np.float32) * mask + background * (1 - mask)
    photo = cv2.GaussianBlur(photo, (0, 0), 0.8)
    photo += rng.normal(0, 3, photo.shape)
    return np.clip(photo, 0, 255).astype(np.uint8)


def face_crop(image: np.ndarray, box: tuple[int, int, int, int], margin: float = 0.6) -> np.ndarray:
    """A passport-style crop around a face box (head and shoulders, portrait aspect)."""
    x, y, w, h = box
    cx, cy = x + w / 2, y + h / 2
    half_w, half_h = w * (1 + margin) / 2, h * (1 + margin) * 1.25 / 2
    top, bottom = int(max(0, cy - half_h)), int(min(image.shape[0], cy + half_h))
    left, right = int(max(0, cx - half_w)), int(min(image.shape[1], cx + half_w))
    return np.ascontiguousarray(image[top:bottom, left:right])


def held_photo_burst(
    photo: np.ndarray, frames: int = 30, jitter: float = 0.06, seed: int = 0
) -> list[np.ndarray]:
    """A printed photo held up to the camera: the same picture under a shaking perspective.

    Each frame moves every corner by up to ``jitter`` x width, independently, which is more
    shake than a hand produces.
    """
    import cv2

    rng = np.random.default_rng(seed)
    h, w = photo.shape[:2]
    corners = np.float32([[0, 0], [w, 0], [w, h], [0, h]])
    burst = []
    for _ in range(frames):
        moved = corners + rng.uniform(-jitter * w, jitter * w, (4, 2)).astype(np.float32)
        matrix = cv2.getPerspectiveTransform(corners, moved)
        burst.append(cv2.warpPerspective(photo, matrix, (w, h), borderMode=cv2.BORDER_REPLICATE))
    return burst

"""Pixel-level pieces of a synthetic webcam scene: room backgrounds, a head turned in depth,
compositing people, and camera light and noise.

A turned head is rendered honestly as a 2.5-D rotation: the flat photo is draped over a
rough head shape (a half-cylinder with a nose bump) and rotated about the vertical axis with
occlusion, so the nose moves across the face as it does on a real head and the far cheek
disappears. It is not a profile photo: past about 45 degrees the texture stretches, and the
frontal detector stops finding it, as it does on real turned heads.
"""

from __future__ import annotations

from functools import lru_cache

import cv2
import numpy as np

from proctorlake.samples.faces import HeadSprite, head_sprite


def room_background(width: int, height: int, seed: int) -> np.ndarray:
    """A plain seeded room: wall gradient, a door or shelf, a poster, a desk edge."""
    rng = np.random.default_rng(seed)
    wall = rng.integers(120, 220, size=3).astype(np.float32)
    shade = np.linspace(1.05, 0.8, height, dtype=np.float32)[:, None, None]
    img = np.clip(wall[None, None, :] * shade * np.ones((height, width, 1), np.float32), 0, 255)
    img = img.astype(np.uint8)
    for _ in range(rng.integers(2, 5)):
        x0 = int(rng.integers(0, width - 60))
        y0 = int(rng.integers(0, height // 2))
        w = int(rng.integers(40, width // 3))
        h = int(rng.integers(40, height // 2))
        color = tuple(int(c) for c in rng.integers(30, 240, size=3))
        cv2.rectangle(img, (x0, y0), (x0 + w, y0 + h), color, -1)
        cv2.rectangle(img, (x0, y0), (x0 + w, y0 + h), tuple(int(c * 0.6) for c in color), 2)
    desk_top = int(height * rng.uniform(0.82, 0.9))
    desk = tuple(int(c) for c in rng.integers(60, 160, size=3))
    cv2.rectangle(img, (0, desk_top), (width, height), desk, -1)
    texture = rng.normal(0, 3, size=(height, width, 1)).astype(np.float32)
    return np.clip(img.astype(np.float32) + texture, 0, 255).astype(np.uint8)


def _head_depth(sprite: HeadSprite) -> np.ndarray:
    """Depth (pixels, toward the camera) of a rough head: half-cylinder plus a nose bump."""
    h, w = sprite.alpha.shape
    fx, fy, fw, fh = sprite.face_box
    xs = (np.arange(w, dtype=np.float32) - w / 2) / (w / 2)
    cylinder = 0.5 * w * np.sqrt(np.clip(1 - xs**2, 0, 1))
    depth = np.repeat(cylinder[None, :], h, axis=0)
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    nose_x, nose_y = fx + fw / 2, fy + fh * 0.58
    sigma_x, sigma_y = 0.09 * fw, 0.18 * fh
    bump = np.exp(-(((xx - nose_x) / sigma_x) ** 2 + ((yy - nose_y) / sigma_y) ** 2) / 2)
    return depth + 0.22 * fw * bump


def _turn_right(rgb: np.ndarray, alpha: np.ndarray, depth: np.ndarray, yaw_deg: float):
    """Rotate a depth-draped sprite by yaw >= 0 about its vertical axis (orthographic view)."""
    h, w = alpha.shape
    theta = np.deg2rad(yaw_deg)
    xs = np.arange(w, dtype=np.float32) - w / 2
    # The axis sits inside the head (a quarter width deep), so the face turns in place.
    projected = xs[None, :] * np.cos(theta) + (depth - 0.25 * w) * np.sin(theta)
    map_x = np.full((h, w), -1.0, np.float32)
    targets = np.arange(w, dtype=np.float32) - w / 2
    for row in range(h):
        px = projected[row]
        # Viewed from the front-left, a point is hidden when anything left of it projects
        # further right: the visible points are exactly the running maxima.
        visible = px >= np.maximum.accumulate(px) - 1e-6
        vx, src = px[visible], np.nonzero(visible)[0].astype(np.float32)
        inside = (targets >= vx[0]) & (targets <= vx[-1])
        map_x[row, inside] = np.interp(targets[inside], vx, src)
    map_y = np.repeat(np.arange(h, dtype=np.float32)[:, None], w, axis=1)
    valid = map_x >= 0
    out_rgb = cv2.remap(rgb, map_x, map_y, cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
    out_alpha = cv2.remap(alpha, map_x, map_y, cv2.INTER_LINEAR, borderValue=0.0)
    out_alpha[~valid] = 0.0
    return out_rgb, out_alpha


@lru_cache(maxsize=256)
def posed_head(name: str, face_width: int, yaw_deg: int) -> tuple[np.ndarray, np.ndarray]:
    """The head of ``name`` scaled so its face box is ``face_width`` wide, turned by yaw."""
    sprite = head_sprite(name)
    scale = face_width / sprite.face_box[2]
    size = (max(8, round(sprite.rgb.shape[1] * scale)), max(8, round(sprite.rgb.shape[0] * scale)))
    rgb = cv2.resize(sprite.rgb, size, interpolation=cv2.INTER_AREA)
    alpha = cv2.resize(sprite.alpha, size, interpolation=cv2.INTER_LINEAR)
    fx, fy, fw, fh = (round(v * scale) for v in sprite.face_box)
    scaled = HeadSprite(name, rgb, alpha, (fx, fy, fw, fh))
    if yaw_deg == 0:
        return rgb, alpha
    depth = _head_depth(scaled)
    if yaw_deg > 0:
        return _turn_right(rgb, alpha, depth, yaw_deg)
    out_rgb, out_alpha = _turn_right(rgb[:, ::-1], alpha[:, ::-1], depth[:, ::-1], -yaw_deg)
    return np.ascontiguousarray(out_rgb[:, ::-1]), np.ascontiguousarray(out_alpha[:, ::-1])


def paste(canvas: np.ndarray, rgb: np.ndarray, alpha: np.ndarray, cx: int, cy: int) -> None:
    """Alpha-blend a sprite onto the canvas (in place), centred at (cx, cy), clipped to edges."""
    h, w = alpha.shape
    x0, y0 = cx - w // 2, cy - h // 2
    cx0, cy0 = max(0, x0), max(0, y0)
    cx1, cy1 = min(canvas.shape[1], x0 + w), min(canvas.shape[0], y0 + h)
    if cx1 <= cx0 or cy1 <= cy0:
        return
    a = alpha[cy0 - y0 : cy1 - y0, cx0 - x0 : cx1 - x0, None]
    src = rgb[cy0 - y0 : cy1 - y0, cx0 - x0 : cx1 - x0].astype(np.float32)
    dst = canvas[cy0:cy1, cx0:cx1].astype(np.float32)
    canvas[cy0:cy1, cx0:cx1] = (src * a + dst * (1 - a)).astype(np.uint8)


def draw_person(
    canvas: np.ndarray,
    name: str,
    cx: int,
    cy: int,
    face_width: int,
    yaw_deg: int,
    shirt: tuple[int, int, int],
) -> None:
    """Shoulders and head of a person whose face centre is near (cx, cy)."""
    rgb, alpha = posed_head(name, face_width, yaw_deg)
    shoulders_y = cy + int(face_width * 0.8)
    cv2.ellipse(
        canvas,
        (cx, shoulders_y + face_width),
        (int(face_width * 1.5), int(face_width * 1.2)),
        0,
        180,
        360,
        shirt,
        -1,
    )
    cv2.rectangle(
        canvas,
        (cx - int(face_width * 1.5), shoulders_y + face_width),
        (cx + int(face_width * 1.5), canvas.shape[0]),
        shirt,
        -1,
    )
    paste(canvas, rgb, alpha, cx, cy)


class Camera:
    """Camera response: gamma (>1 darkens, as in dim rooms), gain, and sensor noise.

    Noise comes from a small seeded bank of frames, shifted at random each frame: drawing
    fresh Gaussian noise per pixel would cost more than the rest of the rendering.
    """

    def __init__(self, width: int, height: int, rng: np.random.Generator, bank: int = 6):
        self._rng = rng
        self._noise = [
            rng.normal(0, 1, size=(height, width, 1)).astype(np.float32) for _ in range(bank)
        ]

    def expose(self, frame: np.ndarray, gamma: float, gain: float, noise_sigma: float):
        levels = np.arange(256, dtype=np.float32) / 255.0
        lut = np.clip(gain * 255.0 * levels**gamma, 0, 255).astype(np.uint8)
        out = cv2.LUT(frame, lut)
        if noise_sigma <= 0:
            return out
        noise = self._noise[int(self._rng.integers(len(self._noise)))]
        shift = int(self._rng.integers(noise.shape[1]))
        noisy = out.astype(np.float32) + noise_sigma * np.roll(noise, shift, axis=1)
        return np.clip(noisy, 0, 255).astype(np.uint8)

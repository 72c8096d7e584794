"""Finding #5: an upload's pixel count is checked from its header, before any decode."""

from __future__ import annotations

import io
import struct
import time
import zlib

import pytest
from PIL import Image

from models.identity_verification import MAX_IMAGE_PIXELS, IdentityInputError, decode_image
from models.image_header import ImageRejected, read_image_header
from realtime.api.frame_intake import FrameRejected, validate_jpeg

FAST_S = 1.0
"""Header checks cost microseconds; decoding 60000x60000 pixels costs gigabytes and seconds."""


def png_declaring(width: int, height: int) -> bytes:
    """A small PNG whose header declares ``width`` x ``height`` (its data is a few rows)."""

    def chunk(kind: bytes, body: bytes) -> bytes:
        crc = zlib.crc32(kind + body) & 0xFFFFFFFF
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", crc)

    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    rows = zlib.compress(b"\x00" * (1 + 3 * width) * 4, 9)
    return (
        b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", rows) + chunk(b"IEND", b"")
    )


def jpeg_declaring(width: int, height: int) -> bytes:
    """A real 8x8 JPEG whose start-of-frame marker is patched to declare another size."""
    buffer = io.BytesIO()
    Image.new("RGB", (8, 8), (1, 2, 3)).save(buffer, "JPEG")
    data = bytearray(buffer.getvalue())
    sof = data.index(b"\xff\xc0")
    data[sof + 5 : sof + 9] = struct.pack(">HH", height, width)
    return bytes(data)


@pytest.mark.parametrize("make", [png_declaring, jpeg_declaring])
def test_issue5_header_check_refuses_declared_giants_fast(make) -> None:
    data = make(60000, 60000)
    assert len(data) < 200_000
    started = time.monotonic()
    with pytest.raises(ImageRejected, match="too many pixels|more than") as raised:
        read_image_header(data, "photo", MAX_IMAGE_PIXELS, ("JPEG", "PNG", "WEBP"))
    assert raised.value.status == 413
    assert time.monotonic() - started < FAST_S


def test_issue5_identity_photo_declaring_60000_squared_is_refused_before_decode() -> None:
    started = time.monotonic()
    with pytest.raises(IdentityInputError) as raised:
        decode_image(png_declaring(60000, 60000), "id_photo")
    assert raised.value.status == 413 and "pixels" in str(raised.value)
    # a 48 MP photo: below Pillow's bomb guard and OpenCV's 2^30-pixel limit, so only the
    # product's own cap stands between it and a full decode
    with pytest.raises(IdentityInputError, match="8000x6000: more than|48000000 pixels"):
        decode_image(png_declaring(8000, 6000), "id_photo")
    assert time.monotonic() - started < FAST_S
    assert decode_image(png_declaring(16, 4), "selfie").shape == (4, 16, 3)


def test_issue5_webcam_frame_declaring_60000_squared_is_a_413_not_a_crash() -> None:
    started = time.monotonic()
    with pytest.raises(FrameRejected, match="too many pixels") as raised:
        validate_jpeg("webcam", jpeg_declaring(60000, 60000))
    assert raised.value.status == 413
    with pytest.raises(FrameRejected, match="1921x1080") as raised:
        validate_jpeg("webcam", jpeg_declaring(1921, 1080))
    assert time.monotonic() - started < FAST_S
    assert validate_jpeg("webcam", jpeg_declaring(640, 480)) == (640, 480)

"""Read an uploaded image's format and size from its header, before any pixel is decoded.

A few hundred bytes of PNG or JPEG can declare 60000x60000 pixels; decoding it first and
measuring afterwards costs gigabytes and seconds. PIL's ``Image.open`` parses only the
header, so the size is checked while the image is still undecoded; every upload decoder (frame
intake, identity photos) asks here first.
"""

from __future__ import annotations

import io
from collections.abc import Sequence
from dataclasses import dataclass

from PIL import Image, UnidentifiedImageError

MAX_DECODE_PIXELS = 40_000_000
"""The largest image any ProctorLake decoder accepts (a 40 MP phone photo of an ID card)."""
# Pillow's own decompression-bomb guard, process-wide: it warns above this and refuses twice
# this, so even a decode that forgets to ask here cannot allocate an unbounded image.
Image.MAX_IMAGE_PIXELS = MAX_DECODE_PIXELS


class ImageRejected(ValueError):
    """An upload that is not an acceptable image; ``status`` is the HTTP status that fits."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status


@dataclass(frozen=True)
class ImageHeader:
    format: str
    width: int
    height: int


def read_image_header(
    data: bytes, what: str, max_pixels: int, formats: Sequence[str]
) -> ImageHeader:
    """Format and size of ``data`` from its header only; ImageRejected when it is not one of
    ``formats`` or declares more than ``max_pixels`` pixels."""
    try:
        with Image.open(io.BytesIO(data), formats=list(formats)) as image:
            header = ImageHeader(str(image.format), *image.size)
    except (
        Image.DecompressionBombError,
        Image.DecompressionBombWarning,
    ) as exc:  # warning: -W error
        raise ImageRejected(413, f"{what} declares too many pixels ({exc})") from exc
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError) as exc:
        raise ImageRejected(415, f"{what} is not a readable {' or '.join(formats)} image") from exc
    if header.width <= 0 or header.height <= 0:
        raise ImageRejected(415, f"{what} declares no pixels")
    if header.width * header.height > max_pixels:
        raise ImageRejected(
            413,
            f"{what} is {header.width}x{header.height}: more than {max_pixels} pixels",
        )
    return header

"""Checking an uploaded capture image before anything is stored.

The order matters. The byte size is known before reading. Only the PNG, JPEG and WebP
parsers are offered to Pillow, so a GIF, a TIFF or a text file is refused without any other
decoder seeing it. The pixel count is read from the header and checked before decoding:
Pillow only raises DecompressionBombError above twice MAX_IMAGE_PIXELS (PITFALLS.md), and a
few hundred bytes of PNG can claim billions of pixels. Then ``verify()`` (chunk CRCs) and a
full decode on a fresh parser catch corrupt and truncated files.
"""

import hashlib
import io
import warnings
from dataclasses import dataclass

from django.conf import settings
from PIL import Image, UnidentifiedImageError

from rightsdesk.talent.errors import (
    ImageCorrupt,
    ImageTooLarge,
    ImageTooManyPixels,
    UnsupportedImageFormat,
)

FORMATS = ("PNG", "JPEG", "WEBP")
# Errors Pillow raises on a malformed file while verifying or decoding it.
_DECODE_ERRORS = (OSError, SyntaxError, ValueError, EOFError, IndexError, TypeError)


@dataclass(frozen=True)
class CheckedImage:
    data: bytes
    sha256: str
    format: str
    width: int
    height: int

    @property
    def byte_size(self) -> int:
        return len(self.data)


def read_limited(file, *, max_bytes: int) -> bytes:
    """The upload's bytes, refusing (before reading, when the size is known) above
    ``max_bytes``; reads at most one byte more than the limit."""
    size = getattr(file, "size", None)
    if size is not None and size > max_bytes:
        raise ImageTooLarge(max_bytes=max_bytes, byte_size=size)
    file.seek(0)
    data = file.read(max_bytes + 1)
    if len(data) > max_bytes:
        raise ImageTooLarge(max_bytes=max_bytes)
    return data


def _looks_like_ours(data: bytes) -> bool:
    return data.startswith((b"\x89PNG\r\n\x1a\n", b"\xff\xd8\xff")) or (
        data[:4] == b"RIFF" and data[8:12] == b"WEBP"
    )


def _open(data: bytes) -> Image.Image:
    with warnings.catch_warnings():
        # Our own limit decides; Pillow's warning between 1x and 2x its limit is noise.
        warnings.simplefilter("ignore", Image.DecompressionBombWarning)
        return Image.open(io.BytesIO(data), formats=list(FORMATS))


def check_image(data: bytes, *, max_pixels: int | None = None) -> CheckedImage:
    """Validate a capture image; returns its facts or raises the refusal's error."""
    max_pixels = max_pixels or settings.RIGHTSDESK_MAX_CAPTURE_PIXELS
    if not data:
        raise ImageCorrupt("The file is empty.")
    try:
        image = _open(data)
    except Image.DecompressionBombError:
        raise ImageTooManyPixels(max_pixels=max_pixels)
    except UnidentifiedImageError:
        # Pillow could not parse it: a file that starts like one of ours is broken, anything
        # else (text, GIF, TIFF) is another format.
        if _looks_like_ours(data):
            raise ImageCorrupt()
        raise UnsupportedImageFormat(formats=list(FORMATS))
    except _DECODE_ERRORS:
        raise ImageCorrupt()
    with image:
        width, height = image.size  # from the header; nothing is decoded yet
        image_format = image.format
        frames = getattr(image, "n_frames", 1)
    if image_format not in FORMATS:
        raise UnsupportedImageFormat(formats=list(FORMATS))
    if width <= 0 or height <= 0:
        raise ImageCorrupt()
    if width * height > max_pixels:
        raise ImageTooManyPixels(max_pixels=max_pixels, width=width, height=height)
    if frames != 1:
        # An animation is not a photograph, and its frames would each need decoding.
        raise UnsupportedImageFormat("Animated images are not accepted.", formats=list(FORMATS))
    try:
        with _open(data) as image:
            image.verify()
        with _open(data) as image:
            image.load()
    except Image.DecompressionBombError:
        raise ImageTooManyPixels(max_pixels=max_pixels)
    except _DECODE_ERRORS:
        raise ImageCorrupt()
    return CheckedImage(
        data=data,
        sha256=hashlib.sha256(data).hexdigest(),
        format=image_format,
        width=width,
        height=height,
    )

"""The PNG encoder for the images provenance signs.

Pillow chooses a filter for every row by trying all five (libpng's heuristic), which is
most of its time at compress_level=1. Here every row takes the "Up" filter (the row less
the row above, one numpy subtraction), and zlib's run-length strategy (Z_RLE, the one
libpng suggests for speed) compresses the result. Measured here on 256 and 1024 px
images: two to three times faster than Pillow at compress_level=1 with Z_RLE, files of
the same size on photo-like images and about a fifth larger on noise-like ones (the tiny
pipeline's renders).

Only 8-bit RGB and RGBA are written this way, which is every image provenance marks;
any other mode goes through Pillow.
"""

import io
import struct
import zlib

import numpy as np
from PIL import Image, PngImagePlugin

SIGNATURE = b"\x89PNG\r\n\x1a\n"
COLOUR_TYPES = {"RGB": 2, "RGBA": 6}
FILTER_UP = 2
XMP_KEYWORD = "XML:com.adobe.xmp"


def encode(image: Image.Image, *, xmp: str) -> bytes:
    """``image`` as PNG, with ``xmp`` in an uncompressed iTXt chunk (as Pillow writes it)."""
    if image.mode not in COLOUR_TYPES:
        info = PngImagePlugin.PngInfo()
        info.add_itxt(XMP_KEYWORD, xmp)
        out = io.BytesIO()
        image.save(out, "PNG", compress_level=1, compress_type=zlib.Z_RLE, pnginfo=info)
        return out.getvalue()
    width, height = image.size
    header = struct.pack(">IIBBBBB", width, height, 8, COLOUR_TYPES[image.mode], 0, 0, 0)
    # keyword, no compression (flag and method 0), empty language tag and translated keyword
    text = XMP_KEYWORD.encode("latin-1") + b"\0\0\0\0\0" + xmp.encode("utf-8")
    return b"".join(
        (
            SIGNATURE,
            _chunk(b"IHDR", header),
            _chunk(b"iTXt", text),
            _chunk(b"IDAT", _compressed_rows(image)),
            _chunk(b"IEND", b""),
        )
    )


def _compressed_rows(image: Image.Image) -> bytes:
    pixels = np.asarray(image, dtype=np.uint8)
    rows = pixels.reshape(pixels.shape[0], -1)
    filtered = np.empty((rows.shape[0], rows.shape[1] + 1), dtype=np.uint8)
    filtered[:, 0] = FILTER_UP
    filtered[0, 1:] = rows[0]  # above the first row, "Up" sees zeros
    np.subtract(rows[1:], rows[:-1], out=filtered[1:, 1:])  # modulo 256, as PNG wants
    compressor = zlib.compressobj(1, zlib.DEFLATED, 15, 8, zlib.Z_RLE)
    return compressor.compress(filtered.tobytes()) + compressor.flush()


def _chunk(kind: bytes, data: bytes) -> bytes:
    return b"".join(
        (
            struct.pack(">I", len(data)),
            kind,
            data,
            struct.pack(">I", zlib.crc32(data, zlib.crc32(kind))),
        )
    )

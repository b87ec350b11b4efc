"""Our PNG encoder (rightsdesk.provenance.png) writes files that decode to the very pixels
it was given, with the XMP packet where readers look for it."""

import io

import numpy as np
import pytest
from PIL import Image

from rightsdesk.provenance import png

XMP = '<x:xmpmeta xmlns:x="adobe:ns:meta/">caf\u00e9 \u2014 trainedAlgorithmicMedia</x:xmpmeta>'


@pytest.mark.parametrize("mode", ["RGB", "RGBA", "L", "P"])
@pytest.mark.parametrize("size", [(256, 256), (33, 7), (1, 1)])
def test_an_encoded_image_decodes_to_its_own_pixels_and_xmp(mode, size):
    rng = np.random.default_rng(size[0])
    channels = 4 if mode == "RGBA" else 3
    rgb = rng.integers(0, 256, (size[1], size[0], channels), dtype=np.uint8)
    image = Image.fromarray(rgb, "RGBA" if mode == "RGBA" else "RGB").convert(mode)

    data = png.encode(image, xmp=XMP)
    decoded = Image.open(io.BytesIO(data), formats=["PNG"])
    decoded.load()

    assert data.startswith(png.SIGNATURE)
    assert decoded.mode == image.mode and decoded.size == image.size
    assert np.array_equal(np.asarray(decoded), np.asarray(image))
    assert decoded.info[png.XMP_KEYWORD] == XMP


def test_rows_are_filtered_against_the_row_above():
    # Random bytes along a row, each row the one above plus one: only the "Up" filter
    # turns this into something that compresses (the bytes would otherwise be ~196 kB).
    first = np.random.default_rng(1).integers(0, 256, (1, 256, 3), dtype=np.uint8)
    rows = (first + np.arange(256, dtype=np.uint8)[:, None, None]).astype(np.uint8)
    image = Image.fromarray(rows, "RGB")

    assert len(png.encode(image, xmp=XMP)) < 5_000


@pytest.mark.parametrize("threads", [1, 2, 3, 8])
@pytest.mark.parametrize("size", [(300, 257), (640, 480)])
def test_rows_compressed_in_slices_on_several_threads_decode_to_the_same_pixels(
    monkeypatch, threads, size
):
    # As many slices as the machine has threads (at least MIN_SLICE_BYTES each): the
    # joined stream must decode like the single one, whatever the split.
    monkeypatch.setattr(png, "_threads", lambda: threads)
    rng = np.random.default_rng(threads)
    rgb = rng.integers(0, 256, (size[1], size[0], 3), dtype=np.uint8)
    rgb[: size[1] // 2] = rgb[0]  # runs, which only Up and Z_RLE turn into a small file
    image = Image.fromarray(rgb, "RGB")

    data = png.encode(image, xmp=XMP)
    decoded = Image.open(io.BytesIO(data), formats=["PNG"])
    decoded.load()

    assert np.array_equal(np.asarray(decoded), rgb)
    assert decoded.info[png.XMP_KEYWORD] == XMP

"""A photo-like image for the tests and bench/verify.py: smooth gradients, soft shapes and
sensor-like noise, so that PNG sizes, JPEG artefacts and hashes behave as on a photograph
(pure noise or flat colour would not)."""

import numpy as np
from PIL import Image, ImageDraw, ImageFilter


def photo_like(size: int = 1024, seed: int = 0, *, height: int | None = None) -> Image.Image:
    width, height = size, height or size
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[0:height, 0:width]
    x, y = x / width, y / height
    base = np.stack([0.5 + 0.4 * x, 0.4 + 0.3 * y, 0.6 - 0.3 * x * y], -1)
    low = rng.random((8, 8, 3)).astype(np.float32)
    low = np.stack(
        [
            np.asarray(Image.fromarray(low[..., c], "F").resize((width, height), Image.BICUBIC))
            for c in range(3)
        ],
        -1,
    )
    image = Image.fromarray(np.clip((base * 0.6 + low * 0.4) * 255, 0, 255).astype(np.uint8))
    draw = ImageDraw.Draw(image)
    for _ in range(25):
        x0, y0 = int(rng.integers(0, width)), int(rng.integers(0, height))
        w, h = (int(v) for v in rng.integers(min(width, height) // 16, min(width, height) // 3, 2))
        colour = tuple(int(c) for c in rng.integers(0, 256, 3))
        shape = draw.ellipse if rng.random() < 0.5 else draw.rectangle
        shape([x0, y0, x0 + w, y0 + h], fill=colour)
    image = image.filter(ImageFilter.GaussianBlur(3))
    noisy = np.asarray(image, dtype=np.float32) + rng.normal(0, 4, (height, width, 3))
    return Image.fromarray(np.clip(noisy, 0, 255).astype(np.uint8))

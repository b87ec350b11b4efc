"""Synthetic capture photos of the demo talent, drawn with Pillow.

A capture session is photos of one person from many angles and lights. The demo has no
real person to photograph, so it draws one: the same head (skin, hair, eyes, mouth) turned
to each angle of a studio capture and lit from the side the studio's key light stands on,
over a seamless backdrop, with sensor-like grain so the files behave like photographs
(flat colour would compress to nothing). The drawing is seeded: the same shot always gives
the same bytes, so a rerun of the demo finds the photos it already uploaded.
"""

import io
from dataclasses import dataclass

import numpy as np
from PIL import Image, ImageDraw, ImageFilter

WIDTH, HEIGHT = 384, 480
SKIN = (214, 168, 138)
HAIR = (58, 40, 30)
EYES = (62, 84, 70)
LIPS = (170, 96, 92)


@dataclass(frozen=True)
class Shot:
    label: str
    yaw: float  # -1 (profile to the left) .. 1 (profile to the right)
    light: float  # -1 (key light on the left) .. 1 (on the right)
    pitch: float = 0.0  # -1 looking down .. 1 looking up


STUDIO_SHOTS = (
    Shot("front, even light", 0.0, 0.0),
    Shot("three-quarter left, key light left", -0.5, -0.8),
    Shot("profile left, key light right", -0.95, 0.7),
    Shot("three-quarter right, key light right", 0.5, 0.8),
    Shot("profile right, key light left", 0.95, -0.7),
    Shot("front, chin up, top light", 0.0, 0.0, 0.6),
    Shot("front, chin down, key light left", 0.1, -0.6, -0.5),
    Shot("three-quarter left, even light", -0.45, 0.0),
)


def _lit(colour: tuple[int, int, int], amount: float) -> tuple[int, int, int]:
    return tuple(int(max(0, min(255, c * amount))) for c in colour)


def _backdrop(shot: Shot, rng: np.random.Generator) -> Image.Image:
    x = np.linspace(-1.0, 1.0, WIDTH)[None, :]
    y = np.linspace(-1.0, 1.0, HEIGHT)[:, None]
    # A paper backdrop: brighter on the key light's side and towards the floor sweep.
    shade = 0.78 + 0.12 * shot.light * x + 0.06 * y
    tone = np.array([236, 232, 226], dtype=np.float32)
    pixels = shade[..., None] * tone[None, None, :]
    pixels = pixels + rng.normal(0, 1.5, pixels.shape)
    return Image.fromarray(np.clip(pixels, 0, 255).astype(np.uint8))


def _draw_head(image: Image.Image, shot: Shot) -> None:
    draw = ImageDraw.Draw(image)
    cx = WIDTH / 2 + shot.yaw * 18
    cy = HEIGHT * 0.42 - shot.pitch * 14
    head_w = 118 - abs(shot.yaw) * 22
    head_h = 150
    # Shoulders and neck first, so the head sits over them.
    draw.ellipse([WIDTH * 0.12, HEIGHT * 0.64, WIDTH * 0.88, HEIGHT * 1.2], fill=(44, 52, 70))
    draw.rectangle([cx - 26, cy + 50, cx + 26, HEIGHT * 0.7], fill=_lit(SKIN, 0.88))
    # Hair behind the head, on the side turned away from the camera.
    draw.ellipse(
        [cx - head_w * 0.62 - shot.yaw * 22, cy - head_h * 0.62, cx + head_w * 0.62, cy + 40],
        fill=HAIR,
    )
    draw.ellipse([cx - head_w / 2, cy - head_h / 2, cx + head_w / 2, cy + head_h / 2], fill=SKIN)
    # The side away from the key light falls into shadow.
    shadow_side = -1 if shot.light > 0 else 1
    if abs(shot.light) > 0.1:
        x0 = cx if shadow_side > 0 else cx - head_w / 2
        draw.chord(
            [x0 - head_w * 0.25, cy - head_h / 2, x0 + head_w * 0.75, cy + head_h / 2],
            start=-90 * shadow_side,
            end=90 * shadow_side if shadow_side > 0 else 270,
            fill=_lit(SKIN, 1 - 0.3 * abs(shot.light)),
        )
    # Features move across the face as it turns; the far eye disappears in profile.
    face_x = cx + shot.yaw * head_w * 0.32
    eye_y = cy - 12 - shot.pitch * 10
    for side in (-1, 1):
        if shot.yaw * side < -0.8:
            continue
        ex = face_x + side * (24 - abs(shot.yaw) * 10)
        draw.ellipse([ex - 9, eye_y - 5, ex + 9, eye_y + 5], fill=(245, 243, 240))
        draw.ellipse([ex - 4, eye_y - 4, ex + 4, eye_y + 4], fill=EYES)
        draw.line([ex - 12, eye_y - 14, ex + 10, eye_y - 16], fill=HAIR, width=3)
    nose_x = face_x + shot.yaw * 12
    draw.line([nose_x, eye_y + 4, nose_x + shot.yaw * 8, cy + 22], fill=_lit(SKIN, 0.7), width=3)
    mouth_y = cy + 42 - shot.pitch * 6
    draw.chord([face_x - 18, mouth_y - 6, face_x + 18, mouth_y + 8], 0, 180, fill=LIPS)
    # A fringe over the forehead.
    draw.chord(
        [cx - head_w / 2, cy - head_h / 2 - 6, cx + head_w / 2, cy - 10], 180, 360, fill=HAIR
    )


def synthetic_portrait(shot: Shot, *, seed: int) -> bytes:
    """One studio photo of the demo talent as PNG bytes; the same shot and seed give the
    same bytes."""
    rng = np.random.default_rng(seed)
    image = _backdrop(shot, rng)
    _draw_head(image, shot)
    image = image.filter(ImageFilter.GaussianBlur(1.2))
    grain = rng.normal(0, 3.0, (HEIGHT, WIDTH, 3))
    pixels = np.clip(np.asarray(image, dtype=np.float32) + grain, 0, 255).astype(np.uint8)
    out = io.BytesIO()
    Image.fromarray(pixels).save(out, format="PNG")
    return out.getvalue()


def studio_capture(*, seed: int = 2027) -> list[tuple[str, bytes]]:
    """The demo's capture: one photo per studio shot, each with its label."""
    return [
        (shot.label, synthetic_portrait(shot, seed=seed + index))
        for index, shot in enumerate(STUDIO_SHOTS)
    ]

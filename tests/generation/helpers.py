"""Small builders shared by the generation tests."""

import io

import numpy as np
from PIL import Image

from generation.spec import RenderSpec, TrainSpec

PROMPT = "a photo of rdtwin person"


def render_spec(**changes) -> RenderSpec:
    values = {"prompt": PROMPT, "width": 64, "height": 64, "steps": 4, "seed": 11}
    return RenderSpec(**{**values, **changes})


def train_spec(**changes) -> TrainSpec:
    # A high learning rate so that five steps visibly move a 64 px render.
    values = {"trigger_token": "rdtwin", "rank": 4, "steps": 5, "learning_rate": 1e-2}
    return TrainSpec(**{**values, "resolution": 64, **changes})


def pixels(png: bytes) -> np.ndarray:
    return np.asarray(Image.open(io.BytesIO(png)).convert("RGB"))


def adapters_in(loaded) -> list[str]:
    """The adapter names peft holds in the UNet (the attribute goes when the last does)."""
    return list(getattr(loaded.pipe.unet, "peft_config", {}))

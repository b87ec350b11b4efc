"""The values that cross between the web application and the generation worker.

Standard library only: the web process builds and reads these, and it must never import
torch (DESIGN.md, "Boundaries"). They describe *what* to render or train; whether it may
be rendered at all is decided before a spec reaches ``generation``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

# Training cost on the CPU grows fast with size (PITFALLS.md: a LoRA step is 27 ms at
# 64 px, 92 ms at 128 px, 1 s at 256 px): captures are resized to at most this.
MAX_TRAIN_RESOLUTION = 128
MAX_RENDER_SIDE = 2048
_SHA256 = re.compile(r"^[0-9a-f]{64}$")


@dataclass(frozen=True)
class AdapterRef:
    """A likeness adapter by name and content: the worker checks the bytes it is handed
    against ``sha256`` before loading them."""

    name: str
    sha256: str

    def __post_init__(self) -> None:
        if not self.name:
            raise ValueError("an adapter needs a name")
        if not _SHA256.match(self.sha256):
            raise ValueError("an adapter's sha256 is 64 lower-case hex digits")


@dataclass(frozen=True)
class RenderSpec:
    prompt: str
    negative_prompt: str = ""
    width: int = 64
    height: int = 64
    steps: int = 8
    guidance_scale: float = 5.0
    seed: int = 0
    adapter: AdapterRef | None = None

    def __post_init__(self) -> None:
        for side in (self.width, self.height):
            # The VAE down-samples 8x; diffusers refuses sizes that are not multiples of 8.
            if not 8 <= side <= MAX_RENDER_SIDE or side % 8:
                raise ValueError(f"width and height are multiples of 8 up to {MAX_RENDER_SIDE}")
        if self.steps < 1:
            raise ValueError("steps must be at least 1")
        if self.guidance_scale < 0:
            raise ValueError("guidance_scale cannot be negative")
        if not 0 <= self.seed < 2**63:
            raise ValueError("seed must fit in 63 bits")


@dataclass(frozen=True)
class RenderResult:
    png: bytes = field(repr=False)
    width: int
    height: int
    seed: int
    steps: int
    base_model_id: str
    adapter_sha256: str | None
    # Seconds: "load" (activating the adapter, loading it if not cached), "denoise",
    # "decode" (VAE and post-processing), "encode" (PNG).
    timings: dict[str, float] = field(default_factory=dict)
    # The decoded image itself, when the caller asked for it instead of the PNG (``png``
    # is then empty): a caller that marks and encodes the image again skips one encode.
    image: Any = field(default=None, repr=False)


@dataclass(frozen=True)
class TrainSpec:
    trigger_token: str
    rank: int = 4
    steps: int = 200
    learning_rate: float = 1e-4
    resolution: int = MAX_TRAIN_RESOLUTION
    seed: int = 0
    # None trains with alpha equal to the rank. Any other value is folded into the up
    # weights when the adapter is saved, since loading from a state dict drops alpha.
    lora_alpha: int | None = None

    def __post_init__(self) -> None:
        if not re.fullmatch(r"[a-z0-9_]{2,32}", self.trigger_token):
            raise ValueError("trigger_token is 2-32 characters of a-z, 0-9 and _")
        if not 1 <= self.rank <= 128:
            raise ValueError("rank must be between 1 and 128")
        if self.steps < 1:
            raise ValueError("steps must be at least 1")
        if not 0 < self.learning_rate < 1:
            raise ValueError("learning_rate must be between 0 and 1")
        if not 16 <= self.resolution <= MAX_TRAIN_RESOLUTION or self.resolution % 16:
            raise ValueError(f"resolution is a multiple of 16 up to {MAX_TRAIN_RESOLUTION}")
        if self.lora_alpha is not None and self.lora_alpha < 1:
            raise ValueError("lora_alpha must be positive")

    @property
    def alpha(self) -> int:
        return self.rank if self.lora_alpha is None else self.lora_alpha


@dataclass(frozen=True)
class TrainResult:
    adapter: bytes = field(repr=False)  # safetensors, alpha/rank already folded in
    sha256: str
    rank: int
    alpha: int  # the alpha it was trained with; the saved weights load at scale 1
    steps: int
    loss_history: tuple[float, ...]
    timings: dict[str, float] = field(default_factory=dict)

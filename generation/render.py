"""One render: a plain spec in, PNG bytes and what made them out.

The same spec gives the same pixels on the same machine: the initial noise comes from a
generator seeded by the spec on the pipeline's device, the scheduler (DDIM, eta 0 for the
tiny pipeline) adds none of its own, and the adapter is activated by name on every call.
Progress is reported after each denoising step and cancellation is checked there too,
so a cancelled render stops within one step and its image is never decoded.
"""

from __future__ import annotations

import hashlib
import io
import time
from collections.abc import Callable

import torch
from PIL import Image

from generation.adapters import AdapterLoader
from generation.pipeline import LoadedPipeline, get_pipeline
from generation.spec import RenderResult, RenderSpec


class RenderCancelled(Exception):
    code = "render_cancelled"

    def __init__(self, step: int) -> None:
        super().__init__(f"render cancelled after step {step}")
        self.step = step


def render(
    spec: RenderSpec,
    *,
    pipeline: LoadedPipeline | None = None,
    adapter_loader: AdapterLoader | None = None,
    on_step: Callable[[int, int], None] | None = None,
    should_cancel: Callable[[], bool] | None = None,
    encode: bool = True,
) -> RenderResult:
    """Render ``spec``: the PNG and what made it. ``encode=False`` returns the decoded
    image (``RenderResult.image``) and no PNG, for a caller that encodes it itself."""
    loaded = pipeline or get_pipeline()
    with loaded.lock:
        started = time.perf_counter()
        # Outside inference mode: LoRA weights made in it could never be trained later.
        loaded.adapters.activate(spec.adapter, adapter_loader)
        if should_cancel is not None and should_cancel():
            raise RenderCancelled(0)
        denoised_at = []
        callback = _step_callback(loaded, on_step, should_cancel, denoised_at)
        generator = torch.Generator(device=loaded.device).manual_seed(spec.seed)
        ready = time.perf_counter()
        with torch.inference_mode():
            image = loaded.pipe(
                prompt=spec.prompt,
                negative_prompt=spec.negative_prompt or None,
                width=spec.width,
                height=spec.height,
                num_inference_steps=spec.steps,
                guidance_scale=spec.guidance_scale,
                generator=generator,
                output_type="pil",
                callback_on_step_end=callback,
            ).images[0]
        decoded = time.perf_counter()
    png = encode_png(image) if encode else b""
    denoised_at.append(decoded)  # only used if the last step's callback never came
    timings = {
        "load": ready - started,  # finding or loading the adapter; the pipeline is warm
        "denoise": denoised_at[0] - ready,
        "decode": decoded - denoised_at[0],
        "encode": time.perf_counter() - decoded,
    }
    return RenderResult(
        png=png,
        width=image.width,
        height=image.height,
        seed=spec.seed,
        steps=spec.steps,
        base_model_id=loaded.base_model_id,
        adapter_sha256=spec.adapter.sha256 if spec.adapter else None,
        timings=timings,
        image=None if encode else image,
    )


def pixels_sha256(image: Image.Image) -> str:
    """SHA-256 of the image's mode, size and raw pixels: what identifies a render whatever
    file it is then encoded into."""
    digest = hashlib.sha256(f"{image.mode}:{image.width}x{image.height}:".encode())
    digest.update(image.tobytes())
    return digest.hexdigest()


def encode_png(image: Image.Image) -> bytes:
    # Level 1 is several times faster than the default at 1024 px (PITFALLS.md).
    buffer = io.BytesIO()
    image.save(buffer, format="PNG", compress_level=1)
    return buffer.getvalue()


def _step_callback(loaded, on_step, should_cancel, denoised_at):
    def callback(pipe, index, timestep, callback_kwargs):
        # The scheduler's own count: a second-order one takes two timesteps per "step".
        step, total = index + 1, pipe.num_timesteps
        if on_step is not None:
            on_step(step, total)
        if should_cancel is not None and should_cancel():
            # Raising unwinds the pipeline before the VAE decodes: no image exists.
            raise RenderCancelled(step)
        if step == total:
            if loaded.device.type == "cuda":
                torch.cuda.synchronize(loaded.device)  # so "denoise" is not queued work
            denoised_at.append(time.perf_counter())
        return callback_kwargs

    return callback

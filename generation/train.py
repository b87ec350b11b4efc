"""DreamBooth-style likeness training: a LoRA on the UNet's attention, nothing else moves.

Each capture is resized and centre-cropped to the spec's resolution, encoded once by the
VAE, and paired with the caption "a photo of <trigger> person". A step noises one latent
at a random timestep and teaches the UNet (through the LoRA only) to predict that noise.
Everything random draws from one generator seeded by the spec, so a training run repeats.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable, Sequence

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image, ImageOps

from generation.adapters import TARGET_MODULES, serialise_adapter, sha256_hex
from generation.pipeline import LoadedPipeline
from generation.spec import TrainResult, TrainSpec


class TrainingStopped(Exception):
    code = "training_stopped"

    def __init__(self, step: int) -> None:
        super().__init__(f"training stopped after step {step}")
        self.step = step


def caption(trigger_token: str) -> str:
    return f"a photo of {trigger_token} person"


def train_lora(
    loaded: LoadedPipeline,
    images: Sequence[Image.Image],
    spec: TrainSpec,
    progress: Callable[[int, int], None] | None = None,
    should_stop: Callable[[], bool] | None = None,
    *,
    keep_loaded: bool = False,
) -> TrainResult:
    """Train a likeness adapter and return it as safetensors bytes.

    With ``keep_loaded`` the adapter stays in the UNet, adopted by the pipeline's adapter
    cache under its digest, so it can render at once; otherwise the UNet is left as found.
    """
    if not images:
        raise ValueError("training needs at least one image")
    unet = loaded.pipe.unet
    name = f"training_{uuid.uuid4().hex[:12]}"
    with loaded.lock:
        started = time.perf_counter()
        latents, conditioning = _prepare(loaded, images, spec)
        prepared = time.perf_counter()
        params = _add_lora(loaded, name, spec)
        try:
            losses = _run_steps(loaded, latents, conditioning, params, spec, progress, should_stop)
            trained = time.perf_counter()
            data = serialise_adapter(unet, name, rank=spec.rank, alpha=spec.alpha)
            sha256 = sha256_hex(data)
        except BaseException:
            unet.delete_adapters([name])
            raise
        finally:
            unet.requires_grad_(False)
        if keep_loaded:
            loaded.adapters.register(sha256, name)
        else:
            unet.delete_adapters([name])
    timings = {
        "prepare": prepared - started,
        "train": trained - prepared,
        "per_step": (trained - prepared) / spec.steps,
        "serialise": time.perf_counter() - trained,
    }
    return TrainResult(
        adapter=data,
        sha256=sha256,
        rank=spec.rank,
        alpha=spec.alpha,
        steps=spec.steps,
        loss_history=tuple(losses),
        timings=timings,
    )


def prepare_image(image: Image.Image, resolution: int) -> Image.Image:
    """Upright, RGB, shorter side scaled to ``resolution``, centre-cropped to a square."""
    image = ImageOps.exif_transpose(image).convert("RGB")
    return ImageOps.fit(image, (resolution, resolution), Image.Resampling.BICUBIC)


def _prepare(loaded: LoadedPipeline, images, spec: TrainSpec):
    pipe, device = loaded.pipe, loaded.device
    arrays = [np.asarray(prepare_image(image, spec.resolution)) for image in images]
    pixels = torch.from_numpy(np.stack(arrays)).permute(0, 3, 1, 2).float() / 127.5 - 1.0
    with torch.no_grad():
        pixels = pixels.to(device, pipe.vae.dtype)
        distribution = pipe.vae.encode(pixels).latent_dist
        encoded = pipe.encode_prompt(
            prompt=caption(spec.trigger_token),
            device=device,
            num_images_per_prompt=1,
            do_classifier_free_guidance=False,
        )
    conditioning = {"encoder_hidden_states": encoded[0]}
    if len(encoded) == 4:  # SDXL: pooled text embeddings and size/crop conditioning
        size = spec.resolution
        time_ids = torch.tensor([[size, size, 0, 0, size, size]], device=device)
        conditioning["added_cond_kwargs"] = {
            "text_embeds": encoded[2],
            "time_ids": time_ids.to(encoded[2].dtype),
        }
    return distribution, conditioning


def _add_lora(loaded: LoadedPipeline, name: str, spec: TrainSpec) -> list[torch.nn.Parameter]:
    from peft import LoraConfig

    unet = loaded.pipe.unet
    unet.requires_grad_(False)
    config = LoraConfig(
        r=spec.rank,
        lora_alpha=spec.alpha,
        init_lora_weights="gaussian",
        target_modules=list(TARGET_MODULES),
    )
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(spec.seed)  # the LoRA's initial down weights
        unet.add_adapter(config, adapter_name=name)
    unet.enable_lora()  # a request without adapter may have disabled them
    params = [p for key, p in unet.named_parameters() if f".{name}." in key]
    for param in params:
        # Mixed precision on a GPU: the base stays bf16/fp16, the trained weights are fp32.
        param.data = param.data.float()
        param.requires_grad_(True)
    return params


def _run_steps(loaded, distribution, conditioning, params, spec, progress, should_stop):
    pipe, device = loaded.pipe, loaded.device
    unet = pipe.unet
    from diffusers import DDPMScheduler

    noise_scheduler = DDPMScheduler.from_config(pipe.scheduler.config)
    generator = torch.Generator(device=device).manual_seed(spec.seed)
    optimiser = torch.optim.AdamW(params, lr=spec.learning_rate, weight_decay=1e-2)
    order = torch.randperm(distribution.mean.shape[0], generator=generator, device=device)
    scaling = pipe.vae.config.scaling_factor
    autocast = torch.autocast(device.type, dtype=loaded.dtype, enabled=device.type == "cuda")
    losses = []
    for step in range(spec.steps):
        index = order[step % len(order)].item()
        mean, std = distribution.mean[index : index + 1], distribution.std[index : index + 1]
        latents = (mean + std * _randn(mean, generator)) * scaling
        noise = _randn(latents, generator)
        timesteps = torch.randint(
            0, noise_scheduler.config.num_train_timesteps, (1,), generator=generator, device=device
        )
        noisy = noise_scheduler.add_noise(latents, noise, timesteps)
        if noise_scheduler.config.prediction_type == "v_prediction":
            target = noise_scheduler.get_velocity(latents, noise, timesteps)
        else:
            target = noise
        with autocast:
            prediction = unet(noisy, timesteps, **conditioning).sample
        loss = F.mse_loss(prediction.float(), target.float())
        loss.backward()
        optimiser.step()
        optimiser.zero_grad(set_to_none=True)
        losses.append(loss.item())
        if progress is not None:
            progress(step + 1, spec.steps)
        if should_stop is not None and step + 1 < spec.steps and should_stop():
            raise TrainingStopped(step + 1)
    return losses


def _randn(like: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
    return torch.randn(like.shape, generator=generator, device=like.device, dtype=like.dtype)

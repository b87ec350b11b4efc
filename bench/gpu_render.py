"""SDXL-sized rendering on a GPU: images per second, achieved TFLOP/s and memory.

An SDXL-shaped pipeline (UNet 2.6 B parameters, the SDXL VAE, both CLIP text encoders)
with random weights is built on the ``meta`` device, moved with ``to_empty(device="cuda")``
and initialised there (nothing is downloaded or read from disk), then run in bf16 at
1024x1024 for 4 and 30 steps, batch 1 and 4, with classifier-free guidance:

- images/s of the raw denoise + VAE decode loop, and with PNG encoding (level 1) added;
- achieved TFLOP/s: the FLOPs of one UNet call counted with
  ``torch.utils.flop_counter.FlopCounterMode`` (times the steps, plus one VAE decode),
  over the measured time, against the chip's dense bf16 peak (H100/H200: 989 TFLOP/s);
- peak GPU memory (``torch.cuda.max_memory_allocated``).

With ``--worker-path`` (default on a GPU when Django and the project's requirements are
importable) it also saves that pipeline as a local diffusers folder and runs
``bench/render_overhead.py`` on it (``RIGHTSDESK_BASE_MODEL``; SQLite and the file broker in
a temporary folder): images/s through the whole path (submission, gate, queue, worker,
PNG, asset row). Without those packages that part is skipped with a message.

The GPU machine has Python 3.12 and torch but not diffusers: the wheels travel with the
checkout. Make the folder on a machine with network access and pass it:

    pip download diffusers==0.42.1 transformers==5.24.0 --python-version 3.12 \\
        --only-binary=:all: -d wheels/
    python bench/gpu_render.py --wheel-dir wheels/     # one command, under 8 minutes

Without CUDA (or with ``--dry-run``) it runs the same code on the CPU with a tiny
SDXL-shaped configuration at 64 px, so that the script is exercised everywhere. The last
line is ``RESULT gpu_images_per_s_b4_30=<x> gpu_tflops=<y> gpu_mfu=<z>`` (or ``dry_run=1``).
"""

import argparse
import importlib
import io
import os
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

# Dense bf16 tensor-core peaks, TFLOP/s (vendor data sheets, SXM parts, no sparsity).
PEAK_BF16_TFLOPS = {"H200": 989.0, "H100": 989.0, "A100": 312.0, "L40S": 362.0, "L4": 121.0}
TIME_BUDGET_S = 8 * 60
started_at = time.monotonic()


@dataclass(frozen=True)
class Shape:
    """The sizes of the pipeline and the runs."""

    size: int
    steps: tuple[int, ...]
    batches: tuple[int, ...]
    unet: dict
    vae: dict
    text: tuple[dict, dict]  # CLIP-L, then CLIP-bigG (with projection)


SDXL = Shape(
    size=1024,
    steps=(4, 30),
    batches=(1, 4),
    # stabilityai/stable-diffusion-xl-base-1.0, unet/config.json
    unet={
        "sample_size": 128,
        "in_channels": 4,
        "out_channels": 4,
        "down_block_types": ("DownBlock2D", "CrossAttnDownBlock2D", "CrossAttnDownBlock2D"),
        "up_block_types": ("CrossAttnUpBlock2D", "CrossAttnUpBlock2D", "UpBlock2D"),
        "block_out_channels": (320, 640, 1280),
        "layers_per_block": 2,
        "transformer_layers_per_block": (1, 2, 10),
        "attention_head_dim": (5, 10, 20),
        "cross_attention_dim": 2048,
        "use_linear_projection": True,
        "addition_embed_type": "text_time",
        "addition_time_embed_dim": 256,
        "projection_class_embeddings_input_dim": 2816,
    },
    vae={
        "block_out_channels": (128, 256, 512, 512),
        "layers_per_block": 2,
        "latent_channels": 4,
        "sample_size": 1024,
        "scaling_factor": 0.13025,
    },
    text=(
        {"hidden_size": 768, "intermediate_size": 3072, "num_hidden_layers": 12,
         "num_attention_heads": 12, "projection_dim": 768, "hidden_act": "quick_gelu"},
        {"hidden_size": 1280, "intermediate_size": 5120, "num_hidden_layers": 32,
         "num_attention_heads": 20, "projection_dim": 1280, "hidden_act": "gelu"},
    ),
)  # fmt: skip

TINY = Shape(
    size=64,
    steps=(2, 3),
    batches=(1, 2),
    unet={
        **SDXL.unet,
        "sample_size": 8,
        "block_out_channels": (32, 64, 64),
        "transformer_layers_per_block": (1, 1, 1),
        "attention_head_dim": (2, 4, 4),
        "cross_attention_dim": 64,
        "addition_time_embed_dim": 8,
        "projection_class_embeddings_input_dim": 32 + 6 * 8,
        "norm_num_groups": 32,
    },
    vae={**SDXL.vae, "block_out_channels": (32, 64, 64, 64), "layers_per_block": 1,
         "sample_size": 64},
    text=(
        {"hidden_size": 32, "intermediate_size": 37, "num_hidden_layers": 2,
         "num_attention_heads": 4, "projection_dim": 32, "hidden_act": "quick_gelu"},
        {"hidden_size": 32, "intermediate_size": 37, "num_hidden_layers": 2,
         "num_attention_heads": 4, "projection_dim": 32, "hidden_act": "gelu"},
    ),
)  # fmt: skip


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--wheel-dir", help="a folder holding the diffusers (and transformers) wheels"
    )
    parser.add_argument("--dry-run", action="store_true", help="tiny shapes on the CPU")
    parser.add_argument("--repeats", type=int, default=3, help="timed runs per configuration")
    parser.add_argument("--peak-tflops", type=float, help="the chip's dense bf16 peak")
    worker = parser.add_mutually_exclusive_group()
    worker.add_argument("--worker-path", dest="worker_path", action="store_true", default=None)
    worker.add_argument("--no-worker-path", dest="worker_path", action="store_false")
    parser.add_argument("--worker-renders", type=int, default=5)
    return parser.parse_args()


def ensure_diffusers(wheel_dir: str | None) -> None:
    """Import diffusers, installing it (and transformers, if its wheel is there) from
    ``wheel_dir`` without reaching any index; fail clearly without one."""
    try:
        import diffusers  # noqa: F401

        return
    except ImportError:
        pass
    if not wheel_dir:
        raise SystemExit(
            "diffusers is not installed here. Pass --wheel-dir with its wheel and its "
            "dependencies (pip download diffusers==0.42.1 transformers==5.24.0 "
            "--python-version 3.12 --only-binary=:all: -d wheels/), see the docstring."
        )
    folder = Path(wheel_dir)
    if not any(folder.glob("diffusers-*.whl")):
        raise SystemExit(f"no diffusers-*.whl in {folder}")
    wanted = ["diffusers"] + (["transformers"] if any(folder.glob("transformers-*.whl")) else [])
    print(f"installing {', '.join(wanted)} from {folder} (no index)")
    subprocess.run(
        [sys.executable, "-m", "pip", "install", "--quiet", "--no-index", "--find-links",
         str(folder), *wanted],
        check=True,
    )  # fmt: skip
    importlib.invalidate_caches()
    import diffusers  # noqa: F401


def has_transformers() -> bool:
    try:
        import transformers  # noqa: F401
    except ImportError:
        return False
    return True


def initialise(module, device) -> None:
    """Random weights for a module moved off ``meta``: every parameter drawn small, then
    each layer's own ``reset_parameters`` (Linear, Conv, norms, embeddings)."""
    import torch

    with torch.no_grad():
        for param in module.parameters():
            param.normal_(0.0, 0.02)
        for layer in module.modules():
            if hasattr(layer, "reset_parameters") and layer is not module:
                layer.reset_parameters()


def on_meta_then(device, dtype, build):
    """Build on ``meta`` (no memory), ``to_empty`` on the device, initialise there."""
    import torch

    with torch.device("meta"):
        module = build()
    module = module.to_empty(device=device)
    initialise(module, device)
    return module.to(dtype=dtype).eval().requires_grad_(False)


def build(shape: Shape, device, dtype) -> dict:
    from diffusers import AutoencoderKL, EulerDiscreteScheduler, UNet2DConditionModel

    parts = {
        "unet": on_meta_then(device, dtype, lambda: UNet2DConditionModel(**shape.unet)),
        "vae": on_meta_then(
            device,
            dtype,
            lambda: AutoencoderKL(
                down_block_types=("DownEncoderBlock2D",) * 4,
                up_block_types=("UpDecoderBlock2D",) * 4,
                **shape.vae,
            ),
        ),
        "scheduler": EulerDiscreteScheduler(
            beta_start=0.00085,
            beta_end=0.012,
            beta_schedule="scaled_linear",
            timestep_spacing="leading",
            steps_offset=1,
        ),
    }
    if has_transformers():
        parts["text_encoder"], parts["text_encoder_2"] = text_encoders(shape, device, dtype)
    return parts


def text_encoders(shape: Shape, device, dtype):
    import torch
    from transformers import CLIPTextConfig, CLIPTextModel, CLIPTextModelWithProjection

    from generation.tiny import BOS, EOS, MAX_TOKENS, _byte_vocab

    vocab = _byte_vocab()  # the byte-level tokenizer of generation.tiny: nothing downloaded
    encoders = []
    for cls, sizes in zip((CLIPTextModel, CLIPTextModelWithProjection), shape.text, strict=True):
        config = CLIPTextConfig(
            vocab_size=len(vocab),
            max_position_embeddings=MAX_TOKENS,
            bos_token_id=vocab[BOS],
            eos_token_id=vocab[EOS],
            pad_token_id=vocab[EOS],
            **sizes,
        )
        model = on_meta_then(device, dtype, lambda cls=cls, config=config: cls(config))
        # A non-persistent buffer is left uninitialised by to_empty: make it again.
        for name, _ in list(model.named_buffers()):
            if name.endswith("position_ids"):
                owner = model.get_submodule(name.rpartition(".")[0])
                positions = torch.arange(MAX_TOKENS, device=device).expand((1, -1))
                owner.register_buffer("position_ids", positions, persistent=False)
        encoders.append(model)
    return encoders


def conditioning(parts: dict, shape: Shape, batch: int, device, dtype):
    """Prompt embeddings for the guided batch (2 x batch): from the text encoders when
    transformers is there, else random ones of the same shapes."""
    import torch

    width_l, width_g = shape.text[0]["hidden_size"], shape.text[1]["hidden_size"]
    tokens = 77
    if "text_encoder" in parts:
        ids = torch.randint(0, 256, (2 * batch, tokens), device=device)
        first = parts["text_encoder"](ids, output_hidden_states=True)
        second = parts["text_encoder_2"](ids, output_hidden_states=True)
        embeds = torch.cat([first.hidden_states[-2], second.hidden_states[-2]], dim=-1)
        pooled = second.text_embeds
    else:
        embeds = torch.randn(2 * batch, tokens, width_l + width_g, device=device, dtype=dtype)
        pooled = torch.randn(2 * batch, width_g, device=device, dtype=dtype)
    size = shape.size
    time_ids = torch.tensor([[size, size, 0, 0, size, size]], device=device, dtype=dtype)
    added = {"text_embeds": pooled, "time_ids": time_ids.repeat(2 * batch, 1)}
    return embeds, added


def denoise_and_decode(parts, shape, batch, steps, device, dtype, *, seed=0):
    import torch

    unet, vae, scheduler = parts["unet"], parts["vae"], parts["scheduler"]
    generator = torch.Generator(device=device).manual_seed(seed)
    latent = shape.size // 8
    latents = torch.randn((batch, 4, latent, latent), generator=generator, device=device)
    with torch.inference_mode():
        embeds, added = conditioning(parts, shape, batch, device, dtype)
        scheduler.set_timesteps(steps, device=device)
        latents = (latents * scheduler.init_noise_sigma).to(dtype)
        for timestep in scheduler.timesteps:
            # The scheduler computes in float32; the UNet takes its own dtype.
            model_input = scheduler.scale_model_input(torch.cat([latents] * 2), timestep)
            model_input = model_input.to(dtype)
            noise = unet(
                model_input, timestep, encoder_hidden_states=embeds, added_cond_kwargs=added
            ).sample
            uncond, cond = noise.chunk(2)
            noise = uncond + 5.0 * (cond - uncond)
            latents = scheduler.step(noise, timestep, latents).prev_sample.to(dtype)
        images = vae.decode(latents / vae.config.scaling_factor).sample
    return images


def to_pngs(images) -> list[bytes]:
    import torch
    from PIL import Image

    pixels = ((images.float().clamp(-1, 1) + 1) * 127.5).round()
    array = torch.nan_to_num(pixels).to(torch.uint8).permute(0, 2, 3, 1).cpu().numpy()
    out = []
    for frame in array:
        buffer = io.BytesIO()
        Image.fromarray(frame).save(buffer, format="PNG", compress_level=1)
        out.append(buffer.getvalue())
    return out


def count_flops(parts, shape, batch, device, dtype) -> tuple[float, float]:
    """FLOPs of one guided UNet call (2 x batch) and of one VAE decode of ``batch``."""
    import torch
    from torch.utils.flop_counter import FlopCounterMode

    latent = shape.size // 8
    with torch.inference_mode():
        embeds, added = conditioning(parts, shape, batch, device, dtype)
        sample = torch.randn((2 * batch, 4, latent, latent), device=device, dtype=dtype)
        timestep = torch.tensor(500, device=device)
        with FlopCounterMode(display=False) as unet_counter:
            parts["unet"](sample, timestep, encoder_hidden_states=embeds, added_cond_kwargs=added)
        with FlopCounterMode(display=False) as vae_counter:
            parts["vae"].decode(sample[:batch])
    return float(unet_counter.get_total_flops()), float(vae_counter.get_total_flops())


def synchronise(device) -> None:
    import torch

    if device.type == "cuda":
        torch.cuda.synchronize(device)


def measure_raw(parts, shape, device, dtype, repeats: int, peak: float | None) -> dict:
    import torch

    results = {}
    for batch in shape.batches:
        unet_flops, vae_flops = count_flops(parts, shape, batch, device, dtype)
        for steps in shape.steps:
            denoise_and_decode(parts, shape, batch, min(steps, 2), device, dtype)  # warm
            if device.type == "cuda":
                torch.cuda.reset_peak_memory_stats(device)
            times, png_times = [], []
            for repeat in range(repeats):
                synchronise(device)
                begin = time.perf_counter()
                images = denoise_and_decode(parts, shape, batch, steps, device, dtype, seed=repeat)
                synchronise(device)
                middle = time.perf_counter()
                to_pngs(images)
                times.append(middle - begin)
                png_times.append(time.perf_counter() - begin)
            seconds = statistics.median(times)
            flops = unet_flops * steps + vae_flops
            tflops = flops / seconds / 1e12
            memory = torch.cuda.max_memory_allocated(device) / 2**30 if device.type == "cuda" else 0
            results[(batch, steps)] = {
                "images_per_s": batch / seconds,
                "images_per_s_png": batch / statistics.median(png_times),
                "tflops": tflops,
                "mfu": tflops / peak if peak else None,
                "unet_tflop_per_call": unet_flops / 1e12,
                "peak_gib": memory,
                "seconds": seconds,
            }
            line = results[(batch, steps)]
            mfu = f"{line['mfu'] * 100:.1f}% of peak" if peak else "peak unknown"
            print(
                f"batch {batch}, {steps:>2} steps: {line['images_per_s']:.2f} images/s "
                f"({line['images_per_s_png']:.2f} with PNG), {seconds * 1000:.0f} ms/batch, "
                f"{tflops:.3g} TFLOP/s ({mfu}), UNet call {unet_flops / 1e12:.3g} TFLOP, "
                f"peak memory {memory:.1f} GiB"
            )
    return results


def worker_path_ready() -> str:
    """Empty if the worker path can run here, else why not."""
    missing = [
        name
        for name in ("django", "celery", "rest_framework", "factory", "transformers", "peft")
        if importlib.util.find_spec(name) is None
    ]
    return f"missing {', '.join(missing)}" if missing else ""


def save_pipeline(parts: dict, folder: Path) -> None:
    """The random pipeline as a local diffusers folder the worker can load."""
    from diffusers import StableDiffusionXLPipeline

    from generation.tiny import _tokenizer, _write_tokenizer_files

    pipe = StableDiffusionXLPipeline(
        vae=parts["vae"],
        text_encoder=parts["text_encoder"],
        text_encoder_2=parts["text_encoder_2"],
        tokenizer=_tokenizer(),
        tokenizer_2=_tokenizer(),
        unet=parts["unet"],
        scheduler=parts["scheduler"],
    )
    pipe.save_pretrained(folder, safe_serialization=True)
    for name in ("tokenizer", "tokenizer_2"):
        _write_tokenizer_files(folder / name)


def run_worker_path(parts, shape, args, tmp: Path) -> dict[int, float]:
    """images/s through bench/render_overhead.py (one image per request) per step count."""
    folder = tmp / "sdxl-random"
    begin = time.perf_counter()
    save_pipeline(parts, folder)
    print(f"saved the pipeline for the worker in {time.perf_counter() - begin:.1f} s")
    out = {}
    for steps in shape.steps:
        if time.monotonic() - started_at > TIME_BUDGET_S * 0.75:
            print(f"worker path at {steps} steps skipped: the 8-minute budget is nearly spent")
            continue
        env = {**os.environ, "RIGHTSDESK_BASE_MODEL": str(folder)}
        env.pop("DATABASE_URL", None)  # SQLite and the file broker, as on the GPU machine
        command = [
            sys.executable,
            str(ROOT / "bench" / "render_overhead.py"),
            f"--renders={args.worker_renders}",
            f"--size={shape.size}",
            f"--steps={steps}",
            "--warmup=1",
        ]
        done = subprocess.run(command, env=env, capture_output=True, text=True, timeout=400)
        lines = done.stdout.strip().splitlines()
        if done.returncode or not lines or not lines[-1].startswith("RESULT"):
            print(
                f"worker path at {steps} steps failed:\n{done.stdout[-2000:]}{done.stderr[-3000:]}"
            )
            continue
        path_line = next(line for line in lines if line.startswith("whole path:"))
        path_ms = float(path_line.split("median")[1].split("ms")[0])
        out[steps] = 1000 / path_ms
        print(f"worker path, batch 1, {steps:>2} steps: {out[steps]:.2f} images/s ({lines[-1]})")
    return out


def main() -> None:
    args = parse_args()
    ensure_diffusers(args.wheel_dir)
    import torch

    dry_run = args.dry_run or not torch.cuda.is_available()
    if dry_run and not args.dry_run:
        print("no CUDA device here: running the dry run (tiny SDXL-shaped pipeline on the CPU)")
    shape = TINY if dry_run else SDXL
    device = torch.device("cpu" if dry_run else "cuda")
    dtype = torch.float32 if dry_run else torch.bfloat16
    name = "cpu" if dry_run else torch.cuda.get_device_name(device)
    peak = args.peak_tflops or next((v for k, v in PEAK_BF16_TFLOPS.items() if k in name), None)
    encoders = "CLIP-L + CLIP-bigG" if has_transformers() else "random embeddings (no transformers)"
    print(f"torch {torch.__version__} on {name}, {dtype}; text encoders: {encoders}")

    begin = time.perf_counter()
    parts = build(shape, device, dtype)
    params = sum(p.numel() for p in parts["unet"].parameters()) / 1e9
    print(f"built on meta, to_empty on {device.type}, initialised in "
          f"{time.perf_counter() - begin:.1f} s (UNet {params:.2f} B parameters)")  # fmt: skip
    results = measure_raw(parts, shape, device, dtype, args.repeats, peak)

    worker_path = args.worker_path if args.worker_path is not None else not dry_run
    if worker_path:
        reason = worker_path_ready()
        if reason:
            print(f"worker path skipped: {reason} (needs the project's requirements.txt)")
        else:
            with tempfile.TemporaryDirectory(prefix="rightsdesk-gpu-bench-") as tmp:
                run_worker_path(parts, shape, args, Path(tmp))
    print(f"total {time.monotonic() - started_at:.0f} s")
    if dry_run:
        print("RESULT dry_run=1")
        return
    best = results[(max(shape.batches), max(shape.steps))]
    mfu = f"{best['mfu']:.3f}" if best["mfu"] is not None else "nan"
    print(
        f"RESULT gpu_images_per_s_b4_30={best['images_per_s']:.3f} "
        f"gpu_tflops={best['tflops']:.1f} gpu_mfu={mfu}"
    )


if __name__ == "__main__":
    main()

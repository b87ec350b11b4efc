"""The raw baseline: renders straight through ``pipe()`` plus PNG encoding, no worker.

20 renders at 256x256 and 8 steps on the tiny pipeline (or RIGHTSDESK_BASE_MODEL), after
two warm-up renders; prints the median. ``raw_render`` is what the overhead bench
interleaves with renders through the whole path, so both see the same machine state.

    .venv/bin/python bench/render_raw.py [--renders 20] [--size 256] [--steps 8] [--threads N]
"""

import argparse
import io
import os
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import torch  # noqa: E402

from generation.pipeline import LoadedPipeline, load_pipeline  # noqa: E402

PROMPT = "a photo of a model in a linen suit, studio light"


def raw_render(loaded: LoadedPipeline, *, size: int, steps: int, seed: int) -> bytes:
    """One render as a bare diffusers loop would do it, PNG bytes out."""
    generator = torch.Generator(device=loaded.device).manual_seed(seed)
    with torch.inference_mode():
        image = loaded.pipe(
            prompt=PROMPT,
            width=size,
            height=size,
            num_inference_steps=steps,
            guidance_scale=5.0,
            generator=generator,
        ).images[0]
    buffer = io.BytesIO()
    image.save(buffer, format="PNG", compress_level=1)
    return buffer.getvalue()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--renders", type=int, default=20)
    parser.add_argument("--size", type=int, default=256)
    parser.add_argument("--steps", type=int, default=8)
    parser.add_argument("--threads", type=int, default=0, help="torch CPU threads (0: default)")
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)

    started = time.perf_counter()
    base_model = os.environ.get("RIGHTSDESK_BASE_MODEL") or None
    loaded = load_pipeline(base_model, ROOT / "var" / "models" / "tiny-sd")
    print(
        f"pipeline {loaded.base_model_id} on {loaded.device} ({loaded.dtype}), "
        f"loaded in {time.perf_counter() - started:.2f} s, {torch.get_num_threads()} threads"
    )
    for seed in range(2):
        raw_render(loaded, size=args.size, steps=args.steps, seed=seed)
    times = []
    for seed in range(args.renders):
        started = time.perf_counter()
        raw_render(loaded, size=args.size, steps=args.steps, seed=seed)
        times.append(time.perf_counter() - started)
    median_ms = statistics.median(times) * 1000
    spread = f"min {min(times) * 1000:.1f} ms, max {max(times) * 1000:.1f} ms"
    print(f"{args.renders} raw renders at {args.size}px, {args.steps} steps: {spread}")
    print(f"RESULT raw_render_ms={median_ms:.1f}")


if __name__ == "__main__":
    main()

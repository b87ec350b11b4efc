"""The tiny Stable Diffusion pipeline: SD's shape at a fraction of its size, built offline.

With no base model configured, the project still runs the real diffusers code path: this
module builds a Stable Diffusion pipeline from configs with seeded random weights and a
byte-level CLIP tokenizer written here, saves it as a normal diffusers folder, and later
loads it from there. Its proportions are SD's (DESIGN.md, "Generation"): a two-level UNet
with cross-attention 32, a VAE with four down blocks (8x down-sampling, so a 256 px render
denoises a 32x32 latent as SD would), a 32-wide CLIP text encoder. The images are noise;
the timings and the code paths are real.

Building is deterministic (the same seed gives the same weights, bit for bit) and happens
once per cache folder, under a file lock, so several workers starting together agree on
one copy.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import tempfile
from pathlib import Path

import torch
from filelock import FileLock

from generation.model_id import (
    TINY_DEFAULT_SEED,
    TINY_MARKER_FILE,
    TINY_MODEL_VERSION,
    tiny_folder_id,
)
from generation.model_id import is_tiny_folder as is_tiny_folder

# Nothing here may reach a hub; set before diffusers or transformers is first imported.
os.environ["HF_HUB_OFFLINE"] = "1"

DEFAULT_SEED = TINY_DEFAULT_SEED
MARKER_FILE = TINY_MARKER_FILE
BOS, EOS = "<|startoftext|>", "<|endoftext|>"
MAX_TOKENS = 77


def ensure_tiny_pipeline(cache_dir: str | Path, *, seed: int = DEFAULT_SEED) -> Path:
    """Return the folder of the tiny pipeline under ``cache_dir``, building it if absent."""
    folder = Path(cache_dir)
    if _is_complete(folder):
        return folder
    folder.parent.mkdir(parents=True, exist_ok=True)
    with FileLock(str(folder) + ".lock"):
        if _is_complete(folder):  # another process built it while we waited
            return folder
        # Build beside the target and rename, so a crash never leaves a half folder behind.
        staging = Path(tempfile.mkdtemp(prefix=folder.name + ".", dir=folder.parent))
        try:
            import transformers
            from diffusers.utils import logging as diffusers_logging

            diffusers_logging.disable_progress_bar()
            transformers.utils.logging.disable_progress_bar()
            pipe = build_tiny_pipeline(seed=seed)
            pipe.save_pretrained(staging, safe_serialization=True)
            _write_tokenizer_files(staging / "tokenizer")
            marker = {"version": TINY_MODEL_VERSION, "seed": seed, "weights": weights_hash(pipe)}
            (staging / MARKER_FILE).write_text(json.dumps(marker, indent=2))
            if folder.exists():
                shutil.rmtree(folder)
            staging.rename(folder)
        finally:
            shutil.rmtree(staging, ignore_errors=True)
    return folder


def tiny_base_model_id(folder: str | Path) -> str:
    """The recipe id (generation.model_id), known before the weights are built; the
    marker keeps the weights' hash for checking a build."""
    return tiny_folder_id(folder)


def build_tiny_pipeline(*, seed: int = DEFAULT_SEED):
    """Build the pipeline in memory; the global torch RNG is left as it was."""
    from diffusers import StableDiffusionPipeline

    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        unet = _unet()
        torch.manual_seed(seed + 1)
        vae = _vae()
        torch.manual_seed(seed + 2)
        text_encoder = _text_encoder()
    pipe = StableDiffusionPipeline(
        vae=vae,
        text_encoder=text_encoder,
        tokenizer=_tokenizer(),
        unet=unet,
        scheduler=_scheduler(),
        safety_checker=None,
        feature_extractor=None,
        requires_safety_checker=False,
    )
    return pipe


def weights_hash(pipe) -> str:
    """SHA-256 over every weight of the UNet, VAE and text encoder, in a fixed order."""
    digest = hashlib.sha256()
    for component in ("unet", "vae", "text_encoder"):
        state = getattr(pipe, component).state_dict()
        for key in sorted(state):
            tensor = state[key].detach().to("cpu").contiguous()
            digest.update(f"{component}.{key}:{tensor.dtype}:{tuple(tensor.shape)}".encode())
            digest.update(tensor.view(torch.uint8).numpy().tobytes())
    return digest.hexdigest()


def _is_complete(folder: Path) -> bool:
    return (folder / MARKER_FILE).is_file() and (folder / "model_index.json").is_file()


def _unet():
    from diffusers import UNet2DConditionModel

    return UNet2DConditionModel(
        sample_size=32,  # 256 px / 8: the demo's largest size
        in_channels=4,
        out_channels=4,
        block_out_channels=(32, 64),
        layers_per_block=2,
        down_block_types=("DownBlock2D", "CrossAttnDownBlock2D"),
        up_block_types=("CrossAttnUpBlock2D", "UpBlock2D"),
        cross_attention_dim=32,
        attention_head_dim=(2, 4),
        norm_num_groups=32,
    )


def _vae():
    from diffusers import AutoencoderKL

    return AutoencoderKL(
        in_channels=3,
        out_channels=3,
        down_block_types=("DownEncoderBlock2D",) * 4,
        up_block_types=("UpDecoderBlock2D",) * 4,
        block_out_channels=(32, 64, 64, 64),
        layers_per_block=1,
        latent_channels=4,
        norm_num_groups=32,
        sample_size=256,
    )


def _text_encoder():
    from transformers import CLIPTextConfig, CLIPTextModel

    vocab = _byte_vocab()
    config = CLIPTextConfig(
        vocab_size=len(vocab),
        hidden_size=32,
        intermediate_size=37,
        num_hidden_layers=5,
        num_attention_heads=4,
        max_position_embeddings=MAX_TOKENS,
        projection_dim=32,
        bos_token_id=vocab[BOS],
        eos_token_id=vocab[EOS],
        pad_token_id=vocab[EOS],
    )
    return CLIPTextModel(config).eval()


def _tokenizer():
    from transformers import CLIPTokenizer

    with tempfile.TemporaryDirectory() as tmp:
        vocab_file, merges_file = _write_tokenizer_files(Path(tmp))
        return CLIPTokenizer(str(vocab_file), str(merges_file), model_max_length=MAX_TOKENS)


def _scheduler():
    from diffusers import DDIMScheduler

    # Stable Diffusion 1.5's own scheduler settings; DDIM with eta 0 adds no noise per step.
    return DDIMScheduler(
        beta_start=0.00085,
        beta_end=0.012,
        beta_schedule="scaled_linear",
        clip_sample=False,
        set_alpha_to_one=False,
        steps_offset=1,
    )


def _write_tokenizer_files(folder: Path) -> tuple[Path, Path]:
    """Write a byte-level BPE vocabulary with no merges: every byte is a token, so any text
    tokenizes (one token per byte) and nothing has to come from a hub."""
    folder.mkdir(parents=True, exist_ok=True)
    vocab_file, merges_file = folder / "vocab.json", folder / "merges.txt"
    vocab_file.write_text(json.dumps(_byte_vocab(), ensure_ascii=False))
    merges_file.write_text("#version: 0.2\n")
    return vocab_file, merges_file


def _byte_vocab() -> dict[str, int]:
    symbols = _bytes_to_unicode()
    tokens = symbols + [symbol + "</w>" for symbol in symbols] + [BOS, EOS]
    return {token: index for index, token in enumerate(tokens)}


def _bytes_to_unicode() -> list[str]:
    """GPT-2's reversible map of the 256 byte values to printable characters, as CLIP uses."""
    printable = [*range(ord("!"), ord("~") + 1), *range(ord("¡"), ord("¬") + 1)]
    printable += range(ord("®"), ord("ÿ") + 1)
    codes = list(printable)
    extra = 0
    for byte in range(256):
        if byte not in printable:
            printable.append(byte)
            codes.append(256 + extra)
            extra += 1
    by_byte = dict(zip(printable, codes, strict=True))
    return [chr(by_byte[byte]) for byte in range(256)]

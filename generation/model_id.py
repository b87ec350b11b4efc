"""The base model's identity, without torch: the id a ``train`` consent names.

Standard library only, so the web process can name the base model a consent covers (the
consent notice, the demo, ``GET /api/v1/base-model/``) and the worker reports the same id
for the pipeline it loaded (``pipeline.load_pipeline`` calls ``base_model_id`` too).

- No folder configured: the tiny pipeline, identified by its recipe (version and seed),
  not by its weights, so the id is known before the weights are built. Building is
  deterministic (tiny.py), so the recipe names the weights on a given install.
- A folder holding a tiny build (its marker file): the same recipe id.
- Any other folder: its name and a fingerprint of its configs and weight files.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

TINY_MODEL_VERSION = "tiny-sd-v1"
TINY_DEFAULT_SEED = 20240601
TINY_MARKER_FILE = "rightsdesk_tiny.json"
WEIGHT_SUFFIXES = frozenset({".safetensors", ".bin", ".ckpt", ".pt"})
CONFIG_SUFFIXES = frozenset({".json", ".txt"})
KIND_TINY = "tiny"
KIND_FOLDER = "folder"


class BaseModelIdError(ValueError):
    """The configured base model folder cannot be identified; the message names it."""

    code = "base_model_unavailable"


def base_model_id(path: str | Path | None) -> str:
    """The id of the base model at ``path``, or of the tiny pipeline when there is none."""
    if path is None or str(path) == "":
        return tiny_model_id()
    folder = Path(path)
    if is_tiny_folder(folder):
        return tiny_folder_id(folder)
    if not folder.is_dir():
        raise BaseModelIdError(f"base model folder {folder} does not exist")
    if not (folder / "model_index.json").is_file():
        raise BaseModelIdError(f"base model folder {folder} has no model_index.json")
    return folder_fingerprint(folder)


def base_model_kind(path: str | Path | None) -> str:
    """``"tiny"`` for the built-in tiny pipeline, ``"folder"`` for a configured model."""
    if path is None or str(path) == "" or is_tiny_folder(Path(path)):
        return KIND_TINY
    return KIND_FOLDER


def tiny_model_id(seed: int = TINY_DEFAULT_SEED) -> str:
    return TINY_MODEL_VERSION if seed == TINY_DEFAULT_SEED else f"{TINY_MODEL_VERSION}-s{seed}"


def is_tiny_folder(folder: str | Path) -> bool:
    return (Path(folder) / TINY_MARKER_FILE).is_file()


def tiny_folder_id(folder: str | Path) -> str:
    marker = json.loads((Path(folder) / TINY_MARKER_FILE).read_text())
    if marker.get("version") != TINY_MODEL_VERSION:
        # Another recipe (a later version of tiny.py) is another model.
        return f"{marker.get('version')}-s{marker.get('seed')}"
    return tiny_model_id(int(marker.get("seed", TINY_DEFAULT_SEED)))


def folder_fingerprint(folder: Path) -> str:
    """An id for a base model folder: its name and a hash of its configs and weight files.

    Hashing every byte of an SDXL folder (~7 GB) would cost seconds at each worker start,
    so each weight file contributes its size and sixteen 64 KiB samples spread over it;
    a fine-tune changes every weight, so it changes the samples too.
    """
    folder = Path(folder)
    digest = hashlib.sha256()
    for file in sorted(p for p in folder.rglob("*") if p.is_file()):
        relative = file.relative_to(folder).as_posix()
        if file.suffix in CONFIG_SUFFIXES:
            digest.update(f"{relative}\0".encode() + file.read_bytes())
        elif file.suffix in WEIGHT_SUFFIXES:
            digest.update(f"{relative}\0{file.stat().st_size}\0".encode())
            digest.update(_sampled_bytes(file))
    return f"{folder.name}-{digest.hexdigest()[:12]}"


def _sampled_bytes(file: Path, samples: int = 16, chunk: int = 65536) -> bytes:
    size = file.stat().st_size
    parts = []
    with file.open("rb") as handle:
        for index in range(samples):
            handle.seek(max(0, (size - chunk) * index // max(1, samples - 1)))
            parts.append(handle.read(chunk))
    return b"".join(parts)

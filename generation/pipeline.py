"""Loading the base pipeline, once per worker process.

A configured base model is a local diffusers folder (SD 1.5, SDXL, ...): its
``model_index.json`` names the pipeline class, and nothing is ever fetched from a hub.
Without one, the tiny pipeline is built (or found) in the cache folder. The pipeline is
put on CUDA in bf16 (fp16 where bf16 is unsupported) when a GPU is present, else on the
CPU in fp32. ``torch.cuda`` is touched only when a pipeline is loaded, never at import:
the Celery parent process imports this module and must not initialise CUDA (PITFALLS.md).
"""

from __future__ import annotations

import json
import os
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch

from generation import tiny
from generation.model_id import base_model_id as model_base_model_id
from generation.model_id import folder_fingerprint as folder_fingerprint

os.environ["HF_HUB_OFFLINE"] = "1"  # before diffusers is first imported; see tiny.py

DEFAULT_TINY_DIR = Path("var/models/tiny-sd")


class BaseModelError(RuntimeError):
    """The configured base model cannot be loaded; the message names the folder."""

    code = "base_model_unavailable"


@dataclass
class LoadedPipeline:
    pipe: Any  # a diffusers DiffusionPipeline
    base_model_id: str
    path: Path
    device: torch.device
    dtype: torch.dtype
    load_seconds: float
    # Adapters loaded into this pipeline's UNet, most recently used last (adapters.py).
    adapters: Any = field(default=None, repr=False)
    # One render or training step at a time per pipeline: adapters are global UNet state.
    lock: threading.RLock = field(default_factory=threading.RLock, repr=False)


def load_pipeline(path: str | Path | None, cache_dir: str | Path | None = None) -> LoadedPipeline:
    """Load the base model at ``path``, or the tiny pipeline in ``cache_dir`` without one."""
    started = time.perf_counter()
    if path is None or str(path) == "":
        folder = tiny.ensure_tiny_pipeline(cache_dir or DEFAULT_TINY_DIR)
    else:
        folder = Path(path)
        _check_folder(folder)
    device, dtype = pick_device()
    pipe = _from_pretrained(folder, dtype)
    pipe.to(device)
    pipe.set_progress_bar_config(disable=True)
    loaded = LoadedPipeline(
        pipe=pipe,
        # The same id the web process computes without torch (a consent names it).
        base_model_id=model_base_model_id(folder),
        path=folder,
        device=device,
        dtype=dtype,
        load_seconds=time.perf_counter() - started,
    )
    from generation.adapters import AdapterCache

    loaded.adapters = AdapterCache(loaded)
    return loaded


def pick_device() -> tuple[torch.device, torch.dtype]:
    if torch.cuda.is_available():
        dtype = torch.bfloat16 if torch.cuda.is_bf16_supported() else torch.float16
        return torch.device("cuda"), dtype
    return torch.device("cpu"), torch.float32


_singleton: LoadedPipeline | None = None
_singleton_key: tuple[str, str] | None = None
_singleton_lock = threading.Lock()


def get_pipeline(
    path: str | Path | None = None, cache_dir: str | Path | None = None
) -> LoadedPipeline:
    """The process's pipeline, loaded on first use and kept warm.

    With no arguments, the folders come from ``RIGHTSDESK_BASE_MODEL`` and
    ``RIGHTSDESK_TINY_MODEL_DIR`` (the worker passes its settings explicitly instead).
    Asking for another base model replaces the warm one.
    """
    global _singleton, _singleton_key
    if path is None and cache_dir is None and _singleton is not None:
        return _singleton
    path = path if path is not None else os.environ.get("RIGHTSDESK_BASE_MODEL") or None
    cache_dir = cache_dir or os.environ.get("RIGHTSDESK_TINY_MODEL_DIR") or DEFAULT_TINY_DIR
    key = (str(path or ""), str(cache_dir))
    with _singleton_lock:
        if _singleton is None or _singleton_key != key:
            _singleton, _singleton_key = None, None
            _singleton = load_pipeline(path, cache_dir)
            _singleton_key = key
        return _singleton


def _check_folder(folder: Path) -> None:
    index = folder / "model_index.json"
    if not folder.is_dir():
        raise BaseModelError(f"base model folder {folder} does not exist")
    if not index.is_file():
        raise BaseModelError(f"base model folder {folder} has no model_index.json")
    try:
        class_name = json.loads(index.read_text()).get("_class_name")
    except (OSError, ValueError) as error:
        raise BaseModelError(f"base model folder {folder}: unreadable model_index.json ({error})")
    if not class_name:
        raise BaseModelError(f"base model folder {folder}: model_index.json names no pipeline")


def _from_pretrained(folder: Path, dtype: torch.dtype):
    import transformers
    from diffusers import DiffusionPipeline
    from diffusers.utils import logging as diffusers_logging

    diffusers_logging.disable_progress_bar()  # worker logs are for events, not bars
    transformers.utils.logging.disable_progress_bar()
    # The class comes from model_index.json (StableDiffusionPipeline, ...XLPipeline, ...).
    options: dict[str, Any] = {"local_files_only": True, "dtype": dtype}
    index = json.loads((folder / "model_index.json").read_text())
    if "safety_checker" in index:
        options.update(safety_checker=None, requires_safety_checker=False)
    try:
        return DiffusionPipeline.from_pretrained(str(folder), **options)
    except Exception as error:
        # diffusers raises OSError, ValueError, KeyError, safetensors errors...: all mean
        # the folder is not a loadable pipeline, and the operator needs to know which one.
        raise BaseModelError(f"base model folder {folder} cannot be loaded: {error}") from error

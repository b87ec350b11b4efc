"""Likeness adapters: LoRA weights on the UNet's attention projections, kept per worker.

An adapter travels as safetensors *bytes* (the worker decrypts them in memory; they are
never written out in plain form) and is identified by their SHA-256. Two diffusers traps
shape this module (PITFALLS.md, "diffusers and peft"):

- Loading from a state dict drops ``lora_alpha`` (it becomes the rank), so the scale
  alpha/rank is folded into the up weights when an adapter is saved; it then loads at
  scale 1 whatever alpha it was trained with. With alpha equal to the rank the fold is
  skipped and the reloaded adapter renders the same pixels, bit for bit.
- The last loaded adapter becomes the only active one, so every request activates its
  adapter by name (or disables adapters) before rendering. Adapters are never fused:
  fuse/unfuse drifts by ~1e-6 and one request's likeness would leak into the next.
"""

from __future__ import annotations

import hashlib
import json
import warnings
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

import torch
from safetensors.torch import load as safetensors_load
from safetensors.torch import save as safetensors_save

from generation.spec import AdapterRef

if TYPE_CHECKING:
    from generation.pipeline import LoadedPipeline

TARGET_MODULES = ("to_q", "to_k", "to_v", "to_out.0")
DEFAULT_CAPACITY = 4
KEY_PREFIX = "unet."

# Returns the adapter's safetensors bytes (decrypted by the caller).
AdapterLoader = Callable[[AdapterRef], bytes]


class AdapterError(RuntimeError):
    code = "adapter_unavailable"


class AdapterIntegrityError(AdapterError):
    code = "adapter_hash_mismatch"


def sha256_hex(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def serialise_adapter(
    unet, adapter_name: str, *, rank: int, alpha: int, fold_alpha: bool = True
) -> bytes:
    """The named adapter's LoRA weights as safetensors bytes, alpha/rank folded in.

    ``fold_alpha=False`` writes the raw weights, which reload wrongly unless alpha equals
    the rank; it exists so a test can show the trap.
    """
    from peft.utils import get_peft_model_state_dict

    state = get_peft_model_state_dict(unet, adapter_name=adapter_name)
    scale = alpha / rank if fold_alpha else 1.0
    tensors = {}
    for key, tensor in state.items():
        tensor = tensor.detach().to("cpu", torch.float32)
        if scale != 1.0 and ".lora_B." in key:
            tensor = tensor * scale
        tensors[KEY_PREFIX + key] = tensor.contiguous()
    about = {"rank": rank, "trained_alpha": alpha, "alpha_folded": fold_alpha}
    about["target_modules"] = list(TARGET_MODULES)
    # One metadata entry: safetensors writes several in hash-map order, and the same
    # adapter must always give the same bytes, hence the same SHA-256.
    metadata = {"rightsdesk_lora": json.dumps(about, sort_keys=True)}
    return safetensors_save(tensors, metadata=metadata)


def adapter_state_dict(data: bytes) -> dict[str, torch.Tensor]:
    return safetensors_load(data)


class AdapterCache:
    """The adapters loaded into one pipeline's UNet, least recently used first.

    Keys are SHA-256 digests, so the same bytes are loaded once whatever the request
    calls them; the peft adapter name is derived from the digest.
    """

    def __init__(self, loaded: LoadedPipeline, capacity: int = DEFAULT_CAPACITY) -> None:
        if capacity < 1:
            raise ValueError("capacity must be at least 1")
        self.loaded = loaded
        self.capacity = capacity
        self._names: OrderedDict[str, str] = OrderedDict()  # sha256 -> peft adapter name
        self._active: _ActiveState | None = None  # what the last full activation left
        self.hits = 0
        self.misses = 0

    def __contains__(self, sha256: str) -> bool:
        return sha256 in self._names

    def __len__(self) -> int:
        return len(self._names)

    def adapter_name(self, sha256: str) -> str:
        """The peft name under which the adapter with this digest sits in the UNet."""
        return self._names[sha256]

    def digests(self) -> list[str]:
        """Loaded adapters' digests, least recently used first."""
        return list(self._names)

    def activate(self, ref: AdapterRef | None, loader: AdapterLoader | None = None) -> None:
        """Make ``ref`` the only active adapter, or run the bare base model for None."""
        unet = self.loaded.pipe.unet
        if ref is None:
            self._active = None
            if getattr(unet, "peft_config", None):  # any adapter at all, cached or not
                unet.disable_lora()
            return
        name = self._ensure_loaded(ref, loader)
        if self._still_active(name):
            return
        unet.enable_lora()
        unet.set_adapters([name], [1.0])
        self._active = _ActiveState.of(unet, name, self._active)

    def _still_active(self, name: str) -> bool:
        """Whether the UNet's LoRA layers are still as activating ``name`` left them, read
        from the layers themselves: training, or anything else outside this cache, may
        have changed them since."""
        active = self._active
        return active is not None and active.holds(self.loaded.pipe.unet, name)

    def register(self, sha256: str, adapter_name: str) -> None:
        """Adopt an adapter already in the UNet (one just trained) under its digest."""
        self._names[sha256] = adapter_name
        self._names.move_to_end(sha256)
        self._evict_beyond(self.capacity)

    def evict(self, sha256: str) -> None:
        name = self._names.pop(sha256, None)
        if name is not None:
            self.loaded.pipe.unet.delete_adapters([name])

    def clear(self) -> None:
        for sha256 in list(self._names):
            self.evict(sha256)

    def _ensure_loaded(self, ref: AdapterRef, loader: AdapterLoader | None) -> str:
        if ref.sha256 in self._names:
            self.hits += 1
            self._names.move_to_end(ref.sha256)
            return self._names[ref.sha256]
        self.misses += 1
        if loader is None:
            raise AdapterError(f"adapter {ref.name} is not loaded and no loader was given")
        data = loader(ref)
        if sha256_hex(data) != ref.sha256:
            raise AdapterIntegrityError(f"adapter {ref.name}: bytes do not match its sha256")
        # Make room first, so the cache never holds more than its capacity, even briefly.
        self._evict_beyond(self.capacity - 1)
        name = adapter_name_for(ref.sha256)
        try:
            self._load(name, data)
        except Exception as error:
            if name in getattr(self.loaded.pipe.unet, "peft_config", {}):
                self.loaded.pipe.unet.delete_adapters([name])  # no half-loaded layers
            raise AdapterError(f"adapter {ref.name} cannot be loaded: {error}") from error
        self._names[ref.sha256] = name
        return name

    def _load(self, name: str, data: bytes) -> None:
        state_dict = adapter_state_dict(data)
        if not state_dict or not all(key.startswith(KEY_PREFIX) for key in state_dict):
            raise ValueError("not a UNet LoRA state dict")
        # Straight into the UNet: the pipeline-level loader also probes the text encoder.
        with warnings.catch_warnings():
            # peft warns whenever a model gets a second adapter; holding several is the point.
            warnings.filterwarnings("ignore", message="Already found a `peft_config`")
            self.loaded.pipe.unet.load_lora_adapter(
                state_dict, prefix=KEY_PREFIX.rstrip("."), adapter_name=name
            )

    def _evict_beyond(self, size: int) -> None:
        while len(self._names) > size:
            self.evict(next(iter(self._names)))


@dataclass(frozen=True)
class _ActiveState:
    """The LoRA layers of a UNet just after ``set_adapters([name], [1.0])``: each layer's
    scale for ``name``, and the adapters the UNet held then.

    Activating walks every module of the UNet twice (enable_lora, set_adapters): 6-10 ms
    a render on the tiny pipeline, for a state that is nearly always already right. What
    those two calls set (each layer's active adapters, its enabled flag and its scale) is
    checked on the layers instead, in well under a millisecond; a new or deleted adapter
    (which may add layers) changes ``peft_config`` and sends activation the full way."""

    name: str
    adapters: tuple[str, ...]
    layers: tuple[object, ...]
    scales: tuple[float | None, ...]

    @classmethod
    def of(cls, unet, name: str, previous: _ActiveState | None = None) -> _ActiveState:
        adapters = tuple(getattr(unet, "peft_config", {}))
        if previous is not None and previous.adapters == adapters:
            layers = previous.layers  # the same adapters: the same layers (a walk is ~2 ms)
        else:
            from peft.tuners.tuners_utils import BaseTunerLayer

            layers = tuple(m for m in unet.modules() if isinstance(m, BaseTunerLayer))
        return cls(
            name=name,
            adapters=adapters,
            layers=layers,
            scales=tuple(layer.scaling.get(name) for layer in layers),
        )

    def holds(self, unet, name: str) -> bool:
        if name != self.name or tuple(getattr(unet, "peft_config", {})) != self.adapters:
            return False
        return all(
            layer.active_adapters == [name]
            and not layer.disable_adapters
            and not layer.merged
            and layer.scaling.get(name) == scale
            for layer, scale in zip(self.layers, self.scales, strict=True)
        )


def adapter_name_for(sha256: str) -> str:
    return f"likeness_{sha256[:16]}"


def activate(
    loaded: LoadedPipeline, ref: AdapterRef | None, loader: AdapterLoader | None = None
) -> None:
    """Activate ``ref`` (loading it through ``loader`` if needed) on the loaded pipeline."""
    loaded.adapters.activate(ref, loader)

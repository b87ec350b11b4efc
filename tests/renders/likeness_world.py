"""A world in which a render goes all the way through: the gate world (tests/consent) with
talents X and Y each given a signed-off likeness whose adapter was really trained on the
tiny pipeline, and sealed under the talent's data key the way the training task stores it
(``adapter_file``, ``adapter_sha256``, ``adapter_key_id``).

Training runs in this process on the worker's own pipeline (``core.worker``), a few steps
at 64 px, once per session per adapter; the bytes are cached here.
"""

import hashlib
from dataclasses import dataclass
from uuid import UUID

import numpy as np
from django.conf import settings
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from PIL import Image

from generation.model_id import base_model_id
from rightsdesk.core.worker import adapter_context
from rightsdesk.provenance.models import ProvenanceRecord
from rightsdesk.renders.models import Asset, RenderRequest
from rightsdesk.renders.services import asset_folder, render_request_submit
from rightsdesk.talent.datakeys import encrypt_for_talent
from rightsdesk.talent.models import LikenessVersion
from tests.consent.gate_world import BRIEF, DAY, GateWorld, build_gate_world, consent

TOKENS = {"x": "rdtwinx", "y": "rdtwiny"}
_adapters: dict[str, bytes] = {}


def real_base_model() -> str:
    """The id the worker's pipeline reports (``generation.model_id``, no torch needed)."""
    return base_model_id(settings.RIGHTSDESK_BASE_MODEL or None)


def trained_adapter(token: str, seed: int) -> bytes:
    """A LoRA adapter trained for ``token`` on the tiny pipeline (cached per session)."""
    if token not in _adapters:
        import torch

        from generation.spec import TrainSpec
        from generation.train import train_lora
        from rightsdesk.core.worker import worker_pipeline

        rng = np.random.default_rng(seed)
        images = [
            Image.fromarray(rng.integers(0, 256, (64, 64, 3), dtype=np.uint8)) for _ in range(2)
        ]
        spec = TrainSpec(
            trigger_token=token, rank=4, steps=3, learning_rate=1e-2, resolution=64, seed=seed
        )
        threads = torch.get_num_threads()
        torch.set_num_threads(1)  # the cores are shared with the worker under test
        try:
            _adapters[token] = train_lora(worker_pipeline(), images, spec).adapter
        finally:
            torch.set_num_threads(threads)
    return _adapters[token]


def seal_adapter(likeness: LikenessVersion, data: bytes) -> LikenessVersion:
    blob, key_id = encrypt_for_talent(
        talent=likeness.talent, plaintext=data, context=adapter_context(likeness)
    )
    likeness.adapter_file.save(f"{likeness.public_id}.sealed", ContentFile(blob), save=False)
    likeness.adapter_sha256 = hashlib.sha256(data).hexdigest()
    likeness.adapter_key_id = key_id
    likeness.save(update_fields=["adapter_file", "adapter_sha256", "adapter_key_id"])
    return likeness


@dataclass
class LikenessWorld:
    gate: GateWorld
    base_model: str

    @property
    def manager(self):
        return self.gate.manager

    def submit(self, side: str = "x", **overrides) -> RenderRequest:
        """A render request for talent X (or Y) through the submission service."""
        values = {
            "requester": self.gate.manager,
            "licences": [getattr(self.gate, side).licence],
            "brief": BRIEF,
            "width": 64,
            "height": 64,
            "steps": 4,
            "seed": 11,
            "num_drafts": 2,
            "territory": "FR",
            "medium": "paid_social",
        }
        return render_request_submit(**{**values, **overrides})


def build_likeness_world() -> LikenessWorld:
    """The gate world with real, sealed adapters on X's and Y's likenesses."""
    gate = build_gate_world()
    base_model = real_base_model()
    for side, seed in (("x", 1), ("y", 2)):
        likeness = getattr(gate, side).likeness
        likeness.base_model = base_model
        likeness.trigger_token = TOKENS[side]
        likeness.save(update_fields=["base_model", "trigger_token"])
        consent(likeness.talent, "train", at=gate.now - 40 * DAY, base_model=base_model)
        seal_adapter(likeness, trained_adapter(TOKENS[side], seed))
    return LikenessWorld(gate=gate, base_model=base_model)


def draft_files(render_request) -> list[str]:
    """The files its drafts left: the signed files of their provenance records (and of any
    record whose asset was never created) plus anything in the request's asset folder."""
    references = {asset.reference for asset in render_request.assets.all()}
    known = set(Asset.objects.values_list("public_id", flat=True))
    names = [
        record.signed_file.name.rsplit("/", 1)[1]
        for record in ProvenanceRecord.objects.all()
        if record.asset_reference in references
        or UUID(record.asset_reference.partition(":")[2]) not in known
    ]
    names = [name for name in names if default_storage.exists(f"provenance/{name}")]
    try:
        return names + default_storage.listdir(asset_folder(render_request.public_id))[1]
    except FileNotFoundError:
        return names

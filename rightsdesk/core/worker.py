"""What a generation worker holds: the warm base pipeline and access to sealed adapters.

Only Celery task bodies of the ``gpu`` and ``training`` queues import this module, and
even then ``generation`` (torch) is imported inside ``worker_pipeline`` alone, so reading
an adapter's bytes stays torch-free. Adapters are decrypted in memory and handed straight
to ``generation``; their plain bytes are never written anywhere (DESIGN.md, "Generation").
"""

from __future__ import annotations

import hashlib
from typing import TYPE_CHECKING, Any

from django.conf import settings

if TYPE_CHECKING:
    from rightsdesk.talent.models import LikenessVersion

TINY_MODEL_FOLDER = "tiny-sd"


def worker_pipeline() -> Any:
    """The process's ``generation.pipeline.LoadedPipeline``, loaded once and kept warm:
    ``RIGHTSDESK_BASE_MODEL``, or the tiny pipeline cached under RIGHTSDESK_MODEL_CACHE."""
    from generation.pipeline import get_pipeline

    return get_pipeline(
        path=settings.RIGHTSDESK_BASE_MODEL or None,
        cache_dir=settings.RIGHTSDESK_MODEL_CACHE / TINY_MODEL_FOLDER,
    )


def adapter_context(likeness: LikenessVersion) -> str:
    """The associated data that binds an adapter blob to its likeness row."""
    return f"adapter:{likeness.public_id}"


def adapter_bytes_for(likeness: LikenessVersion) -> bytes:
    """The likeness's adapter (safetensors bytes), decrypted in memory and checked against
    its recorded SHA-256.

    Raises ``data_key_destroyed`` after a crypto-shred and ``encrypted_data_invalid`` when
    there is no adapter, the blob was altered, or the plaintext does not match its hash.
    """
    from rightsdesk.core.errors import EncryptedDataInvalid
    from rightsdesk.talent.datakeys import decrypt_for_talent

    if not likeness.adapter_file or not likeness.adapter_sha256:
        raise EncryptedDataInvalid("This likeness has no stored adapter.")
    with likeness.adapter_file.open("rb") as handle:
        blob = handle.read()
    data = decrypt_for_talent(
        talent=likeness.talent,
        blob=blob,
        context=adapter_context(likeness),
        key_id=likeness.adapter_key_id or None,
    )
    if hashlib.sha256(data).hexdigest() != likeness.adapter_sha256:
        raise EncryptedDataInvalid("A likeness adapter does not match its recorded SHA-256.")
    return data

"""Envelope encryption: data keys wrapped by a key-encryption key (KEK) from the settings.

Each owner of secrets (a talent; later a provenance signing key) has its own random 256-bit
data key. Data is sealed with AES-256-GCM under that data key; the data key itself is
stored only wrapped by the KEK (``RIGHTSDESK_DATA_KEY``, id ``RIGHTSDESK_DATA_KEY_ID``).
Destroying a data key (overwriting its wrapped form) makes everything sealed under it
unreadable: crypto-shredding.

Wrapping uses AES-GCM too, not AES key wrap (RFC 3394): GCM takes associated data, so a
wrapped key is bound to its owner and its own id and cannot be copied onto another row,
whereas RFC 3394 authenticates the key alone. GCM's limit of about 2^32 random nonces per
key is no concern here: a KEK wraps one key per owner per rotation.

A sealed blob is ``nonce (12 bytes) || ciphertext || tag (16 bytes)``; the caller's
associated data (which owner, which purpose: ``b"capture:<image uuid>"``) is not stored
in it but must be given again to open it, so a blob moved to another row fails to open.

Rotation: set the new KEK as ``RIGHTSDESK_DATA_KEY`` with a new ``RIGHTSDESK_DATA_KEY_ID``,
list the old one in ``RIGHTSDESK_DATA_KEYS_OLD`` (``"id:base64,id:base64"``), rewrap
(``manage.py rotate_data_keys``), then drop the old KEK. Until the old KEK is destroyed
too, copies of a destroyed wrapped key in old backups could still be unwrapped with it.
"""

import base64
import binascii
import os
from dataclasses import dataclass

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured

from rightsdesk.core.errors import EncryptedDataInvalid, KeyEncryptionKeyUnknown

KEY_BYTES = 32
NONCE_BYTES = 12
TAG_BYTES = 16


@dataclass(frozen=True)
class KeyRing:
    """The current KEK (which wraps new keys) and older ones (which only unwrap)."""

    current_id: str
    keys: dict[str, bytes]

    def get(self, kek_id: str) -> bytes:
        try:
            return self.keys[kek_id]
        except KeyError:
            raise KeyEncryptionKeyUnknown(kek_id=kek_id)


def _decode_key(*, name: str, value: str) -> bytes:
    try:
        key = base64.b64decode(value.strip(), validate=True)
    except (binascii.Error, ValueError):
        raise ImproperlyConfigured(f"{name} is not valid base64")
    if len(key) != KEY_BYTES:
        raise ImproperlyConfigured(f"{name} must decode to {KEY_BYTES} bytes, not {len(key)}")
    return key


def key_ring() -> KeyRing:
    """The KEKs from the settings (read on every call, so a settings change applies)."""
    current_id = settings.RIGHTSDESK_DATA_KEY_ID.strip()
    if not current_id:
        raise ImproperlyConfigured("RIGHTSDESK_DATA_KEY_ID must not be empty")
    keys: dict[str, bytes] = {}
    for entry in (getattr(settings, "RIGHTSDESK_DATA_KEYS_OLD", "") or "").split(","):
        if not entry.strip():
            continue
        kek_id, sep, value = entry.strip().partition(":")
        if not sep or not kek_id.strip():
            raise ImproperlyConfigured("RIGHTSDESK_DATA_KEYS_OLD entries are 'id:base64'")
        keys[kek_id.strip()] = _decode_key(name=f"RIGHTSDESK_DATA_KEYS_OLD[{kek_id}]", value=value)
    current = _decode_key(name="RIGHTSDESK_DATA_KEY", value=settings.RIGHTSDESK_DATA_KEY)
    if keys.get(current_id, current) != current:
        raise ImproperlyConfigured(
            f"RIGHTSDESK_DATA_KEYS_OLD gives another key for the current id {current_id!r}"
        )
    keys[current_id] = current
    return KeyRing(current_id=current_id, keys=keys)


def new_data_key() -> bytes:
    return AESGCM.generate_key(bit_length=KEY_BYTES * 8)


def seal(*, key: bytes, plaintext: bytes, associated_data: bytes) -> bytes:
    """``nonce || ciphertext || tag`` of ``plaintext`` under ``key``."""
    nonce = os.urandom(NONCE_BYTES)
    return nonce + AESGCM(key).encrypt(nonce, plaintext, associated_data)


def open_sealed(*, key: bytes, blob: bytes, associated_data: bytes) -> bytes:
    """The plaintext of ``blob``; EncryptedDataInvalid if it was altered, belongs to another
    row or purpose (other associated data) or was sealed under another key."""
    blob = bytes(blob)
    if len(blob) < NONCE_BYTES + TAG_BYTES:
        raise EncryptedDataInvalid()
    try:
        return AESGCM(key).decrypt(blob[:NONCE_BYTES], blob[NONCE_BYTES:], associated_data)
    except InvalidTag:
        raise EncryptedDataInvalid()


def wrap_key(
    *, data_key: bytes, associated_data: bytes, ring: KeyRing | None = None
) -> tuple[bytes, str]:
    """``(wrapped, kek_id)``: ``data_key`` sealed under the current KEK."""
    ring = ring or key_ring()
    wrapped = seal(
        key=ring.get(ring.current_id), plaintext=data_key, associated_data=associated_data
    )
    return wrapped, ring.current_id


def unwrap_key(
    *, wrapped: bytes, kek_id: str, associated_data: bytes, ring: KeyRing | None = None
) -> bytes:
    ring = ring or key_ring()
    data_key = open_sealed(key=ring.get(kek_id), blob=wrapped, associated_data=associated_data)
    if len(data_key) != KEY_BYTES:
        raise EncryptedDataInvalid()
    return data_key

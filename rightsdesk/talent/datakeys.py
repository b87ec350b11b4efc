"""Each talent's data key: sealing captures and adapters, rotation, and crypto-shredding.

The cryptography is ``core.crypto`` (AES-256-GCM envelope encryption). Here it meets the
talent: the wrapped key is bound to its talent and its own id, and every blob to its
talent and purpose (``context``, e.g. ``"capture:<image uuid>"``), so neither can be moved
to another row. Blobs carry the id of the key that sealed them (``key_id``).

Destroying the key (``talent_data_key_destroy``) overwrites its wrapped form with nothing:
every capture and adapter sealed under it becomes unreadable, and a destruction certificate
(what, when, why, hashes) is appended to the audit chain. It happens when a ``train`` or
``capture`` consent withdrawal takes effect (both consent notices promise the data is
destroyed; one key covers both) and when the principal asks for erasure after the last
agreement ended. Afterwards a new key is made only for a capture consent given later.
"""

import hashlib
import uuid
from collections.abc import Callable
from datetime import datetime

from django.db import transaction
from django.db.models import F
from django.utils import timezone

from rightsdesk.accounts.models import User
from rightsdesk.agreements.models import Agreement
from rightsdesk.audit.services import audit_record
from rightsdesk.consent.hooks import WithdrawalEffect
from rightsdesk.consent.models import ConsentKind, Withdrawal
from rightsdesk.core import crypto
from rightsdesk.core.errors import EncryptedDataInvalid
from rightsdesk.talent.errors import AgreementStillActive, DataKeyDestroyed
from rightsdesk.talent.models import (
    CaptureImage,
    DestructionCertificate,
    LikenessVersion,
    Talent,
    TalentDataKey,
    talent_lock,
)
from rightsdesk.talent.selectors import ensure_principal

# Destruction reasons: fixed words, because the audit chain can never be erased and must
# not receive free text that might hold personal data.
REASON_TRAIN_WITHDRAWN = "train_consent_withdrawn"
REASON_CAPTURE_WITHDRAWN = "capture_consent_withdrawn"
REASON_ERASURE_REQUESTED = "erasure_requested"


def _key_associated_data(key: TalentDataKey) -> bytes:
    return f"rightsdesk:talent-data-key:{key.talent.public_id}:{key.key_id}".encode()


def _blob_associated_data(*, talent: Talent, context: str) -> bytes:
    return f"rightsdesk:talent:{talent.public_id}:{context}".encode()


# Reads


def talent_data_key_live(*, talent: Talent) -> TalentDataKey | None:
    return TalentDataKey.objects.filter(talent=talent, destroyed_at__isnull=True).first()


def talent_data_key_last_destroyed_at(*, talent: Talent) -> datetime | None:
    last = (
        TalentDataKey.objects.filter(talent=talent, destroyed_at__isnull=False)
        .order_by("-destroyed_at")
        .first()
    )
    return last.destroyed_at if last else None


def _key_for(*, talent: Talent, key_id: str | None) -> TalentDataKey:
    keys = TalentDataKey.objects.filter(talent=talent)
    if key_id is None:
        # The live key, else the last one (destroyed: the caller learns it was shredded).
        key = keys.order_by(F("destroyed_at").desc(nulls_first=True), "-created_at", "-pk").first()
    else:
        try:
            key = keys.filter(public_id=uuid.UUID(hex=key_id)).first()
        except ValueError:
            key = None
    if key is None:
        raise EncryptedDataInvalid("No data key of this talent sealed this data.")
    key.talent = talent
    return key


def _unwrap(key: TalentDataKey) -> bytes:
    if key.destroyed_at is not None:
        raise DataKeyDestroyed(key_id=key.key_id, destroyed_at=key.destroyed_at.isoformat())
    return crypto.unwrap_key(
        wrapped=bytes(key.wrapped_key),
        kek_id=key.kek_id,
        associated_data=_key_associated_data(key),
    )


def talent_blob_opener(*, talent: Talent, key_id: str | None = None) -> Callable[..., bytes]:
    """``open(blob, context) -> plaintext`` with the key unwrapped once (for many blobs)."""
    data_key = _unwrap(_key_for(talent=talent, key_id=key_id))

    def open_blob(blob: bytes, context: str) -> bytes:
        return crypto.open_sealed(
            key=data_key,
            blob=blob,
            associated_data=_blob_associated_data(talent=talent, context=context),
        )

    return open_blob


def decrypt_for_talent(
    *, talent: Talent, blob: bytes, context: str, key_id: str | None = None
) -> bytes:
    """The plaintext of a blob sealed by ``encrypt_for_talent`` with the same ``context``.

    ``key_id`` is the id stored beside the blob (default: the talent's latest key). Raises
    ``data_key_destroyed`` after a crypto-shred and ``encrypted_data_invalid`` if the blob
    was altered or belongs to another talent or purpose.
    """
    return talent_blob_opener(talent=talent, key_id=key_id)(blob, context)


# Writes


@transaction.atomic
def talent_data_key_get_or_create(
    *, talent: Talent, renew_after_destruction: bool = False
) -> TalentDataKey:
    """The talent's live data key, made if there is none.

    After a destruction a new key is made only with ``renew_after_destruction`` (the capture
    service passes it for a capture consent given after the destruction); otherwise
    ``data_key_destroyed``, so that nothing is sealed anew for a talent who withdrew.
    """
    # The talent row serialises two first uploads: one makes the key, the other reads it.
    talent_lock(talent_id=talent.pk)
    live = talent_data_key_live(talent=talent)
    if live is not None:
        return live
    destroyed_at = talent_data_key_last_destroyed_at(talent=talent)
    if destroyed_at is not None and not renew_after_destruction:
        raise DataKeyDestroyed(destroyed_at=destroyed_at.isoformat())
    key = TalentDataKey(talent=talent, public_id=uuid.uuid4(), created_at=timezone.now())
    key.wrapped_key, key.kek_id = crypto.wrap_key(
        data_key=crypto.new_data_key(), associated_data=_key_associated_data(key)
    )
    key.save(force_insert=True)
    audit_record(
        actor=None,
        action="talent.data_key_created",
        target=talent,
        payload={
            "data_key": key.key_id,
            "kek_id": key.kek_id,
            "renews_destroyed_key": destroyed_at is not None,
        },
    )
    return key


def encrypt_for_talent(
    *, talent: Talent, plaintext: bytes, context: str, renew_after_destruction: bool = False
) -> tuple[bytes, str]:
    """``(blob, key_id)``: ``plaintext`` sealed under the talent's data key, bound to the
    talent and ``context`` (``"capture:<image uuid>"``, ``"adapter:<likeness uuid>"``).

    Store ``key_id`` beside the blob. Call it outside long transactions: the key is made
    (and audited) in its own, and the sealing itself touches no table.
    """
    key = talent_data_key_get_or_create(
        talent=talent, renew_after_destruction=renew_after_destruction
    )
    data_key = _unwrap(key)
    blob = crypto.seal(
        key=data_key,
        plaintext=plaintext,
        associated_data=_blob_associated_data(talent=talent, context=context),
    )
    return blob, key.key_id


@transaction.atomic
def talent_data_keys_rotate(*, actor: User | None = None) -> int:
    """Rewrap every live data key under the current KEK; returns how many were rewrapped.

    Once it returns, the KEKs in RIGHTSDESK_DATA_KEYS_OLD wrap nothing live and can be
    dropped. Destroyed keys have nothing to rewrap. Blobs are untouched: only the wrapping
    of their data keys changes.
    """
    ring = crypto.key_ring()
    stale = list(
        TalentDataKey.objects.select_for_update()
        .select_related("talent")
        .filter(destroyed_at__isnull=True)
        .exclude(kek_id=ring.current_id)
        .order_by("pk")
    )
    rewrapped_from: dict[str, int] = {}
    for key in stale:
        data_key = crypto.unwrap_key(
            wrapped=bytes(key.wrapped_key),
            kek_id=key.kek_id,
            associated_data=_key_associated_data(key),
            ring=ring,
        )
        rewrapped_from[key.kek_id] = rewrapped_from.get(key.kek_id, 0) + 1
        key.wrapped_key, key.kek_id = crypto.wrap_key(
            data_key=data_key, associated_data=_key_associated_data(key), ring=ring
        )
        key.save(update_fields=["wrapped_key", "kek_id"])
    if stale:
        audit_record(
            actor=actor,
            action="talent.data_keys_rewrapped",
            target=None,
            payload={"to_kek_id": ring.current_id, "from_kek_ids": rewrapped_from},
        )
    return len(stale)


def data_keys_wrapped_by_old_keks() -> dict[str, int]:
    """Live keys still wrapped by a KEK other than the current one, counted by KEK id."""
    current = crypto.key_ring().current_id
    counts: dict[str, int] = {}
    for kek_id in (
        TalentDataKey.objects.filter(destroyed_at__isnull=True)
        .exclude(kek_id=current)
        .values_list("kek_id", flat=True)
    ):
        counts[kek_id] = counts.get(kek_id, 0) + 1
    return counts


def _certificate_payload(*, key: TalentDataKey, reason: str, trigger: str, now: datetime) -> dict:
    images = list(
        CaptureImage.objects.filter(key_id=key.key_id)
        .select_related("session")
        .order_by("pk")
        .only("sha256", "session__public_id")
    )
    adapters = LikenessVersion.objects.filter(talent_id=key.talent_id, adapter_key_id=key.key_id)
    adapter_hashes = sorted(h for h in adapters.values_list("adapter_sha256", flat=True) if h)
    return {
        "certificate": "talent data key destroyed (crypto-shred)",
        "talent": str(key.talent.public_id),
        "data_key": key.key_id,
        "kek_id": key.kek_id,
        "key_created_at": key.created_at.isoformat(),
        "destroyed_at": now.isoformat(),
        "reason": reason,
        "trigger": trigger,
        "unreadable": {
            "capture_images": {
                "count": len(images),
                "sha256": sorted(image.sha256 for image in images),
                "sessions": sorted({str(image.session.public_id) for image in images}),
            },
            "adapters": {"count": len(adapter_hashes), "sha256": adapter_hashes},
        },
    }


@transaction.atomic
def talent_data_key_destroy(
    *, talent: Talent, reason: str, actor: User | None, trigger: str = ""
) -> DestructionCertificate | None:
    """Crypto-shred the talent's live data key and certify it; None if there is none.

    ``reason`` is one of the REASON_* words (the audit chain is never erased, so no free
    text); ``trigger`` names what caused it (``"withdrawal:<uuid>"``). Every likeness of the
    talent becomes ``destroyed``: its adapter was sealed under this key or an earlier,
    already destroyed one.
    """
    key = (
        TalentDataKey.objects.select_for_update()
        .select_related("talent")
        .filter(talent=talent, destroyed_at__isnull=True)
        .first()
    )
    if key is None:
        return None
    now = timezone.now()
    payload = _certificate_payload(key=key, reason=reason, trigger=trigger, now=now)
    likenesses = LikenessVersion.objects.filter(talent=talent).exclude(
        status=LikenessVersion.Status.DESTROYED
    )
    payload["likenesses_destroyed"] = sorted(
        str(public_id) for public_id in likenesses.values_list("public_id", flat=True)
    )
    likenesses.update(status=LikenessVersion.Status.DESTROYED, updated_at=now)
    # The one permitted edit of a key besides a rewrap (a trigger enforces it on PostgreSQL).
    # PostgreSQL keeps the old row version until VACUUM and in backups: it stays wrapped by
    # the KEK, which is why an old KEK is destroyed too once rotation has moved off it.
    key.wrapped_key = b""
    key.destroyed_at = now
    key.save(update_fields=["wrapped_key", "destroyed_at"])
    event = audit_record(  # appended now: the certificate names its sequence
        actor=actor,
        action="talent.data_key_destroyed",
        target=talent,
        payload=payload,
        deferrable=False,
    )
    return DestructionCertificate.objects.create(
        talent=talent,
        data_key=key,
        created_at=now,
        payload_json=event.payload_json,
        sha256=hashlib.sha256(event.payload_json.encode("utf-8")).hexdigest(),
        audit_sequence=event.sequence,
    )


def agreements_in_force(*, talent: Talent, at: datetime | None = None) -> list[Agreement]:
    """The talent's active agreements that no withdrawal has ended by ``at``."""
    at = at or timezone.now()
    withdrawn = Withdrawal.objects.filter(agreement__talent=talent, effective_at__lte=at).values(
        "agreement_id"
    )
    return list(
        Agreement.objects.filter(talent=talent, status=Agreement.Status.ACTIVE)
        .exclude(pk__in=withdrawn)
        .order_by("pk")
    )


@transaction.atomic
def talent_request_erasure(*, talent: Talent, actor: User) -> DestructionCertificate | None:
    """The principal asks for their captures and adapters to be destroyed, once no agreement
    is in force any more (``agreement_still_active`` otherwise). Returns the certificate,
    or None when nothing was held (the request is audited either way)."""
    ensure_principal(user=actor, talent=talent)
    active = agreements_in_force(talent=talent)
    if active:
        raise AgreementStillActive(agreements=[str(a.public_id) for a in active])
    certificate = talent_data_key_destroy(
        talent=talent, reason=REASON_ERASURE_REQUESTED, actor=actor, trigger="erasure_request"
    )
    if certificate is None:
        audit_record(
            actor=actor,
            action="talent.erasure_requested",
            target=talent,
            payload={"data_key_destroyed": False},
        )
    return certificate


def data_key_destroy_on_withdrawal(effect: WithdrawalEffect) -> None:
    """consent.hooks callback: a withdrawn ``train`` or ``capture`` consent shreds the key.

    Runs inside the transaction that applies the withdrawal, once per withdrawal.
    """
    if effect.creation_consent_id is None:
        return
    reasons = {
        ConsentKind.TRAIN: REASON_TRAIN_WITHDRAWN,
        ConsentKind.CAPTURE: REASON_CAPTURE_WITHDRAWN,
    }
    reason = reasons.get(effect.consent_kind)
    if reason is None:
        return
    talent = Talent.objects.get(pk=effect.talent_id)
    talent_data_key_destroy(
        talent=talent,
        reason=reason,
        actor=None,
        trigger=f"withdrawal:{effect.withdrawal_public_id}",
    )

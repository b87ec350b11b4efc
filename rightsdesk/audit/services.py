"""Appending to the audit chain (see models.py for how the chain works)."""

from typing import Any

from django.db import models, transaction
from django.utils import timezone

from rightsdesk.audit.canonical import GENESIS_HASH, canonical_json
from rightsdesk.audit.models import AuditChainHead, AuditEvent

SYSTEM_LABEL = "system"


def target_reference(target: models.Model | None) -> tuple[str, str]:
    """``("app_label.model", id)`` naming ``target``; its public_id when it has one."""
    if target is None:
        return "", ""
    meta = target._meta
    public_id = getattr(target, "public_id", None)
    return f"{meta.app_label}.{meta.model_name}", str(public_id or target.pk)


def _locked_head() -> AuditChainHead:
    head = AuditChainHead.objects.select_for_update().filter(pk=1).first()
    if head is None:
        # The head is made on demand, not by a migration: transactional tests TRUNCATE it.
        # ON CONFLICT DO NOTHING lets two first writers race safely; both then lock it.
        AuditChainHead.objects.bulk_create(
            [AuditChainHead(pk=1, last_sequence=0, last_hash=GENESIS_HASH)],
            ignore_conflicts=True,
        )
        head = AuditChainHead.objects.select_for_update().get(pk=1)
    return head


def audit_record(
    *,
    actor: Any | None,
    action: str,
    target: models.Model | None,
    payload: dict[str, Any],
) -> AuditEvent:
    """Append one event to the chain in the caller's transaction.

    Call it last in the transaction: the chain lock is held until commit, so every other
    writer waits for as long as the rest of the caller's transaction takes.
    """
    target_type, target_id = target_reference(target)
    event = AuditEvent(
        actor=actor,
        actor_label=actor.get_username() if actor is not None else SYSTEM_LABEL,
        action=action,
        target_type=target_type,
        target_id=target_id,
        # Serialised outside the transaction: a payload that cannot be canonicalised raises
        # TypeError here and leaves the caller's transaction usable.
        payload_json=canonical_json(payload),
    )
    return _append(event)


# No savepoint: a failure to append must abort the caller's whole transaction anyway, and
# SAVEPOINT/RELEASE would add two round trips to every state change.
@transaction.atomic(savepoint=False)
def _append(event: AuditEvent) -> AuditEvent:
    head = _locked_head()
    event.sequence = head.last_sequence + 1
    event.created_at = timezone.now()  # after the lock, so time never runs backwards
    event.prev_hash = head.last_hash
    event.hash = event.compute_hash()
    event.save(force_insert=True)
    AuditChainHead.objects.filter(pk=1).update(last_sequence=event.sequence, last_hash=event.hash)
    return event

"""Usage fees of drafts (DESIGN.md, "Ledger"): each draft of an approved request reserves
its usage fee from the brand's budget before any GPU time; release posts it; a draft that
is rejected, expires or is withdrawn, or a request that ends before its drafts exist,
voids it. Every reservation resolves exactly once (the ledger guarantees it).

A draft's asset id is chosen when the request is approved (``RenderRequest.draft_ids``), so
the reservation, the signed file's watermark and the posted entry all carry the same
opaque reference, ``asset:<uuid>``, from the start.
"""

from __future__ import annotations

from datetime import timedelta
from uuid import UUID, uuid4

from django.conf import settings
from django.utils import timezone

from rightsdesk.accounts.models import User
from rightsdesk.ledger.models import Entry, Reservation
from rightsdesk.ledger.services import (
    ledger_post_reserved,
    ledger_reserve,
    ledger_void_reservation,
)
from rightsdesk.licensing.models import Licence
from rightsdesk.licensing.selectors import licence_fee_spec
from rightsdesk.renders.models import Asset, RenderRequest

USAGE_FEE = "usage"


def draft_ids_assign(render_request: RenderRequest) -> list[UUID]:
    """The asset ids of the request's drafts, chosen once (before it is saved or queued)."""
    if not render_request.draft_ids:
        render_request.draft_ids = [str(uuid4()) for _ in range(render_request.num_drafts)]
    return [UUID(value) for value in render_request.draft_ids]


def reservation_key(asset_reference: str) -> str:
    return f"{asset_reference}:{USAGE_FEE}"


def drafts_reserve(*, render_request: RenderRequest, licence: Licence, actor: User | None) -> int:
    """Reserve every draft's usage fee, all or none (in the caller's transaction: a
    ``budget_insufficient`` rolls the caller back). Also fixes when the drafts lapse."""
    now = timezone.now()
    render_request.drafts_expire_at = now + timedelta(days=settings.RIGHTSDESK_DRAFT_LIFETIME_DAYS)
    draft_ids = draft_ids_assign(render_request)
    if not licence.usage_fee_minor:
        return 0
    fee = licence_fee_spec(
        licence=licence, kind=USAGE_FEE, fee_minor=licence.usage_fee_minor, at=now
    )
    for draft_id in draft_ids:
        reference = f"asset:{draft_id}"
        ledger_reserve(
            fee=fee,
            reference=reference,
            idempotency_key=reservation_key(reference),
            expires_at=render_request.drafts_expire_at,
            actor=actor,
        )
    return len(draft_ids)


def _reservation(asset_reference: str) -> Reservation | None:
    return Reservation.objects.filter(idempotency_key=reservation_key(asset_reference)).first()


def asset_fee_post(*, asset: Asset, actor: User | None) -> Entry | None:
    """Post the released asset's reserved usage fee (exactly once); None without a fee."""
    reservation = _reservation(asset.reference)
    if reservation is None:
        return None
    return ledger_post_reserved(reservation=reservation, actor=actor)


def asset_fee_void(*, asset_reference: str, reason: str, actor: User | None) -> bool:
    """Void a draft's reservation (rejected, expired, withdrawn, or never rendered)."""
    reservation = _reservation(asset_reference)
    if reservation is None or reservation.status != Reservation.Status.PENDING:
        return False
    ledger_void_reservation(reservation=reservation, reason=reason, actor=actor)
    return True


def drafts_void(*, render_request: RenderRequest, reason: str, actor: User | None) -> int:
    """Void the reservations of a request that ended before its drafts were released."""
    return sum(
        asset_fee_void(asset_reference=f"asset:{draft_id}", reason=reason, actor=actor)
        for draft_id in render_request.draft_ids
    )

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
    ledger_reserve_plan,
    ledger_reserve_planned,
    ledger_void_reservation,
)
from rightsdesk.ledger.types import FeeSpec
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


def drafts_schedule(render_request: RenderRequest) -> list[UUID]:
    """Choose the drafts' asset ids and when they lapse, once (a request written with them
    keeps them); returns the ids."""
    if render_request.drafts_expire_at is None:
        render_request.drafts_expire_at = timezone.now() + timedelta(
            days=settings.RIGHTSDESK_DRAFT_LIFETIME_DAYS
        )
    return draft_ids_assign(render_request)


def usage_fee_spec(licence: Licence) -> FeeSpec | None:
    """Who is paid what of one draft's usage fee under ``licence`` now; None without one."""
    if not licence.usage_fee_minor:
        return None
    return licence_fee_spec(
        licence=licence, kind=USAGE_FEE, fee_minor=licence.usage_fee_minor, at=timezone.now()
    )


def drafts_reserve_plan(*, render_request: RenderRequest, licence: Licence) -> list:
    """Every draft's usage-fee reservation, planned: read and checked, nothing locked."""
    draft_ids = drafts_schedule(render_request)
    fee = usage_fee_spec(licence)
    if fee is None:
        return []
    return [
        ledger_reserve_plan(
            fee=fee,
            reference=f"asset:{draft_id}",
            idempotency_key=reservation_key(f"asset:{draft_id}"),
            expires_at=render_request.drafts_expire_at,
        )
        for draft_id in draft_ids
    ]


def drafts_reserve_planned(plans: list, *, actor: User | None) -> int:
    """Make the planned reservations in the caller's transaction. One that is refused
    (``budget_insufficient``) has written nothing; for all or none of several, the caller
    holds a savepoint to roll back to."""
    for plan in plans:
        ledger_reserve_planned(plan, actor=actor)
    return len(plans)


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

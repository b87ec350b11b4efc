"""The fees a brand pays a talent for being captured and for a trained likeness (DESIGN.md,
"Ledger"), and the commission split every fee shares.

A capture session commissioned by a brand names the agreement it is made under and its
capture and training fees. The capture fee is posted when the session closes; the training
fee is reserved from the brand's budget when training starts (so a budget that cannot
pay refuses the start, before any GPU time), posted when the likeness is trained, and
voided if training fails. The commission comes out of the fee, from the representation of
the agreement's agency current when the fee is earned; the agency's client fee is on top.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from django.conf import settings
from django.utils import timezone

from rightsdesk.ledger.models import Entry, Reservation
from rightsdesk.ledger.selectors import ledger_fee_posting_counts, ledger_reservation_get
from rightsdesk.ledger.services import (
    ledger_post_fee,
    ledger_post_reserved,
    ledger_reserve,
    ledger_void_reservation,
)
from rightsdesk.ledger.types import FeeSpec, owner_ref
from rightsdesk.talent.models import CaptureSession, LikenessVersion, Representation, Talent
from rightsdesk.talent.selectors import current_q

CAPTURE_FEE = "capture"
TRAINING_FEE = "training"


def representation_fee_spec(
    *,
    talent: Talent,
    brand,
    agency,
    client_agency_fee_bps: int,
    currency: str,
    kind: str,
    fee_minor: int,
    at: datetime | None = None,
) -> FeeSpec:
    """A fee ``brand`` pays ``talent``, cut by the commission of ``agency``'s representation
    current at ``at`` (part of it to a mother agency)."""
    representation = None
    if agency is not None:
        representation = (
            Representation.objects.filter(current_q(at or timezone.now()), talent=talent)
            .filter(agency=agency)
            .select_related("mother_agency")
            .order_by("-valid_from", "-pk")
            .first()
        )
    mother = representation.mother_agency if representation else None
    return FeeSpec(
        kind=kind,
        brand=owner_ref("brand", brand.public_id),
        talent=owner_ref("talent", talent.public_id),
        currency=currency,
        fee_minor=fee_minor,
        agency=owner_ref("agency", agency.public_id) if agency else None,
        commission_bps=representation.commission_bps if representation else 0,
        mother_agency=owner_ref("agency", mother.public_id) if mother else None,
        mother_agency_share_bps=representation.mother_agency_share_bps if mother else 0,
        client_agency_fee_bps=client_agency_fee_bps if agency else 0,
    )


def _session_fee_spec(session: CaptureSession, *, kind: str, fee_minor: int) -> FeeSpec:
    agreement = session.agreement
    version = agreement.versions.filter(status="active").order_by("-number").first()
    return representation_fee_spec(
        talent=session.talent,
        brand=agreement.brand,
        agency=agreement.agency,
        client_agency_fee_bps=version.client_agency_fee_bps if version else 0,
        currency=session.fee_currency,
        kind=kind,
        fee_minor=fee_minor,
    )


def session_reference(session: CaptureSession) -> str:
    return f"capture_session:{session.public_id}"


def likeness_reference(likeness: LikenessVersion) -> str:
    return f"likeness:{likeness.public_id}"


def capture_fee_post(*, session: CaptureSession, actor) -> Entry | None:
    """Post the closed session's capture fee, once (in the caller's transaction)."""
    if session.agreement_id is None or not session.capture_fee_minor:
        return None
    reference = session_reference(session)
    return ledger_post_fee(
        fee=_session_fee_spec(session, kind=CAPTURE_FEE, fee_minor=session.capture_fee_minor),
        reference=reference,
        idempotency_key=f"{reference}:{CAPTURE_FEE}",
        description=f"Capture at {session.studio_name}"[:200],
        actor=actor,
    )


def _training_key(likeness: LikenessVersion) -> str:
    return f"{likeness_reference(likeness)}:{TRAINING_FEE}"


def training_fee_reserve(*, likeness: LikenessVersion, session: CaptureSession, actor) -> bool:
    """Hold the training fee on the brand's budget as training starts; raises
    ``budget_insufficient`` (rolling the caller back) when it cannot."""
    if session.agreement_id is None or not session.training_fee_minor:
        return False
    # The reservation must outlive the longest training the worker allows.
    expires_at = timezone.now() + timedelta(
        seconds=settings.RIGHTSDESK_TRAINING_HARD_LIMIT_S, days=1
    )
    ledger_reserve(
        fee=_session_fee_spec(session, kind=TRAINING_FEE, fee_minor=session.training_fee_minor),
        reference=likeness_reference(likeness),
        idempotency_key=_training_key(likeness),
        expires_at=expires_at,
        actor=actor,
    )
    return True


def training_fee_post(*, likeness: LikenessVersion) -> Entry | None:
    reservation = ledger_reservation_get(idempotency_key=_training_key(likeness))
    if reservation is None:
        return None
    return ledger_post_reserved(reservation=reservation)


def training_fee_void(*, likeness: LikenessVersion, reason: str) -> bool:
    reservation = ledger_reservation_get(idempotency_key=_training_key(likeness))
    if reservation is None or reservation.status != Reservation.Status.PENDING:
        return False
    ledger_void_reservation(reservation=reservation, reason=reason)
    return True


# --- reconciliation (registered with the ledger in TalentConfig.ready) ---------------------


def _postings(kind: str, references: dict[str, str]):
    counts = ledger_fee_posting_counts(kind=kind, references=list(references))
    for reference, what in references.items():
        if counts.get(reference, 0) != 1:
            yield f"{what} has {counts.get(reference, 0)} {kind} fee postings, not one"


def capture_sessions_paid_once():
    """Every closed capture session with a capture fee has exactly one posting."""
    closed = CaptureSession.objects.filter(
        status=CaptureSession.Status.CLOSED, capture_fee_minor__gt=0
    ).order_by("pk")
    yield from _postings(
        CAPTURE_FEE, {session_reference(s): f"capture session {s.public_id}" for s in closed}
    )


def trained_likenesses_paid_once():
    """Every likeness trained from a session with a training fee has exactly one posting."""
    trained = LikenessVersion.objects.filter(
        trained_at__isnull=False, capture_session__training_fee_minor__gt=0
    ).order_by("pk")
    yield from _postings(
        TRAINING_FEE, {likeness_reference(lv): f"likeness {lv.public_id}" for lv in trained}
    )


TALENT_CHECKS = {
    "talent.capture_sessions_paid_once": capture_sessions_paid_once,
    "talent.trained_likenesses_paid_once": trained_likenesses_paid_once,
}

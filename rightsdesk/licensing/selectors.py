"""Who may see which licence and external commitment.

- brand legal: every licence of their brand;
- campaign manager: the licences of their brand that were accepted (the ones they render
  under, and the history of those that since expired or were withdrawn), never an offer
  still being negotiated;
- the talent's side: the talent's own account, their current guardian or estate, and the
  members of an agency that represents the talent directly now;
- staff: everything.

Anyone else gets NotFound (404), so a licence's id never tells another brand it exists.
External commitments (which name the counterparty) are for the talent's side and staff
only, and so is the full account of an exclusivity conflict (``licence_conflicts_for``).
"""

from datetime import datetime
from uuid import UUID

from django.core.exceptions import ValidationError as DjangoValidationError
from django.db.models import Q, QuerySet
from django.utils import timezone

from rightsdesk.accounts.models import Role, User
from rightsdesk.accounts.selectors import user_agency_id, user_is_staff
from rightsdesk.core.errors import NotFound
from rightsdesk.ledger.types import FeeSpec
from rightsdesk.licensing.exclusivity import (  # noqa: F401
    Conflict,
    exclusivity_conflicts,
    licence_conflicts,
)
from rightsdesk.licensing.models import ExternalCommitment, Licence
from rightsdesk.talent.fees import representation_fee_spec
from rightsdesk.talent.models import Representation, Talent
from rightsdesk.talent.selectors import current_q, talent_list_visible_to

PRINCIPAL_ROLES = (Role.TALENT, Role.GUARDIAN, Role.ESTATE)


def _active(user: User) -> bool:
    return bool(user.is_authenticated and user.is_active)


def _talent_side_talent_ids(*, user: User) -> QuerySet | None:
    """The talents ``user`` is on the side of, as a subquery; None for other users."""
    if user.role in PRINCIPAL_ROLES:
        return talent_list_visible_to(user=user).values("pk")
    agency_id = user_agency_id(user=user)
    if agency_id is not None:
        # The direct agency only: a mother agency shares the commission, not the deals.
        return Representation.objects.filter(current_q(timezone.now()), agency_id=agency_id).values(
            "talent_id"
        )
    return None


def is_talent_side_viewer(*, user: User, talent: Talent) -> bool:
    if not _active(user):
        return False
    talent_ids = _talent_side_talent_ids(user=user)
    return (
        talent_ids is not None and Talent.objects.filter(pk=talent.pk, pk__in=talent_ids).exists()
    )


def licence_list_visible_to(*, user: User) -> QuerySet[Licence]:
    licences = Licence.objects.select_related(
        "agreement", "agreement_version", "talent", "brand", "category"
    ).order_by("-created_at", "-pk")
    if not _active(user):
        return licences.none()
    if user_is_staff(user=user):
        return licences
    if user.role == Role.LEGAL and user.organization_id is not None:
        talent_ids = _talent_side_talent_ids(user=user)  # agency legal
        brand = Q(brand_id=user.organization_id)
        return licences.filter(brand if talent_ids is None else brand | Q(talent_id__in=talent_ids))
    if user.role == Role.CAMPAIGN_MANAGER and user.organization_id is not None:
        return licences.filter(brand_id=user.organization_id, accepted_at__isnull=False)
    talent_ids = _talent_side_talent_ids(user=user)
    if talent_ids is None:
        return licences.none()
    return licences.filter(talent_id__in=talent_ids)


def licence_get_visible_to(*, user: User, public_id: UUID | str) -> Licence:
    try:
        return licence_list_visible_to(user=user).get(public_id=public_id)
    except (Licence.DoesNotExist, DjangoValidationError, ValueError):
        raise NotFound("No such licence.")


def licence_conflicts_for(*, user: User, licence: Licence) -> list[Conflict] | None:
    """For the talent's side: every exclusivity or commitment that overlaps an open
    licence, naming who holds it. None for anyone else (the brand learns only the redacted
    overlap, and only when an acceptance is refused)."""
    if not (is_talent_side_viewer(user=user, talent=licence.talent) or user_is_staff(user=user)):
        return None
    if licence.status not in (Licence.Status.PROPOSED, Licence.Status.COUNTERED):
        return []
    return licence_conflicts(licence=licence)


def external_commitment_list_visible_to(*, user: User) -> QuerySet[ExternalCommitment]:
    commitments = ExternalCommitment.objects.select_related("talent", "category").order_by(
        "-starts_at", "-pk"
    )
    if not _active(user):
        return commitments.none()
    if user_is_staff(user=user):
        return commitments
    talent_ids = _talent_side_talent_ids(user=user)
    if talent_ids is None:
        return commitments.none()
    return commitments.filter(talent_id__in=talent_ids)


def external_commitment_get_visible_to(*, user: User, public_id: UUID | str) -> ExternalCommitment:
    try:
        return external_commitment_list_visible_to(user=user).get(public_id=public_id)
    except (ExternalCommitment.DoesNotExist, DjangoValidationError, ValueError):
        raise NotFound("No such external commitment.")


def licence_fee_spec(
    *, licence: Licence, kind: str, fee_minor: int, at: datetime | None = None
) -> FeeSpec:
    """Who is paid what out of a fee earned under ``licence`` (DESIGN.md, "Ledger"): the
    commission is that of the agreement's agency's representation current at ``at``, the
    client fee the licence's agreement version's; the ledger cuts the lines."""
    return representation_fee_spec(
        talent=licence.talent,
        brand=licence.brand,
        agency=licence.agreement.agency,
        client_agency_fee_bps=licence.agreement_version.client_agency_fee_bps,
        currency=licence.currency,
        kind=kind,
        fee_minor=fee_minor,
        at=at or licence.accepted_at,
    )

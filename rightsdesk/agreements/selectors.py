"""Who may see an agreement, and reads over agreements and their terms.

Scoping (a foreign agreement does not exist for the user: NotFound, 404):

- staff: every agreement;
- the brand's legal users and campaign managers: their brand's agreements. Campaign
  managers get a read-only summary (terms and status, which they plan campaigns by),
  never the document file nor anyone's signature evidence;
- the talent, and the talent's current guardian or estate: the talent's agreements;
- agents and legal users of an agency: agreements their agency is party to, and those of
  the talents it represents directly now (not as mother agency, which holds no powers).

Signature evidence (IP address, user agent, authentication method) is personal data: it
is shown to staff and to the signer only; the evidence pack carries it for disputes.
"""

import datetime
import json
from dataclasses import dataclass
from typing import Any
from uuid import UUID

from django.core.exceptions import ValidationError as DjangoValidationError
from django.db.models import Q, QuerySet
from django.utils import timezone

from rightsdesk.accounts.models import Organization, Role, User
from rightsdesk.accounts.selectors import user_agency_id, user_is_staff
from rightsdesk.agreements.models import (
    Agreement,
    AgreementVersion,
    Category,
    CategoryPolicy,
    Signature,
)
from rightsdesk.agreements.taxonomy import category_is_globally_never, category_lineage_ids
from rightsdesk.agreements.terms import AgreementTerms
from rightsdesk.core.errors import NotFound
from rightsdesk.talent.models import Representation
from rightsdesk.talent.selectors import current_q, talent_list_visible_to, talent_principal_users

# A category an agreement does not name (nor any of its ancestors) needs the talent's
# approval: silence in a contract is not consent to a use.
DEFAULT_CATEGORY_POLICY = CategoryPolicy.Policy.WITH_APPROVAL


def user_is_brand_legal(*, user: User, brand_id: int) -> bool:
    return bool(
        user.is_authenticated
        and user.is_active
        and user.role == Role.LEGAL
        and user.organization_id == brand_id
    )


def _brand_id(user: User) -> int | None:
    if user.role not in (Role.LEGAL, Role.CAMPAIGN_MANAGER) or user.organization_id is None:
        return None
    if user.organization.kind != Organization.Kind.BRAND:
        return None
    return user.organization_id


def agreement_list_visible_to(*, user: User) -> QuerySet[Agreement]:
    """Every agreement ``user`` may see, newest first."""
    agreements = Agreement.objects.select_related("talent", "brand", "agency").order_by(
        "-created_at", "-pk"
    )
    if not (user.is_authenticated and user.is_active):
        return agreements.none()
    if user_is_staff(user=user):
        return agreements
    if user.role in (Role.TALENT, Role.GUARDIAN, Role.ESTATE):
        return agreements.filter(talent__in=talent_list_visible_to(user=user))
    brand_id = _brand_id(user)
    if brand_id is not None:
        return agreements.filter(brand_id=brand_id)
    agency_id = user_agency_id(user=user)
    if agency_id is not None:
        represented = Representation.objects.filter(current_q(timezone.now()), agency_id=agency_id)
        return agreements.filter(
            Q(agency_id=agency_id) | Q(talent_id__in=represented.values("talent_id"))
        )
    return agreements.none()


def agreement_get_visible_to(*, user: User, public_id: UUID | str) -> Agreement:
    try:
        return agreement_list_visible_to(user=user).get(public_id=public_id)
    except (Agreement.DoesNotExist, DjangoValidationError, ValueError):
        raise NotFound("No such agreement.")


def agreement_version_get(*, agreement: Agreement, number: int) -> AgreementVersion:
    try:
        return agreement.versions.get(number=number)
    except AgreementVersion.DoesNotExist:
        raise NotFound("No such version.")


@dataclass(frozen=True)
class AgreementViewer:
    """What the caller may see of an agreement they can already see."""

    summary_only: bool  # campaign managers: no document, no signature evidence
    sees_all_evidence: bool  # staff


def agreement_viewer(*, user: User, agreement: Agreement) -> AgreementViewer:
    return AgreementViewer(
        summary_only=user.role == Role.CAMPAIGN_MANAGER,
        sees_all_evidence=user_is_staff(user=user),
    )


def signature_evidence_visible(*, user: User, signature: Signature) -> bool:
    return user_is_staff(user=user) or signature.signer_id == user.pk


def agreement_active_version(*, agreement: Agreement) -> AgreementVersion | None:
    return agreement.versions.filter(status=AgreementVersion.Status.ACTIVE).first()


def agreement_version_terms(version: AgreementVersion) -> AgreementTerms:
    """The version's terms, read back from the exact JSON its parties signed."""
    return AgreementTerms.from_json(json.loads(version.terms_json))


def agreement_people_to_notify(
    *, agreement: Agreement, at: datetime.datetime | None = None
) -> list[User]:
    """Brand legal, the talent's principals and the agents of the talent's agencies now."""
    at = at or timezone.now()
    legal = User.objects.filter(role=Role.LEGAL, organization_id=agreement.brand_id, is_active=True)
    agencies = Representation.objects.filter(current_q(at), talent_id=agreement.talent_id)
    agents = User.objects.filter(
        role=Role.AGENT, organization_id__in=agencies.values("agency_id"), is_active=True
    )
    people = {u.pk: u for u in [*legal, *talent_principal_users(talent=agreement.talent, at=at)]}
    people.update({u.pk: u for u in agents})
    return [people[pk] for pk in sorted(people)]


def agreement_category_policy(*, version: AgreementVersion, category: Category) -> str:
    """The policy ``version`` sets for ``category``: its own, else its nearest ancestor's.

    A global "never" (nudity, minors) wins over anything; a category no policy reaches is
    DEFAULT_CATEGORY_POLICY.
    """
    if category_is_globally_never(category):
        return CategoryPolicy.Policy.NEVER
    parents = dict(Category.objects.values_list("pk", "parent_id"))
    policies = dict(
        version.category_policies.filter(
            category_id__in=category_lineage_ids(category, parents=parents)
        ).values_list("category_id", "policy")
    )
    current: int | None = category.pk
    while current is not None:
        if current in policies:
            return policies[current]
        current = parents.get(current)
    return DEFAULT_CATEGORY_POLICY


def _flatten(terms: AgreementTerms) -> dict[str, Any]:
    data = terms.to_json()
    flat: dict[str, Any] = {
        key: value
        for key, value in data.items()
        if key not in ("category_policies", "exclusivities")
    }
    for slug, policy in data["category_policies"].items():
        flat[f"category_policies.{slug}"] = policy
    for item in data["exclusivities"]:
        spec = item["territories"]
        where = ", ".join(spec["include"]) + (
            f" except {', '.join(spec['exclude'])}" if spec["exclude"] else ""
        )
        flat[f"exclusivity: {item['category']} in {where}"] = (
            f"{item['starts_at']} to {item['ends_at']}"
        )
    return flat


def agreement_terms_diff(
    old: AgreementVersion, new: AgreementVersion
) -> list[tuple[str, Any, Any]]:
    """What changed between two versions' terms: ``(field, old, new)``, None when absent.

    Category policies read ``category_policies.<slug>``; an exclusivity is named by its
    category and territories, its value is its period. The document's hash is listed too.
    """
    before, after = _flatten(agreement_version_terms(old)), _flatten(agreement_version_terms(new))
    before["document_sha256"], after["document_sha256"] = old.document_sha256, new.document_sha256
    return [
        (name, before.get(name), after.get(name))
        for name in sorted(set(before) | set(after))
        if before.get(name) != after.get(name)
    ]

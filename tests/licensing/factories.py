"""Active agreements built straight on the models (a version already signed by both
parties), and licence terms, so licensing tests do not depend on the agreements services.

``active_agreement`` writes the version's terms JSON and content hash the way the
agreements app does, so readers of the version (the gate) see a coherent row.
"""

import datetime
import hashlib

from django.utils import timezone

from rightsdesk.accounts.models import Organization, User
from rightsdesk.agreements.models import (
    Agreement,
    AgreementVersion,
    CategoryPolicy,
    Exclusivity,
    Signature,
)
from rightsdesk.agreements.taxonomy import category_ensure_defaults, category_get
from rightsdesk.agreements.terms import AgreementTerms, ExclusivityTerm, content_sha256
from rightsdesk.core.vocab import TerritorySpec
from rightsdesk.licensing.terms import LicenceTerms, UsageTerms
from rightsdesk.talent.models import Talent

DAY = datetime.timedelta(days=1)


def now_s() -> datetime.datetime:
    return timezone.now().replace(microsecond=0)


def exclusivity(
    category: str,
    include: tuple[str, ...],
    starts_at: datetime.datetime,
    ends_at: datetime.datetime,
    exclude: tuple[str, ...] = (),
) -> ExclusivityTerm:
    return ExclusivityTerm(
        category=category,
        territories=TerritorySpec(include=include, exclude=exclude),
        starts_at=starts_at,
        ends_at=ends_at,
    )


def active_agreement(
    *,
    talent: Talent,
    brand: Organization,
    legal: User,
    principal: User,
    effective_from: datetime.datetime | None = None,
    effective_to: datetime.datetime | None = None,
    max_licence_term_days: int = 365,
    policies: dict[str, str] | None = None,
    exclusivities: tuple[ExclusivityTerm, ...] = (),
    withdrawal_notice_days: int = 30,
    run_off_days: int = 90,
    approval_window_hours: int = 72,
    title: str = "Campaign agreement",
) -> Agreement:
    """An active agreement with one active version signed by ``principal`` and ``legal``."""
    category_ensure_defaults()
    start = now_s()
    terms = AgreementTerms(
        jurisdiction="US-NY",
        talent_had_counsel=True,
        effective_from=effective_from or start - 30 * DAY,
        effective_to=effective_to or start + 3 * 365 * DAY,
        max_licence_term_days=max_licence_term_days,
        withdrawal_notice_days=withdrawal_notice_days,
        run_off_days=run_off_days,
        approval_window_hours=approval_window_hours,
        category_policies=policies if policies is not None else {"beauty": "allowed"},
        exclusivities=exclusivities,
    )
    agreement = Agreement.objects.create(
        talent=talent, brand=brand, title=title, status=Agreement.Status.ACTIVE, created_by=legal
    )
    document_sha = hashlib.sha256(f"document of {agreement.public_id}".encode()).hexdigest()
    terms_json = terms.terms_json()
    version = AgreementVersion.objects.create(
        agreement=agreement,
        number=1,
        status=AgreementVersion.Status.ACTIVE,
        document="agreements/test.pdf",
        document_sha256=document_sha,
        terms_json=terms_json,
        content_sha256=content_sha256(document_sha256=document_sha, terms_json=terms_json),
        jurisdiction=terms.jurisdiction,
        talent_had_counsel=True,
        effective_from=terms.effective_from,
        effective_to=terms.effective_to,
        max_licence_term_days=max_licence_term_days,
        withdrawal_notice_days=withdrawal_notice_days,
        run_off_days=run_off_days,
        approval_window_hours=approval_window_hours,
        activated_at=start,
        created_by=legal,
    )
    for slug, policy in terms.category_policies.items():
        CategoryPolicy.objects.create(version=version, category=category_get(slug), policy=policy)
    for term in exclusivities:
        Exclusivity.objects.create(
            version=version,
            category=category_get(term.category),
            territories=term.territories.to_json(),
            territory_codes=sorted(term.territories.codes()),
            starts_at=term.starts_at,
            ends_at=term.ends_at,
        )
    for party, signer in (
        (Signature.Party.PRINCIPAL, principal),
        (Signature.Party.BRAND_LEGAL, legal),
    ):
        Signature.objects.create(
            version=version,
            party=party,
            signer=signer,
            signer_role=signer.role,
            signed_sha256=version.content_sha256,
            authentication_method="password",
            ip_address="192.0.2.1",
            user_agent="tests",
            signed_at=start,
        )
    return agreement


def usage(
    medium: str = "paid_social",
    include: tuple[str, ...] = ("DE",),
    exclude: tuple[str, ...] = (),
    duration_days: int = 90,
    quantity: int = 10,
) -> UsageTerms:
    return UsageTerms(
        medium=medium,
        territories=TerritorySpec(include=include, exclude=exclude),
        duration_days=duration_days,
        quantity=quantity,
    )


def licence_terms(**overrides) -> LicenceTerms:
    """Terms that fit ``active_agreement``'s defaults: fragrance in Germany, three months
    from tomorrow, 90 days of use."""
    start = now_s() + DAY
    values = {
        "campaign": "Eau de Nuit spring",
        "use_description": "Images of the talent holding the bottle, for social ads.",
        "purpose": "Advertising the Eau de Nuit fragrance",
        "advertiser": "Maison Test Parfums",
        "product_lines": ("Eau de Nuit",),
        "category": "fragrance",
        "usage": (usage(),),
        "currency": "EUR",
        "buyout_minor": 500_000,
        "usage_fee_minor": 2_500,
        "draft_allowance": 20,
        "brief_approval_required": True,
        "starts_at": start,
        "ends_at": start + 90 * DAY,
        "offer_expires_at": start + 14 * DAY,
    }
    return LicenceTerms(**{**values, **overrides})


def terms_json(terms: LicenceTerms) -> dict:
    """The API body for ``terms`` (the propose, counter and revise endpoints)."""
    return terms.to_json()

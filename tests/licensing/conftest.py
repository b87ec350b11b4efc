"""Two brands wanting the same talent, the talent's side (the talent, an agent with the
power to negotiate, an agent of a second agency without it), a minor with a guardian, and
staff. Each brand has an active agreement with the talent (and brand A one with the minor).
"""

from dataclasses import dataclass

import pytest

from rightsdesk.accounts.models import Organization, User
from rightsdesk.agreements.models import Agreement
from rightsdesk.licensing.memo import deal_memo_render
from rightsdesk.licensing.models import Licence
from rightsdesk.licensing.services import licence_accept, licence_propose
from rightsdesk.licensing.terms import LicenceTerms
from rightsdesk.talent.models import Talent, TalentProxy
from tests.factories import (
    AgencyFactory,
    OrganizationFactory,
    RepresentationFactory,
    TalentFactory,
    TalentProxyFactory,
    UserFactory,
)
from tests.licensing.factories import active_agreement, licence_terms
from tests.talent.conftest import years_ago


@dataclass
class Deal:
    brand_a: Organization
    brand_b: Organization
    agency: Organization
    talent: Talent
    minor: Talent
    agreement_a: Agreement
    agreement_b: Agreement
    minor_agreement: Agreement
    users: dict[str, User]


@pytest.fixture
def deal(db) -> Deal:
    brand_a = OrganizationFactory(kind=Organization.Kind.BRAND, name="Maison Alpha")
    brand_b = OrganizationFactory(kind=Organization.Kind.BRAND, name="Rival Beta Cosmetics")
    agency, weak_agency = AgencyFactory(), AgencyFactory()
    talent = TalentFactory(stage_name="Zoe Durand", preferred_language="en")
    minor = TalentFactory(stage_name="Mina Minor", date_of_birth=years_ago(15), jurisdiction="FR")
    guardian = TalentProxyFactory(talent=minor, kind=TalentProxy.Kind.GUARDIAN).user
    RepresentationFactory(talent=talent, agency=agency)
    RepresentationFactory(talent=minor, agency=agency)
    RepresentationFactory(
        talent=talent,
        agency=weak_agency,
        can_negotiate_uses=False,
        can_approve_outputs=True,
        can_view_earnings=True,
    )
    users = {
        "talent": talent.user,
        "minor": minor.user,
        "guardian": guardian,
        "agent": UserFactory(role="agent", organization=agency),
        "agency_legal": UserFactory(role="legal", organization=agency),
        "agent_without_power": UserFactory(role="agent", organization=weak_agency),
        "legal_a": UserFactory(role="legal", organization=brand_a),
        "manager_a": UserFactory(role="campaign_manager", organization=brand_a),
        "legal_b": UserFactory(role="legal", organization=brand_b),
        "manager_b": UserFactory(role="campaign_manager", organization=brand_b),
        "staff": UserFactory(role="staff", is_staff=True, is_superuser=True),
        "stranger_talent": TalentFactory().user,
    }
    return Deal(
        brand_a=brand_a,
        brand_b=brand_b,
        agency=agency,
        talent=talent,
        minor=minor,
        agreement_a=active_agreement(
            talent=talent,
            brand=brand_a,
            legal=users["legal_a"],
            principal=talent.user,
            policies={"beauty": "allowed", "apparel": "never"},
        ),
        agreement_b=active_agreement(
            talent=talent, brand=brand_b, legal=users["legal_b"], principal=talent.user
        ),
        minor_agreement=active_agreement(
            talent=minor, brand=brand_a, legal=users["legal_a"], principal=guardian
        ),
        users=users,
    )


def propose(deal: Deal, *, brand: str = "a", terms: LicenceTerms | None = None, **overrides):
    agreement = deal.agreement_a if brand == "a" else deal.agreement_b
    return licence_propose(
        agreement=agreement,
        terms=terms or licence_terms(**overrides),
        actor=deal.users[f"legal_{brand}"],
    )


def accept(licence: Licence, user: User, *, language: str | None = None) -> Licence:
    memo = deal_memo_render(licence=licence, language=language)
    return licence_accept(
        licence=licence,
        deal_memo_sha256=memo.sha256,
        language=memo.language,
        actor=user,
        authentication_method="token",
        ip="198.51.100.7",
        user_agent="pytest",
    )

"""The talent world of tests/talent (agency A's adult, minor and deceased talents, agency B's
talent, a brand) plus a deal: an active agreement between agency A's adult talent and the
brand, with two accepted licences, one still proposed and one declined."""

import datetime
import hashlib
from dataclasses import dataclass

import pytest
from django.utils import timezone

from rightsdesk.agreements.models import Agreement, AgreementVersion, Category
from rightsdesk.consent.models import ConsentKind
from rightsdesk.consent.notices import consent_notice_current
from rightsdesk.consent.services import creation_consent_give
from rightsdesk.licensing.models import Licence, UsageRow
from tests.factories import UserFactory
from tests.talent import conftest as talent_conftest
from tests.talent.conftest import World

# The two-sided world of tests/talent, shared as the same fixture.
world = talent_conftest.world

NOTICE_DAYS = 30
RUN_OFF_DAYS = 90


@dataclass
class Deal:
    agreement: Agreement
    version: AgreementVersion
    licence: Licence
    licence_2: Licence
    proposed: Licence
    declined: Licence


def make_agreement(*, world: World, talent=None, brand=None, **version_terms) -> Agreement:
    talent = talent or world.talent_a
    brand = brand or world.brand
    legal = world.users["legal"]
    agreement = Agreement.objects.create(
        talent=talent,
        brand=brand,
        agency=world.agency_a,
        title="Spring campaigns",
        status=Agreement.Status.ACTIVE,
        created_by=legal,
    )
    now = timezone.now()
    AgreementVersion.objects.create(
        agreement=agreement,
        number=1,
        status=AgreementVersion.Status.ACTIVE,
        document="agreements/test.pdf",
        document_sha256=hashlib.sha256(b"doc").hexdigest(),
        terms_json="{}",
        content_sha256=hashlib.sha256(b"terms").hexdigest(),
        jurisdiction="US-NY",
        effective_from=now - datetime.timedelta(days=10),
        effective_to=now + datetime.timedelta(days=700),
        max_licence_term_days=365,
        withdrawal_notice_days=version_terms.get("withdrawal_notice_days", NOTICE_DAYS),
        run_off_days=version_terms.get("run_off_days", RUN_OFF_DAYS),
        activated_at=now,
        created_by=legal,
    )
    return agreement


def make_licence(
    *, agreement: Agreement, status: str = Licence.Status.ACCEPTED, campaign: str = "Linen SS27"
) -> Licence:
    category, _ = Category.objects.get_or_create(slug="apparel", defaults={"name": "Apparel"})
    now = timezone.now()
    accepted = status == Licence.Status.ACCEPTED
    return Licence.objects.create(
        agreement=agreement,
        agreement_version=agreement.versions.get(number=1),
        talent=agreement.talent,
        brand=agreement.brand,
        campaign=campaign,
        status=status,
        use_description="Product images for the spring linen line",
        purpose="advertising",
        advertiser=agreement.brand.name,
        category=category,
        draft_allowance=10,
        starts_at=now - datetime.timedelta(days=1),
        ends_at=now + datetime.timedelta(days=180),
        accepted_at=now if accepted else None,
        accepted_by=agreement.talent.user if accepted else None,
        proposed_by=agreement.created_by,
    )


def add_usage(*, licence: Licence, duration_days: int) -> UsageRow:
    return UsageRow.objects.create(
        licence=licence,
        medium="paid_social",
        territories={"include": ["FR"]},
        territory_codes=["FR"],
        duration_days=duration_days,
        quantity=5,
    )


@pytest.fixture
def deal(world: World) -> Deal:
    agreement = make_agreement(world=world)
    return Deal(
        agreement=agreement,
        version=agreement.versions.get(number=1),
        licence=make_licence(agreement=agreement),
        licence_2=make_licence(agreement=agreement, campaign="Linen AW27"),
        proposed=make_licence(agreement=agreement, status=Licence.Status.PROPOSED),
        declined=make_licence(agreement=agreement, status=Licence.Status.DECLINED),
    )


@pytest.fixture
def powerless_agent(world: World):
    """An agent of an agency representing talent_a with no powers at all."""
    from tests.factories import AgencyFactory, RepresentationFactory

    agency = AgencyFactory()
    RepresentationFactory(
        talent=world.talent_a,
        agency=agency,
        can_negotiate_uses=False,
        can_approve_outputs=False,
        can_view_earnings=False,
    )
    return UserFactory(role="agent", organization=agency)


def give(*, talent, actor, kind: str = ConsentKind.CAPTURE, base_model: str = "", **overrides):
    """Give a consent as a client would: serve the current notice, answer its hash."""
    notice = consent_notice_current(kind=kind, language="en")
    values = {
        "talent": talent,
        "kind": kind,
        "notice": notice,
        "notice_sha256": notice.sha256,
        "served_at": timezone.now() - datetime.timedelta(minutes=2),
        "scope_reference": "capture_session:test" if kind == ConsentKind.CAPTURE else "",
        "base_model": base_model,
        "actor": actor,
        "method": "web",
        "ip": "203.0.113.7",
        "user_agent": "pytest",
    }
    values.update(overrides)
    return creation_consent_give(**values)

"""Two sides that must never see each other: agency A with its talents (an adult, a minor
with a guardian, a deceased talent with an estate) and agency B with its talent; a brand
with a legal user and a campaign manager; staff."""

import datetime
from dataclasses import dataclass

import pytest

from rightsdesk.accounts.models import Organization, User
from rightsdesk.talent.models import Representation, Talent, TalentProxy
from tests.factories import (
    AgencyFactory,
    OrganizationFactory,
    RepresentationFactory,
    TalentFactory,
    TalentProxyFactory,
    UserFactory,
)


def years_ago(years: int, days: int = 0) -> datetime.date:
    today = datetime.date.today()
    anchor = today + datetime.timedelta(days=days)
    try:
        return anchor.replace(year=anchor.year - years)
    except ValueError:  # 29 February in a common year
        return (anchor + datetime.timedelta(days=1)).replace(year=anchor.year - years)


@dataclass
class World:
    agency_a: Organization
    agency_b: Organization
    brand: Organization
    talent_a: Talent
    minor_a: Talent
    deceased_a: Talent
    talent_b: Talent
    representation_a: Representation
    representation_b: Representation
    users: dict[str, User]


@pytest.fixture
def world(db) -> World:
    agency_a, agency_b = AgencyFactory(), AgencyFactory()
    brand = OrganizationFactory(kind=Organization.Kind.BRAND)
    talent_a = TalentFactory(legal_name="Alice Adult-Secret")
    minor_a = TalentFactory(
        legal_name="Mina Minor-Secret", date_of_birth=years_ago(15), jurisdiction="FR"
    )
    deceased_a = TalentFactory(legal_name="Dora Deceased-Secret", user=None, deceased=True)
    talent_b = TalentFactory(legal_name="Bob Other-Secret")
    guardian = TalentProxyFactory(talent=minor_a, kind=TalentProxy.Kind.GUARDIAN).user
    estate = TalentProxyFactory(
        talent=deceased_a, kind=TalentProxy.Kind.ESTATE, user=UserFactory(role="estate")
    ).user
    representation_a = RepresentationFactory(talent=talent_a, agency=agency_a)
    RepresentationFactory(talent=minor_a, agency=agency_a)
    RepresentationFactory(talent=deceased_a, agency=agency_a)
    representation_b = RepresentationFactory(talent=talent_b, agency=agency_b)
    users = {
        "talent": talent_a.user,
        "minor": minor_a.user,
        "guardian": guardian,
        "estate": estate,
        "agent": UserFactory(role="agent", organization=agency_a),
        "agency_legal": UserFactory(role="legal", organization=agency_a),
        "legal": UserFactory(role="legal", organization=brand),
        "campaign_manager": UserFactory(role="campaign_manager", organization=brand),
        "staff": UserFactory(role="staff", is_staff=True, is_superuser=True),
        "agent_b": UserFactory(role="agent", organization=agency_b),
    }
    return World(
        agency_a=agency_a,
        agency_b=agency_b,
        brand=brand,
        talent_a=talent_a,
        minor_a=minor_a,
        deceased_a=deceased_a,
        talent_b=talent_b,
        representation_a=representation_a,
        representation_b=representation_b,
        users=users,
    )


# Capture fixtures (tests/talent/test_capture_*.py).
from tests.talent.capture_world import capture, media  # noqa: E402, F401

# Likeness fixtures (tests/talent/test_training*.py, test_signoff*.py).
from tests.talent.likeness_world import captured, clean_pipeline, small_samples  # noqa: E402, F401

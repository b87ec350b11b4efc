"""Accepting a licence books its buy-out, once, in the acceptance's transaction: the brand
is charged the fee plus the agency's client fee on top, the talent earns the fee less the
Representation's commission, part of which goes to the mother agency."""

from dataclasses import dataclass

import pytest

from rightsdesk.accounts.models import Organization, User
from rightsdesk.agreements.models import Agreement, AgreementVersion
from rightsdesk.ledger.models import Entry
from rightsdesk.ledger.selectors import ledger_fee_posting_counts
from rightsdesk.ledger.types import owner_ref
from rightsdesk.licensing.models import Licence
from rightsdesk.licensing.services import licence_propose
from rightsdesk.talent.models import Talent
from tests.factories import (
    AgencyFactory,
    OrganizationFactory,
    RepresentationFactory,
    TalentFactory,
    UserFactory,
)
from tests.ledger.conftest import account
from tests.licensing.conftest import accept
from tests.licensing.factories import active_agreement, licence_terms

pytestmark = pytest.mark.django_db


@dataclass
class Deal:
    talent: Talent
    brand: Organization
    agency: Organization
    mother: Organization
    agreement: Agreement
    legal: User


@pytest.fixture
def deal(db) -> Deal:
    """An agreement made through the talent's agency (client fee 10%), whose mandate takes
    20% commission and gives a quarter of it to a mother agency."""
    brand, agency, mother = OrganizationFactory(), AgencyFactory(), AgencyFactory()
    talent = TalentFactory()
    RepresentationFactory(
        talent=talent, agency=agency, mother_agency=mother, mother_agency_share_bps=2500
    )
    legal = UserFactory(role="legal", organization=brand)
    agreement = active_agreement(talent=talent, brand=brand, legal=legal, principal=talent.user)
    Agreement.objects.filter(pk=agreement.pk).update(agency=agency)
    AgreementVersion.objects.filter(agreement=agreement).update(client_agency_fee_bps=1000)
    agreement.refresh_from_db()
    return Deal(talent, brand, agency, mother, agreement, legal)


def propose(deal: Deal, **overrides) -> Licence:
    return licence_propose(
        agreement=deal.agreement, terms=licence_terms(**overrides), actor=deal.legal
    )


def test_accepting_a_licence_books_its_buyout_split(deal):
    licence = propose(deal, buyout_minor=500_000)

    accept(licence, deal.talent.user)

    entry = Entry.objects.get(reference=f"licence:{licence.public_id}")
    assert (entry.kind, entry.idempotency_key) == ("buyout", f"licence:{licence.public_id}:buyout")
    talent = owner_ref("talent", deal.talent.public_id)
    agency = owner_ref("agency", deal.agency.public_id)
    assert account(talent, "earnings").balance_minor == 400_000  # 20% commission
    assert account(agency, "commission").balance_minor == 75_000
    assert account(owner_ref("agency", deal.mother.public_id), "commission").balance_minor == 25_000
    assert account(agency, "client_fees").balance_minor == 50_000  # on top, from the brand
    brand = owner_ref("brand", deal.brand.public_id)
    assert account(brand, "payable").balance_minor == 550_000
    assert ledger_fee_posting_counts(kind="buyout") == {f"licence:{licence.public_id}": 1}


def test_a_licence_without_a_buyout_books_nothing(deal):
    licence = propose(deal, buyout_minor=0)

    accept(licence, deal.talent.user)

    assert not Entry.objects.exists()


def test_an_acceptance_refused_books_nothing(deal):
    licence = propose(deal, buyout_minor=500_000)
    accept(licence, deal.talent.user)
    licence.refresh_from_db()

    with pytest.raises(Exception) as refused:
        accept(licence, deal.talent.user)  # already accepted

    assert getattr(refused.value, "code", "") == "invalid_transition"
    assert Entry.objects.count() == 1
    assert Licence.objects.get(pk=licence.pk).status == "accepted"

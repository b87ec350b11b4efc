"""Licences under agreements made by the agreements services: end to end, and what ending
an agreement does to its licences (agreements.hooks)."""

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.utils import timezone

from rightsdesk.agreements.services import (
    agreement_create,
    agreement_sign,
    agreement_terminate,
    agreements_expire_and_remind,
)
from rightsdesk.agreements.terms import AgreementTerms
from rightsdesk.core.errors import ApplicationError
from rightsdesk.licensing.models import Licence
from rightsdesk.licensing.services import licence_propose, licence_take_drafts
from tests.licensing.conftest import accept, propose
from tests.licensing.factories import DAY, exclusivity, licence_terms, now_s


@pytest.fixture(autouse=True)
def media_in_tmp(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path / "media"


def _signed_agreement(deal, *, brand: str, exclusivities=()):
    legal = deal.users[f"legal_{brand}"]
    start = now_s()
    agreement = agreement_create(
        talent=deal.talent,
        brand=deal.brand_a if brand == "a" else deal.brand_b,
        title=f"Signed with brand {brand}",
        document=SimpleUploadedFile("agreement.pdf", b"%PDF-1.7 " + brand.encode()),
        terms=AgreementTerms(
            jurisdiction="US-NY",
            effective_from=start - DAY,
            effective_to=start + 365 * DAY,
            max_licence_term_days=180,
            category_policies={"beauty": "allowed"},
            exclusivities=tuple(exclusivities),
        ),
        actor=legal,
    )
    version = agreement.versions.get()
    for signer in (legal, deal.users["agent"]):
        agreement_sign(
            version=version,
            actor=signer,
            signed_sha256=version.content_sha256,
            authentication_method="session",
            ip="203.0.113.7",
            user_agent="pytest",
        )
    agreement.refresh_from_db()
    return agreement


@pytest.mark.django_db
def test_a_licence_under_a_signed_agreement_is_proposed_accepted_and_drawn_on(deal):
    agreement = _signed_agreement(deal, brand="a")
    assert agreement.status == "active"

    licence = licence_propose(
        agreement=agreement, terms=licence_terms(), actor=deal.users["legal_a"]
    )
    licence = accept(licence, deal.users["talent"])

    assert licence.status == "accepted"
    assert licence.agreement_version.status == "active"
    assert licence_take_drafts(licence=licence, count=1) is True


@pytest.mark.django_db
def test_an_exclusivity_signed_through_the_agreements_app_blocks_another_brand(deal):
    _signed_agreement(
        deal,
        brand="b",
        exclusivities=[exclusivity("beauty", ("WORLDWIDE",), now_s(), now_s() + 300 * DAY)],
    )
    licence = propose(deal, brand="a")

    with pytest.raises(ApplicationError) as refused:
        accept(licence, deal.users["talent"])

    assert refused.value.code == "exclusivity_conflict"
    assert deal.brand_b.name not in str(refused.value.as_dict())


@pytest.mark.django_db
def test_terminating_the_agreement_ends_its_licences(deal):
    accepted = accept(propose(deal, campaign="Running"), deal.users["talent"])
    offered = propose(deal, campaign="Offered")
    other_brand = propose(deal, brand="b", campaign="Other brand")

    agreement_terminate(agreement=deal.agreement_a, reason="Breach", actor=deal.users["legal_a"])

    statuses = dict(Licence.objects.values_list("campaign", "status"))
    assert statuses == {"Running": "withdrawn", "Offered": "expired", "Other brand": "proposed"}
    assert accepted.offers.order_by("sequence").last().note == "agreement_terminated"
    assert offered.offers.order_by("sequence").last().kind == "expired"
    assert licence_take_drafts(licence=accepted, count=1) is False
    assert other_brand.offers.count() == 1


@pytest.mark.django_db
def test_an_agreement_reaching_its_end_expires_its_licences(deal):
    accepted = accept(propose(deal), deal.users["talent"])
    end = deal.agreement_a.versions.get().effective_to

    agreements_expire_and_remind(now=end + DAY)

    assert Licence.objects.get(pk=accepted.pk).status == "expired"
    assert accepted.offers.order_by("sequence").last().note == "agreement_expired"
    assert timezone.now() < end  # the licence's own term had not ended: the agreement did

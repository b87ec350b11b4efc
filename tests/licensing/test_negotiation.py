"""Counter, revise, accept, decline: who may, from which state, and what each leaves."""

import dataclasses

import pytest
from django.utils import timezone

from rightsdesk.agreements.models import AgreementVersion
from rightsdesk.audit.models import AuditEvent
from rightsdesk.core.errors import ApplicationError
from rightsdesk.core.models import Notification
from rightsdesk.licensing.memo import deal_memo_render
from rightsdesk.licensing.models import Licence, LicenceOffer
from rightsdesk.licensing.services import (
    licence_accept,
    licence_counter,
    licence_decline,
    licence_revise,
)
from tests.licensing.conftest import accept, propose
from tests.licensing.factories import DAY, licence_terms, usage


def _accept_with(licence: Licence, user, sha256: str, language: str = "en") -> Licence:
    return licence_accept(
        licence=licence,
        deal_memo_sha256=sha256,
        language=language,
        actor=user,
        authentication_method="token",
        ip="198.51.100.7",
        user_agent="pytest",
    )


def _unchanged(licence: Licence, *, status: str, offers: int) -> None:
    fresh = Licence.objects.get(pk=licence.pk)
    assert fresh.status == status
    assert fresh.accepted_at is None and fresh.deal_memo_sha256 == ""
    assert fresh.offers.count() == offers
    assert not AuditEvent.objects.filter(
        action="licence.accepted", target_id=str(licence.public_id)
    ).exists()


@pytest.mark.django_db
def test_counter_then_revise_then_accept_records_every_step_in_order(deal):
    licence = propose(deal)
    asked = licence_terms(buyout_minor=800_000, usage=(usage(quantity=5),))

    # When the agent counters with a higher buy-out and fewer images...
    licence = licence_counter(
        licence=licence, terms=asked, note="Higher buy-out, fewer images", actor=deal.users["agent"]
    )
    assert licence.status == Licence.Status.COUNTERED
    assert licence.buyout_minor == 500_000  # the brand's terms stay in force until it revises

    # ...and brand legal revises to the counter's terms...
    licence = licence_revise(licence=licence, terms=asked, actor=deal.users["legal_a"])
    assert licence.status == Licence.Status.PROPOSED
    assert licence.buyout_minor == 800_000
    assert list(licence.usage_rows.values_list("quantity", flat=True)) == [5]

    # ...then the talent accepts the memo of the revised terms.
    licence = accept(licence, deal.users["talent"])

    assert licence.status == Licence.Status.ACCEPTED
    assert licence.accepted_by == deal.users["talent"]
    offers = list(licence.offers.order_by("sequence"))
    assert [(o.sequence, o.kind, o.actor_role) for o in offers] == [
        (1, "proposed", "legal"),
        (2, "countered", "agent"),
        (3, "proposed", "legal"),
        (4, "accepted", "talent"),
    ]
    assert offers[1].terms_sha256 == asked.sha256() == offers[2].terms_sha256
    assert offers[1].note == "Higher buy-out, fewer images"
    actions = AuditEvent.objects.filter(target_id=str(licence.public_id)).order_by("sequence")
    assert list(actions.values_list("action", flat=True)) == [
        "licence.proposed",
        "licence.countered",
        "licence.revised",
        "licence.accepted",
    ]


@pytest.mark.django_db
def test_acceptance_stores_the_memo_it_accepted_with_its_evidence(deal):
    licence = propose(deal)
    memo = deal_memo_render(licence=licence, language="en")

    licence = _accept_with(licence, deal.users["talent"], memo.sha256)

    offer = licence.offers.get(kind="accepted")
    assert licence.deal_memo_sha256 == memo.sha256 == offer.deal_memo_sha256
    assert offer.deal_memo_text == memo.text
    assert offer.deal_memo_language == "en"
    assert (offer.authentication_method, offer.ip_address, offer.user_agent) == (
        "token",
        "198.51.100.7",
        "pytest",
    )
    assert offer.actor == deal.users["talent"]
    told = Notification.objects.filter(kind="licence.accepted").values_list("user", flat=True)
    assert list(told) == [deal.users["legal_a"].pk]


@pytest.mark.django_db
def test_a_countered_licence_cannot_be_accepted_until_the_brand_revises(deal):
    licence = propose(deal)
    memo = deal_memo_render(licence=licence)
    licence_counter(
        licence=licence, terms=licence_terms(buyout_minor=1), note="", actor=deal.users["talent"]
    )

    with pytest.raises(ApplicationError) as refused:
        _accept_with(licence, deal.users["talent"], memo.sha256)

    assert refused.value.code == "invalid_transition"
    _unchanged(licence, status="countered", offers=2)


@pytest.mark.django_db
def test_accepting_with_a_stale_memo_hash_is_refused(deal):
    licence = propose(deal)
    stale = deal_memo_render(licence=licence).sha256
    licence = licence_revise(
        licence=licence, terms=licence_terms(usage_fee_minor=1_000), actor=deal.users["legal_a"]
    )

    with pytest.raises(ApplicationError) as refused:
        _accept_with(licence, deal.users["talent"], stale)

    assert refused.value.code == "deal_memo_mismatch"
    assert refused.value.extra["current_sha256"] == deal_memo_render(licence=licence).sha256
    _unchanged(licence, status="proposed", offers=2)


@pytest.mark.django_db
def test_the_hash_must_be_that_of_the_language_named(deal):
    licence = propose(deal)
    french = deal_memo_render(licence=licence, language="fr")

    with pytest.raises(ApplicationError) as refused:
        _accept_with(licence, deal.users["talent"], french.sha256, language="en")
    assert refused.value.code == "deal_memo_mismatch"

    licence = _accept_with(licence, deal.users["talent"], french.sha256, language="fr")
    assert licence.offers.get(kind="accepted").deal_memo_language == "fr"


@pytest.mark.django_db
@pytest.mark.parametrize(
    "role", ["legal_a", "manager_a", "agent_without_power", "staff", "agency_legal", "minor"]
)
def test_only_the_principal_or_an_agent_with_the_power_may_accept(deal, role):
    licence = propose(deal) if role != "minor" else _propose_for_minor(deal)
    memo = deal_memo_render(licence=licence)

    with pytest.raises(ApplicationError) as refused:
        _accept_with(licence, deal.users[role], memo.sha256)

    assert refused.value.code == "permission_denied"
    _unchanged(licence, status="proposed", offers=1)


def _propose_for_minor(deal) -> Licence:
    from rightsdesk.licensing.services import licence_propose

    return licence_propose(
        agreement=deal.minor_agreement, terms=licence_terms(), actor=deal.users["legal_a"]
    )


@pytest.mark.django_db
def test_a_guardian_accepts_for_a_minor(deal):
    licence = _propose_for_minor(deal)

    licence = accept(licence, deal.users["guardian"])

    assert licence.status == Licence.Status.ACCEPTED
    assert licence.offers.get(kind="accepted").actor_role == "guardian"


@pytest.mark.django_db
def test_an_agent_with_the_power_accepts_for_the_talent(deal):
    licence = accept(propose(deal), deal.users["agent"])

    assert licence.status == Licence.Status.ACCEPTED
    assert licence.offers.get(kind="accepted").actor_role == "agent"


@pytest.mark.django_db
@pytest.mark.parametrize("role", ["legal_a", "manager_a", "agent_without_power", "staff"])
def test_brand_users_staff_and_agents_without_the_power_never_counter(deal, role):
    licence = propose(deal)

    with pytest.raises(ApplicationError) as refused:
        licence_counter(licence=licence, terms=licence_terms(), note="", actor=deal.users[role])

    assert refused.value.code == "permission_denied"
    assert Licence.objects.get(pk=licence.pk).status == "proposed"
    assert licence.offers.count() == 1


@pytest.mark.django_db
def test_a_counter_must_fit_the_agreement_too(deal):
    licence = propose(deal)

    with pytest.raises(ApplicationError) as refused:
        licence_counter(
            licence=licence,
            terms=licence_terms(category="apparel"),
            note="",
            actor=deal.users["talent"],
        )

    assert refused.value.code == "licence_outside_agreement"
    assert licence.offers.count() == 1


@pytest.mark.django_db
def test_only_the_brands_legal_revises(deal):
    licence = propose(deal)

    for role in ("legal_b", "talent", "agent", "manager_a"):
        with pytest.raises(ApplicationError) as refused:
            licence_revise(licence=licence, terms=licence_terms(), actor=deal.users[role])
        assert refused.value.code == "permission_denied"
    assert licence.offers.count() == 1


@pytest.mark.django_db
def test_an_expired_offer_cannot_be_accepted(deal):
    licence = propose(deal)
    memo = deal_memo_render(licence=licence)
    Licence.objects.filter(pk=licence.pk).update(offer_expires_at=timezone.now() - DAY)
    licence.refresh_from_db()

    with pytest.raises(ApplicationError) as refused:
        _accept_with(licence, deal.users["talent"], memo.sha256)

    assert refused.value.code == "licence_offer_expired"
    _unchanged(licence, status="proposed", offers=1)


@pytest.mark.django_db
def test_an_amended_agreement_sends_the_licence_back_to_the_brand(deal):
    licence = propose(deal)
    memo = deal_memo_render(licence=licence)
    AgreementVersion.objects.filter(agreement=deal.agreement_a).update(status="superseded")

    with pytest.raises(ApplicationError) as refused:
        _accept_with(licence, deal.users["talent"], memo.sha256)

    assert refused.value.code == "agreement_inactive"
    _unchanged(licence, status="proposed", offers=1)


@pytest.mark.django_db
@pytest.mark.parametrize("status", ["accepted", "declined", "expired", "withdrawn"])
def test_nothing_moves_a_closed_licence(deal, status):
    licence = propose(deal)
    Licence.objects.filter(pk=licence.pk).update(status=status, accepted_at=timezone.now())
    licence.refresh_from_db()
    talent = deal.users["talent"]

    for attempt in (
        lambda: licence_counter(licence=licence, terms=licence_terms(), note="", actor=talent),
        lambda: licence_revise(licence=licence, terms=licence_terms(), actor=deal.users["legal_a"]),
        lambda: licence_decline(licence=licence, note="", actor=talent),
        lambda: accept(licence, talent),
    ):
        with pytest.raises(ApplicationError) as refused:
            attempt()
        assert refused.value.code == "invalid_transition"
    assert Licence.objects.get(pk=licence.pk).status == status
    assert licence.offers.count() == 1


@pytest.mark.django_db
def test_the_talent_declines_a_proposal_and_the_brand_is_told(deal):
    licence = propose(deal)

    licence = licence_decline(licence=licence, note="Not this campaign", actor=deal.users["talent"])

    assert licence.status == Licence.Status.DECLINED
    offer = licence.offers.get(kind="declined")
    assert (offer.actor_role, offer.note) == ("talent", "Not this campaign")
    assert Notification.objects.filter(kind="licence.declined", user=deal.users["legal_a"])


@pytest.mark.django_db
def test_brand_legal_may_decline_a_counter_but_not_its_own_proposal(deal):
    licence = propose(deal)

    with pytest.raises(ApplicationError) as refused:
        licence_decline(licence=licence, note="", actor=deal.users["legal_a"])
    assert refused.value.code == "invalid_transition"

    licence_counter(licence=licence, terms=licence_terms(), note="", actor=deal.users["talent"])
    licence = licence_decline(licence=licence, note="Too dear", actor=deal.users["legal_a"])
    assert licence.status == Licence.Status.DECLINED
    assert licence.offers.get(kind="declined").actor_role == "legal"


@pytest.mark.django_db
def test_a_counter_with_its_own_expiry_replaces_the_offers_expiry(deal):
    licence = propose(deal)
    later = licence.offer_expires_at + 3 * DAY

    licence = licence_counter(
        licence=licence,
        terms=dataclasses.replace(licence_terms(), offer_expires_at=later),
        note="",
        actor=deal.users["talent"],
    )

    assert licence.offer_expires_at == later
    assert LicenceOffer.objects.get(licence=licence, kind="countered").terms_json.count(
        later.isoformat()[:19]
    )

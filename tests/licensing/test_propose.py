"""Proposing a licence: it must fit the agreement's active version, and a refusal writes
nothing at all."""

import dataclasses

import pytest

from rightsdesk.agreements.models import Agreement, AgreementVersion
from rightsdesk.audit.models import AuditEvent
from rightsdesk.core.errors import ApplicationError
from rightsdesk.core.models import Notification
from rightsdesk.core.vocab import TerritorySpec
from rightsdesk.licensing.models import Licence, LicenceOffer, UsageRow
from rightsdesk.licensing.services import licence_propose
from tests.licensing.conftest import propose
from tests.licensing.factories import DAY, licence_terms, usage


def _effective(deal):
    return deal.agreement_a.versions.get(status="active")


def _case(**overrides):
    return lambda deal: licence_terms(**overrides)


def _starting(days_from_agreement_start: int, length_days: int):
    def build(deal):
        start = _effective(deal).effective_from + days_from_agreement_start * DAY
        return licence_terms(starts_at=start, ends_at=start + length_days * DAY)

    return build


def _ending_after_agreement(deal):
    end = _effective(deal).effective_to
    return licence_terms(starts_at=end - 10 * DAY, ends_at=end + DAY)


def _usage(**row):
    return lambda deal: licence_terms(usage=(usage(**row),))


REFUSED = [
    # (case, terms builder, code, field)
    ("starts before the agreement", _starting(-1, 30), "licence_outside_agreement", "starts_at"),
    ("ends after the agreement", _ending_after_agreement, "licence_outside_agreement", "ends_at"),
    ("longer than the maximum term", _starting(1, 366), "licence_outside_agreement", "ends_at"),
    (
        "usage longer than the maximum term",
        _usage(duration_days=366),
        "licence_outside_agreement",
        "usage[0].duration_days",
    ),
    ("category never", _case(category="apparel"), "licence_outside_agreement", "category"),
    (
        "category inside a never category",
        _case(category="lingerie"),
        "licence_outside_agreement",
        "category",
    ),
    (
        "category never globally",
        _case(category="adult_content"),
        "licence_outside_agreement",
        "category",
    ),
    ("unknown medium", _usage(medium="skywriting"), "validation_error", "usage[0].medium"),
    ("unknown territory", _usage(include=("XX",)), "validation_error", "usage[0].territories"),
    (
        "exclusions remove every territory",
        _usage(include=("DE",), exclude=("DACH",)),
        "validation_error",
        "usage[0].territories",
    ),
    ("float buy-out", _case(buyout_minor=1500.0), "validation_error", "buyout_minor"),
    ("fractional usage fee", _case(usage_fee_minor=12.5), "validation_error", "usage_fee_minor"),
    ("negative usage fee", _case(usage_fee_minor=-1), "validation_error", "usage_fee_minor"),
    ("boolean as money", _case(buyout_minor=True), "validation_error", "buyout_minor"),
    ("no draft allowance", _case(draft_allowance=0), "validation_error", "draft_allowance"),
    ("float quantity", _usage(quantity=2.0), "validation_error", "usage[0].quantity"),
    ("no usage rows", _case(usage=()), "validation_error", "usage"),
    ("unknown currency", _case(currency="EURO"), "validation_error", "currency"),
    ("unknown category", _case(category="spaceships"), "validation_error", "category"),
    ("empty purpose", _case(purpose="  "), "validation_error", "purpose"),
    (
        "ends before it starts",
        lambda deal: dataclasses.replace(licence_terms(), ends_at=licence_terms().starts_at - DAY),
        "validation_error",
        "ends_at",
    ),
    (
        "offer already expired",
        lambda deal: licence_terms(offer_expires_at=licence_terms().starts_at - 30 * DAY),
        "validation_error",
        "offer_expires_at",
    ),
]


def _nothing_written() -> None:
    assert Licence.objects.count() == 0
    assert UsageRow.objects.count() == 0
    assert LicenceOffer.objects.count() == 0
    assert not AuditEvent.objects.filter(action__startswith="licence.").exists()
    assert Notification.objects.count() == 0


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("build", "code", "field"),
    [case[1:] for case in REFUSED],
    ids=[case[0] for case in REFUSED],
)
def test_a_proposal_that_does_not_fit_is_refused_and_writes_nothing(deal, build, code, field):
    terms = build(deal)

    with pytest.raises(ApplicationError) as refused:
        propose(deal, terms=terms)

    assert refused.value.code == code
    if code == "licence_outside_agreement":
        assert refused.value.extra["field"] == field
    else:
        assert field in refused.value.extra["fields"]
    _nothing_written()


FITS = [
    ("starts exactly with the agreement", _starting(0, 30)),
    ("exactly the maximum term", _starting(1, 365)),
    ("usage exactly the maximum term", _usage(duration_days=365)),
    ("a category the agreement does not name", _case(category="watches")),
    ("no buy-out and no fee", _case(buyout_minor=0, usage_fee_minor=0)),
    ("a group with an exclusion", _usage(include=("EU",), exclude=("FR",))),
    ("no offer expiry", _case(offer_expires_at=None)),
]


@pytest.mark.django_db
@pytest.mark.parametrize("build", [case[1] for case in FITS], ids=[case[0] for case in FITS])
def test_a_proposal_that_fits_is_recorded_with_its_rows_and_first_offer(deal, build):
    terms = build(deal)

    licence = propose(deal, terms=terms)

    assert licence.status == Licence.Status.PROPOSED
    assert licence.agreement_version == _effective(deal)
    assert licence.talent == deal.talent and licence.brand == deal.brand_a
    rows = list(licence.usage_rows.order_by("pk"))
    assert [r.medium for r in rows] == [u.medium for u in terms.usage]
    for row, term in zip(rows, terms.usage, strict=True):
        assert row.territory_codes == sorted(term.territories.codes())
    offer = licence.offers.get()
    assert (offer.sequence, offer.kind) == (1, "proposed")
    assert offer.terms_json == terms.canonical_json()
    assert offer.terms_sha256 == terms.sha256()
    assert AuditEvent.objects.filter(action="licence.proposed", target_id=str(licence.public_id))


@pytest.mark.django_db
def test_territory_groups_are_expanded_and_sorted_on_the_row(deal):
    terms = licence_terms(usage=(usage(include=("DACH", "BENELUX"), exclude=("LU",)),))

    row = propose(deal, terms=terms).usage_rows.get()

    assert row.territories == {"include": ["DACH", "BENELUX"], "exclude": ["LU"]}
    assert row.territory_codes == ["AT", "BE", "CH", "DE", "NL"]


@pytest.mark.django_db
def test_the_talent_side_with_the_power_is_told_of_a_proposal(deal):
    licence = propose(deal)

    told = set(
        Notification.objects.filter(
            kind="licence.proposed", target_reference=f"licence:{licence.public_id}"
        ).values_list("user__email", flat=True)
    )
    assert told == {deal.users["talent"].email, deal.users["agent"].email}


@pytest.mark.django_db
@pytest.mark.parametrize(
    "role", ["legal_b", "manager_a", "talent", "agent", "staff", "agency_legal"]
)
def test_only_legal_of_the_agreements_brand_may_propose(deal, role):
    with pytest.raises(ApplicationError) as refused:
        licence_propose(agreement=deal.agreement_a, terms=licence_terms(), actor=deal.users[role])

    assert refused.value.code == "permission_denied"
    _nothing_written()


@pytest.mark.django_db
@pytest.mark.parametrize("agreement_status", ["draft", "terminated", "expired"])
def test_an_agreement_that_is_not_active_refuses_proposals(deal, agreement_status):
    Agreement.objects.filter(pk=deal.agreement_a.pk).update(status=agreement_status)
    deal.agreement_a.refresh_from_db()

    with pytest.raises(ApplicationError) as refused:
        propose(deal)

    assert refused.value.code == "agreement_inactive"
    _nothing_written()


@pytest.mark.django_db
def test_an_agreement_whose_only_version_is_superseded_refuses_proposals(deal):
    AgreementVersion.objects.filter(agreement=deal.agreement_a).update(status="superseded")

    with pytest.raises(ApplicationError) as refused:
        propose(deal)

    assert refused.value.code == "agreement_inactive"
    _nothing_written()


def test_terms_round_trip_through_their_canonical_json():
    terms = licence_terms(usage=(usage(include=("eu",), exclude=("fr",)),))

    again = type(terms).from_json(terms.to_json())

    assert again.canonical_json() == terms.canonical_json()
    assert again.usage[0].territories == TerritorySpec(include=("EU",), exclude=("FR",))
    assert len(terms.sha256()) == 64


def test_terms_from_json_refuse_a_float_anywhere():
    body = licence_terms().to_json()
    body["usage"][0]["quantity"] = 3.0

    with pytest.raises(ApplicationError) as refused:
        type(licence_terms()).from_json(body)

    assert refused.value.code == "validation_error"
    assert "usage[0].quantity" in refused.value.extra["fields"]

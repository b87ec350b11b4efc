"""Exclusivity: an acceptance overlapping another brand's exclusivity (or an external
commitment) in category, territory and period is refused, and the refusal names only the
overlap, never who holds it; the talent's side sees who."""

import pytest

from rightsdesk.agreements.models import Agreement, AgreementVersion
from rightsdesk.core.errors import ApplicationError
from rightsdesk.core.vocab import TerritorySpec
from rightsdesk.licensing.memo import deal_memo_render
from rightsdesk.licensing.models import ExternalCommitment, Licence
from rightsdesk.licensing.selectors import licence_conflicts_for
from rightsdesk.licensing.services import (
    external_commitment_create,
    external_commitment_end,
    licence_accept,
)
from tests.licensing.conftest import accept, propose
from tests.licensing.factories import DAY, active_agreement, exclusivity, now_s


def _exclusive(
    deal,
    *,
    brand: str = "b",
    category="beauty",
    include=("EU",),
    exclude=(),
    starts=None,
    ends=None,
):
    start = starts or now_s() - DAY
    return active_agreement(
        talent=deal.talent,
        brand=deal.brand_b if brand == "b" else deal.brand_a,
        legal=deal.users[f"legal_{brand}"],
        principal=deal.talent.user,
        title="Exclusive beauty deal",
        exclusivities=(
            exclusivity(category, include, start, ends or start + 365 * DAY, exclude=exclude),
        ),
    )


def _accept_over_api(as_user, licence: Licence, user):
    client = as_user(user)
    memo = client.get(f"/api/v1/licences/{licence.public_id}/deal-memo/").json()
    return client.post(
        f"/api/v1/licences/{licence.public_id}/accept/",
        {"deal_memo_sha256": memo["sha256"], "language": memo["language"]},
        format="json",
    )


@pytest.mark.django_db
def test_overlap_through_the_hierarchy_a_group_and_the_period_is_refused_without_naming_the_holder(
    deal, as_user
):
    # Given brand B holds beauty exclusivity in the EU for a year, and brand A proposes
    # fragrance (inside beauty) in Germany (inside the EU) from tomorrow.
    rival = _exclusive(deal)
    licence = propose(deal)

    # When the talent accepts brand A's licence.
    response = _accept_over_api(as_user, licence, deal.users["talent"])

    # Then it is refused, naming the overlap only.
    assert response.status_code == 409
    body = response.json()
    assert body["code"] == "exclusivity_conflict"
    [conflict] = body["extra"]["conflicts"]
    assert conflict["category"] == "fragrance"
    assert conflict["territories"] == ["DE"]
    assert conflict["starts_at"] == licence.starts_at.isoformat()
    text = response.content.decode()
    for secret in (
        deal.brand_b.name,
        "Rival",
        str(rival.public_id),
        str(deal.brand_b.public_id),
        rival.title,
        deal.users["legal_b"].email,
    ):
        assert secret not in text
    assert Licence.objects.get(pk=licence.pk).status == "proposed"
    assert not licence.offers.filter(kind="accepted").exists()


@pytest.mark.django_db
def test_the_talents_side_sees_who_holds_the_conflicting_exclusivity(deal, as_user):
    rival = _exclusive(deal)
    licence = propose(deal)

    for role in ("talent", "agent", "agent_without_power"):
        detail = as_user(deal.users[role]).get(f"/api/v1/licences/{licence.public_id}/").json()
        [conflict] = detail["exclusivity_conflicts"]
        assert conflict["holder"] == deal.brand_b.name
        assert conflict["reference"] == f"agreement:{rival.public_id}"
        assert conflict["source"] == "exclusivity"

    [conflict] = licence_conflicts_for(user=deal.users["talent"], licence=licence)
    assert conflict.holder == deal.brand_b.name


@pytest.mark.django_db
@pytest.mark.parametrize("role", ["legal_a", "manager_a"])
def test_the_brand_never_sees_the_holder_on_the_licence(deal, as_user, role):
    _exclusive(deal)
    licence = propose(deal)
    if role == "manager_a":
        # Managers only see accepted licences: the question is moot before acceptance.
        assert licence_conflicts_for(user=deal.users[role], licence=licence) is None
        return

    response = as_user(deal.users[role]).get(f"/api/v1/licences/{licence.public_id}/")

    assert response.json()["exclusivity_conflicts"] is None
    assert deal.brand_b.name not in response.content.decode()


def _in(days: int):
    return now_s() + days * DAY


NO_OVERLAP = [
    # (case, exclusivity keyword arguments)
    ("another category", {"category": "apparel"}),
    ("a sibling category", {"category": "skincare"}),
    ("other territories", {"include": ("NORTH_AMERICA",)}),
    ("the group minus the licence's country", {"include": ("EU",), "exclude": ("DE",)}),
    ("ended before the licence starts", {"starts": _in(-100), "ends": _in(0)}),
    # The licence runs 1..91 days from now, and its images up to 90 days after that.
    ("starts after the images leave the market", {"starts": _in(182), "ends": _in(400)}),
    ("held by the same brand", {"brand": "a"}),
]


@pytest.mark.django_db
@pytest.mark.parametrize("kwargs", [c[1] for c in NO_OVERLAP], ids=[c[0] for c in NO_OVERLAP])
def test_no_overlap_in_any_one_dimension_is_accepted(deal, kwargs):
    _exclusive(deal, **kwargs)

    licence = accept(propose(deal), deal.users["talent"])

    assert licence.status == Licence.Status.ACCEPTED


@pytest.mark.django_db
def test_an_exclusivity_starting_while_the_images_are_still_in_market_conflicts(deal):
    # The licence's window ends in 91 days; a 90-day usage keeps an image out until 181.
    starts = _in(120)
    _exclusive(deal, starts=starts, ends=_in(400))
    licence = propose(deal)

    with pytest.raises(ApplicationError) as refused:
        accept(licence, deal.users["talent"])

    assert refused.value.code == "exclusivity_conflict"
    [conflict] = refused.value.extra["conflicts"]
    assert conflict["starts_at"] == starts.isoformat()


@pytest.mark.django_db
@pytest.mark.parametrize("how", ["terminated", "superseded"])
def test_an_exclusivity_no_longer_in_force_does_not_block(deal, how):
    rival = _exclusive(deal)
    if how == "terminated":
        Agreement.objects.filter(pk=rival.pk).update(status="terminated")
    AgreementVersion.objects.filter(agreement=rival).update(status=how)

    licence = accept(propose(deal), deal.users["talent"])

    assert licence.status == Licence.Status.ACCEPTED


@pytest.mark.django_db
def test_an_external_commitment_blocks_the_same_way_and_stays_private(deal, as_user):
    # Given the talent recorded a perfume booking made outside Rightsdesk, in DACH.
    ends_at = _in(60)  # once: a second call may fall in the next second
    commitment = external_commitment_create(
        talent=deal.talent,
        category="fragrance",
        territories=TerritorySpec(include=("DACH",)),
        starts_at=now_s(),
        ends_at=ends_at,
        counterparty="Secret Perfume House",
        actor=deal.users["talent"],
    )
    licence = propose(deal)

    # When the agent accepts brand A's fragrance licence for Germany.
    response = _accept_over_api(as_user, licence, deal.users["agent"])

    # Then it is refused with the overlap only.
    assert response.status_code == 409
    assert response.json()["extra"]["conflicts"] == [
        {
            "category": "fragrance",
            "category_name": "Fragrance",
            "territories": ["DE"],
            "starts_at": licence.starts_at.isoformat(),
            "ends_at": ends_at.isoformat(),
        }
    ]
    assert "Secret Perfume House" not in response.content.decode()
    assert str(commitment.public_id) not in response.content.decode()
    # The talent's side sees which commitment.
    detail = as_user(deal.users["talent"]).get(f"/api/v1/licences/{licence.public_id}/").json()
    assert detail["exclusivity_conflicts"][0]["holder"] == "Secret Perfume House"
    assert detail["exclusivity_conflicts"][0]["source"] == "external_commitment"


@pytest.mark.django_db
def test_ending_a_commitment_lets_the_licence_be_accepted(deal):
    commitment = external_commitment_create(
        talent=deal.talent,
        category="beauty",
        territories=TerritorySpec(include=("WORLDWIDE",)),
        starts_at=now_s() - DAY,
        ends_at=_in(300),
        counterparty="",
        actor=deal.users["agent"],
    )
    licence = propose(deal)
    with pytest.raises(ApplicationError):
        accept(licence, deal.users["talent"])

    external_commitment_end(commitment=commitment, actor=deal.users["talent"])

    assert accept(licence, deal.users["talent"]).status == Licence.Status.ACCEPTED


@pytest.mark.django_db
@pytest.mark.parametrize("role", ["legal_a", "manager_a", "agent_without_power", "staff", "minor"])
def test_only_the_talents_side_with_the_power_records_commitments(deal, role):
    with pytest.raises(ApplicationError) as refused:
        external_commitment_create(
            talent=deal.talent,
            category="beauty",
            territories=TerritorySpec(include=("FR",)),
            starts_at=now_s(),
            ends_at=_in(10),
            counterparty="x",
            actor=deal.users[role],
        )

    assert refused.value.code == "permission_denied"
    assert ExternalCommitment.objects.count() == 0


@pytest.mark.django_db
def test_a_memo_mismatch_is_reported_before_any_conflict(deal):
    # The talent learns that the terms changed before anything about exclusivity.
    _exclusive(deal)
    licence = propose(deal)

    with pytest.raises(ApplicationError) as refused:
        licence_accept(
            licence=licence,
            deal_memo_sha256="0" * 64,
            language="en",
            actor=deal.users["talent"],
            authentication_method="token",
            ip=None,
            user_agent="",
        )

    assert refused.value.code == "deal_memo_mismatch"
    assert deal_memo_render(licence=licence).sha256 == refused.value.extra["current_sha256"]
    assert Licence.objects.get(pk=licence.pk).status == "proposed"

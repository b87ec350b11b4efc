"""GET /api/v1/ledger/statement/: the talent and an agent whose representation grants
``view_earnings`` read it, as JSON or CSV; anyone else who can see the talent gets 403,
everyone else 404."""

import csv
import datetime
import io
import uuid

import pytest
from django.utils import timezone

from rightsdesk.ledger.posting import month_of
from rightsdesk.ledger.selectors import ledger_statement
from rightsdesk.ledger.services import ledger_close_due_periods, ledger_post_fee
from rightsdesk.ledger.types import FeeSpec, owner_ref
from tests.factories import (
    AgencyFactory,
    OrganizationFactory,
    RepresentationFactory,
    TalentFactory,
    UserFactory,
)

pytestmark = pytest.mark.django_db
URL = "/api/v1/ledger/statement/"


@pytest.fixture
def world(db):
    talent = TalentFactory()
    agency, weak, mother, other = AgencyFactory(), AgencyFactory(), AgencyFactory(), AgencyFactory()
    brand = OrganizationFactory()
    RepresentationFactory(talent=talent, agency=agency, mother_agency=mother)
    RepresentationFactory(talent=talent, agency=weak, can_view_earnings=False)
    ledger_post_fee(
        fee=FeeSpec(
            kind="usage",
            brand=owner_ref("brand", brand.public_id),
            talent=owner_ref("talent", talent.public_id),
            currency="EUR",
            fee_minor=15_000,
            agency=owner_ref("agency", agency.public_id),
            commission_bps=2000,
        ),
        reference="asset:1",
        idempotency_key="asset:1:usage",
    )
    return {
        "talent": talent,
        "agent": UserFactory(role="agent", organization=agency),
        "agent_without_power": UserFactory(role="agent", organization=weak),
        "mother_agent": UserFactory(role="agent", organization=mother),
        "other_agent": UserFactory(role="agent", organization=other),
        "brand_legal": UserFactory(role="legal", organization=brand),
        "staff": UserFactory(role="staff", is_staff=True),
        "other_talent": TalentFactory().user,
    }


def _get(as_user, user, talent, **params):
    return as_user(user).get(
        URL, {"talent": str(talent.public_id), "period": month_of(timezone.now()), **params}
    )


@pytest.mark.parametrize("reader", ["talent", "agent"])
def test_the_talent_and_an_empowered_agent_read_the_statement(world, as_user, reader):
    user = world["talent"].user if reader == "talent" else world[reader]

    response = _get(as_user, user, world["talent"])

    assert response.status_code == 200, response.json()
    body = response.json()
    [eur] = body["statement"]["accounts"]
    [row] = eur["rows"]
    assert (row["gross_minor"], row["commission_minor"], row["net_minor"]) == (
        15_000,
        3_000,
        12_000,
    )
    assert row["reference"] == "asset:1"
    assert body["closed"] is False and body["closed_sha256"] is None
    owner = owner_ref("talent", world["talent"].public_id)
    expected = ledger_statement(owner=owner, period=body["period"]).statement
    assert body["sha256"] == expected.json_sha256


def test_the_statement_as_csv_by_format_or_accept(world, as_user):
    talent = world["talent"]
    owner = owner_ref("talent", talent.public_id)
    expected = ledger_statement(owner=owner, period=month_of(timezone.now())).statement

    by_format = _get(as_user, talent.user, talent, format="csv")
    by_accept = as_user(talent.user).get(
        URL,
        {"talent": str(talent.public_id), "period": month_of(timezone.now())},
        HTTP_ACCEPT="text/csv",
    )

    for response in (by_format, by_accept):
        assert response.status_code == 200
        assert response["Content-Type"].startswith("text/csv")
        assert response.content == expected.csv_bytes()
    rows = list(csv.reader(io.StringIO(by_format.content.decode())))
    assert rows[2][9] == "12000"  # net_minor of the one line


@pytest.mark.parametrize("reader", ["agent_without_power", "mother_agent", "staff"])
def test_who_sees_the_talent_but_may_not_read_earnings_gets_403(world, as_user, reader):
    response = _get(as_user, world[reader], world["talent"])

    assert response.status_code == 403
    assert response.json()["code"] == "permission_denied"


@pytest.mark.parametrize("reader", ["other_agent", "brand_legal", "other_talent"])
def test_anyone_else_gets_404(world, as_user, reader):
    response = _get(as_user, world[reader], world["talent"])

    assert response.status_code == 404
    assert response.json()["code"] == "not_found"
    assert "12000" not in response.content.decode()


def test_an_unknown_talent_is_404_and_errors_render_in_csv_too(world, as_user):
    response = as_user(world["agent"]).get(
        URL, {"talent": str(uuid.uuid4()), "period": "2026-01", "format": "csv"}
    )

    assert response.status_code == 404
    assert response.content.decode().splitlines()[1].startswith("not_found,")


@pytest.mark.parametrize("period", ["2026-13", "2026-1", "", "26-01"])
def test_a_malformed_period_is_a_validation_error(world, as_user, period):
    response = as_user(world["talent"].user).get(
        URL, {"talent": str(world["talent"].public_id), "period": period}
    )

    assert response.status_code == 400
    assert "period" in response.json()["extra"]["fields"]


def test_anonymous_is_401(world, api_client):
    response = api_client.get(URL, {"talent": str(world["talent"].public_id), "period": "2026-01"})

    assert response.status_code == 401


def test_a_closed_month_carries_the_hash_stored_when_it_closed(world, as_user):
    talent = world["talent"]
    last_month = timezone.now().replace(day=1) - datetime.timedelta(days=3)
    ledger_post_fee(
        fee=FeeSpec(
            kind="buyout",
            brand=f"brand:{uuid.uuid4()}",
            talent=owner_ref("talent", talent.public_id),
            currency="EUR",
            fee_minor=1_000,
        ),
        reference="licence:1",
        idempotency_key="licence:1:buyout",
        effective_at=last_month,
    )
    ledger_close_due_periods()

    response = as_user(talent.user).get(
        URL, {"talent": str(talent.public_id), "period": month_of(last_month)}
    )

    body = response.json()
    assert body["closed"] is True
    assert body["closed_sha256"] == body["sha256"]
    assert body["statement"]["accounts"][0]["net_minor"] == 1_000

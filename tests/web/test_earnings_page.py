"""Earnings on "my twin in market": the monthly chart and a statement to download for each
of the last six months, for whoever the statement endpoint lets read them (the talent, or
an agent whose representation grants ``view_earnings``); an agent without that power is
told so and offered neither."""

import pytest
from django.utils import timezone

from tests.factories import AgencyFactory, RepresentationFactory, UserFactory
from tests.web.helpers import client_for
from tests.web.offers import accept_on_the_page, proposed_licence

pytestmark = pytest.mark.django_db
STATEMENT = "/api/v1/ledger/statement/"


def statement_link(talent, period: str) -> str:
    return f"{STATEMENT}?talent={talent.public_id}&period={period}&format=csv"


def last_months(n: int) -> list[str]:
    year, month = timezone.now().year, timezone.now().month
    periods = []
    for _ in range(n):
        periods.append(f"{year:04d}-{month:02d}")
        year, month = (year, month - 1) if month > 1 else (year - 1, 12)
    return periods


def agent_of(talent, *, view_earnings: bool):
    agency = AgencyFactory()
    RepresentationFactory(talent=talent, agency=agency, can_view_earnings=view_earnings)
    return UserFactory(role="agent", organization=agency)


def test_the_talent_downloads_each_of_the_last_six_months_statements(world):
    client = client_for(world.x.talent.user)
    accept_on_the_page(client, proposed_licence(world, buyout_minor=500_000))

    body = client.get("/market/").content.decode()

    links = [statement_link(world.x.talent, period) for period in last_months(6)]
    positions = [body.find(link.replace("&", "&amp;")) for link in links]
    assert -1 not in positions and positions == sorted(positions)  # newest first
    this_month = client.get(links[0])
    assert this_month.status_code == 200 and this_month["Content-Type"].startswith("text/csv")
    assert b"EUR,line" in this_month.content  # the buy-out, line by line
    assert client.get(links[-1]).status_code == 200


def test_an_agent_with_the_earnings_power_gets_the_chart_and_the_statements(world):
    agent = agent_of(world.x.talent, view_earnings=True)

    body = client_for(agent).get("/market/").content.decode()

    assert str(world.x.talent) in body
    period = last_months(1)[0]
    assert statement_link(world.x.talent, period).replace("&", "&amp;") in body


def test_an_agent_without_the_earnings_power_is_offered_no_statement_and_told_why(world):
    agent = agent_of(world.x.talent, view_earnings=False)
    client = client_for(agent)

    body = client.get("/market/").content.decode()

    assert str(world.x.talent) in body  # the twin in market is theirs to follow
    assert STATEMENT not in body and "<svg" not in body
    assert "does not include reading their earnings" in body
    period = last_months(1)[0]
    assert client.get(statement_link(world.x.talent, period)).status_code == 403  # the API agrees

"""The ledger's admin pages: staff read everything, nobody adds, edits or deletes."""

import pytest

from rightsdesk.ledger.models import Account, Entry, Period, Remittance, Reservation
from rightsdesk.ledger.services import ledger_close_due_periods, ledger_post_fee, ledger_reserve
from tests.factories import AgencyFactory, UserFactory
from tests.ledger.conftest import fee_spec, fund, later, ledger_counts

pytestmark = pytest.mark.django_db


@pytest.fixture
def ledger(parties):
    fund(parties, 50_000)
    ledger_post_fee(fee=fee_spec(parties), reference="asset:1", idempotency_key="k1")
    ledger_reserve(
        fee=fee_spec(parties), reference="asset:2", idempotency_key="r", expires_at=later()
    )
    ledger_close_due_periods()
    return parties


@pytest.mark.parametrize(
    "model, cls",
    [
        ("account", Account),
        ("entry", Entry),
        ("reservation", Reservation),
        ("remittance", Remittance),
        ("period", Period),
    ],
)
def test_staff_read_the_ledger_and_cannot_change_it(client, ledger, model, cls):
    client.force_login(ledger.staff)
    before = ledger_counts()
    pk = cls.objects.order_by("pk").values_list("pk", flat=True).first()

    assert client.get(f"/admin/ledger/{model}/").status_code == 200
    assert client.get(f"/admin/ledger/{model}/add/").status_code == 403
    if pk is not None:
        page = client.get(f"/admin/ledger/{model}/{pk}/change/")
        assert page.status_code == 200
        assert 'name="_save"' not in page.content.decode()
        assert (
            client.post(f"/admin/ledger/{model}/{pk}/delete/", {"post": "yes"}).status_code == 403
        )
    assert ledger_counts() == before


def test_the_overdue_filter_lists_remittances_past_due(client, ledger):
    client.force_login(ledger.staff)

    page = client.get("/admin/ledger/remittance/?overdue=yes")

    assert page.status_code == 200


def test_a_non_staff_role_cannot_open_the_ledger_admin(client, ledger):
    agent = UserFactory(role="agent", organization=AgencyFactory(), is_staff=True)
    client.force_login(agent)

    assert client.get("/admin/ledger/entry/").status_code in (302, 403)

"""Staff read licences in the admin; nobody writes there."""

import pytest
from django.test import Client

from rightsdesk.core.vocab import TerritorySpec
from rightsdesk.licensing.models import Licence
from rightsdesk.licensing.services import external_commitment_create
from tests.factories import UserFactory
from tests.licensing.conftest import accept, propose
from tests.licensing.factories import DAY, now_s


@pytest.fixture
def admin_client_for(db):
    def login(user) -> Client:
        client = Client()
        client.force_login(user)
        return client

    return login


@pytest.mark.django_db
def test_staff_read_every_licensing_screen_and_cannot_add_change_or_delete(deal, admin_client_for):
    licence = accept(propose(deal), deal.users["talent"])
    commitment = external_commitment_create(
        talent=deal.talent,
        category="skincare",
        territories=TerritorySpec(include=("US",)),
        starts_at=now_s(),
        ends_at=now_s() + DAY,
        counterparty="x",
        actor=deal.users["talent"],
    )
    client = admin_client_for(deal.users["staff"])

    for url in (
        "/admin/licensing/licence/",
        f"/admin/licensing/licence/{licence.pk}/change/",
        "/admin/licensing/usagerow/",
        "/admin/licensing/licenceoffer/",
        "/admin/licensing/externalcommitment/",
        f"/admin/licensing/externalcommitment/{commitment.pk}/change/",
    ):
        response = client.get(url)
        assert response.status_code == 200, url
    change = client.get(f"/admin/licensing/licence/{licence.pk}/change/").content.decode()
    assert "Save" not in change or 'name="_save"' not in change
    assert client.get("/admin/licensing/licence/add/").status_code == 403
    assert client.post(f"/admin/licensing/licence/{licence.pk}/delete/").status_code == 403
    assert Licence.objects.filter(pk=licence.pk).exists()


@pytest.mark.django_db
def test_a_non_staff_user_with_admin_access_sees_no_licensing(deal, admin_client_for):
    legal = UserFactory(role="legal", organization=deal.brand_a, is_staff=True, is_superuser=True)

    response = admin_client_for(legal).get("/admin/licensing/licence/")

    assert response.status_code == 403

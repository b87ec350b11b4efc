"""Staff read credentials and records in the admin; nobody writes there, and no key shows."""

import pytest
from django.test import Client

from tests.factories import UserFactory

pytestmark = pytest.mark.django_db


def test_staff_see_credentials_and_records_read_only_without_the_key(sign, staff_user):
    record = sign()
    client = Client()
    client.force_login(staff_user)

    listing = client.get("/admin/provenance/provenancerecord/")
    credential_page = client.get(
        f"/admin/provenance/signingcredential/{record.credential_id}/change/"
    )

    assert listing.status_code == 200
    assert record.asset_reference in listing.content.decode()
    assert credential_page.status_code == 200
    body = credential_page.content.decode()
    assert "PRIVATE KEY" not in body and "private_key_sealed" not in body
    assert client.get("/admin/provenance/signingcredential/add/").status_code == 403
    assert client.get("/admin/provenance/provenancerecord/add/").status_code == 403


def test_non_staff_cannot_open_the_admin(sign):
    client = Client()
    client.force_login(UserFactory(role="talent"))

    response = client.get("/admin/provenance/provenancerecord/")

    assert response.status_code == 302

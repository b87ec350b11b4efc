"""Staff look at agreements in the admin; categories change only through the taxonomy."""

import pytest
from django.test import Client

from rightsdesk.agreements.models import Category
from rightsdesk.agreements.taxonomy import category_get
from rightsdesk.audit.models import AuditEvent
from tests.agreements.conftest import draft, sign

pytestmark = pytest.mark.django_db


@pytest.fixture
def staff_client(world) -> Client:
    client = Client()
    client.force_login(world.users["staff"])
    return client


def test_staff_read_agreements_versions_and_signatures(world, staff_client):
    agreement = draft(world)
    version = agreement.versions.get()
    sign(version, world.users["talent"])

    for path in (
        "/admin/agreements/agreement/",
        f"/admin/agreements/agreement/{agreement.pk}/change/",
        f"/admin/agreements/agreementversion/{version.pk}/change/",
        "/admin/agreements/signature/",
        "/admin/core/notification/",
    ):
        assert staff_client.get(path).status_code == 200, path
    assert staff_client.get("/admin/agreements/agreement/add/").status_code == 403


def test_staff_add_a_category_and_cannot_weaken_a_global_never(world, staff_client):
    nudity = category_get("adult_content")

    added = staff_client.post(
        "/admin/agreements/category/add/",
        {
            "slug": "perfume_oils",
            "name": "Perfume oils",
            "parent": category_get("fragrance").pk,
            "keywords_text": "Huile Parfumée, attar",
        },
    )
    changed = staff_client.post(
        f"/admin/agreements/category/{nudity.pk}/change/",
        {"keywords_text": "boudoir", "global_policy": "none"},
    )

    assert added.status_code == 302 and changed.status_code == 302
    oils = Category.objects.get(slug="perfume_oils")
    assert oils.keywords == ["attar", "huile parfumee"]
    nudity.refresh_from_db()
    assert nudity.global_policy == "never"
    assert "boudoir" in nudity.keywords and "nude" in nudity.keywords
    assert list(AuditEvent.objects.values_list("action", flat=True)) == [
        "category.created",
        "category.changed",
    ]


def test_other_roles_cannot_open_the_admin(world):
    client = Client()
    client.force_login(world.users["legal"])

    assert client.get("/admin/agreements/agreement/").status_code == 302

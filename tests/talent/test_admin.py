import pytest

from rightsdesk.audit.models import AuditEvent
from rightsdesk.talent.models import Representation, Talent
from tests.factories import AgencyFactory, TalentFactory, UserFactory
from tests.talent.conftest import years_ago


@pytest.fixture
def staff_client(client, staff_user):
    client.force_login(staff_user)
    return client


@pytest.mark.django_db
def test_staff_opening_a_talent_in_the_admin_is_audited(staff_client, staff_user):
    talent = TalentFactory(legal_name="Admin Read-Secret")

    response = staff_client.get(f"/admin/talent/talent/{talent.pk}/change/")

    assert response.status_code == 200
    assert "Admin Read-Secret" in response.content.decode()
    event = AuditEvent.objects.get(action="talent.personal_data_read")
    assert event.actor == staff_user
    assert event.target_id == str(talent.public_id)
    assert event.payload["via"] == "admin"


@pytest.mark.django_db
def test_the_admin_talent_list_shows_no_legal_names(staff_client):
    TalentFactory(legal_name="Listed Legal-Secret", stage_name="")
    response = staff_client.get("/admin/talent/talent/")
    assert response.status_code == 200
    assert "Listed Legal-Secret" not in response.content.decode()
    assert not AuditEvent.objects.filter(action="talent.personal_data_read").exists()


@pytest.mark.django_db
def test_a_non_staff_role_cannot_open_the_talent_admin(client):
    agent = UserFactory(role="agent", organization=AgencyFactory(), is_staff=True)
    client.force_login(agent)
    talent = TalentFactory()
    assert client.get(f"/admin/talent/talent/{talent.pk}/change/").status_code in (302, 403, 404)
    assert not AuditEvent.objects.filter(action="talent.personal_data_read").exists()


@pytest.mark.django_db
def test_the_admin_adds_a_talent_through_the_service(staff_client):
    response = staff_client.post(
        "/admin/talent/talent/add/",
        {
            "legal_name": "Added Person",
            "stage_name": "Added",
            "date_of_birth": years_ago(25).isoformat(),
            "jurisdiction": "us-ny",
            "preferred_language": "en",
        },
    )
    assert response.status_code == 302, response.content.decode()[:2000]
    talent = Talent.objects.get(stage_name="Added")
    assert talent.jurisdiction == "US-NY"
    assert AuditEvent.objects.filter(action="talent.created").count() == 1


@pytest.mark.django_db
def test_the_admin_refuses_a_minor_with_the_services_reason(staff_client, settings):
    settings.RIGHTSDESK_ALLOW_MINORS = False
    response = staff_client.post(
        "/admin/talent/talent/add/",
        {
            "legal_name": "Too Young",
            "date_of_birth": years_ago(12).isoformat(),
            "jurisdiction": "FR",
            "preferred_language": "en",
        },
    )
    assert response.status_code == 200
    assert "minor_not_allowed" in response.content.decode()
    assert not Talent.objects.exists()


@pytest.mark.django_db
def test_the_admin_refuses_a_commission_above_the_cap(staff_client):
    talent, agency = TalentFactory(), AgencyFactory()
    response = staff_client.post(
        "/admin/talent/representation/add/",
        {
            "talent": talent.pk,
            "agency": agency.pk,
            "commission_bps": 2500,
            "valid_from_0": "2026-01-01",
            "valid_from_1": "00:00:00",
            "mother_agency_share_bps": 0,
        },
    )
    assert response.status_code == 200
    assert "commission_above_cap" in response.content.decode()
    assert not Representation.objects.exists()


@pytest.mark.django_db
def test_the_admin_attests_identity_through_the_service(staff_client, staff_user):
    talent = TalentFactory()
    response = staff_client.post(
        "/admin/talent/talent/",
        {"action": "verify_identity_by_document_check", "_selected_action": [talent.pk]},
    )
    assert response.status_code == 302
    talent.refresh_from_db()
    assert talent.identity_verified_by == staff_user
    assert AuditEvent.objects.filter(action="talent.identity_verified").count() == 1


@pytest.mark.django_db
def test_staff_can_view_every_talent_admin_page(staff_client, world):
    from rightsdesk.talent.models import TalentProxy
    from tests.factories import LikenessVersionFactory

    likeness = LikenessVersionFactory(talent=world.talent_a)
    proxy = TalentProxy.objects.get(talent=world.minor_a)
    for path in (
        "/admin/talent/",
        "/admin/talent/representation/",
        f"/admin/talent/representation/{world.representation_a.pk}/change/",
        "/admin/talent/talentproxy/",
        f"/admin/talent/talentproxy/{proxy.pk}/change/",
        "/admin/talent/talentproxy/add/",
        "/admin/talent/representation/add/",
        "/admin/talent/talent/add/",
        "/admin/talent/likenessversion/",
        f"/admin/talent/likenessversion/{likeness.pk}/change/",
    ):
        assert staff_client.get(path).status_code == 200, path

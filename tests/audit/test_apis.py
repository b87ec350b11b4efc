import pytest

from rightsdesk.audit.models import AuditEvent
from rightsdesk.audit.selectors import audit_events_for_target
from rightsdesk.audit.services import audit_record
from tests.factories import TalentFactory, UserFactory

URL = "/api/v1/audit/events/"


@pytest.fixture
def talents_with_events():
    talent, other = TalentFactory(), TalentFactory()
    for n in range(3):
        audit_record(actor=None, action="talent.updated", target=talent, payload={"n": n})
    audit_record(actor=None, action="talent.updated", target=other, payload={"n": 9})
    return talent, other


@pytest.mark.django_db
def test_selector_returns_only_the_targets_events_oldest_first(talents_with_events):
    talent, _ = talents_with_events

    events = audit_events_for_target(target=talent)

    assert [e.payload["n"] for e in events] == [0, 1, 2]


@pytest.mark.django_db
def test_staff_lists_a_targets_events_page_by_page(talents_with_events, staff_user, as_user):
    talent, _ = talents_with_events
    query = {"target_type": "talent.talent", "target_id": str(talent.public_id), "page_size": 2}

    first = as_user(staff_user).get(URL, query)
    second = as_user(staff_user).get(first.json()["next"])

    assert first.status_code == second.status_code == 200
    assert first.json()["count"] == 3
    rows = first.json()["results"] + second.json()["results"]
    assert [r["payload"] for r in rows] == [{"n": 0}, {"n": 1}, {"n": 2}]
    assert rows[0]["payload_json"] == '{"n":0}'
    assert rows[1]["prev_hash"] == rows[0]["hash"]
    assert rows[0]["target_id"] == str(talent.public_id)


@pytest.mark.django_db
@pytest.mark.parametrize("role", ["talent", "guardian", "estate"])
def test_non_staff_may_not_list_audit_events(talents_with_events, as_user, role):
    user = UserFactory(role=role)

    response = as_user(user).get(URL)

    assert response.status_code == 403
    assert response.json()["code"] == "permission_denied"


@pytest.mark.django_db
def test_anonymous_may_not_list_audit_events(talents_with_events, api_client):
    response = api_client.get(URL)

    assert response.status_code == 401
    assert response.json()["code"] == "not_authenticated"


@pytest.mark.django_db
def test_admin_shows_audit_events_but_refuses_add_change_and_delete(
    talents_with_events, staff_user, client
):
    event = AuditEvent.objects.first()
    client.force_login(staff_user)

    listing = client.get("/admin/audit/auditevent/")
    detail = client.get(f"/admin/audit/auditevent/{event.pk}/change/")
    add = client.get("/admin/audit/auditevent/add/")
    delete = client.post(f"/admin/audit/auditevent/{event.pk}/delete/", {"post": "yes"})
    change = client.post(f"/admin/audit/auditevent/{event.pk}/change/", {"action": "forged"})

    assert (listing.status_code, detail.status_code) == (200, 200)
    assert (add.status_code, delete.status_code, change.status_code) == (403, 403, 403)
    assert AuditEvent.objects.get(pk=event.pk).action == "talent.updated"
    assert AuditEvent.objects.count() == 4

"""Staff see the gate's decisions (read-only) and edit the obligation rule pack, each change
audited; the statutory floor's rows appear for editing on first view."""

import pytest

from rightsdesk.audit.models import AuditEvent
from rightsdesk.consent.gate import evaluate
from rightsdesk.consent.models import GateDecision, ObligationRule
from rightsdesk.consent.obligations import FLOOR_CODES
from tests.consent.gate_world import build_gate_world
from tests.factories import AgencyFactory, UserFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def staff_client(client, staff_user):
    client.force_login(staff_user)
    return client


def test_staff_read_decisions_but_cannot_add_or_change_them(staff_client):
    gw = build_gate_world()
    decision = evaluate(gw.query())

    listing = staff_client.get("/admin/consent/gatedecision/")
    detail = staff_client.get(f"/admin/consent/gatedecision/{decision.decision_id}/change/")
    add = staff_client.get("/admin/consent/gatedecision/add/")

    assert listing.status_code == 200
    assert detail.status_code == 200
    assert add.status_code == 403
    post = staff_client.post(
        f"/admin/consent/gatedecision/{decision.decision_id}/change/", {"outcome": "deny"}
    )
    assert post.status_code == 403
    assert GateDecision.objects.get(pk=decision.decision_id).outcome == "allow"


def test_the_rule_list_shows_the_statutory_floor_for_editing(staff_client):
    response = staff_client.get("/admin/consent/obligationrule/")

    assert response.status_code == 200
    assert set(ObligationRule.objects.values_list("code", flat=True)) == FLOOR_CODES


def test_staff_edit_a_rule_through_the_service_and_it_is_audited(staff_client, staff_user):
    response = staff_client.post(
        "/admin/consent/obligationrule/add/",
        {
            "code": "us_disclosure",
            "applies_to_territories": '["US", "CA"]',
            "applies_to_purposes": "[]",
            "params": '{"text": "Virtual model"}',
            "active": "on",
        },
    )

    assert response.status_code == 302, response.content.decode()[:2000]
    rule = ObligationRule.objects.get(code="us_disclosure")
    assert rule.applies_to_territories == ["US", "CA"]
    event = AuditEvent.objects.get(action="obligation_rule.created")
    assert event.actor == staff_user


def test_an_unknown_territory_is_refused_in_the_form(staff_client):
    response = staff_client.post(
        "/admin/consent/obligationrule/add/",
        {
            "code": "bad_rule",
            "applies_to_territories": '["Atlantis"]',
            "applies_to_purposes": "[]",
            "params": "{}",
        },
    )

    assert response.status_code == 200
    assert "Unknown territory" in response.content.decode()
    assert not ObligationRule.objects.filter(code="bad_rule").exists()
    assert not AuditEvent.objects.filter(action="obligation_rule.created").exists()


def test_a_non_staff_role_cannot_open_the_gate_screens(client):
    agent = UserFactory(role="agent", organization=AgencyFactory(), is_staff=True)
    client.force_login(agent)

    assert client.get("/admin/consent/gatedecision/").status_code in (302, 403)
    assert client.get("/admin/consent/obligationrule/").status_code in (302, 403)

"""POST /api/v1/render-requests/dry-run/: the decision, price and allowance for a draft
brief, for the brand's campaign manager only, with nothing stored."""

import pytest

from rightsdesk.consent.models import GateDecision
from rightsdesk.licensing.models import Licence
from tests.consent.gate_world import GateWorld, build_gate_world
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db
URL = "/api/v1/render-requests/dry-run/"


@pytest.fixture
def gw() -> GateWorld:
    return build_gate_world()


def body(gw, **overrides):
    data = {
        "licences": [str(gw.x.licence.public_id)],
        "brief": "A model in a linen suit on a pier at dawn",
        "territory": "fr",
        "medium": "paid_social",
    }
    data.update(overrides)
    return data


def test_the_campaign_manager_gets_the_decision_price_and_allowance_and_nothing_is_stored(
    gw, as_user
):
    Licence.objects.filter(pk=gw.x.licence.pk).update(drafts_used=3)

    response = as_user(gw.manager).post(URL, body(gw), format="json")

    assert response.status_code == 200, response.json()
    data = response.json()
    assert data["outcome"] == "allow"
    assert data["reasons"] == []
    assert "visible_label" in [o["code"] for o in data["obligations"]]
    assert data["licences"] == [
        {
            "licence": str(gw.x.licence.public_id),
            "usage_fee_minor": 25_000,
            "currency": "EUR",
            "drafts_remaining": 7,
        }
    ]
    assert GateDecision.objects.count() == 0


def test_a_refused_draft_brief_lists_its_reasons(gw, as_user):
    response = as_user(gw.manager).post(
        URL, body(gw, brief="A model in silk lingerie, styled like Summer"), format="json"
    )

    data = response.json()
    assert data["outcome"] == "deny"
    assert {r["code"] for r in data["reasons"]} == {"category_never", "other_talent_named"}
    assert data["obligations"] == []
    assert GateDecision.objects.count() == 0


def test_another_brands_licence_is_not_found(gw, as_user):
    rival = UserFactory(role="campaign_manager", organization=gw.other_brand)

    response = as_user(rival).post(URL, body(gw), format="json")

    assert response.status_code == 404
    assert response.json()["code"] == "not_found"
    assert GateDecision.objects.count() == 0


@pytest.mark.parametrize("role", ["talent", "legal", "staff"])
def test_only_a_campaign_manager_may_ask(gw, as_user, role):
    user = {"talent": gw.x.talent.user, "legal": gw.legal, "staff": gw.staff}[role]

    response = as_user(user).post(URL, body(gw), format="json")

    assert response.status_code == 403
    assert GateDecision.objects.count() == 0


@pytest.mark.parametrize(
    "overrides",
    [{"territory": "Atlantis"}, {"medium": "radio"}, {"licences": []}, {"brief": ""}],
)
def test_a_malformed_request_is_a_validation_error(gw, as_user, overrides):
    response = as_user(gw.manager).post(URL, body(gw, **overrides), format="json")

    assert response.status_code == 400
    assert response.json()["code"] == "validation_error"


def test_the_endpoint_is_in_the_schema(api_client):
    schema = api_client.get("/api/schema/?format=json").json()

    operation = schema["paths"]["/api/v1/render-requests/dry-run/"]["post"]
    assert operation["operationId"] == "render_requests_dry_run"
    assert {"200", "400", "403", "404"} <= set(operation["responses"])

"""``GET /api/v1/evidence-packs/``: who may take a pack, what a refusal looks like, and that
every export is audited while a refusal records nothing."""

import io

import pytest

from rightsdesk.audit.evidence_check import AGREEMENTS, evidence_check
from rightsdesk.audit.models import AuditEvent
from tests.audit.evidence_world import TALENT_IP, build_deal_world, json_member

URL = "/api/v1/evidence-packs/"

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def media_in_tmp(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path / "media"


@pytest.fixture
def world():
    return build_deal_world()


def _exports() -> list[AuditEvent]:
    return list(AuditEvent.objects.filter(action="evidence.exported"))


def _body(response) -> bytes:
    return b"".join(response.streaming_content)


@pytest.mark.parametrize("who", ["legal", "agency_legal", "talent", "staff"])
def test_legal_the_talent_and_staff_get_a_verifiable_zip(world, as_user, who):
    user = world.users[who]

    response = as_user(user).get(URL, {"licence": str(world.licence.public_id)})

    assert response.status_code == 200
    assert response["Content-Type"] == "application/zip"
    assert f"evidence-licence-{world.licence.public_id}.zip" in response["Content-Disposition"]
    data = _body(response)
    assert evidence_check(io.BytesIO(data)).intact
    [export] = _exports()
    assert (export.actor_id, export.target_id) == (user.pk, str(world.licence.public_id))
    assert export.payload["manifest_sha256"] == response["X-Evidence-Manifest-SHA256"]
    assert json_member(data, "manifest.json")["prepared_for"] == user.email


def test_brand_legal_does_not_get_the_talents_ip_address(world, as_user):
    response = as_user(world.users["legal"]).get(URL, {"licence": str(world.licence.public_id)})

    data = _body(response)
    signatures = json_member(data, AGREEMENTS)["agreements"][0]["versions"][0]["signatures"]
    principal = next(s for s in signatures if s["party"] == "principal")
    assert principal["ip_address"] is None and principal["network_evidence_withheld"]


def test_an_earlier_export_shows_in_the_next_pack(world, as_user):
    client = as_user(world.users["legal"])
    client.get(URL, {"licence": str(world.licence.public_id)})

    data = _body(client.get(URL, {"licence": str(world.licence.public_id)}))

    manifest = json_member(data, "manifest.json")
    first_export = _exports()[0]
    assert first_export.sequence in manifest["audit"]["relevant_sequences"]


@pytest.mark.parametrize("who", ["manager", "agent"])
def test_those_who_see_the_licence_but_are_not_legal_get_403(world, as_user, who):
    response = as_user(world.users[who]).get(URL, {"licence": str(world.licence.public_id)})

    assert response.status_code == 403
    assert response.json()["code"] == "permission_denied"
    assert _exports() == []


def test_another_brands_legal_gets_404_as_for_an_unknown_id(world, as_user):
    client = as_user(world.users["other_legal"])

    foreign = client.get(URL, {"licence": str(world.licence.public_id)})
    unknown = client.get(URL, {"licence": "00000000-0000-0000-0000-000000000000"})

    assert foreign.status_code == unknown.status_code == 404
    assert foreign.json() == unknown.json()
    assert foreign.json()["code"] == "not_found"
    assert _exports() == []


def test_an_unknown_asset_is_404(world, as_user):
    response = as_user(world.users["staff"]).get(
        URL, {"asset": "00000000-0000-0000-0000-000000000000"}
    )

    assert response.status_code == 404
    assert _exports() == []


@pytest.mark.parametrize("case", ["neither", "malformed", "both"])
def test_exactly_one_well_formed_id_is_required(world, as_user, case):
    licence = str(world.licence.public_id)
    query = {
        "neither": {},
        "malformed": {"licence": "not-a-uuid"},
        "both": {"asset": licence, "licence": licence},
    }[case]

    response = as_user(world.users["legal"]).get(URL, query)

    assert response.status_code == 400
    assert response.json()["code"] == "validation_error"
    assert _exports() == []


def test_an_error_is_json_even_when_a_zip_was_asked_for(world, as_user):
    response = as_user(world.users["manager"]).get(
        URL, {"licence": str(world.licence.public_id)}, HTTP_ACCEPT="application/zip"
    )

    assert response.status_code == 403
    assert response["Content-Type"].startswith("application/json")
    assert response.json()["code"] == "permission_denied"


def test_anonymous_is_401(world, api_client):
    response = api_client.get(URL, {"licence": str(world.licence.public_id)})

    assert response.status_code == 401
    assert response.json()["code"] == "not_authenticated"
    assert _exports() == []


def test_staff_get_everyones_network_evidence(world, as_user):
    response = as_user(world.users["staff"]).get(URL, {"licence": str(world.licence.public_id)})

    assert TALENT_IP in str(json_member(_body(response), AGREEMENTS))

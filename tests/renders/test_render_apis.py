"""The render request endpoints: a thin layer over the services; foreign requests are 404."""

import pytest

from rightsdesk.licensing.models import Licence
from rightsdesk.renders.models import RenderRequest
from tests.consent.gate_world import BRIEF, build_gate_world
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db
URL = "/api/v1/render-requests/"


@pytest.fixture
def gate_world():
    return build_gate_world()


def _body(world, **changes) -> dict:
    values = {
        "licences": [str(world.x.licence.public_id)],
        "brief": BRIEF,
        "width": 64,
        "height": 64,
        "steps": 4,
        "seed": 5,
        "num_drafts": 2,
        "territory": "FR",
        "medium": "paid_social",
    }
    return {**values, **changes}


def test_campaign_manager_submits_and_gets_201_with_the_decision(gate_world, as_user):
    response = as_user(gate_world.manager).post(URL, _body(gate_world), format="json")

    assert response.status_code == 201, response.json()
    body = response.json()
    assert (body["status"], body["progress"], body["num_drafts"]) == ("queued", 0, 2)
    assert body["decision"]["outcome"] == "allow"
    assert body["licences"] == [str(gate_world.x.licence.public_id)]
    assert Licence.objects.get(pk=gate_world.x.licence.pk).drafts_used == 2


def test_a_denial_is_still_a_created_request(gate_world, as_user):
    response = as_user(gate_world.manager).post(
        URL, _body(gate_world, brief="A model in lingerie"), format="json"
    )

    assert response.status_code == 201
    body = response.json()
    assert body["status"] == "denied"
    assert "category_never" in body["denial_reasons"]
    assert {r["code"] for r in body["decision"]["reasons"]} >= {"category_never"}


def test_two_talents_in_one_request_is_a_400_with_its_code(gate_world, as_user):
    body = _body(
        gate_world, licences=[str(s.licence.public_id) for s in (gate_world.x, gate_world.y)]
    )

    response = as_user(gate_world.manager).post(URL, body, format="json")

    assert response.status_code == 400
    assert response.json()["code"] == "multi_likeness_unsupported"
    assert not RenderRequest.objects.exists()


def test_malformed_size_is_a_validation_error(gate_world, as_user):
    response = as_user(gate_world.manager).post(URL, _body(gate_world, width=10), format="json")

    assert response.status_code == 400
    assert response.json()["code"] == "validation_error"
    assert "width" in response.json()["extra"]["fields"]


def test_parties_read_it_and_another_brand_gets_404(gate_world, as_user, api_client):
    created = as_user(gate_world.manager).post(URL, _body(gate_world), format="json").json()
    detail = f"{URL}{created['public_id']}/"

    assert as_user(gate_world.manager).get(detail).status_code == 200
    assert as_user(gate_world.x.talent.user).get(detail).status_code == 200
    outsider = UserFactory(role="campaign_manager", organization=gate_world.other_brand)
    response = as_user(outsider).get(detail)
    assert response.status_code == 404
    assert response.json()["code"] == "not_found"


def test_requester_cancels_through_the_api(gate_world, as_user):
    created = as_user(gate_world.manager).post(URL, _body(gate_world), format="json").json()
    cancel = f"{URL}{created['public_id']}/cancel/"

    colleague = UserFactory(role="campaign_manager", organization=gate_world.brand)
    assert as_user(colleague).post(cancel).json()["code"] == "permission_denied"
    response = as_user(gate_world.manager).post(cancel)

    assert response.status_code == 200
    assert (response.json()["status"], response.json()["cancel_reason"]) == (
        "cancelled",
        "requester",
    )
    assert Licence.objects.get(pk=gate_world.x.licence.pk).drafts_used == 0
    assert as_user(gate_world.manager).post(cancel).status_code == 409


def test_a_status_read_is_one_statement_with_what_the_request_points_at(gate_world, as_user):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from rightsdesk.core.errors import NotFound
    from rightsdesk.renders.selectors import render_request_get_visible_to

    created = as_user(gate_world.manager).post(URL, _body(gate_world), format="json").json()

    with CaptureQueriesContext(connection) as captured:
        found = render_request_get_visible_to(
            user=gate_world.manager, public_id=created["public_id"]
        )
        read = (found.organization.name, found.requester.email, found.decision.outcome)

    assert len(captured.captured_queries) == 1
    assert str(found.public_id) == created["public_id"]
    assert read == (gate_world.brand.name, gate_world.manager.email, "allow")
    assert found.decision.reasons == created["decision"]["reasons"]
    for missing in ("00000000-0000-4000-8000-000000000000", "not-a-uuid", "", None):
        with pytest.raises(NotFound):
            render_request_get_visible_to(user=gate_world.manager, public_id=missing)


def test_a_status_read_lists_the_drafts_by_index_and_the_licences(gate_world, as_user):
    from rightsdesk.renders.models import Asset

    created = as_user(gate_world.manager).post(URL, _body(gate_world), format="json").json()
    render_request = RenderRequest.objects.get(public_id=created["public_id"])
    for index in (1, 0):
        Asset.objects.create(
            render_request=render_request, index=index, seed=40 + index, width=64, height=64
        )

    body = as_user(gate_world.manager).get(f"{URL}{created['public_id']}/").json()

    assert body["licences"] == [str(gate_world.x.licence.public_id)]
    assert [(a["index"], a["seed"], a["width"]) for a in body["assets"]] == [
        (0, 40, 64),
        (1, 41, 64),
    ]
    assert all(len(a["public_id"]) == 36 for a in body["assets"])


def test_a_cleanup_that_fails_after_the_commit_does_not_fail_the_cancel(
    gate_world, as_user, django_capture_on_commit_callbacks, caplog
):
    import subprocess
    from pathlib import Path

    from django.core.files.storage import default_storage

    from rightsdesk.renders.services import asset_folder

    created = as_user(gate_world.manager).post(URL, _body(gate_world), format="json").json()
    # A file the cleanup cannot delete, for real: an immutable one (root included).
    stray = Path(default_storage.path(f"{asset_folder(created['public_id'])}/stray.png"))
    stray.parent.mkdir(parents=True)
    stray.write_bytes(b"x")
    if subprocess.run(["chattr", "+i", str(stray)], capture_output=True).returncode != 0:
        pytest.skip("chattr +i is not available on this filesystem")
    try:
        with (
            django_capture_on_commit_callbacks(execute=True) as callbacks,
            caplog.at_level("ERROR"),
        ):
            response = as_user(gate_world.manager).post(f"{URL}{created['public_id']}/cancel/")
    finally:
        subprocess.run(["chattr", "-i", str(stray)], check=True)

    assert len(callbacks) == 1
    assert (response.status_code, response.json()["status"]) == (200, "cancelled")
    assert RenderRequest.objects.get(public_id=created["public_id"]).status == "cancelled"
    assert "discard_unreferenced_files" in caplog.text  # logged, with the error
    assert stray.exists()

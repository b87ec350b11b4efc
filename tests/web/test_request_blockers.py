"""A render request's page says who it waits for, to do what, and until when: the talent's
side for a held brief (no deadline), for selected images (until the deemed-approval
deadline), and the brand for drafts not yet released (until they expire)."""

import pytest

from rightsdesk.renders.models import Asset, RenderRequest
from rightsdesk.renders.states import AssetStatus
from rightsdesk.web.selectors import request_blockers
from tests.web.helpers import BRIEF, client_for, request_form

pytestmark = pytest.mark.django_db


def submit(world, brief: str = BRIEF) -> RenderRequest:
    form = request_form(world, brief=brief, idempotency_key=f"blockers-{brief[:10]}")
    client_for(world.manager).post("/requests/new/", form)
    return RenderRequest.objects.get(brief=brief)


def rendered_drafts(render_request: RenderRequest) -> list[Asset]:
    """The request's drafts as the GPU task leaves them (no rendering in these tests)."""
    return [
        Asset.objects.create(render_request=render_request, index=i, status=AssetStatus.DRAFT)
        for i in range(render_request.num_drafts)
    ]


def test_a_held_brief_waits_for_the_talents_side_with_no_deadline(world):
    render_request = submit(world, brief="Swimwear on a linen beach towel")
    assert render_request.status == "awaiting_brief_approval"

    body = client_for(world.manager).get(f"/requests/{render_request.public_id}/").content
    body = body.decode()

    assert "Waiting on" in body
    assert "Lena Moss&#x27;s side: the talent, or an agent who may negotiate uses" in body
    assert "Approve the brief" in body
    assert "No deadline: nothing is rendered until they decide." in body


def test_selected_drafts_wait_for_approval_until_the_deemed_approval_deadline(world):
    render_request = submit(world)
    drafts = rendered_drafts(render_request)
    manager = client_for(world.manager)
    manager.post(
        f"/requests/{render_request.public_id}/select/",
        {"assets": [str(asset.public_id) for asset in drafts]},
    )
    due = Asset.objects.get(pk=drafts[0].pk).approval_due_at
    assert due is not None

    body = manager.get(f"/requests/{render_request.public_id}/").content.decode()

    assert "Approve or reject 2 selected images (drafts 1, 2)" in body
    assert f'<time datetime="{due.isoformat()}">' in body
    assert "Silence until then counts as approval (deemed approval)." in body


def test_drafts_not_yet_released_wait_for_the_brand_until_they_expire(world):
    render_request = submit(world)
    drafts = rendered_drafts(render_request)

    blockers = request_blockers(render_request=render_request, assets=drafts)

    (brand,) = blockers
    assert brand.who == "The brand's campaign manager"
    assert brand.what == "Select or release 2 images"
    assert brand.until == render_request.drafts_expire_at is not None


def test_a_request_that_waits_for_no_one_lists_no_one(world):
    render_request = submit(world)  # queued, nothing rendered yet

    body = client_for(world.manager).get(f"/requests/{render_request.public_id}/").content
    assert request_blockers(render_request=render_request, assets=[]) == []
    assert "Waiting on" not in body.decode()

"""The render request's JSON is written by hand for speed (renders.apis._output): it must
stay byte for byte what RenderRequestOutputSerializer, the schema's description, writes."""

import pytest
from rest_framework.renderers import JSONRenderer

from rightsdesk.ledger.services import ledger_budget_top_up
from rightsdesk.ledger.types import owner_ref
from rightsdesk.renders.apis import RenderRequestOutputSerializer, _output
from rightsdesk.renders.models import RenderRequest
from rightsdesk.renders.services import render_request_submit
from tests.consent.gate_world import BRIEF, build_gate_world
from tests.factories import AssetFactory

pytestmark = pytest.mark.django_db


def _serialized(render_request: RenderRequest) -> bytes:
    fresh = RenderRequest.objects.get(pk=render_request.pk)
    return JSONRenderer().render(RenderRequestOutputSerializer(fresh).data)


def _submit(world, **changes) -> RenderRequest:
    values = {
        "requester": world.manager,
        "licences": [world.x.licence],
        "brief": BRIEF,
        "width": 64,
        "height": 64,
        "steps": 4,
        "num_drafts": 2,
        "territory": "FR",
        "medium": "paid_social",
    }
    return render_request_submit(**{**values, **changes})


def test_hand_written_output_matches_the_serializer_for_every_outcome():
    # Given a queued request with drafts (one incomplete), a denied one and one whose
    # brief awaits approval, each as the submission service returns it
    world = build_gate_world()
    ledger_budget_top_up(
        brand=owner_ref("brand", world.brand.public_id),
        currency="EUR",
        amount_minor=10**8,
        idempotency_key="output-test-budget",
        actor=world.staff,
    )
    queued = _submit(world, seed=9, guidance_scale=7.5, negative_prompt="blurry")
    # (the submission's answer is written from what the service wrote, before any draft)
    written_at_submission = JSONRenderer().render(_output(queued, reload=False))
    assert written_at_submission == _serialized(queued)
    AssetFactory(render_request=queued, index=1, width=64, height=64, seed=10, image_sha256="ab")
    AssetFactory(render_request=queued, index=0)
    denied = _submit(world, brief="A model in lingerie on a pier")
    awaiting = _submit(world, brief="A model in swimwear on a pier")
    assert (queued.status, denied.status, awaiting.status) == (
        "queued",
        "denied",
        "awaiting_brief_approval",
    )
    del queued.as_written  # its drafts exist now: a later answer reads them
    assert b'"index":1' in JSONRenderer().render(_output(queued, reload=False))

    for render_request in (queued, denied, awaiting):
        # When the API writes it, from the service's instance and from a fresh read
        written = JSONRenderer().render(_output(render_request, reload=False))
        reread = JSONRenderer().render(_output(render_request))

        # Then both are the serializer's bytes
        assert written == reread == _serialized(render_request)

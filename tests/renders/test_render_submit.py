"""Submitting a render request: the gate decides at once, its decision is stored with the
request, an allowed request takes its drafts and is queued after commit; denied,
cancelled and failed requests give their drafts back exactly once."""

import pytest

from rightsdesk.audit.models import AuditEvent
from rightsdesk.consent.gate import evaluate
from rightsdesk.consent.models import GateDecision
from rightsdesk.core.errors import ApplicationError
from rightsdesk.licensing.models import Licence
from rightsdesk.renders.models import RenderRequest, RenderRequestLicence
from rightsdesk.renders.selectors import render_request_decision_covers
from rightsdesk.renders.services import (
    render_request_approve_and_queue,
    render_request_attach_decision,
    render_request_cancel,
    render_request_gate_query,
    render_request_give_back_drafts,
)
from rightsdesk.renders.states import RequestStatus
from tests.consent.gate_world import build_gate_world
from tests.factories import UserFactory
from tests.renders.likeness_world import LikenessWorld, real_base_model

pytestmark = pytest.mark.django_db


@pytest.fixture
def world() -> LikenessWorld:
    # No adapter needed to submit: the gate world's likenesses suffice.
    return LikenessWorld(gate=build_gate_world(), base_model=real_base_model())


def _drafts_used(licence: Licence) -> int:
    return Licence.objects.get(pk=licence.pk).drafts_used


def _code(caught) -> str:
    return caught.value.code


def test_allowed_request_is_queued_with_its_decision_and_drafts_taken(
    world, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        render_request = world.submit(num_drafts=3)

    render_request.refresh_from_db()
    assert render_request.status == RequestStatus.QUEUED
    decision = render_request.decision
    assert (decision.action, decision.outcome) == ("render", "allow")
    assert decision.subject_reference == f"render_request:{render_request.public_id}"
    assert render_request_decision_covers(render_request)
    assert _drafts_used(world.gate.x.licence) == 3
    [link] = RenderRequestLicence.objects.filter(render_request=render_request)
    assert (link.licence, link.talent, link.likeness) == (
        world.gate.x.licence,
        world.gate.x.talent,
        world.gate.x.likeness,
    )
    assert link.drafts_taken == 3
    assert len(callbacks) == 1  # the GPU task, sent only after commit
    # One audit event records the way through the state table, checked hop by hop.
    [event] = AuditEvent.objects.filter(target_id=str(render_request.public_id))
    assert event.action == "render_request.submitted"
    assert '"path":["submitted","approved","queued"]' in event.payload_json


def test_prompt_is_composed_by_the_system_from_the_trigger_token(world):
    render_request = world.submit(brief="  linen suit on a pier ")

    token = world.gate.x.likeness.trigger_token
    assert render_request.prompt == f"a photo of {token} person, linen suit on a pier"
    assert render_request.brief == "  linen suit on a pier "


def test_denied_request_is_created_with_the_reasons_and_takes_nothing(world):
    render_request = world.submit(brief="A model in lingerie on a pier")

    render_request.refresh_from_db()
    assert render_request.status == RequestStatus.DENIED
    assert "category_never" in render_request.denial_reasons
    assert render_request.decision.outcome == "deny"
    assert render_request.spec_sha256 == ""
    assert not render_request_decision_covers(render_request)
    assert _drafts_used(world.gate.x.licence) == 0


def test_brief_needing_approval_waits_without_taking_drafts(world):
    Licence.objects.filter(pk=world.gate.x.licence.pk).update(brief_approval_required=True)

    render_request = world.submit()

    assert render_request.status == RequestStatus.AWAITING_BRIEF_APPROVAL
    assert render_request.decision.outcome == "needs_approval"
    assert _drafts_used(world.gate.x.licence) == 0


def test_allowance_lost_between_decision_and_update_denies(world, monkeypatch):
    # The gate saw drafts left, but a concurrent request took them first: the
    # conditional UPDATE takes nothing.
    monkeypatch.setattr("rightsdesk.renders.services.licence_take_drafts", lambda **kw: False)

    render_request = world.submit()

    assert render_request.status == RequestStatus.DENIED
    assert render_request.denial_reasons == ["draft_allowance_exhausted"]
    assert _drafts_used(world.gate.x.licence) == 0
    assert RenderRequestLicence.objects.get(render_request=render_request).drafts_taken == 0


def test_exhausted_allowance_is_denied_by_the_gate(world):
    Licence.objects.filter(pk=world.gate.x.licence.pk).update(drafts_used=9)

    render_request = world.submit(num_drafts=2)

    assert render_request.status == RequestStatus.DENIED
    assert "draft_allowance_exhausted" in render_request.denial_reasons
    assert _drafts_used(world.gate.x.licence) == 9


def test_same_idempotency_key_and_payload_returns_the_first_request(world):
    first = world.submit(idempotency_key="k-1")
    again = world.submit(idempotency_key="k-1")

    assert again.pk == first.pk
    assert RenderRequest.objects.count() == 1
    assert GateDecision.objects.filter(action="render").count() == 1
    assert _drafts_used(world.gate.x.licence) == 2


def test_same_idempotency_key_with_another_payload_names_the_field(world):
    world.submit(idempotency_key="k-1")

    with pytest.raises(ApplicationError) as caught:
        world.submit(idempotency_key="k-1", brief="Another brief", steps=5)

    assert _code(caught) == "idempotency_conflict"
    assert caught.value.extra["fields"] == ["brief", "steps"]
    assert RenderRequest.objects.count() == 1


def test_a_request_naming_two_talents_is_refused_and_stores_nothing(world):
    with pytest.raises(ApplicationError) as caught:
        world.submit(licences=[world.gate.x.licence, world.gate.y.licence])

    assert _code(caught) == "multi_likeness_unsupported"
    assert RenderRequest.objects.count() == 0
    assert GateDecision.objects.count() == 0
    assert _drafts_used(world.gate.x.licence) == _drafts_used(world.gate.y.licence) == 0


def test_another_brands_licence_is_not_found(world):
    manager = UserFactory(role="campaign_manager", organization=world.gate.other_brand)

    with pytest.raises(ApplicationError) as caught:
        world.submit(requester=manager)

    assert _code(caught) == "not_found"
    assert RenderRequest.objects.count() == 0


def test_only_a_campaign_manager_may_submit(world):
    with pytest.raises(ApplicationError) as caught:
        world.submit(requester=world.gate.legal)

    assert _code(caught) == "permission_denied"


@pytest.mark.parametrize(
    ("field", "value"),
    [("width", 60), ("height", 4096), ("steps", 0), ("num_drafts", 17), ("seed", -1)],
)
def test_out_of_range_spec_is_a_validation_error_naming_the_field(world, field, value):
    with pytest.raises(ApplicationError) as caught:
        world.submit(**{field: value})

    assert _code(caught) == "validation_error"
    assert field in caught.value.extra["fields"]
    assert RenderRequest.objects.count() == 0


def test_requester_cancels_a_queued_request_and_gets_the_drafts_back_once(world):
    render_request = world.submit(num_drafts=2)

    render_request_cancel(render_request=render_request, actor=world.manager)

    render_request.refresh_from_db()
    assert (render_request.status, render_request.cancel_reason) == ("cancelled", "requester")
    assert _drafts_used(world.gate.x.licence) == 0
    # Neither a second cancel nor a second give-back returns anything again.
    with pytest.raises(ApplicationError) as caught:
        render_request_cancel(render_request=render_request, actor=world.manager)
    assert _code(caught) == "invalid_transition"
    assert render_request_give_back_drafts(render_request=render_request) == 0
    assert _drafts_used(world.gate.x.licence) == 0
    events = AuditEvent.objects.filter(target_id=str(render_request.public_id))
    assert list(events.values_list("action", flat=True).order_by("sequence")) == [
        "render_request.submitted",
        "render_request.cancelled",
    ]


def test_someone_else_cannot_cancel(world):
    render_request = world.submit()
    colleague = UserFactory(role="campaign_manager", organization=world.gate.brand)

    with pytest.raises(ApplicationError) as caught:
        render_request_cancel(render_request=render_request, actor=colleague)

    assert _code(caught) == "permission_denied"
    assert RenderRequest.objects.get(pk=render_request.pk).status == RequestStatus.QUEUED
    assert _drafts_used(world.gate.x.licence) == 2


def test_a_spec_edited_after_the_decision_is_no_longer_covered(world):
    render_request = world.submit()
    assert render_request_decision_covers(render_request)

    RenderRequest.objects.filter(pk=render_request.pk).update(steps=40)
    render_request.refresh_from_db()

    assert not render_request_decision_covers(render_request)


def test_an_approved_brief_takes_its_drafts_and_is_queued(
    world, django_capture_on_commit_callbacks
):
    # Given a request waiting for the talent's approval of its brief.
    Licence.objects.filter(pk=world.gate.x.licence.pk).update(brief_approval_required=True)
    render_request = world.submit(num_drafts=2)
    assert render_request.status == RequestStatus.AWAITING_BRIEF_APPROVAL

    # When the gate, asked again with the approval, allows it.
    decision = evaluate(render_request_gate_query(render_request, approvals=frozenset({"brief"})))
    render_request_attach_decision(render_request, decision)
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        render_request_approve_and_queue(render_request=render_request, actor=None)

    # Then it holds its drafts and is queued, covered by the new decision.
    render_request.refresh_from_db()
    assert render_request.status == RequestStatus.QUEUED
    assert render_request_decision_covers(render_request)
    assert _drafts_used(world.gate.x.licence) == 2
    assert len(callbacks) == 1


def test_an_approved_brief_with_no_drafts_left_is_cancelled(world):
    Licence.objects.filter(pk=world.gate.x.licence.pk).update(brief_approval_required=True)
    render_request = world.submit(num_drafts=2)
    Licence.objects.filter(pk=world.gate.x.licence.pk).update(drafts_used=10)

    render_request_approve_and_queue(render_request=render_request, actor=None)

    render_request.refresh_from_db()
    assert (render_request.status, render_request.cancel_reason) == (
        "cancelled",
        "draft_allowance_exhausted",
    )
    assert _drafts_used(world.gate.x.licence) == 10

"""Status changes through the services: the table decides, the row moves only when allowed,
and every change is audited in the same transaction."""

from datetime import timedelta

import pytest
from django.utils import timezone

from rightsdesk.audit.models import AuditEvent
from rightsdesk.core.errors import InvalidTransition
from rightsdesk.renders.models import RenderRequest
from rightsdesk.renders.services import (
    asset_transition,
    render_request_sweep_stale,
    render_request_transition,
)
from rightsdesk.renders.states import AssetStatus, RequestStatus
from tests.factories import AssetFactory, RenderRequestFactory, UserFactory
from tests.renders.test_states import EXPECTED_ASSET_EDGES, EXPECTED_REQUEST_EDGES

REQUEST_DISALLOWED = sorted(
    {(a, b) for a in RequestStatus.values for b in RequestStatus.values} - EXPECTED_REQUEST_EDGES
)
ASSET_DISALLOWED = sorted(
    {(a, b) for a in AssetStatus.values for b in AssetStatus.values} - EXPECTED_ASSET_EDGES
)


def _asset_in(status: str):
    released_at = timezone.now() if status == AssetStatus.RELEASED else None
    return AssetFactory(status=status, released_at=released_at)


def _audit_events(target) -> list[AuditEvent]:
    return list(AuditEvent.objects.filter(target_id=str(target.public_id)).order_by("sequence"))


def test_the_disallowed_sets_are_everything_else():
    assert len(REQUEST_DISALLOWED) == 10 * 10 - 19
    assert len(ASSET_DISALLOWED) == 9 * 9 - 19


@pytest.mark.django_db
@pytest.mark.parametrize(("source", "target"), sorted(EXPECTED_REQUEST_EDGES))
def test_allowed_request_transition_moves_the_row_and_audits_it(source, target):
    render_request = RenderRequestFactory(status=source)
    actor = render_request.requester

    returned = render_request_transition(
        render_request=render_request, to=target, actor=actor, reason="requester"
    )

    assert returned is render_request
    assert returned.status == target
    assert RenderRequest.objects.get(pk=render_request.pk).status == target
    [event] = _audit_events(render_request)
    assert event.action == f"render_request.{target}"
    assert event.actor == actor
    assert f'"from":"{source}"' in event.payload_json


@pytest.mark.django_db
@pytest.mark.parametrize(("source", "target"), REQUEST_DISALLOWED)
def test_disallowed_request_transition_is_refused_and_changes_nothing(source, target):
    render_request = RenderRequestFactory(status=source)
    before = RenderRequest.objects.values().get(pk=render_request.pk)

    with pytest.raises(InvalidTransition) as caught:
        render_request_transition(render_request=render_request, to=target, actor=None)

    assert caught.value.code == "invalid_transition"
    assert caught.value.extra == {"from": source, "to": target}
    assert RenderRequest.objects.values().get(pk=render_request.pk) == before
    assert _audit_events(render_request) == []


@pytest.mark.django_db
@pytest.mark.parametrize(("source", "target"), sorted(EXPECTED_ASSET_EDGES))
def test_allowed_asset_transition_moves_the_row_and_audits_it(source, target):
    asset = _asset_in(source)
    actor = UserFactory(role="talent")

    asset_transition(asset=asset, to=target, actor=actor, reason="brief_mismatch")

    asset.refresh_from_db()
    assert asset.status == target
    [event] = _audit_events(asset)
    assert event.action == f"asset.{target}"
    assert asset.reference in event.payload_json


@pytest.mark.django_db
@pytest.mark.parametrize(("source", "target"), ASSET_DISALLOWED)
def test_disallowed_asset_transition_is_refused_and_changes_nothing(source, target):
    asset = _asset_in(source)
    before = type(asset).objects.values().get(pk=asset.pk)

    with pytest.raises(InvalidTransition) as caught:
        asset_transition(asset=asset, to=target, actor=None)

    assert caught.value.code == "invalid_transition"
    assert caught.value.extra == {"from": source, "to": target}
    assert type(asset).objects.values().get(pk=asset.pk) == before
    assert _audit_events(asset) == []


@pytest.mark.django_db
def test_starting_a_render_stamps_start_and_first_heartbeat():
    render_request = RenderRequestFactory(status=RequestStatus.QUEUED)

    render_request_transition(render_request=render_request, to="rendering", actor=None)

    render_request.refresh_from_db()
    assert render_request.started_at is not None
    assert render_request.heartbeat_at == render_request.started_at
    assert render_request.finished_at is None


@pytest.mark.django_db
def test_cancelling_keeps_the_reason_code_and_the_end_time():
    render_request = RenderRequestFactory(status=RequestStatus.QUEUED)

    render_request_transition(
        render_request=render_request,
        to="cancelled",
        actor=render_request.requester,
        reason="withdrawal",
    )

    render_request.refresh_from_db()
    assert render_request.cancel_reason == "withdrawal"
    assert render_request.failure_reason == ""
    assert render_request.finished_at is not None


@pytest.mark.django_db
def test_a_finished_render_is_at_full_progress():
    render_request = RenderRequestFactory(status=RequestStatus.RENDERING, progress=87)

    render_request_transition(render_request=render_request, to="rendered", actor=None)

    render_request.refresh_from_db()
    assert render_request.progress == 100


@pytest.mark.django_db
def test_releasing_an_asset_stamps_its_release_time():
    asset = _asset_in(AssetStatus.DEEMED_APPROVED)

    asset_transition(asset=asset, to="released", actor=asset.render_request.requester)

    asset.refresh_from_db()
    assert asset.released_at is not None


@pytest.mark.django_db
def test_a_transition_from_a_stale_copy_is_refused_and_changes_nothing():
    # Given two copies loaded while queued; the first starts the render.
    render_request = RenderRequestFactory(status=RequestStatus.QUEUED)
    stale = RenderRequest.objects.get(pk=render_request.pk)
    render_request_transition(render_request=render_request, to="rendering", actor=None)
    before = RenderRequest.objects.values().get(pk=render_request.pk)

    # When the second copy, still believing "queued", cancels: queued -> cancelled would be
    # allowed, but it was decided on a state that no longer holds.
    with pytest.raises(InvalidTransition) as caught:
        render_request_transition(render_request=stale, to="cancelled", actor=None)

    assert caught.value.extra == {"from": "rendering", "to": "cancelled", "expected": "queued"}
    assert RenderRequest.objects.values().get(pk=render_request.pk) == before
    assert len(_audit_events(render_request)) == 1


@pytest.mark.django_db
def test_sweeper_fails_renders_without_a_recent_heartbeat_and_only_those():
    now = timezone.now()
    stale = RenderRequestFactory(
        status=RequestStatus.RENDERING, heartbeat_at=now - timedelta(minutes=10)
    )
    alive = RenderRequestFactory(
        status=RequestStatus.RENDERING, heartbeat_at=now - timedelta(seconds=30)
    )
    queued = RenderRequestFactory(status=RequestStatus.QUEUED)
    RenderRequest.objects.filter(pk=queued.pk).update(updated_at=now - timedelta(hours=1))

    swept = render_request_sweep_stale(stale_after=timedelta(minutes=5), now=now)

    assert [r.pk for r in swept] == [stale.pk]
    stale.refresh_from_db()
    assert (stale.status, stale.failure_reason) == ("failed", "heartbeat_lost")
    [event] = _audit_events(stale)
    assert (event.action, event.actor_id) == ("render_request.failed", None)
    assert RenderRequest.objects.get(pk=alive.pk).status == "rendering"
    assert RenderRequest.objects.get(pk=queued.pk).status == "queued"
    assert _audit_events(alive) == [] and _audit_events(queued) == []


@pytest.mark.django_db
def test_sweeper_fails_a_render_that_never_sent_a_heartbeat():
    render_request = RenderRequestFactory(status=RequestStatus.RENDERING, heartbeat_at=None)
    RenderRequest.objects.filter(pk=render_request.pk).update(
        updated_at=timezone.now() - timedelta(hours=1)
    )

    render_request_sweep_stale(stale_after=timedelta(minutes=5))

    assert RenderRequest.objects.get(pk=render_request.pk).status == "failed"

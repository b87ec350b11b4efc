"""A broker that cannot be reached when a render is queued: the submission stands (201,
queued, nothing lost, the failed send logged) and the sweeper sends the task again once the
broker is back; a request left queued gets one more message per period, not one per sweep.

The outage is real: the application's Celery connections point at a closed port, so kombu
connects, is refused, retries by its policy and gives up."""

import contextlib
from datetime import timedelta

import pytest
from celery.signals import after_task_publish
from django.utils import timezone

from rightsdesk.renders.models import RenderRequest
from rightsdesk.renders.services import render_request_resend_queued
from rightsdesk.renders.states import RequestStatus
from rightsdesk.renders.tasks import render_request_task, sweep_stale_renders_task
from tests.celery_worker import WorkerNamespace, broker_unreachable
from tests.consent.gate_world import build_gate_world
from tests.factories import RenderRequestFactory
from tests.renders.test_render_apis import _body as submission_body

URL = "/api/v1/render-requests/"
PERIOD = timedelta(minutes=10)


@contextlib.contextmanager
def published_render_tasks():
    """The ids of the render tasks the broker accepted (Celery's own signal, sent after
    the publish returned)."""
    ids: list[int] = []

    def receiver(sender=None, body=None, **kwargs):
        if sender == render_request_task.name:
            ids.append(body[0][0])  # protocol 2: (args, kwargs, embed)

    after_task_publish.connect(receiver, weak=False)
    try:
        yield ids
    finally:
        after_task_publish.disconnect(receiver)


def _body(world) -> dict:
    return submission_body(world, num_drafts=1, idempotency_key="outage-1")


@pytest.mark.django_db
def test_a_submission_while_the_broker_is_down_is_queued_not_a_500(
    as_user, django_capture_on_commit_callbacks, caplog
):
    world = build_gate_world()
    client = as_user(world.manager)
    with (
        broker_unreachable(),
        published_render_tasks() as published,
        django_capture_on_commit_callbacks(execute=True) as callbacks,
        caplog.at_level("WARNING", logger="rightsdesk.renders.services"),
    ):
        response = client.post(URL, _body(world), format="json")

    assert len(callbacks) == 1  # the send was tried, after the commit
    assert published == []
    assert response.status_code == 201, response.content
    assert response.json()["status"] == "queued"
    stored = RenderRequest.objects.get(public_id=response.json()["public_id"])
    assert stored.status == RequestStatus.QUEUED
    assert "its task was not sent (broker unreachable)" in caplog.text
    # A replay answers the same request; nothing was lost or doubled.
    again = client.post(URL, _body(world), format="json")
    assert (again.status_code, again.json()["public_id"]) == (201, str(stored.public_id))
    assert RenderRequest.objects.count() == 1


@pytest.mark.django_db(transaction=True)
def test_requests_left_queued_are_sent_again_once_per_period(tmp_path):
    now = timezone.now()
    left = RenderRequestFactory(status=RequestStatus.QUEUED)
    waiting = RenderRequestFactory(status=RequestStatus.QUEUED)
    others = [
        RenderRequestFactory(status=status)
        for status in (RequestStatus.RENDERING, RequestStatus.DENIED, RequestStatus.CANCELLED)
    ]
    RenderRequest.objects.filter(pk__in=[left.pk, *(o.pk for o in others)]).update(
        updated_at=now - PERIOD - timedelta(seconds=1)
    )
    RenderRequest.objects.filter(pk=waiting.pk).update(updated_at=now - PERIOD / 2)

    # A private file broker: the messages sent here reach no worker of another test.
    with WorkerNamespace(tmp_path, broker="file"), published_render_tasks() as published:
        first = render_request_resend_queued(unsent_after=PERIOD, now=now)
        overlapping = render_request_resend_queued(unsent_after=PERIOD, now=now)
        next_period = render_request_resend_queued(
            unsent_after=PERIOD, now=now + PERIOD + timedelta(seconds=1)
        )

    assert first == [left.pk]
    assert overlapping == []  # claimed by the first: sent once
    assert next_period == [waiting.pk, left.pk]  # the longest left first
    assert published == [left.pk, waiting.pk, left.pk]
    assert {r.status for r in RenderRequest.objects.filter(pk__in=[o.pk for o in others])} == {
        o.status for o in others
    }


@pytest.mark.django_db(transaction=True)
def test_the_sweeper_sends_them_and_a_send_the_broker_refuses_waits_for_the_next(
    tmp_path, settings
):
    settings.RIGHTSDESK_RENDER_RESEND_QUEUED_SECONDS = 60
    left = RenderRequestFactory(status=RequestStatus.QUEUED)
    RenderRequest.objects.filter(pk=left.pk).update(
        updated_at=timezone.now() - timedelta(minutes=5)
    )

    with broker_unreachable(), published_render_tasks() as published:
        assert render_request_resend_queued(unsent_after=timedelta(minutes=1)) == []
    assert published == []
    # The refused attempt holds the lease too: the next try comes a period later.
    assert RenderRequest.objects.get(pk=left.pk).updated_at > timezone.now() - timedelta(seconds=30)
    RenderRequest.objects.filter(pk=left.pk).update(
        updated_at=timezone.now() - timedelta(minutes=5)
    )

    with WorkerNamespace(tmp_path, broker="file"), published_render_tasks() as published:
        assert sweep_stale_renders_task() == 1
    assert published == [left.pk]

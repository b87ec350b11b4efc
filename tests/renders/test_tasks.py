"""The sweeper task, run by a real Celery worker against the test database."""

import time
from datetime import timedelta

import pytest
from django.conf import settings
from django.utils import timezone

from rightsdesk.audit.models import AuditEvent
from rightsdesk.renders.models import RenderRequest
from rightsdesk.renders.states import RequestStatus
from rightsdesk.renders.tasks import sweep_stale_renders_task
from tests.factories import RenderRequestFactory


def worker_test(test):
    """A test run by the real worker: it sees only committed rows, hence transaction=True."""
    return pytest.mark.worker(pytest.mark.django_db(transaction=True)(test))


def _wait_for_status(pk: int, status: str, worker, timeout: float = 30.0) -> RenderRequest:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        render_request = RenderRequest.objects.get(pk=pk)
        if render_request.status == status:
            return render_request
        worker.assert_alive()
        time.sleep(0.05)
    raise AssertionError(f"still {render_request.status} after {timeout}s:\n{worker.log_tail()}")


@worker_test
def test_worker_fails_a_render_whose_heartbeat_stopped(celery_worker_process):
    # Given a render whose worker went silent an hour ago, and one that is alive.
    now = timezone.now()
    stale = RenderRequestFactory(
        status=RequestStatus.RENDERING, heartbeat_at=now - timedelta(hours=1)
    )
    alive = RenderRequestFactory(status=RequestStatus.RENDERING, heartbeat_at=now)

    # When the sweeper runs on the worker.
    sweep_stale_renders_task.delay()

    # Then the silent one fails, audited as the system's act, and the live one renders on.
    stale = _wait_for_status(stale.pk, RequestStatus.FAILED, celery_worker_process)
    assert stale.failure_reason == "heartbeat_lost"
    event = AuditEvent.objects.get(target_id=str(stale.public_id))
    assert (event.action, event.actor_id) == ("render_request.failed", None)
    assert RenderRequest.objects.get(pk=alive.pk).status == RequestStatus.RENDERING
    assert not AuditEvent.objects.filter(target_id=str(alive.public_id)).exists()


def test_sweeper_is_scheduled_by_celery_beat():
    entries = {entry["task"] for entry in settings.CELERY_BEAT_SCHEDULE.values()}
    assert sweep_stale_renders_task.name in entries


@pytest.mark.redis
@worker_test
def test_worker_and_tests_share_only_the_flushed_redis_database(celery_worker_process):
    import redis

    client = redis.Redis.from_url(settings.CELERY_BROKER_URL)
    stale = RenderRequestFactory(
        status=RequestStatus.RENDERING, heartbeat_at=timezone.now() - timedelta(hours=1)
    )

    sweep_stale_renders_task.delay()

    _wait_for_status(stale.pk, RequestStatus.FAILED, celery_worker_process)
    # The worker bound its queues in this database (kombu keeps bindings in Redis sets)
    # and consumed the message from it: nothing is left waiting.
    assert client.exists("_kombu.binding.default")
    assert client.llen("default") == 0
    assert celery_worker_process.broker_url == settings.CELERY_BROKER_URL


def test_a_render_task_is_sent_with_its_arguments_text_as_celery_writes_it():
    # The submission gives Celery the arguments' text for the worker's log (Celery's own
    # saferepr of them cost a fifth of the send): it must read as Celery would write it.
    from celery.utils.saferepr import saferepr

    from rightsdesk.renders import services
    from tests.celery_worker import broker_at
    from tests.core.test_task_sender import _drain

    with broker_at("memory://"):
        assert services._send_render_task(12345)
        [message] = _drain("gpu")

    assert message.decode()[0] == [12345]
    assert message.headers["argsrepr"] == saferepr((12345,))
    assert message.headers["kwargsrepr"] == saferepr({})

"""Rendering with real parts: a real Celery worker process (prefork, one child, as in
production) on the test database, the configured broker (Redis where stated), short time
limits, and a sealed adapter trained on the tiny pipeline.

The workers here may be killed, so they are this module's own (``WorkerNamespace``), not
the session worker; the file-broker test forces the file broker whatever is configured.
"""

import io
import os
import re
import signal
import time
from datetime import timedelta

import pytest
from django.core.files.storage import default_storage
from django.utils import timezone
from PIL import Image

from rightsdesk.audit.models import AuditEvent
from rightsdesk.celery import app as celery_app
from rightsdesk.licensing.models import Licence
from rightsdesk.renders.models import RenderRequest
from rightsdesk.renders.services import (
    render_request_cancel,
    render_request_resend_queued,
    render_request_sweep_stale,
)
from rightsdesk.renders.states import RequestStatus
from rightsdesk.renders.tasks import render_request_task
from tests.celery_worker import WorkerNamespace, WorkerProcess, broker_unreachable
from tests.renders.likeness_world import build_likeness_world
from tests.renders.likeness_world import draft_files as _files

# Short limits: the soft limit fails a render, the hard one kills its process; settings
# raise the visibility timeout to the hard limit + 5 s (here 25 s).
WORKER_ENV = {
    "RIGHTSDESK_RENDER_SOFT_LIMIT_S": "15",
    "RIGHTSDESK_RENDER_HARD_LIMIT_S": "20",
    "CELERY_VISIBILITY": "5",
}
TASK = render_request_task.name


def worker_test(test):
    """A test run by a real worker: it sees only committed rows, hence transaction=True."""
    return pytest.mark.worker(pytest.mark.django_db(transaction=True)(test))


@pytest.fixture(scope="module")
def render_worker(django_db_setup, tmp_path_factory):
    with WorkerNamespace(tmp_path_factory.mktemp("render-worker")) as namespace:
        yield namespace.start(env=WORKER_ENV, name="render")


@pytest.fixture
def world():
    return build_likeness_world()


def _wait(pk: int, worker: WorkerProcess, until, what: str, timeout: float = 60.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        render_request = RenderRequest.objects.get(pk=pk)
        if until(render_request):
            return render_request
        worker.assert_alive()
        time.sleep(0.02)
    raise AssertionError(
        f"not {what} after {timeout}s: {render_request.status} "
        f"{render_request.progress}%\n{worker.log_tail()}"
    )


def _wait_status(pk, worker, status, timeout=60.0):
    return _wait(pk, worker, lambda r: r.status == status, status, timeout)


def _wait_log(worker: WorkerProcess, pattern: str, count: int = 1, timeout: float = 30.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if len(re.findall(pattern, worker.log_tail(200_000))) >= count:
            return
        worker.assert_alive()
        time.sleep(0.05)
    raise AssertionError(f"no {pattern!r} in the worker log:\n{worker.log_tail()}")


def _drafts_used(world) -> int:
    return Licence.objects.get(pk=world.gate.x.licence.pk).drafts_used


def _assert_one_set_of_pngs(render_request, count: int, size: int) -> None:
    assets = list(render_request.assets.order_by("index"))
    assert [asset.index for asset in assets] == list(range(count))
    for asset in assets:
        with default_storage.open(asset.image.name, "rb") as handle:
            image = Image.open(io.BytesIO(handle.read()))
            assert (image.format, image.size) == ("PNG", (size, size))
    # No stray file of another attempt beside them.
    assert sorted(_files(render_request)) == sorted(a.image.name.rsplit("/", 1)[1] for a in assets)


@worker_test
def test_a_render_reaches_rendered_with_its_drafts_as_pngs(render_worker, world):
    # When a campaign manager submits (the task is sent after commit).
    render_request = world.submit(num_drafts=2, width=64, height=64, steps=4)
    assert render_request.status == RequestStatus.QUEUED

    # Then the worker renders both drafts at the requested size.
    render_request = _wait_status(render_request.pk, render_worker, RequestStatus.RENDERED)
    assert render_request.progress == 100
    _assert_one_set_of_pngs(render_request, 2, 64)
    assert render_request.worker_id.split(":")[-1] != str(render_worker.process.pid)  # a child
    assert render_request.render_decision.outcome == "allow"
    assert _drafts_used(world) == 2


@worker_test
def test_a_render_queued_while_the_broker_was_down_is_rendered_once_sent_again(
    render_worker, world, caplog
):
    # Given a submission made while the broker refused every connection.
    with broker_unreachable(), caplog.at_level("WARNING", logger="rightsdesk.renders.services"):
        render_request = world.submit(num_drafts=1, width=64, height=64, steps=4)
    assert render_request.status == RequestStatus.QUEUED
    assert "its task was not sent" in caplog.text
    time.sleep(0.5)
    assert RenderRequest.objects.get(pk=render_request.pk).status == RequestStatus.QUEUED

    # When the sweeper comes by after the period (before it, it leaves the request alone).
    period = timedelta(minutes=10)
    assert render_request_resend_queued(unsent_after=period) == []
    later = timezone.now() + period + timedelta(seconds=1)
    assert render_request_resend_queued(unsent_after=period, now=later) == [render_request.pk]

    # Then the worker renders it, once.
    render_request = _wait_status(render_request.pk, render_worker, RequestStatus.RENDERED)
    _assert_one_set_of_pngs(render_request, 1, 64)
    assert _drafts_used(world) == 1


@worker_test
def test_cancelling_mid_render_stops_it_and_keeps_nothing(render_worker, world):
    render_request = world.submit(num_drafts=2, width=128, height=128, steps=120)
    _wait(render_request.pk, render_worker, lambda r: r.progress > 0, "started")

    render_request_cancel(render_request=render_request, actor=world.manager)

    # The task ends at its next step ("stopped"), long before 240 steps could run.
    _wait_log(render_worker, rf"{re.escape(TASK)}\[[^\]]+\] succeeded in [\d.]+s: 'stopped'")
    render_request.refresh_from_db()
    assert (render_request.status, render_request.cancel_reason) == ("cancelled", "requester")
    assert render_request.progress < 100
    assert not render_request.assets.exists()
    assert _files(render_request) == []
    assert _drafts_used(world) == 0


@worker_test
def test_a_task_for_a_denied_request_or_a_forged_one_renders_nothing(render_worker, world):
    denied = world.submit(brief="A model in lingerie on a pier")
    assert denied.status == RequestStatus.DENIED
    edited = world.submit(num_drafts=2)
    before = edited.status
    refused = len(re.findall("'gate_required'", render_worker.log_tail(200_000)))

    # A task for the denied request, a hand-built message naming no request, and one for
    # a request whose spec was changed after the gate allowed it.
    render_request_task.delay(denied.pk)
    celery_app.send_task(TASK, args=[2_000_000_000])
    _wait_status(edited.pk, render_worker, RequestStatus.RENDERED)  # its own task ran
    RenderRequest.objects.filter(pk=edited.pk).update(status=before, width=256)
    celery_app.send_task(TASK, args=[edited.pk])

    _wait_log(render_worker, "'gate_required'", count=refused + 3)
    denied.refresh_from_db()
    assert denied.status == RequestStatus.DENIED
    assert not denied.assets.exists() and _files(denied) == []
    assert AuditEvent.objects.filter(
        target_id=str(denied.public_id), action="render_request.task_refused"
    ).exists()
    edited.refresh_from_db()
    assert (edited.status, edited.failure_reason) == ("failed", "gate_required")
    assert edited.assets.count() == 2  # the set rendered before the edit, nothing more


@pytest.mark.redis
@worker_test
def test_killing_the_pool_child_mid_render_redelivers_and_makes_one_set(render_worker, world):
    render_request = world.submit(num_drafts=2, width=128, height=128, steps=60)
    render_request = _wait(render_request.pk, render_worker, lambda r: r.progress > 0, "started")
    [child] = render_worker.pool_pids()
    assert render_request.worker_id.endswith(f":{child}")

    os.kill(child, signal.SIGKILL)

    # reject_on_worker_lost puts the message back; a new child takes the render over.
    render_request = _wait_status(
        render_request.pk, render_worker, RequestStatus.RENDERED, timeout=120
    )
    assert not render_request.worker_id.endswith(f":{child}")
    _assert_one_set_of_pngs(render_request, 2, 128)
    assert AuditEvent.objects.filter(
        target_id=str(render_request.public_id), action="render_request.restarted"
    ).exists()
    assert _drafts_used(world) == 2


@worker_test
def test_file_broker_loses_a_killed_workers_task_and_the_sweeper_requeues_it(
    render_worker, world, tmp_path
):
    # On the file broker a message is gone once received: a worker killed outright (main
    # process and pool) leaves the render `rendering` with nobody to finish it.
    with WorkerNamespace(tmp_path, broker="file") as namespace:
        first = namespace.start(env=WORKER_ENV, name="doomed")
        render_request = world.submit(num_drafts=2, width=128, height=128, steps=60)
        _wait(render_request.pk, first, lambda r: r.progress > 0, "started")
        pool = first.pool_pids()
        os.kill(first.process.pid, signal.SIGKILL)
        for pid in pool:
            os.kill(pid, signal.SIGKILL)
        first.process.wait(timeout=10)
        time.sleep(1.5)
        assert RenderRequest.objects.get(pk=render_request.pk).status == RequestStatus.RENDERING

        # The sweeper finds its heartbeat stale and puts it back on the queue ...
        swept = render_request_sweep_stale(stale_after=timedelta(seconds=1))
        assert [r.pk for r in swept] == [render_request.pk]
        render_request.refresh_from_db()
        assert (render_request.status, render_request.requeue_count) == ("queued", 1)

        # ... where a restarted worker renders it, once.
        second = namespace.start(env=WORKER_ENV, name="restarted")
        render_request = _wait_status(render_request.pk, second, RequestStatus.RENDERED)
    _assert_one_set_of_pngs(render_request, 2, 128)
    assert _drafts_used(world) == 2

"""Two transitions racing on one request: exactly one wins, on real row locks."""

import threading
import time
from collections.abc import Callable

import pytest
from django.db import connection, connections, transaction

from rightsdesk.audit.models import AuditEvent
from rightsdesk.core.errors import InvalidTransition
from rightsdesk.renders.models import RenderRequest
from rightsdesk.renders.services import render_request_transition
from rightsdesk.renders.states import RequestStatus
from tests.factories import RenderRequestFactory


def _in_thread(work: Callable[[], None], outcomes: dict, name: str) -> threading.Thread:
    def run() -> None:
        try:
            work()
            outcomes[name] = "won"
        except InvalidTransition as exc:
            outcomes[name] = exc
        finally:
            connections.close_all()  # the test database cannot be dropped under open ones

    return threading.Thread(target=run, name=name)


def _transition_from_fresh_copy(pk: int, to: str, barrier: threading.Barrier) -> Callable:
    def work() -> None:
        copy = RenderRequest.objects.get(pk=pk)  # both copies see "queued"
        barrier.wait(timeout=10)
        render_request_transition(render_request=copy, to=to, actor=None, reason="requester")

    return work


def _wait_for_lock_waiter(timeout: float = 10.0) -> None:
    with connection.cursor() as cursor:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            cursor.execute(
                "SELECT count(*) FROM pg_stat_activity"
                " WHERE datname = current_database() AND wait_event_type = 'Lock'"
            )
            if cursor.fetchone()[0]:
                return
            time.sleep(0.01)
    raise AssertionError("the second transition never waited on the row lock")


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_cancel_waits_on_the_row_lock_and_loses_to_a_render_that_started():
    # Given a queued request, loaded by the worker and by the requester.
    render_request = RenderRequestFactory(status=RequestStatus.QUEUED)
    worker_copy = RenderRequest.objects.get(pk=render_request.pk)
    requester_copy = RenderRequest.objects.get(pk=render_request.pk)
    outcomes: dict = {}
    holding = threading.Event()
    release = threading.Event()

    def start_rendering() -> None:
        with transaction.atomic():
            render_request_transition(render_request=worker_copy, to="rendering", actor=None)
            holding.set()
            release.wait(timeout=10)  # keep the row locked until the cancel is waiting

    def cancel() -> None:
        holding.wait(timeout=10)
        render_request_transition(render_request=requester_copy, to="cancelled", actor=None)

    # When the cancel arrives while the worker's transaction holds the row.
    threads = [
        _in_thread(start_rendering, outcomes, "start"),
        _in_thread(cancel, outcomes, "cancel"),
    ]
    for thread in threads:
        thread.start()
    holding.wait(timeout=10)
    _wait_for_lock_waiter()
    release.set()
    for thread in threads:
        thread.join(timeout=20)

    # Then the cancel, woken after the commit, sees "rendering" and is refused.
    assert outcomes["start"] == "won"
    assert isinstance(outcomes["cancel"], InvalidTransition)
    assert outcomes["cancel"].extra["from"] == "rendering"
    assert RenderRequest.objects.get(pk=render_request.pk).status == "rendering"
    actions = AuditEvent.objects.filter(target_id=str(render_request.public_id))
    assert list(actions.values_list("action", flat=True)) == ["render_request.rendering"]


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("round_number", range(5))
def test_cancel_and_start_rendering_at_once_exactly_one_wins(round_number):
    render_request = RenderRequestFactory(status=RequestStatus.QUEUED)
    barrier = threading.Barrier(2)
    outcomes: dict = {}
    threads = [
        _in_thread(_transition_from_fresh_copy(render_request.pk, to, barrier), outcomes, to)
        for to in ("cancelled", "rendering")
    ]

    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)

    winners = [to for to, outcome in outcomes.items() if outcome == "won"]
    assert len(outcomes) == 2 and len(winners) == 1
    assert RenderRequest.objects.get(pk=render_request.pk).status == winners[0]
    events = AuditEvent.objects.filter(target_id=str(render_request.public_id))
    assert list(events.values_list("action", flat=True)) == [f"render_request.{winners[0]}"]

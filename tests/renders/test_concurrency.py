"""Two transitions racing on one request: exactly one wins, on real row locks."""

import threading
import time
from collections.abc import Callable

import pytest
from django.db import connection, connections, transaction
from django.utils import timezone

from rightsdesk.audit.models import AuditEvent
from rightsdesk.audit.verify import verify_chain
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


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_a_withdrawal_and_submissions_on_the_same_budget_never_deadlock(monkeypatch):
    """A withdrawal voids reservations on the brand's budget while submissions under the
    brand's other licence reserve on it. Both take the budget's rows before the audit
    chain (the withdrawal's events are appended last): were the withdrawal to take the
    chain first, each would hold what the other waits for, and PostgreSQL would abort one
    as a deadlock."""
    import rightsdesk.renders.services as services
    from rightsdesk.consent.services import withdrawal_apply
    from rightsdesk.ledger.models import Reservation
    from rightsdesk.ledger.services import ledger_budget_top_up
    from rightsdesk.ledger.types import owner_ref
    from rightsdesk.licensing.models import Licence
    from tests.consent.gate_world import BRIEF, build_gate_world, withdraw

    monkeypatch.setattr(services, "_send_render_task", lambda pk: None)  # no worker here
    world = build_gate_world()
    Licence.objects.filter(pk__in=[world.x.licence.pk, world.y.licence.pk]).update(
        draft_allowance=1000
    )
    ledger_budget_top_up(
        brand=owner_ref("brand", world.brand.public_id),
        currency=world.x.licence.currency,
        amount_minor=10**12,
        idempotency_key="deadlock-test-budget",
        actor=world.staff,
    )

    def submit(side, seed: int) -> RenderRequest:
        return services.render_request_submit(
            requester=world.manager,
            licences=[side.licence],
            brief=BRIEF,
            width=64,
            height=64,
            steps=1,
            seed=seed,
            num_drafts=1,
            territory="FR",
            medium="paid_social",
        )

    # Given queued requests under Y's licence, each holding a reservation on the budget
    held = [submit(world.y, seed) for seed in range(6)]
    assert {r.status for r in held} == {RequestStatus.QUEUED}
    withdrawal = withdraw(
        licence=world.y.licence,
        talent=world.y.talent,
        by=world.y.talent.user,
        effective_at=timezone.now(),
    )
    errors: list[BaseException] = []
    start = threading.Barrier(4)

    def run(work: Callable[[], None]) -> threading.Thread:
        def body() -> None:
            try:
                start.wait(timeout=10)
                work()
            except BaseException as error:  # a deadlock surfaces here as OperationalError
                errors.append(error)
            finally:
                connections.close_all()

        return threading.Thread(target=body)

    # When the withdrawal takes effect while three threads submit under X's licence
    threads = [run(lambda: withdrawal_apply(withdrawal=withdrawal))]
    threads += [
        run(lambda n=n: [submit(world.x, 100 + 10 * n + k) for k in range(4)]) for n in range(3)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)

    # Then nothing failed: Y's requests were cancelled with their holds voided, X's queued
    assert errors == []
    statuses = RenderRequest.objects.filter(licence_links__licence=world.y.licence).values_list(
        "status", flat=True
    )
    assert set(statuses) == {RequestStatus.CANCELLED}
    x_requests = RenderRequest.objects.filter(licence_links__licence=world.x.licence)
    assert x_requests.count() == 12 and {r.status for r in x_requests} == {RequestStatus.QUEUED}
    voided = Reservation.objects.filter(status=Reservation.Status.VOIDED).count()
    assert voided == len(held)
    assert verify_chain().first_break is None

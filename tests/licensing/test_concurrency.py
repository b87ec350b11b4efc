"""Acceptances race on real row locks (PostgreSQL): the talent's row serialises every
writer of the talent's exclusivity picture, so none passes on a stale view of it."""

import threading
import time
from collections.abc import Callable

import pytest
from django.db import connection, connections, transaction

from rightsdesk.core.errors import ApplicationError
from rightsdesk.core.vocab import TerritorySpec
from rightsdesk.licensing.models import ExternalCommitment, Licence, LicenceOffer
from rightsdesk.licensing.services import external_commitment_create
from tests.licensing.conftest import accept, propose
from tests.licensing.factories import DAY, active_agreement, exclusivity, now_s


def _run(work: Callable[[], object], outcomes: dict, name: str) -> threading.Thread:
    def target() -> None:
        try:
            work()
            outcomes[name] = "won"
        except ApplicationError as exc:
            outcomes[name] = exc.code
        finally:
            connections.close_all()

    return threading.Thread(target=target, name=name)


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
    raise AssertionError("the second writer never waited on the talent's row lock")


def _holding(work: Callable[[], object], holding: threading.Event, release: threading.Event):
    def run() -> None:
        with transaction.atomic():
            work()
            holding.set()
            release.wait(timeout=10)  # keep the talent's row locked until the other waits

    return run


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_an_acceptance_waits_for_a_commitment_being_recorded_and_then_sees_it(deal):
    licence = propose(deal)
    holding, release = threading.Event(), threading.Event()
    outcomes: dict = {}

    def record() -> None:
        external_commitment_create(
            talent=deal.talent,
            category="beauty",
            territories=TerritorySpec(include=("EU",)),
            starts_at=now_s(),
            ends_at=now_s() + 365 * DAY,
            counterparty="Outside booking",
            actor=deal.users["agent"],
        )

    def accept_licence() -> None:
        holding.wait(timeout=10)
        accept(Licence.objects.get(pk=licence.pk), deal.users["talent"])

    threads = [
        _run(_holding(record, holding, release), outcomes, "commitment"),
        _run(accept_licence, outcomes, "acceptance"),
    ]
    for thread in threads:
        thread.start()
    holding.wait(timeout=10)
    _wait_for_lock_waiter()
    release.set()
    for thread in threads:
        thread.join(timeout=30)

    assert outcomes == {"commitment": "won", "acceptance": "exclusivity_conflict"}
    assert ExternalCommitment.objects.count() == 1
    assert Licence.objects.get(pk=licence.pk).status == "proposed"


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_two_acceptances_for_different_brands_are_serialised_and_the_exclusivity_holds(deal):
    # Given brand A holds beauty exclusivity in the EU, and both brands have a fragrance
    # licence for Germany awaiting the talent's answer.
    active_agreement(
        talent=deal.talent,
        brand=deal.brand_a,
        legal=deal.users["legal_a"],
        principal=deal.talent.user,
        exclusivities=(exclusivity("beauty", ("EU",), now_s(), now_s() + 365 * DAY),),
    )
    licence_a, licence_b = propose(deal, brand="a"), propose(deal, brand="b")
    holding, release = threading.Event(), threading.Event()
    outcomes: dict = {}

    def accept_b() -> None:
        holding.wait(timeout=10)
        accept(Licence.objects.get(pk=licence_b.pk), deal.users["agent"])

    # When the talent accepts A while the agent accepts B at the same moment.
    threads = [
        _run(
            _holding(
                lambda: accept(Licence.objects.get(pk=licence_a.pk), deal.users["talent"]),
                holding,
                release,
            ),
            outcomes,
            "a",
        ),
        _run(accept_b, outcomes, "b"),
    ]
    for thread in threads:
        thread.start()
    holding.wait(timeout=10)
    _wait_for_lock_waiter()  # B waits for A's transaction to end
    release.set()
    for thread in threads:
        thread.join(timeout=30)

    # Then only A's licence is accepted.
    assert outcomes == {"a": "won", "b": "exclusivity_conflict"}
    statuses = dict(Licence.objects.values_list("brand__name", "status"))
    assert statuses == {deal.brand_a.name: "accepted", deal.brand_b.name: "proposed"}


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("round_number", range(3))
def test_the_talent_and_the_agent_accepting_at_once_accept_once(deal, round_number):
    licence = propose(deal)
    barrier = threading.Barrier(2)
    outcomes: dict = {}

    def by(role: str) -> Callable[[], None]:
        def work() -> None:
            copy = Licence.objects.get(pk=licence.pk)
            barrier.wait(timeout=10)
            accept(copy, deal.users[role])

        return work

    threads = [_run(by(role), outcomes, role) for role in ("talent", "agent")]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)

    assert sorted(outcomes.values()) == ["invalid_transition", "won"]
    assert LicenceOffer.objects.filter(licence=licence, kind="accepted").count() == 1
    assert Licence.objects.get(pk=licence.pk).status == "accepted"

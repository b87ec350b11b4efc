"""A reservation in two steps: ``ledger_reserve_plan`` reads and checks without locking,
``ledger_reserve_planned`` locks the budget and writes. A caller holding hot rows of its
own (a render submission) plans before it takes them."""

import datetime

import pytest
from django.db import connection, transaction
from django.utils import timezone

from rightsdesk.audit.services import audit_deferred
from rightsdesk.ledger.errors import BudgetInsufficient
from rightsdesk.ledger.models import Reservation
from rightsdesk.ledger.services import (
    ledger_reserve,
    ledger_reserve_plan,
    ledger_reserve_planned,
)
from tests.ledger.conftest import account, fee_spec, fund, later, ledger_counts, totals

pytestmark = pytest.mark.django_db


def plan(parties, key: str, *, fee_minor: int = 10_000, expires_at=None):
    return ledger_reserve_plan(
        fee=fee_spec(parties, fee_minor=fee_minor),
        reference=f"asset:{key}",
        idempotency_key=key,
        expires_at=expires_at or later(),
    )


def test_a_planned_reservation_holds_what_ledger_reserve_holds(parties):
    fund(parties, 50_000)
    with transaction.atomic():
        planned = ledger_reserve_planned(plan(parties, "p1"))
    reserved = ledger_reserve(
        fee=fee_spec(parties), reference="asset:p2", idempotency_key="p2", expires_at=later()
    )

    assert (planned.amount_minor, planned.lines_json) == (
        reserved.amount_minor,
        reserved.lines_json,
    )
    assert account(parties.brand, "budget").available_minor == 50_000 - 2 * 11_000


def test_a_refusal_writes_nothing_and_the_callers_transaction_goes_on(parties):
    fund(parties, 5_000)
    before = ledger_counts(), totals()

    with transaction.atomic():  # no savepoint of the caller's around the refusal
        with pytest.raises(BudgetInsufficient):
            ledger_reserve_planned(plan(parties, "too-much"))
        assert not connection.needs_rollback
        fund(parties, 20_000, key="after-the-refusal")  # the transaction is usable

    assert ledger_counts()[2] == before[0][2]  # no reservation
    assert account(parties.brand, "budget").available_minor == 25_000


def test_the_plan_of_a_used_key_answers_with_the_first_reservation(parties):
    fund(parties, 50_000)
    first = ledger_reserve(
        fee=fee_spec(parties), reference="asset:k", idempotency_key="k", expires_at=later(2)
    )

    replay = plan(parties, "k", expires_at=first.expires_at)

    assert replay.existing is not None
    with transaction.atomic():
        assert ledger_reserve_planned(replay).pk == first.pk
    assert Reservation.objects.count() == 1


def test_a_twin_planned_before_the_first_was_written_gets_the_first(parties):
    # Given two plans of the same key and payload, made before either was written (two
    # callers racing): neither saw the other
    fund(parties, 50_000)
    expires = later()
    one, two = plan(parties, "twin", expires_at=expires), plan(parties, "twin", expires_at=expires)

    with transaction.atomic():
        first = ledger_reserve_planned(one)
    with transaction.atomic():
        second = ledger_reserve_planned(two)

    # Then the second answers with the first, and the budget holds the fee once
    assert second.pk == first.pk and Reservation.objects.count() == 1
    assert account(parties.brand, "budget").available_minor == 50_000 - 11_000


def test_reservations_lapsed_when_it_was_planned_free_their_hold_first(parties):
    # Given a budget whose only reservation is past its deadline
    fund(parties, 11_000)
    lapsed = ledger_reserve(
        fee=fee_spec(parties), reference="asset:old", idempotency_key="old", expires_at=later()
    )
    Reservation.objects.filter(pk=lapsed.pk).update(
        expires_at=timezone.now() - datetime.timedelta(minutes=1)
    )

    # When a new one of the same size is planned and made
    with transaction.atomic():
        fresh = ledger_reserve_planned(plan(parties, "new"))

    # Then the lapsed one expired as of its deadline and the new one holds the budget
    lapsed.refresh_from_db()
    assert lapsed.status == Reservation.Status.EXPIRED
    assert fresh.status == Reservation.Status.PENDING
    assert account(parties.brand, "budget").available_minor == 0


@pytest.mark.django_db(transaction=True)  # a test's own transaction would hide the check
def test_planned_outside_a_transaction_is_refused(parties):
    fund(parties, 50_000)
    with pytest.raises(RuntimeError):
        ledger_reserve_planned(plan(parties, "no-transaction"))


@pytest.mark.postgres
def test_on_postgresql_the_lock_the_check_and_the_insert_are_one_statement(
    parties, django_assert_num_queries
):
    # given a funded budget and a plan made before any lock
    fund(parties, 50_000)
    planned = plan(parties, "one-statement")

    # when it is reserved (its audit event held for the end of the caller's block)
    with transaction.atomic(), audit_deferred(), django_assert_num_queries(1):
        reservation = ledger_reserve_planned(planned)

    # then one statement locked the accounts, found the amount and wrote the hold
    assert reservation.pk is not None
    assert account(parties.brand, "budget").available_minor == 50_000 - 11_000


@pytest.mark.postgres
def test_on_postgresql_a_refusal_in_that_statement_names_what_the_budget_holds(
    parties, django_assert_num_queries
):
    fund(parties, 5_000)
    planned = plan(parties, "refused-in-one")
    before = ledger_counts(), totals()

    with (
        transaction.atomic(),
        django_assert_num_queries(1),
        pytest.raises(BudgetInsufficient) as refused,
    ):
        ledger_reserve_planned(planned)

    assert (refused.value.extra["available_minor"], refused.value.extra["needed_minor"]) == (
        5_000,
        11_000,
    )
    assert (ledger_counts(), totals()) == before

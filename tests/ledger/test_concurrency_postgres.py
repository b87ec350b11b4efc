"""What only PostgreSQL can show: threads racing on one budget, one reservation, one key
and one closing month. Each thread has its own connection and commits for real."""

import datetime
import threading

import pytest
from django.db import connection
from django.utils import timezone

from rightsdesk.ledger.checks import ledger_reconcile
from rightsdesk.ledger.models import Entry, Reservation
from rightsdesk.ledger.posting import month_of
from rightsdesk.ledger.selectors import ledger_statement
from rightsdesk.ledger.services import (
    ledger_period_close,
    ledger_post_batch,
    ledger_post_fee,
    ledger_post_reserved,
    ledger_reserve,
    ledger_void_reservation,
)
from rightsdesk.ledger.types import AccountKey, Posting, PostingLine
from tests.ledger.conftest import account, fee_spec, fund, later

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]


def race(*calls) -> list:
    barrier = threading.Barrier(len(calls))
    outcomes: list = [None] * len(calls)

    def run(index, call):
        try:
            barrier.wait()
            outcomes[index] = ("ok", call())
        except Exception as exc:
            outcomes[index] = (getattr(exc, "code", repr(exc)), None)
        finally:
            connection.close()

    threads = [threading.Thread(target=run, args=(i, c)) for i, c in enumerate(calls)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return outcomes


def _clean() -> None:
    problems = {o.name: o.problems for o in ledger_reconcile() if not o.ok}
    assert problems == {}


def test_racing_reservations_never_take_a_budget_below_zero(parties):
    fund(parties, 5 * 11_000)  # room for exactly five drafts (fee plus 10% client fee)

    def reserve(n):
        return lambda: ledger_reserve(
            fee=fee_spec(parties),
            reference=f"asset:{n}",
            idempotency_key=f"d{n}",
            expires_at=later(),
        )

    outcomes = race(*(reserve(n) for n in range(12)))

    codes = sorted(code for code, _ in outcomes)
    assert codes == ["budget_insufficient"] * 7 + ["ok"] * 5
    budget = account(parties.brand, "budget")
    assert (budget.debits_pending, budget.available_minor) == (55_000, 0)
    assert Reservation.objects.filter(status="pending").count() == 5
    _clean()


def test_a_reservation_released_and_voided_at_once_resolves_exactly_once(parties):
    fund(parties, 50_000)
    reservation = ledger_reserve(
        fee=fee_spec(parties), reference="asset:1", idempotency_key="d1", expires_at=later()
    )

    outcomes = race(
        lambda: ledger_post_reserved(reservation=reservation),
        lambda: ledger_void_reservation(reservation=reservation, reason="rejected"),
        lambda: ledger_post_reserved(reservation=reservation, idempotency_key="other"),
        lambda: ledger_void_reservation(reservation=reservation, reason="withdrawn"),
    )

    reservation.refresh_from_db()
    postings = Entry.objects.filter(reservation=reservation).count()
    assert postings == (1 if reservation.status == "posted" else 0)
    assert reservation.status in ("posted", "voided")
    assert account(parties.brand, "budget").debits_pending == 0
    if reservation.status == "posted":
        assert [c for c, _ in outcomes].count("reservation_resolved") >= 2
    _clean()


def test_one_key_posted_by_many_at_once_makes_one_entry(parties):
    def post():
        return ledger_post_fee(fee=fee_spec(parties), reference="asset:1", idempotency_key="k").pk

    outcomes = race(*(post for _ in range(6)))

    assert {code for code, _ in outcomes} == {"ok"}
    assert len({entry_id for _, entry_id in outcomes}) == 1
    assert Entry.objects.count() == 1
    assert account(parties.talent, "earnings").balance_minor == 8_000
    _clean()


def test_concurrent_batches_over_the_same_accounts_do_not_deadlock(parties):
    fund(parties, 10_000)
    keys = [
        AccountKey(parties.brand, "budget", "EUR"),
        AccountKey(parties.talent, "earnings", "EUR"),
        AccountKey(parties.agency, "commission", "EUR"),
        AccountKey("platform", "cash", "EUR"),
    ]

    def batch(worker):
        postings = [
            Posting(
                idempotency_key=f"w{worker}-{n}",
                kind="adjustment",
                reference=f"w{worker}",
                lines=(
                    PostingLine(keys[(worker + n) % 4], 10, "x"),
                    PostingLine(keys[(worker + n + 1) % 4], -7, "x"),
                    PostingLine(keys[(worker + n + 2) % 4], -3, "x"),
                ),
            )
            for n in range(40)
        ]
        return ledger_post_batch(postings=postings, open_accounts=True)

    outcomes = race(*(lambda w=w: batch(w) for w in range(6)))

    assert {code for code, _ in outcomes} == {"ok"}
    results = [r for _, batch_results in outcomes for r in batch_results]
    assert {r.status for r in results} <= {"created", "failed"}
    assert {r.code for r in results if r.status == "failed"} <= {"budget_insufficient"}
    assert account(parties.brand, "budget").available_minor >= 0
    _clean()


def test_a_month_closing_while_postings_arrive_keeps_its_statement(parties):
    last_month = timezone.now().replace(day=1) - datetime.timedelta(days=2)
    period = month_of(last_month)
    ledger_post_fee(
        fee=fee_spec(parties), reference="a0", idempotency_key="a0", effective_at=last_month
    )

    def post(n):
        return lambda: ledger_post_fee(
            fee=fee_spec(parties),
            reference=f"a{n}",
            idempotency_key=f"a{n}",
            effective_at=last_month,
        )

    outcomes = race(lambda: ledger_period_close(period=period), *(post(n) for n in range(1, 6)))

    assert outcomes[0][0] == "ok"
    assert {code for code, _ in outcomes[1:]} <= {"ok", "period_closed"}
    view = ledger_statement(owner=parties.talent, period=period)
    assert view.closed and view.matches_stored
    posted = sum(1 for code, _ in outcomes[1:] if code == "ok")
    assert len(view.statement.accounts[0].rows) == 1 + posted
    _clean()

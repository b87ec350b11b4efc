"""``ledger_reconcile`` runs the ledger's checks and those the apps register: exit 0 when
clean, non-zero with the list otherwise. Each check is shown to be able to fail."""

import contextlib

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import transaction
from django.utils import timezone

from rightsdesk.ledger.checks import (
    ledger_reconcile,
    ledger_register_check,
)
from rightsdesk.ledger.models import Account, AccountBalance, Entry, Line, Remittance, Reservation
from rightsdesk.ledger.posting import month_of
from rightsdesk.ledger.selectors import ledger_fee_posting_counts
from rightsdesk.ledger.services import (
    ledger_post_fee,
    ledger_post_reserved,
    ledger_reserve,
    ledger_reverse,
)
from tests.ledger.conftest import fee_spec, fund, later

pytestmark = pytest.mark.django_db


@pytest.fixture
def busy_ledger(parties):
    fund(parties, 100_000)
    ledger_post_fee(
        fee=fee_spec(parties, kind="buyout"), reference="licence:1", idempotency_key="b"
    )
    for n in range(3):
        reservation = ledger_reserve(
            fee=fee_spec(parties),
            reference=f"asset:{n}",
            idempotency_key=f"r{n}",
            expires_at=later(),
        )
        if n < 2:
            entry = ledger_post_reserved(reservation=reservation)
    ledger_reverse(entry=entry, idempotency_key="undo", reason="released by mistake")
    return parties


def test_a_clean_ledger_reconciles(busy_ledger, capsys):
    call_command("ledger_reconcile")

    assert "checks passed" in capsys.readouterr().out
    assert ledger_fee_posting_counts(kind="usage") == {"asset:0": 1}  # asset:1 reversed


def test_registered_checks_run_and_their_problems_fail_the_run(busy_ledger, capsys):
    def released_assets_paid_once():
        counts = ledger_fee_posting_counts(kind="usage")
        for reference in ("asset:0", "asset:1"):
            if counts.get(reference, 0) != 1:
                yield f"{reference} has {counts.get(reference, 0)} usage postings"

    ledger_register_check("renders.released_assets_paid_once", released_assets_paid_once)

    with pytest.raises(CommandError, match="1 problem"):
        call_command("ledger_reconcile")

    out = capsys.readouterr().out
    assert "FAILED  renders.released_assets_paid_once" in out
    assert "asset:1 has 0 usage postings" in out


def test_a_check_that_raises_is_a_problem_not_a_skip(busy_ledger):
    def broken():
        raise RuntimeError("no such table")

    ledger_register_check("other.broken", broken)

    outcome = {o.name: o for o in ledger_reconcile()}["other.broken"]
    assert not outcome.ok
    assert "RuntimeError" in outcome.problems[0]


def _problems(name: str) -> tuple[str, ...]:
    return {o.name: o.problems for o in ledger_reconcile()}[name]


def test_running_totals_that_differ_from_the_lines_are_reported(busy_ledger):
    AccountBalance.objects.filter(account__kind="earnings").update(credits_posted=1)

    assert _problems("ledger.totals_match_lines")


def test_pending_totals_that_differ_from_the_reservations_are_reported(busy_ledger):
    AccountBalance.objects.filter(account__kind="budget").update(debits_pending=0)

    assert _problems("ledger.pending_matches_reservations")


def test_a_reservation_pending_past_its_deadline_is_reported(busy_ledger):
    Reservation.objects.filter(status="pending").update(expires_at=later(-1))

    assert _problems("ledger.reservations_resolved_once")


def test_a_reservation_marked_posted_without_an_entry_is_reported(busy_ledger):
    Reservation.objects.filter(status="pending").update(status="posted", resolved_at=later(0))

    assert any("0 posting" in p for p in _problems("ledger.reservations_resolved_once"))


class _Rollback(Exception):
    pass


@contextlib.contextmanager
def forged(lines: list[tuple[Account, int, str]], *, line_count: int = 2):
    """An entry written straight through the ORM, past the services' validation, inside
    a savepoint rolled back afterwards: on PostgreSQL the commit-time trigger would refuse
    it (and Django's test teardown checks deferred constraints)."""
    with contextlib.suppress(_Rollback), transaction.atomic():
        entry = Entry.objects.create(
            idempotency_key="forged",
            payload_json="{}",
            payload_sha256="0" * 64,
            kind="adjustment",
            reference="forged",
            effective_at=timezone.now(),
            period=month_of(timezone.now()),
            line_count=line_count,
        )
        for account, amount, currency in lines:
            Line.objects.create(
                entry=entry, account=account, amount_minor=amount, currency=currency, role="x"
            )
        yield
        raise _Rollback


def test_an_unbalanced_entry_is_reported(busy_ledger):
    budget = Account.objects.get(kind="budget")
    cash = Account.objects.get(kind="cash")

    with forged([(budget, 5, "EUR"), (cash, -4, "EUR")]):
        [problem] = _problems("ledger.entries_balance")

    assert "does not balance in EUR: +1" in problem


def test_an_entry_with_a_missing_line_is_reported(busy_ledger):
    with forged([(Account.objects.get(kind="cash"), 5, "EUR")]):
        problems = _problems("ledger.entries_balance")

    assert any("has 1 line(s), written with 2" in p for p in problems)


def test_a_line_in_another_currency_than_its_account_is_reported(busy_ledger):
    cash = Account.objects.get(kind="cash")
    budget = Account.objects.get(kind="budget")

    with forged([(cash, 5, "USD"), (budget, -5, "USD")]):
        assert len(_problems("ledger.lines_match_account_currency")) == 2


def test_a_remittance_that_differs_from_its_earning_is_reported(busy_ledger):
    Remittance.objects.filter(status="pending").update(amount_minor=1)

    assert _problems("ledger.remittances_match_earnings")

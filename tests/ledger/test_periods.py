"""Months close in order; a closed month refuses postings dated in it, and its statement
regenerates byte for byte (its SHA-256 was stored when it closed)."""

import csv
import datetime
import io
import json
import uuid

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.utils import timezone

from rightsdesk.ledger.checks import ledger_reconcile
from rightsdesk.ledger.errors import PeriodClosed, PeriodNotClosable
from rightsdesk.ledger.models import Account, Entry, Line, PeriodStatement, Remittance
from rightsdesk.ledger.posting import month_of
from rightsdesk.ledger.selectors import ledger_statement
from rightsdesk.ledger.services import (
    ledger_close_due_periods,
    ledger_period_close,
    ledger_post_fee,
    ledger_remittance_pay,
    ledger_reverse,
)
from tests.ledger.conftest import fee_spec, ledger_counts, totals

pytestmark = pytest.mark.django_db


def months_ago(n: int, day: int = 10) -> datetime.datetime:
    moment = (
        timezone.now()
        .astimezone(datetime.UTC)
        .replace(day=1, hour=9, minute=30, second=0, microsecond=123456)
    )
    for _ in range(n):
        moment = (moment - datetime.timedelta(days=1)).replace(day=1)
    return moment.replace(day=day)


def post(parties, key, at, fee_minor=10_000, **overrides):
    return ledger_post_fee(
        fee=fee_spec(parties, fee_minor=fee_minor, **overrides),
        reference=f"asset:{key}",
        idempotency_key=key,
        effective_at=at,
        description=f"Usage fee {key}",
    )


@pytest.fixture
def history(parties):
    """Earnings in the month before last and last month; a payout this month."""
    earlier, last = months_ago(2), months_ago(1)
    first = post(parties, "a1", earlier)
    post(parties, "a2", last, fee_minor=1_999)
    ledger_remittance_pay(remittance=Remittance.objects.get(entry=first), actor=parties.staff)
    return month_of(earlier), month_of(last)


def test_a_statement_shows_gross_commission_and_net_line_by_line(parties, history):
    _earlier, last = history

    statement = ledger_statement(owner=parties.talent, period=last).statement
    document = statement.document()

    [eur] = document["accounts"]
    assert eur["currency"] == "EUR"
    assert eur["opening_balance_minor"] == 8_000
    [row] = eur["rows"]
    assert (row["kind"], row["reference"], row["description"]) == (
        "usage",
        "asset:a2",
        "Usage fee a2",
    )
    # 20% of 1,999 is 399.8: the commission is floored, the talent keeps the odd unit.
    assert (row["gross_minor"], row["commission_minor"], row["net_minor"]) == (1_999, 399, 1_600)
    assert row["entry"] == str(Entry.objects.get(idempotency_key="a2").public_id)
    assert eur["closing_balance_minor"] == 8_000 + 1_600
    rows = list(csv.reader(io.StringIO(statement.csv_bytes().decode())))
    assert rows[0][:3] == ["currency", "row", "date"]
    assert [r[1] for r in rows[1:]] == ["opening", "line", "closing"]
    assert rows[-1][-1] == str(9_600)
    assert json.loads(statement.json_bytes()) == document


def test_payouts_show_as_paid_out(parties, history):
    now = ledger_statement(owner=parties.talent, period=month_of(timezone.now())).statement
    [eur] = now.document()["accounts"]

    [payout] = eur["rows"]
    assert (payout["kind"], payout["paid_out_minor"], payout["net_minor"]) == ("payout", 8_000, 0)
    assert (eur["opening_balance_minor"], eur["closing_balance_minor"]) == (9_600, 1_600)


def test_closing_a_month_stores_its_statements_and_they_regenerate_byte_for_byte(parties, history):
    earlier, last = history
    before = ledger_statement(owner=parties.talent, period=earlier).statement

    ledger_close_due_periods()

    stored = PeriodStatement.objects.get(period__period=earlier, owner=parties.talent)
    assert stored.json_sha256 == before.json_sha256
    assert stored.csv_sha256 == before.csv_sha256
    post(parties, "later", timezone.now())  # activity after the close changes nothing
    again = ledger_statement(owner=parties.talent, period=earlier)
    assert again.closed and again.matches_stored
    assert again.statement.json_bytes() == before.json_bytes()
    assert again.statement.csv_bytes() == before.csv_bytes()
    assert [o for o in ledger_reconcile() if not o.ok] == []


def test_a_closed_month_refuses_postings_dated_in_it(parties, history):
    earlier, last = history
    ledger_close_due_periods()
    before = ledger_counts(), totals()

    for at in (months_ago(1, day=28), months_ago(3)):
        with pytest.raises(PeriodClosed):
            post(parties, f"late-{at:%m}", at)

    assert (ledger_counts(), totals()) == before


def test_months_close_in_order_and_only_once_ended(parties, history):
    earlier, last = history
    this_month = month_of(timezone.now())

    with pytest.raises(PeriodNotClosable) as not_ended:
        ledger_period_close(period=this_month)
    with pytest.raises(PeriodNotClosable) as out_of_order:
        ledger_period_close(period=last)
    ledger_period_close(period=earlier)
    with pytest.raises(PeriodNotClosable) as twice:
        ledger_period_close(period=earlier)

    assert not_ended.value.extra["reason"] == "not_ended"
    assert out_of_order.value.extra == {
        "reason": "earlier_open",
        "period": last,
        "first_open": earlier,
    }
    assert twice.value.extra["reason"] == "already_closed"
    # A reversal of a closed month's entry is dated now, in an open month.
    entry = Entry.objects.get(idempotency_key="a1")
    reversal = ledger_reverse(entry=entry, idempotency_key="undo-a1", reason="wrong talent")
    assert reversal.period == this_month


def test_a_closed_statement_that_changed_is_caught(parties, history):
    earlier, last = history
    ledger_close_due_periods()
    # Bypass the services: an entry written straight into the closed month.
    earnings = Account.objects.get(owner=parties.talent, kind="earnings")
    payable = Account.objects.get(owner=parties.brand, kind="payable")
    forged = Entry.objects.create(
        idempotency_key="forged",
        payload_json="{}",
        payload_sha256="0" * 64,
        kind="usage",
        reference="asset:forged",
        effective_at=months_ago(2, day=20),
        period=earlier,
        line_count=2,
    )
    Line.objects.create(
        entry=forged, account=payable, amount_minor=5, currency="EUR", role="charge"
    )
    Line.objects.create(
        entry=forged, account=earnings, amount_minor=-5, currency="EUR", role="talent_net"
    )

    view = ledger_statement(owner=parties.talent, period=earlier)
    assert view.closed and view.matches_stored is False
    problems = {o.name: o.problems for o in ledger_reconcile()}
    assert problems["ledger.closed_statements_regenerate"]
    assert problems["ledger.totals_match_lines"]  # the running totals never saw it
    talent_id = parties.talent.split(":", 1)[1]
    with pytest.raises(CommandError, match="differs"):
        call_command("ledger_statement", "--talent", talent_id, "--period", earlier)


def test_the_statement_command_writes_the_canonical_bytes(parties, history, capsysbinary):
    earlier, _last = history
    talent_id = parties.talent.split(":", 1)[1]
    expected = ledger_statement(owner=parties.talent, period=earlier).statement

    call_command("ledger_statement", "--talent", talent_id, "--period", earlier, "--format", "csv")
    assert capsysbinary.readouterr().out == expected.csv_bytes()
    call_command("ledger_statement", "--talent", talent_id, "--period", earlier)
    assert capsysbinary.readouterr().out == expected.json_bytes() + b"\n"


def test_a_talent_without_earnings_gets_an_empty_statement(parties):
    stranger = f"talent:{uuid.uuid4()}"
    statement = ledger_statement(owner=stranger, period="2026-01").statement

    assert statement.document()["accounts"] == []

"""On PostgreSQL the database itself keeps the ledger append-only and balanced: UPDATE and
DELETE of entries and lines fail, and at commit a deferred trigger refuses an entry whose
lines do not balance, are in another currency than their account, or were added later."""

import pytest
from django.db import IntegrityError, connection, transaction
from django.utils import timezone

from rightsdesk.ledger import posting as posting_module
from rightsdesk.ledger.models import Account, Entry, Line
from rightsdesk.ledger.posting import month_of
from rightsdesk.ledger.services import ledger_post, ledger_post_fee, ledger_reverse
from rightsdesk.ledger.types import AccountKey, Posting, PostingLine
from tests.ledger.conftest import fee_spec, ledger_counts, totals

pytestmark = [pytest.mark.postgres, pytest.mark.django_db]


@pytest.fixture
def entry(parties) -> Entry:
    return ledger_post_fee(fee=fee_spec(parties), reference="asset:1", idempotency_key="k1")


def _raw(sql: str, *params):
    def run() -> None:
        with connection.cursor() as cursor:
            cursor.execute(sql, list(params))

    return run


@pytest.mark.parametrize(
    "attempt",
    [
        "orm update entry",
        "orm delete lines",
        "raw update entry",
        "raw delete entry",
        "orm update line",
        "orm save line",
        "raw update line",
        "raw delete line",
    ],
)
def test_entries_and_lines_cannot_be_changed_or_removed(entry, attempt):
    line = entry.lines.order_by("pk").first()
    before = ledger_counts(), list(Line.objects.order_by("pk").values_list("amount_minor"))

    def save_line():
        line.amount_minor += 1
        line.save()

    attempts = {
        "orm update entry": lambda: Entry.objects.filter(pk=entry.pk).update(reference="x"),
        "orm delete lines": lambda: Line.objects.filter(entry=entry).delete(),
        "raw update entry": _raw("UPDATE ledger_entry SET kind = 'x' WHERE id = %s", entry.pk),
        "raw delete entry": _raw("DELETE FROM ledger_entry WHERE id = %s", entry.pk),
        "orm update line": lambda: Line.objects.filter(pk=line.pk).update(amount_minor=1),
        "orm save line": save_line,
        "raw update line": _raw("UPDATE ledger_line SET amount_minor = 0 WHERE id = %s", line.pk),
        "raw delete line": _raw("DELETE FROM ledger_line WHERE id = %s", line.pk),
    }

    with pytest.raises(IntegrityError, match="append-only"), transaction.atomic():
        attempts[attempt]()

    assert (ledger_counts(), list(Line.objects.order_by("pk").values_list("amount_minor"))) == (
        before
    )


def _forge(lines, *, line_count):
    entry = Entry.objects.create(
        idempotency_key=f"forged-{line_count}-{len(lines)}",
        payload_json="{}",
        payload_sha256="0" * 64,
        kind="adjustment",
        reference="forged",
        effective_at=timezone.now(),
        period=month_of(timezone.now()),
        line_count=line_count,
    )
    for account, amount, currency, at in lines:
        Line.objects.create(
            entry=at or entry, account=account, amount_minor=amount, currency=currency, role="x"
        )


def _at_commit(build) -> None:
    # SET CONSTRAINTS ALL IMMEDIATE fires the deferred trigger now, as a commit would
    # (PITFALLS.md: deferred triggers never fire inside a rolled-back test transaction).
    with transaction.atomic():
        build()
        with connection.cursor() as cursor:
            cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")


def test_an_unbalanced_entry_is_refused_at_commit(entry, parties):
    payable, earnings = (
        Account.objects.get(owner=o, kind=k)
        for o, k in ((parties.brand, "payable"), (parties.talent, "earnings"))
    )
    before = ledger_counts(), totals()

    with pytest.raises(IntegrityError, match="does not balance"):
        _at_commit(
            lambda: _forge([(payable, 5, "EUR", None), (earnings, -4, "EUR", None)], line_count=2)
        )

    assert (ledger_counts(), totals()) == before


def test_a_line_in_another_currency_than_its_account_is_refused_at_commit(entry, parties):
    payable = Account.objects.get(owner=parties.brand, kind="payable")
    earnings = Account.objects.get(owner=parties.talent, kind="earnings")

    with pytest.raises(IntegrityError, match="another currency"):
        _at_commit(
            lambda: _forge([(payable, 5, "USD", None), (earnings, -5, "USD", None)], line_count=2)
        )


def test_a_balanced_pair_added_to_an_old_entry_is_refused_at_commit(entry, parties):
    payable = Account.objects.get(owner=parties.brand, kind="payable")
    earnings = Account.objects.get(owner=parties.talent, kind="earnings")
    before = ledger_counts()

    def add_pair():
        Line.objects.create(entry=entry, account=payable, amount_minor=7, currency="EUR", role="x")
        Line.objects.create(
            entry=entry, account=earnings, amount_minor=-7, currency="EUR", role="x"
        )

    with pytest.raises(IntegrityError, match="written with"):
        _at_commit(add_pair)

    assert ledger_counts() == before


def test_entries_the_services_write_pass_the_database_checks(parties):
    # The posting service runs the commit-time checks right after its inserts.
    entry = ledger_post_fee(fee=fee_spec(parties), reference="a", idempotency_key="k")
    reversal = ledger_reverse(entry=entry, idempotency_key="undo", reason="test")

    assert reversal.lines.count() == entry.lines.count() == entry.line_count


def test_the_database_refuses_an_unbalanced_entry_even_past_the_services(parties, monkeypatch):
    ledger_post_fee(fee=fee_spec(parties), reference="a", idempotency_key="k")
    before = ledger_counts(), totals()
    monkeypatch.setattr(posting_module, "validate_posting", lambda posting, now: None)
    unbalanced = Posting(
        idempotency_key="broken",
        kind="adjustment",
        reference="x",
        lines=(
            PostingLine(AccountKey(parties.brand, "payable", "EUR"), 100, "charge"),
            PostingLine(AccountKey(parties.talent, "earnings", "EUR"), -99, "talent_net"),
        ),
    )

    with pytest.raises(IntegrityError, match="does not balance"):
        ledger_post(posting=unbalanced)

    assert (ledger_counts(), totals()) == before

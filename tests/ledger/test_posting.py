"""Posting entries: balanced lines in integer minor units, idempotent keys, per-entry
all-or-nothing batches, and nothing partial when a write fails half-way."""

import datetime

import pytest
from django.db import transaction
from django.utils import timezone

from rightsdesk.audit.models import AuditEvent
from rightsdesk.core.errors import IdempotencyConflict, PermissionDenied, ValidationFailed
from rightsdesk.ledger import posting as posting_module
from rightsdesk.ledger.errors import BudgetInsufficient, EntryUnbalanced, LedgerAccountUnknown
from rightsdesk.ledger.models import Entry, Line, Remittance
from rightsdesk.ledger.services import (
    ledger_budget_top_up,
    ledger_post,
    ledger_post_batch,
    ledger_post_fee,
)
from rightsdesk.ledger.types import AccountKey, Posting, PostingLine
from tests.factories import UserFactory
from tests.ledger.conftest import account, fee_spec, fund, ledger_counts, totals

pytestmark = pytest.mark.django_db


def _lines(entry: Entry) -> dict[str, int]:
    return {
        f"{ln.account.owner}/{ln.account.kind}:{ln.role}": ln.amount_minor
        for ln in entry.lines.select_related("account")
    }


def test_a_fee_charges_the_brand_on_top_and_pays_each_party_its_part(parties):
    entry = ledger_post_fee(
        fee=fee_spec(parties, fee_minor=10_000, kind="buyout", platform_fee_bps=500),
        reference="licence:abc",
        idempotency_key="licence:abc:buyout",
    )

    assert _lines(entry) == {
        f"{parties.brand}/payable:charge": 10_000 + 1_000 + 500,
        f"{parties.talent}/earnings:talent_net": -8_000,
        f"{parties.agency}/commission:agency_commission": -1_500,
        f"{parties.mother}/commission:mother_commission": -500,
        f"{parties.agency}/client_fees:client_fee": -1_000,
        "platform/fees:platform_fee": -500,
    }
    assert sum(_lines(entry).values()) == 0
    assert account(parties.talent, "earnings").balance_minor == 8_000
    assert account(parties.brand, "payable").balance_minor == 11_500
    assert (entry.kind, entry.reference, entry.line_count) == ("buyout", "licence:abc", 6)
    remittance = Remittance.objects.get(entry=entry)
    assert (remittance.payer, remittance.amount_minor) == (parties.agency, 8_000)
    assert AuditEvent.objects.filter(action="ledger.fee_posted", target_id=str(entry.public_id))


def test_a_retry_with_the_same_key_and_payload_returns_the_original_entry(parties):
    spec = fee_spec(parties)
    first = ledger_post_fee(fee=spec, reference="asset:1", idempotency_key="k1")
    before = ledger_counts(), totals()

    again = ledger_post_fee(fee=spec, reference="asset:1", idempotency_key="k1")

    assert again.pk == first.pk
    assert (ledger_counts(), totals()) == before


@pytest.mark.parametrize(
    "change, field",
    [
        ({"fee_minor": 10_001}, "fee_minor"),
        ({"commission_bps": 1500}, "commission_bps"),
        ({"currency": "USD"}, "currency"),
    ],
)
def test_the_same_key_with_another_payload_is_refused_naming_the_field(parties, change, field):
    ledger_post_fee(fee=fee_spec(parties), reference="asset:1", idempotency_key="k1")
    before = ledger_counts(), totals()

    with pytest.raises(IdempotencyConflict) as refused:
        ledger_post_fee(fee=fee_spec(parties, **change), reference="asset:1", idempotency_key="k1")

    assert refused.value.code == "idempotency_conflict"
    assert refused.value.extra["field"] == field
    assert (ledger_counts(), totals()) == before


def test_a_different_reference_under_the_same_key_is_named(parties):
    ledger_post_fee(fee=fee_spec(parties), reference="asset:1", idempotency_key="k1")

    with pytest.raises(IdempotencyConflict) as refused:
        ledger_post_fee(fee=fee_spec(parties), reference="asset:2", idempotency_key="k1")

    assert refused.value.extra["field"] == "reference"


def _posting(key: str, amounts: tuple[int, int], *, owner="talent:t1") -> Posting:
    return Posting(
        idempotency_key=key,
        kind="adjustment",
        reference="test",
        lines=(
            PostingLine(AccountKey("brand:b1", "payable", "EUR"), amounts[0], "charge"),
            PostingLine(AccountKey(owner, "earnings", "EUR"), amounts[1], "talent_net"),
        ),
    )


def test_an_unbalanced_entry_is_refused_and_writes_nothing(parties):
    before = ledger_counts()

    with pytest.raises(EntryUnbalanced) as refused:
        ledger_post(posting=_posting("u1", (100, -99)))

    assert refused.value.extra == {"currency": "EUR", "difference_minor": 1}
    assert ledger_counts() == before


@pytest.mark.parametrize("amounts", [(100.0, -100.0), (True, -1), (0, 0)])
def test_non_integer_or_zero_amounts_are_refused(parties, amounts):
    with pytest.raises(ValidationFailed):
        ledger_post(posting=_posting("f1", amounts))

    assert ledger_counts() == (0, 0, 0)


def test_a_batch_posts_each_entry_on_its_own(parties):
    ledger_post(posting=_posting("seed", (1, -1)))  # opens the accounts
    batch = [
        _posting("b1", (100, -100)),
        _posting("b2", (100, -90)),  # unbalanced
        _posting("b3", (50, -50), owner="talent:nobody"),  # no such account
        _posting("seed", (1, -1)),  # a retry
        _posting("b4", (70, -70)),
        _posting("b1", (100, -100)),  # the same key again in the batch
    ]

    results = ledger_post_batch(postings=batch)

    assert [(r.status, r.code) for r in results] == [
        ("created", ""),
        ("failed", EntryUnbalanced.code),
        ("failed", LedgerAccountUnknown.code),
        ("exists", ""),
        ("created", ""),
        ("exists", ""),
    ]
    assert results[5].entry_id == results[0].entry_id
    assert set(Entry.objects.values_list("idempotency_key", flat=True)) == {"seed", "b1", "b4"}
    assert account("talent:t1", "earnings").credits_posted == 1 + 100 + 70
    assert AuditEvent.objects.filter(action="ledger.batch_posted").count() == 1


def test_a_batch_of_more_than_a_hundred_is_refused(parties):
    with pytest.raises(ValidationFailed):
        ledger_post_batch(postings=[_posting(f"k{i}", (1, -1)) for i in range(101)])


def test_a_failure_in_the_middle_of_a_posting_leaves_no_partial_lines(parties, monkeypatch):
    ledger_post(posting=_posting("seed", (1, -1)))
    before = ledger_counts(), totals()

    def crash_after_first_line(created):
        entry_id, candidate = created[0]
        account_id, amount, currency, role = candidate.lines[0]
        Line.objects.create(
            entry_id=entry_id,
            account_id=account_id,
            amount_minor=amount,
            currency=currency,
            role=role,
        )
        assert Line.objects.filter(entry_id=entry_id).count() == 1  # one line of six is in
        raise RuntimeError("disk full")

    monkeypatch.setattr(posting_module, "_insert_lines", crash_after_first_line)

    with pytest.raises(RuntimeError, match="disk full"):
        ledger_post_fee(fee=fee_spec(parties), reference="asset:9", idempotency_key="k9")

    assert (ledger_counts(), totals()) == before
    assert not Entry.objects.filter(idempotency_key="k9").exists()


def test_a_failure_before_the_totals_leaves_nothing_in_a_batch(parties, monkeypatch):
    ledger_post(posting=_posting("seed", (1, -1)))
    before = ledger_counts(), totals()

    def crash(created):
        raise RuntimeError("connection lost")

    monkeypatch.setattr(posting_module, "_add_totals", crash)

    with pytest.raises(RuntimeError):
        ledger_post_batch(postings=[_posting("x1", (5, -5)), _posting("x2", (6, -6))])

    assert (ledger_counts(), totals()) == before


def test_only_staff_top_up_a_budget(parties):
    brand_user = UserFactory(role="talent")

    with pytest.raises(PermissionDenied):
        ledger_budget_top_up(
            brand=parties.brand,
            currency="EUR",
            amount_minor=100,
            idempotency_key="t1",
            actor=brand_user,
        )

    assert ledger_counts() == (0, 0, 0)
    ledger_budget_top_up(
        brand=parties.brand,
        currency="EUR",
        amount_minor=100,
        idempotency_key="t1",
        actor=parties.staff,
    )
    assert account(parties.brand, "budget").available_minor == 100
    assert account("platform", "cash").balance_minor == 100


def test_a_posting_dated_in_the_future_is_refused(parties):
    future = timezone.now() + datetime.timedelta(hours=1)

    with pytest.raises(ValidationFailed) as refused:
        ledger_post_fee(
            fee=fee_spec(parties), reference="a", idempotency_key="k", effective_at=future
        )

    assert "effective_at" in refused.value.extra["fields"]
    assert ledger_counts() == (0, 0, 0)


def test_the_whole_posting_rolls_back_with_the_callers_transaction(parties):
    with pytest.raises(RuntimeError), transaction.atomic():
        ledger_post_fee(fee=fee_spec(parties), reference="a", idempotency_key="k")
        raise RuntimeError("the caller failed after posting")

    assert ledger_counts() == (0, 0, 0)


def test_a_fee_charged_to_the_budget_is_refused_when_the_budget_cannot_pay(parties):
    fund(parties, 10_999)
    before = ledger_counts(), totals()

    with pytest.raises(BudgetInsufficient) as refused:
        ledger_post_fee(
            fee=fee_spec(parties), reference="a", idempotency_key="k", charge_to="budget"
        )

    assert refused.value.extra["available_minor"] == 10_999
    assert (ledger_counts(), totals()) == before
    fund(parties, 1)
    ledger_post_fee(fee=fee_spec(parties), reference="a", idempotency_key="k", charge_to="budget")
    assert account(parties.brand, "budget").available_minor == 0

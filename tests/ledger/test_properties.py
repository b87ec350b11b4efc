"""Random sequences of top-up, reserve, post, void, expire, fee, reverse and retry keep
the ledger's invariants: the sum of all lines is zero per currency, running balances equal
balances rebuilt from scratch, no reservation resolves twice, and no budget goes below
zero. Each Hypothesis example runs in its own savepoint, rolled back afterwards
(examples otherwise share the test's transaction: PITFALLS.md)."""

import contextlib
import datetime

import pytest
from django.db import transaction
from django.db.models import Sum
from django.utils import timezone
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from rightsdesk.core.errors import ApplicationError
from rightsdesk.ledger.checks import (
    entries_balance,
    pending_matches_reservations,
    remittances_match_earnings,
    totals_match_lines,
)
from rightsdesk.ledger.models import Account, Entry, Line, Reservation
from rightsdesk.ledger.services import (
    ledger_budget_top_up,
    ledger_expire_reservations,
    ledger_post_fee,
    ledger_post_reserved,
    ledger_reserve,
    ledger_reverse,
    ledger_void_reservation,
)
from tests.ledger.conftest import fee_spec

pytestmark = pytest.mark.django_db

SLOTS = st.integers(min_value=0, max_value=4)
FEES = st.integers(min_value=1, max_value=30_000)
operations = st.lists(
    st.one_of(
        st.tuples(st.just("top_up"), SLOTS, st.integers(min_value=1, max_value=60_000)),
        st.tuples(st.just("reserve"), SLOTS, FEES, st.integers(min_value=1, max_value=6)),
        st.tuples(st.just("post"), SLOTS, st.one_of(st.none(), FEES)),
        st.tuples(st.just("void"), SLOTS),
        st.tuples(st.just("expire"), st.integers(min_value=0, max_value=7)),
        st.tuples(st.just("fee"), SLOTS, FEES, st.sampled_from(["EUR", "USD"])),
        st.tuples(st.just("reverse"), st.integers(min_value=0, max_value=30)),
    ),
    min_size=1,
    max_size=25,
)


class _Rollback(Exception):
    pass


class Run:
    """Applies operations; remembers each reservation's first resolution."""

    def __init__(self, parties, start: datetime.datetime):
        self.p = parties
        self.start = start
        self.resolved: dict[int, tuple[str, object]] = {}

    def apply(self, op: tuple) -> None:
        name, *args = op
        # A refusal is a legal outcome; the invariants must hold either way.
        with contextlib.suppress(ApplicationError):
            getattr(self, name)(*args)

    def top_up(self, slot, amount):
        ledger_budget_top_up(
            brand=self.p.brand,
            currency="EUR",
            amount_minor=amount,
            idempotency_key=f"top-{slot}",
            actor=self.p.staff,
        )

    def reserve(self, slot, fee, hours):
        ledger_reserve(
            fee=fee_spec(self.p, fee_minor=fee),
            reference=f"asset:{slot}",
            idempotency_key=f"res-{slot}",
            expires_at=self.start + datetime.timedelta(hours=hours),
        )

    def _reservation(self, slot):
        return Reservation.objects.filter(idempotency_key=f"res-{slot}").first()

    def post(self, slot, fee):
        reservation = self._reservation(slot)
        if reservation is not None:
            ledger_post_reserved(reservation=reservation, fee_minor=fee)

    def void(self, slot):
        reservation = self._reservation(slot)
        if reservation is not None:
            ledger_void_reservation(reservation=reservation, reason="rejected")

    def expire(self, hours):
        ledger_expire_reservations(now=self.start + datetime.timedelta(hours=hours))

    def fee(self, slot, fee, currency):
        ledger_post_fee(
            fee=fee_spec(self.p, fee_minor=fee, kind="buyout", currency=currency),
            reference=f"licence:{slot}",
            idempotency_key=f"fee-{slot}",
        )

    def reverse(self, index):
        entries = list(Entry.objects.order_by("pk"))
        if entries:
            entry = entries[index % len(entries)]
            ledger_reverse(entry=entry, idempotency_key=f"rev-{entry.pk}", reason="test")

    def check(self) -> None:
        sums = Line.objects.values("currency").annotate(total=Sum("amount_minor"))
        assert {row["currency"]: row["total"] for row in sums if row["total"]} == {}
        for check in (
            entries_balance,
            totals_match_lines,
            pending_matches_reservations,
            remittances_match_earnings,
        ):
            assert list(check()) == [], check.__name__
        for account in Account.objects.filter(debits_must_not_exceed_credits=True):
            assert account.available_minor >= 0
        for reservation in Reservation.objects.exclude(status="pending"):
            seen = self.resolved.setdefault(
                reservation.pk, (reservation.status, reservation.resolved_at)
            )
            assert seen == (reservation.status, reservation.resolved_at), "resolved twice"
            postings = Entry.objects.filter(reservation=reservation).count()
            assert postings == (1 if reservation.status == "posted" else 0)


@settings(
    max_examples=30,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(ops=operations)
def test_random_sequences_keep_the_ledger_balanced(parties, ops):
    run = Run(parties, start=timezone.now())
    try:
        with transaction.atomic():
            for op in ops:
                run.apply(op)
                run.check()
            # Every retry of the whole sequence changes nothing: keys make it idempotent.
            before = list(Line.objects.order_by("pk").values_list("pk", flat=True))
            for op in ops:
                if op[0] in ("top_up", "fee"):
                    run.apply(op)
            assert list(Line.objects.order_by("pk").values_list("pk", flat=True)) == before
            run.check()
            raise _Rollback
    except _Rollback:
        pass

"""Two-phase reservations of a draft's usage fee on the brand's budget: release posts at
most what was reserved, rejection voids, the deadline expires, each exactly once."""

import datetime

import pytest
from django.utils import timezone

from rightsdesk.core.errors import IdempotencyConflict
from rightsdesk.ledger.errors import (
    BudgetInsufficient,
    ReservationExceeded,
    ReservationExpired,
    ReservationResolved,
)
from rightsdesk.ledger.models import Entry, Reservation
from rightsdesk.ledger.selectors import ledger_budget_available, ledger_fee_posting_counts
from rightsdesk.ledger.services import (
    ledger_expire_reservations,
    ledger_post_reserved,
    ledger_reserve,
    ledger_void_reservation,
)
from tests.ledger.conftest import account, fee_spec, fund, later, ledger_counts, totals

pytestmark = pytest.mark.django_db


def reserve(parties, key="draft-1", *, fee_minor=10_000, hours=1, **overrides):
    return ledger_reserve(
        fee=fee_spec(parties, fee_minor=fee_minor, **overrides),
        reference=f"asset:{key}",
        idempotency_key=key,
        expires_at=later(hours),
    )


def test_a_reservation_holds_the_fee_and_charges_on_the_budget(parties):
    fund(parties, 50_000)

    reservation = reserve(parties)

    budget = account(parties.brand, "budget")
    assert reservation.amount_minor == 11_000  # fee plus the 10% client fee on top
    assert (budget.debits_pending, budget.available_minor) == (11_000, 39_000)
    assert account(parties.talent, "earnings").credits_pending == 8_000
    assert Entry.objects.filter(kind="usage").count() == 0


def test_release_posts_the_reserved_fee_once(parties):
    fund(parties, 50_000)
    reservation = reserve(parties)

    entry = ledger_post_reserved(reservation=reservation)

    reservation.refresh_from_db()
    budget = account(parties.brand, "budget")
    assert reservation.status == Reservation.Status.POSTED
    assert entry.reservation_id == reservation.pk
    assert (budget.debits_pending, budget.debits_posted, budget.available_minor) == (
        0,
        11_000,
        39_000,
    )
    assert account(parties.talent, "earnings").balance_minor == 8_000
    assert account(parties.talent, "earnings").credits_pending == 0
    assert ledger_fee_posting_counts(kind="usage") == {"asset:draft-1": 1}
    # A retry returns the same entry; another key cannot post it a second time.
    assert ledger_post_reserved(reservation=reservation).pk == entry.pk
    before = ledger_counts(), totals()
    with pytest.raises(ReservationResolved):
        ledger_post_reserved(reservation=reservation, idempotency_key="other")
    with pytest.raises(ReservationResolved):
        ledger_void_reservation(reservation=reservation, reason="rejected")
    assert (ledger_counts(), totals()) == before


def test_release_posts_at_most_the_reserved_amount(parties):
    fund(parties, 50_000)
    reservation = reserve(parties)
    before = ledger_counts(), totals()

    with pytest.raises(ReservationExceeded):
        ledger_post_reserved(reservation=reservation, fee_minor=10_001)
    assert (ledger_counts(), totals()) == before

    entry = ledger_post_reserved(reservation=reservation, fee_minor=6_000)

    budget = account(parties.brand, "budget")
    assert entry.lines.get(role="charge").amount_minor == 6_600
    assert (budget.debits_pending, budget.available_minor) == (0, 50_000 - 6_600)


def test_voiding_releases_the_hold_and_writes_no_line(parties):
    fund(parties, 50_000)
    reservation = reserve(parties)
    entries_before = Entry.objects.count()

    voided = ledger_void_reservation(reservation=reservation, reason="rejected")

    assert voided.status == Reservation.Status.VOIDED
    assert account(parties.brand, "budget").available_minor == 50_000
    assert account(parties.talent, "earnings").credits_pending == 0
    assert Entry.objects.count() == entries_before
    # Voiding again changes nothing; posting a voided reservation is refused.
    assert ledger_void_reservation(reservation=reservation, reason="again").resolved_at == (
        voided.resolved_at
    )
    with pytest.raises(ReservationResolved) as refused:
        ledger_post_reserved(reservation=reservation)
    assert refused.value.extra["status"] == "voided"


def test_a_budget_that_does_not_cover_the_reservation_refuses_it(parties):
    fund(parties, 21_000)
    reserve(parties, "d1")
    before = ledger_counts(), totals()

    with pytest.raises(BudgetInsufficient) as refused:
        reserve(parties, "d2")

    assert refused.value.extra["available_minor"] == 10_000
    assert (ledger_counts(), totals()) == before


def test_an_expired_reservation_voids_as_of_its_deadline(parties):
    fund(parties, 50_000)
    reservation = reserve(parties)
    deadline = reservation.expires_at

    assert ledger_expire_reservations(now=deadline - datetime.timedelta(seconds=1)) == 0
    assert ledger_expire_reservations(now=deadline + datetime.timedelta(days=3)) == 1

    reservation.refresh_from_db()
    assert reservation.status == Reservation.Status.EXPIRED
    assert reservation.resolved_at == deadline  # the deadline, not when the sweep ran
    assert account(parties.brand, "budget").available_minor == 50_000
    assert ledger_expire_reservations(now=deadline + datetime.timedelta(days=4)) == 0


def test_release_after_the_deadline_is_refused_and_expires_it(parties):
    fund(parties, 50_000)
    reservation = reserve(parties)
    Reservation.objects.filter(pk=reservation.pk).update(
        expires_at=timezone.now() - datetime.timedelta(seconds=1)
    )
    entries_before = Entry.objects.count()

    with pytest.raises(ReservationExpired):
        ledger_post_reserved(reservation=reservation)

    reservation.refresh_from_db()
    assert reservation.status == Reservation.Status.EXPIRED
    assert reservation.resolved_at == reservation.expires_at
    assert Entry.objects.count() == entries_before
    assert account(parties.brand, "budget").available_minor == 50_000


def test_lapsed_reservations_free_the_budget_for_the_next_one(parties):
    fund(parties, 11_000)
    first = reserve(parties, "d1")
    Reservation.objects.filter(pk=first.pk).update(
        expires_at=timezone.now() - datetime.timedelta(seconds=1)
    )

    second = reserve(parties, "d2")  # the sweeper never ran: the deadline alone decides

    first.refresh_from_db()
    assert first.status == Reservation.Status.EXPIRED
    assert second.status == Reservation.Status.PENDING
    assert ledger_budget_available(brand=parties.brand, currency="EUR") == 0


def test_reserving_again_with_the_same_key(parties):
    fund(parties, 50_000)
    first = reserve(parties)
    expires_at = first.expires_at

    again = ledger_reserve(
        fee=fee_spec(parties),
        reference="asset:draft-1",
        idempotency_key="draft-1",
        expires_at=expires_at,
    )
    assert again.pk == first.pk
    assert account(parties.brand, "budget").debits_pending == 11_000

    with pytest.raises(IdempotencyConflict) as refused:
        ledger_reserve(
            fee=fee_spec(parties, fee_minor=9_000),
            reference="asset:draft-1",
            idempotency_key="draft-1",
            expires_at=expires_at,
        )
    assert refused.value.extra["field"] == "fee_minor"
    assert Reservation.objects.count() == 1

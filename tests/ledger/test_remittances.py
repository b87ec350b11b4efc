"""What an agency (or the platform) owes a talent for each earning carries a due date;
overdue ones are listed until paid."""

import datetime

import pytest
from django.core.management import call_command
from django.utils import timezone

from rightsdesk.core.errors import InvalidTransition, PermissionDenied
from rightsdesk.ledger.models import Remittance
from rightsdesk.ledger.selectors import remittances_overdue
from rightsdesk.ledger.services import ledger_post_fee, ledger_remittance_pay, ledger_reverse
from tests.factories import UserFactory
from tests.ledger.conftest import account, fee_spec, ledger_counts

pytestmark = pytest.mark.django_db


def earn(parties, key, *, days_ago=0, **overrides):
    return ledger_post_fee(
        fee=fee_spec(parties, **overrides),
        reference=f"asset:{key}",
        idempotency_key=key,
        effective_at=timezone.now() - datetime.timedelta(days=days_ago),
    )


def test_each_earning_is_due_from_the_agency_45_days_after_it_was_earned(parties):
    entry = earn(parties, "a1", days_ago=3)

    remittance = Remittance.objects.get(entry=entry)
    assert remittance.payer == parties.agency
    assert remittance.amount_minor == 8_000
    assert remittance.due_on == entry.effective_at.astimezone(
        datetime.UTC
    ).date() + datetime.timedelta(days=45)


def test_a_talent_without_an_agency_is_owed_by_the_platform(parties):
    entry = earn(
        parties,
        "a1",
        agency=None,
        commission_bps=0,
        mother_agency=None,
        mother_agency_share_bps=0,
        client_agency_fee_bps=0,
    )

    assert Remittance.objects.get(entry=entry).payer == "platform"


def test_overdue_remittances_are_listed_until_paid(parties, settings, capsys):
    settings.RIGHTSDESK_REMITTANCE_DUE_DAYS = 30
    old = earn(parties, "old", days_ago=40)
    earn(parties, "recent", days_ago=5)

    overdue = list(remittances_overdue())
    assert [r.entry_id for r in overdue] == [old.pk]
    call_command("ledger_remittances", "--overdue")
    assert "1 remittance(s)" in capsys.readouterr().out

    payout = ledger_remittance_pay(remittance=overdue[0], actor=parties.staff)

    assert list(remittances_overdue()) == []
    assert payout.kind == "payout"
    assert account(parties.talent, "earnings").balance_minor == 8_000  # the recent one
    # Paying twice with the default key returns the same payout; the state is final.
    assert ledger_remittance_pay(remittance=overdue[0], actor=parties.staff).pk == payout.pk
    with pytest.raises(InvalidTransition):
        ledger_remittance_pay(remittance=overdue[0], actor=parties.staff, idempotency_key="x")


def test_only_staff_record_a_payout(parties):
    remittance = Remittance.objects.get(entry=earn(parties, "a1"))
    before = ledger_counts()

    with pytest.raises(PermissionDenied):
        ledger_remittance_pay(remittance=remittance, actor=UserFactory(role="talent"))

    assert ledger_counts() == before
    remittance.refresh_from_db()
    assert remittance.status == Remittance.Status.PENDING


def test_reversing_an_earning_cancels_its_remittance(parties):
    entry = earn(parties, "a1")

    ledger_reverse(entry=entry, idempotency_key="undo", reason="posted twice")

    assert Remittance.objects.get(entry=entry).status == Remittance.Status.CANCELLED
    assert account(parties.talent, "earnings").balance_minor == 0


def test_reversing_a_payout_makes_the_remittance_due_again(parties):
    remittance = Remittance.objects.get(entry=earn(parties, "a1"))
    payout = ledger_remittance_pay(remittance=remittance, actor=parties.staff)

    ledger_reverse(entry=payout, idempotency_key="bounced", reason="the transfer bounced")

    remittance.refresh_from_db()
    assert (remittance.status, remittance.paid_entry) == (Remittance.Status.PENDING, None)
    assert account(parties.talent, "earnings").balance_minor == 8_000

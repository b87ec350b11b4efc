"""What only PostgreSQL can show: concurrent runs of the apply task and the append-only
triggers on the consent history."""

import threading
import time

import pytest
from django.db import IntegrityError, connection, transaction
from django.utils import timezone

from rightsdesk.audit.models import AuditEvent
from rightsdesk.consent.hooks import off_withdrawal_effective, on_withdrawal_effective
from rightsdesk.consent.models import (
    ConsentNotice,
    CreationConsent,
    Withdrawal,
    WithdrawalApplied,
)
from rightsdesk.consent.services import withdrawal_create, withdrawals_apply_due
from rightsdesk.licensing.models import Licence
from tests.consent.conftest import give

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]


def _in_thread(target, results: list, *args) -> threading.Thread:
    def run():
        try:
            results.append(target(*args))
        except Exception as error:  # surfaced by the test's assertions
            results.append(error)
        finally:
            connection.close()

    thread = threading.Thread(target=run)
    thread.start()
    return thread


def test_two_concurrent_runs_apply_a_withdrawal_exactly_once(world, deal):
    withdrawal = withdrawal_create(
        target=deal.agreement, kind="contractual", reason="Ending", actor=world.talent_a.user
    )
    later = withdrawal.effective_at
    calls = []
    barrier = threading.Barrier(2)

    def slow_hook(effect):
        calls.append(effect.withdrawal_id)
        time.sleep(0.3)  # hold the transaction open while the other run looks

    def run():
        barrier.wait()
        return withdrawals_apply_due(now=later)

    on_withdrawal_effective(slow_hook)
    try:
        results: list = []
        threads = [_in_thread(run, results) for _ in range(2)]
        for thread in threads:
            thread.join(timeout=30)
    finally:
        off_withdrawal_effective(slow_hook)

    assert not [r for r in results if isinstance(r, Exception)], results
    assert sorted(len(r) for r in results) == [0, 1]
    assert calls == [withdrawal.pk]
    assert WithdrawalApplied.objects.filter(withdrawal=withdrawal).count() == 1
    assert AuditEvent.objects.filter(action="withdrawal.applied").count() == 1
    assert AuditEvent.objects.filter(action="licence.withdrawn").count() == 3
    assert set(
        Licence.objects.filter(agreement=deal.agreement).values_list("status", flat=True)
    ) == {
        "withdrawn",
        "declined",
    }


def test_a_run_skips_the_withdrawal_another_run_is_applying(world, deal):
    withdrawal = withdrawal_create(
        target=deal.licence, kind="contractual", reason="Ending", actor=world.talent_a.user
    )
    later = withdrawal.effective_at
    inside, release = threading.Event(), threading.Event()

    def blocking_hook(effect):
        inside.set()
        assert release.wait(timeout=20)

    on_withdrawal_effective(blocking_hook)
    try:
        first: list = []
        thread = _in_thread(lambda: withdrawals_apply_due(now=later), first)
        assert inside.wait(timeout=20)
        # While the first run holds the row, a second run neither waits nor applies it.
        started = time.monotonic()
        assert withdrawals_apply_due(now=later) == []
        assert time.monotonic() - started < 5
        release.set()
        thread.join(timeout=30)
    finally:
        off_withdrawal_effective(blocking_hook)

    assert [len(r) for r in first] == [1]
    assert withdrawals_apply_due(now=later) == []  # and after it committed, nothing either
    assert WithdrawalApplied.objects.count() == 1


def test_the_database_refuses_a_second_application_of_one_withdrawal(world, deal):
    withdrawal = withdrawal_create(
        target=deal.licence, kind="for_cause", reason="Breach", actor=world.talent_a.user
    )

    with pytest.raises(IntegrityError), transaction.atomic():
        WithdrawalApplied.objects.create(withdrawal=withdrawal, applied_at=timezone.now())


@pytest.mark.parametrize("model", [ConsentNotice, CreationConsent, Withdrawal, WithdrawalApplied])
def test_the_consent_history_cannot_be_edited_or_deleted(world, deal, model):
    talent = world.talent_a
    consent = give(talent=talent, actor=talent.user)
    withdrawal_create(target=consent, kind="data_protection", reason="No", actor=talent.user)
    row = model.objects.first()
    before = model.objects.filter(pk=row.pk).values().get()
    field = {
        ConsentNotice: "text",
        CreationConsent: "scope_reference",
        Withdrawal: "reason",
        WithdrawalApplied: "applied_at",
    }[model]
    value = timezone.now() if field == "applied_at" else "rewritten"

    with pytest.raises(IntegrityError, match="append-only"), transaction.atomic():
        model.objects.filter(pk=row.pk).update(**{field: value})
    with pytest.raises(IntegrityError, match="append-only"), transaction.atomic():
        model.objects.filter(pk=row.pk)._raw_delete(model.objects.db)

    assert model.objects.filter(pk=row.pk).values().get() == before

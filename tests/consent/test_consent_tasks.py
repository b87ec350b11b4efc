"""The periodic task that gives effect to withdrawals whose notice has run out."""

import time
import uuid
from datetime import timedelta

import pytest
from django.conf import settings
from django.utils import timezone

from rightsdesk.consent.models import Withdrawal, WithdrawalApplied
from rightsdesk.consent.tasks import withdrawals_apply_due_task
from rightsdesk.licensing.models import Licence


def _due_withdrawal(deal, actor) -> Withdrawal:
    """A contractual withdrawal filed 31 days ago, whose 30-day notice has just run out."""
    requested = timezone.now() - timedelta(days=31)
    return Withdrawal.objects.create(
        kind="contractual",
        agreement=deal.agreement,
        talent=deal.agreement.talent,
        reason="Ending",
        requested_by=actor,
        requested_at=requested,
        effective_at=requested + timedelta(days=30),
        run_off_until=requested + timedelta(days=120),
        public_id=uuid.uuid4(),
    )


def test_the_apply_task_is_scheduled_every_minute_by_celery_beat():
    entries = {e["task"]: e["schedule"] for e in settings.CELERY_BEAT_SCHEDULE.values()}
    assert entries[withdrawals_apply_due_task.name] == 60.0


@pytest.mark.django_db
def test_the_task_applies_what_is_due_and_a_rerun_does_nothing(world, deal):
    withdrawal = _due_withdrawal(deal, world.talent_a.user)

    assert withdrawals_apply_due_task() == 1
    assert withdrawals_apply_due_task() == 0

    assert WithdrawalApplied.objects.filter(withdrawal=withdrawal).count() == 1
    assert Licence.objects.get(pk=deal.licence.pk).status == "withdrawn"


@pytest.mark.worker
@pytest.mark.django_db(transaction=True)
def test_a_real_worker_applies_a_due_withdrawal(world, deal, celery_worker_process):
    withdrawal = _due_withdrawal(deal, world.talent_a.user)

    withdrawals_apply_due_task.delay()

    deadline = time.monotonic() + 30
    while not WithdrawalApplied.objects.filter(withdrawal=withdrawal).exists():
        celery_worker_process.assert_alive()
        assert time.monotonic() < deadline, celery_worker_process.log_tail()
        time.sleep(0.05)
    statuses = set(
        Licence.objects.filter(agreement=deal.agreement).values_list("status", flat=True)
    )
    assert statuses == {"withdrawn", "declined"}

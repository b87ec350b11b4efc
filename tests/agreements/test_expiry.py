"""The daily task: agreements past their end expire; parties are reminded 30, 7 and 1 days
ahead, each reminder once however often the task runs."""

import threading

import pytest
from celery.schedules import crontab
from django.core import mail
from django.db import connection
from django.utils import timezone

from rightsdesk.agreements.models import Agreement, AgreementVersion
from rightsdesk.agreements.services import agreement_amend, agreements_expire_and_remind
from rightsdesk.agreements.tasks import agreements_expire_task
from rightsdesk.audit.models import AuditEvent
from rightsdesk.core.models import Notification
from tests.agreements.conftest import DAY, document, draft, make_terms, sign

Status = AgreementVersion.Status


def active_agreement(world, **terms) -> Agreement:
    agreement = draft(world, **terms)
    version = agreement.versions.get()
    sign(version, world.users["talent"])
    sign(version, world.users["legal"])
    agreement.refresh_from_db()
    return agreement


def run(now, capture):
    with capture(execute=True):
        return agreements_expire_and_remind(now=now)


@pytest.mark.django_db
def test_reminders_go_out_30_7_and_1_days_ahead_exactly_once_each(
    world, django_capture_on_commit_callbacks
):
    agreement = active_agreement(world)
    ends = agreement.versions.get().effective_to
    recipients = {world.users[who].email for who in ("legal", "talent", "agent")}

    sent = []
    for days_left in (40, 29.5, 29, 6.5, 6, 0.5, 0.25):
        report = run(ends - days_left * DAY, django_capture_on_commit_callbacks)
        again = run(ends - days_left * DAY, django_capture_on_commit_callbacks)
        assert again.reminders_sent == 0  # a rerun sends nothing
        sent.append(report.reminders_sent)

    assert sent == [0, 3, 0, 3, 0, 3, 0]
    notices = Notification.objects.filter(kind="agreement.expiring")
    assert notices.count() == 9
    for email in recipients:
        subjects = sorted(notices.filter(user__email=email).values_list("subject", flat=True))
        assert [s.split(":")[0] for s in subjects] == [
            "Agreement ends in 1 day",
            "Agreement ends in 30 days",
            "Agreement ends in 7 days",
        ]
    assert len(mail.outbox) == 9
    assert {m.to[0] for m in mail.outbox} == recipients
    assert all(n.emailed_at is not None for n in notices)


@pytest.mark.django_db
def test_a_missed_run_sends_only_the_nearest_reminder(world, django_capture_on_commit_callbacks):
    agreement = active_agreement(world)
    ends = agreement.versions.get().effective_to

    report = run(ends - 3 * DAY, django_capture_on_commit_callbacks)

    assert report.reminders_sent == 3
    assert set(Notification.objects.values_list("dedupe_key", flat=True)) == {
        f"agreement:{agreement.public_id}:v1:ends:7"
    }


@pytest.mark.django_db
def test_a_renewal_starts_a_new_cycle_of_reminders(world, django_capture_on_commit_callbacks):
    agreement = active_agreement(world)
    ends = agreement.versions.get().effective_to
    run(ends - 6 * DAY, django_capture_on_commit_callbacks)
    renewal = agreement_amend(
        agreement=agreement,
        document=document(b"renewal"),
        terms=make_terms(effective_to=ends + 20 * DAY),
        actor=world.users["legal"],
    )
    sign(renewal, world.users["legal"])
    sign(renewal, world.users["talent"])

    report = run(ends - 5 * DAY, django_capture_on_commit_callbacks)

    assert report.reminders_sent == 3  # the renewal ends in 25 days: its own 30-day reminder
    assert Notification.objects.filter(dedupe_key__contains=":v2:ends:30").count() == 3


@pytest.mark.django_db
def test_the_task_expires_agreements_past_their_end_once(world, django_capture_on_commit_callbacks):
    ended = active_agreement(world)
    running = active_agreement(world)
    unsigned = draft(world)
    past = timezone.now() - DAY
    AgreementVersion.objects.filter(agreement__in=[ended, unsigned]).update(
        effective_from=past - 30 * DAY, effective_to=past
    )

    with django_capture_on_commit_callbacks(execute=True):
        first = agreements_expire_task()
        second = agreements_expire_task()

    assert first == {"versions_expired": 2, "agreements_expired": 2, "reminders_sent": 0}
    assert second == {"versions_expired": 0, "agreements_expired": 0, "reminders_sent": 0}
    for agreement, status in ((ended, "expired"), (unsigned, "expired"), (running, "active")):
        agreement.refresh_from_db()
        assert agreement.status == status
    assert ended.versions.get().status == Status.EXPIRED
    assert AuditEvent.objects.filter(action="agreement.expired").count() == 2
    with pytest.raises(Exception) as caught:
        sign(unsigned.versions.get(), world.users["talent"])
    assert caught.value.code == "version_not_signable"


@pytest.mark.django_db
def test_an_active_version_expiring_with_a_renewal_pending_expires_the_agreement_until_signed(
    world, django_capture_on_commit_callbacks
):
    agreement = active_agreement(world)
    v1 = agreement.versions.get()
    renewal = agreement_amend(
        agreement=agreement,
        document=document(b"renewal"),
        terms=make_terms(effective_to=v1.effective_to + 365 * DAY),
        actor=world.users["legal"],
    )

    run(v1.effective_to + DAY, django_capture_on_commit_callbacks)
    agreement.refresh_from_db()
    assert agreement.status == Agreement.Status.EXPIRED

    sign(renewal, world.users["legal"])
    sign(renewal, world.users["talent"])
    agreement.refresh_from_db()
    assert agreement.status == Agreement.Status.ACTIVE


def test_the_task_is_scheduled_daily(settings):
    entry = next(
        e
        for e in settings.CELERY_BEAT_SCHEDULE.values()
        if e["task"] == "rightsdesk.agreements.tasks.agreements_expire_task"
    )
    assert entry["schedule"] == crontab(hour=2, minute=0)


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_two_runs_at_once_send_each_reminder_once(world):
    agreement = active_agreement(world)
    at = agreement.versions.get().effective_to - 6 * DAY
    barrier = threading.Barrier(2)
    errors = []

    def worker():
        try:
            barrier.wait()
            agreements_expire_and_remind(now=at)
        except Exception as exc:  # pragma: no cover - reported below
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=worker) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert errors == []
    assert Notification.objects.filter(kind="agreement.expiring").count() == 3
    assert len(mail.outbox) == 3

"""core.notifications: an in-app notice, e-mailed after commit, idempotent per dedupe key."""

import socket
import threading
import time
from datetime import timedelta
from unittest import mock

import pytest
from django.core import mail
from django.db import connection, transaction
from django.utils import timezone

from rightsdesk.core.models import Notification
from rightsdesk.core.notifications import (
    MAX_EMAIL_ATTEMPTS,
    _sender,
    notifications_email_unsent,
    notifications_for,
    notify,
)
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db


def _notify(user, **kwargs):
    values = {"kind": "agreement.expiring", "subject": "Ends soon", "body": "In 7 days."}
    return notify(user=user, **{**values, **kwargs})


def test_notify_creates_the_notice_and_emails_it_after_commit(
    django_capture_on_commit_callbacks,
):
    user = UserFactory()

    with django_capture_on_commit_callbacks(execute=True):
        notice = _notify(user, target_reference="agreement:abc")
        assert mail.outbox == []  # nothing is sent before the commit

    notice.refresh_from_db()
    assert notice.user == user and notice.target_reference == "agreement:abc"
    assert notice.emailed_at is not None
    assert [(m.subject, m.to) for m in mail.outbox] == [("Ends soon", [user.email])]


def test_a_dedupe_key_makes_a_rerun_create_and_send_nothing(django_capture_on_commit_callbacks):
    user = UserFactory()

    with django_capture_on_commit_callbacks(execute=True):
        first = _notify(user, dedupe_key="agreement:1:ends:7")
    with django_capture_on_commit_callbacks(execute=True):
        second = _notify(user, dedupe_key="agreement:1:ends:7")

    assert first is not None and second is None
    assert Notification.objects.filter(user=user).count() == 1
    assert len(mail.outbox) == 1


def test_the_same_dedupe_key_for_another_user_is_another_notice(
    django_capture_on_commit_callbacks,
):
    alice, bob = UserFactory(), UserFactory()

    with django_capture_on_commit_callbacks(execute=True):
        _notify(alice, dedupe_key="k")
        _notify(bob, dedupe_key="k")

    assert Notification.objects.count() == 2
    assert sorted(m.to[0] for m in mail.outbox) == sorted([alice.email, bob.email])


def test_a_rolled_back_transaction_sends_nothing(django_capture_on_commit_callbacks):
    user = UserFactory()

    with (
        django_capture_on_commit_callbacks(execute=True),
        pytest.raises(RuntimeError),
        transaction.atomic(),
    ):
        _notify(user)
        raise RuntimeError

    assert Notification.objects.count() == 0
    assert mail.outbox == []


def test_a_failing_mail_server_keeps_the_in_app_notice(django_capture_on_commit_callbacks, caplog):
    user = UserFactory()

    with (
        mock.patch("rightsdesk.core.notifications.send_mail", side_effect=ConnectionRefusedError),
        django_capture_on_commit_callbacks(execute=True),
    ):
        notice = _notify(user)

    notice.refresh_from_db()
    assert notice.emailed_at is None
    assert "e-mail to user" in caplog.text


def test_notifications_for_lists_only_the_users_own_notices_newest_first():
    alice, bob = UserFactory(), UserFactory()
    older = _notify(alice, subject="older")
    newer = _notify(alice, subject="newer")
    _notify(bob)

    assert list(notifications_for(user=alice)) == [newer, older]


def test_the_api_lists_and_marks_read_only_the_callers_notices(as_user):
    alice, bob = UserFactory(), UserFactory()
    mine = _notify(alice)
    theirs = _notify(bob)
    client = as_user(alice)

    listed = client.get("/api/v1/notifications/")
    read = client.post(f"/api/v1/notifications/{mine.public_id}/read/")
    foreign = client.post(f"/api/v1/notifications/{theirs.public_id}/read/")
    unread = client.get("/api/v1/notifications/?unread=1")

    assert listed.status_code == 200
    assert [n["public_id"] for n in listed.json()["results"]] == [str(mine.public_id)]
    assert read.status_code == 200 and read.json()["read_at"] is not None
    assert foreign.status_code == 404 and foreign.json()["code"] == "not_found"
    theirs.refresh_from_db()
    assert theirs.read_at is None
    assert unread.json()["count"] == 0


def test_a_mail_server_that_stops_answering_costs_at_most_the_timeout(
    django_capture_on_commit_callbacks, settings, caplog
):
    assert 0 < settings.EMAIL_TIMEOUT <= 60  # never unbounded by default
    # given an SMTP server that accepts the connection and then says nothing (no greeting)
    silent = socket.socket()
    silent.bind(("127.0.0.1", 0))
    silent.listen(1)
    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_HOST, settings.EMAIL_PORT = silent.getsockname()
    settings.EMAIL_TIMEOUT = 1
    user = UserFactory()

    # when a notice is written and e-mailed after commit
    started = time.monotonic()
    try:
        with django_capture_on_commit_callbacks(execute=True):
            notice = _notify(user)
    finally:
        silent.close()
    waited = time.monotonic() - started

    # then the committing process waited for the timeout, not for ever, and the notice stands
    assert 1 <= waited < 5
    notice.refresh_from_db()
    assert notice.emailed_at is None
    assert f"notification {notice.pk}: e-mail to user {user.pk} failed" in caplog.text


@pytest.mark.django_db(transaction=True)
def test_in_the_background_the_committing_thread_does_not_wait_for_the_mail_server(
    settings, caplog
):
    # given notices e-mailed on the mail thread, and a mail server that never answers
    silent = socket.socket()
    silent.bind(("127.0.0.1", 0))
    silent.listen(1)
    settings.RIGHTSDESK_MAIL_IN_BACKGROUND = True
    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_HOST, settings.EMAIL_PORT = silent.getsockname()
    settings.EMAIL_TIMEOUT = 1
    user = UserFactory()

    # when a notice is written and its transaction commits
    started = time.monotonic()
    with transaction.atomic():
        notice = _notify(user)
    returned = time.monotonic() - started

    # then the commit returned at once; the mail thread waited for the timeout, logged the
    # failure, and the notice stands unsent
    try:
        assert returned < 0.5
        assert _sender.wait(timeout=5)
    finally:
        silent.close()
    notice.refresh_from_db()
    assert notice.emailed_at is None
    assert f"notification {notice.pk}: e-mail to user {user.pk} failed" in caplog.text


@pytest.mark.django_db(transaction=True)
def test_in_the_background_notices_are_emailed_in_order_and_marked(settings):
    settings.RIGHTSDESK_MAIL_IN_BACKGROUND = True
    user = UserFactory()

    for n in range(3):
        with transaction.atomic():
            _notify(user, subject=f"Notice {n}", dedupe_key=f"background:{n}")
    with transaction.atomic():  # rolled back: nothing queued
        _notify(user, subject="Never", dedupe_key="background:rolled-back")
        transaction.set_rollback(True)

    assert _sender.wait(timeout=5)
    assert [message.subject for message in mail.outbox] == ["Notice 0", "Notice 1", "Notice 2"]
    notices = Notification.objects.filter(user=user)
    assert notices.count() == 3
    assert all(notice.emailed_at is not None for notice in notices)


def _aged(notice, minutes: float) -> None:
    then = timezone.now() - timedelta(minutes=minutes)
    Notification.objects.filter(pk=notice.pk).update(created_at=then, updated_at=then)


def test_a_failed_email_is_counted_and_sent_again_by_the_resend(
    django_capture_on_commit_callbacks,
):
    # given a notice whose e-mail failed when it was written
    user = UserFactory()
    with (
        mock.patch("rightsdesk.core.notifications.send_mail", side_effect=ConnectionRefusedError),
        django_capture_on_commit_callbacks(execute=True),
    ):
        notice = _notify(user, subject="Retry me")
    notice.refresh_from_db()
    assert (notice.emailed_at, notice.email_attempts, mail.outbox) == (None, 1, [])

    # when the resend runs before the grace period, then after it
    assert notifications_email_unsent() == 0
    _aged(notice, minutes=11)
    assert notifications_email_unsent() == 1

    # then it went once, is marked, and a later run sends nothing
    notice.refresh_from_db()
    assert notice.emailed_at is not None and notice.email_attempts == 2
    assert [message.subject for message in mail.outbox] == ["Retry me"]
    assert notifications_email_unsent(now=timezone.now() + timedelta(minutes=15)) == 0
    assert len(mail.outbox) == 1


def test_the_resend_stops_after_the_last_attempt_and_skips_stale_or_unreachable_notices(
    django_capture_on_commit_callbacks,
):
    user, gone = UserFactory(), UserFactory(is_active=False)
    with (
        mock.patch("rightsdesk.core.notifications.send_mail", side_effect=ConnectionRefusedError),
        django_capture_on_commit_callbacks(execute=True),
    ):
        failing = _notify(user, subject="Dead address", dedupe_key="dead")
        stale = _notify(user, subject="Too old", dedupe_key="stale")
        unreachable = _notify(gone, subject="Inactive user", dedupe_key="gone")
    _aged(failing, minutes=11)
    _aged(stale, minutes=3 * 24 * 60)
    _aged(unreachable, minutes=11)

    # the address keeps failing: each run (every 15 minutes, as beat runs it) counts one
    # attempt, up to the last
    with mock.patch(
        "rightsdesk.core.notifications.send_mail", side_effect=ConnectionRefusedError
    ) as send:
        runs = [
            notifications_email_unsent(now=timezone.now() + timedelta(minutes=15 * n))
            for n in range(MAX_EMAIL_ATTEMPTS + 2)
        ]

    assert runs == [0] * (MAX_EMAIL_ATTEMPTS + 2)
    assert send.call_count == MAX_EMAIL_ATTEMPTS - 1  # the first attempt was the notify's
    failing.refresh_from_db()
    assert (failing.emailed_at, failing.email_attempts) == (None, MAX_EMAIL_ATTEMPTS)
    stale.refresh_from_db()
    unreachable.refresh_from_db()
    assert stale.email_attempts == 1 and unreachable.email_attempts == 0
    assert mail.outbox == []


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_two_resends_at_once_send_a_notice_once():
    # Each claims a notice before sending it; a resend that read it before the claim finds
    # its count changed, one that reads it after finds it leased.
    # given ten notices whose e-mail never went (a process killed with them queued)
    user = UserFactory()
    notices = [
        Notification.objects.create(user=user, kind="k", subject=f"n{n}", body="b")
        for n in range(10)
    ]
    then = timezone.now() - timedelta(minutes=30)
    Notification.objects.filter(pk__in=[n.pk for n in notices]).update(
        created_at=then, updated_at=then
    )

    # when two resends run at the same moment on two connections
    barrier, results = threading.Barrier(2), []

    def resend() -> None:
        try:
            barrier.wait()
            results.append(notifications_email_unsent())
        finally:
            connection.close()

    threads = [threading.Thread(target=resend) for _ in range(2)]
    [thread.start() for thread in threads]
    [thread.join() for thread in threads]

    # then every notice was e-mailed exactly once between them
    assert sum(results) == 10
    assert sorted(message.subject for message in mail.outbox) == sorted(f"n{n}" for n in range(10))
    assert set(Notification.objects.values_list("email_attempts", flat=True)) == {1}


def test_the_resend_is_scheduled_by_celery_beat(settings):
    from rightsdesk.core.tasks import notifications_email_unsent_task

    entries = {entry["task"] for entry in settings.CELERY_BEAT_SCHEDULE.values()}
    assert notifications_email_unsent_task.name in entries


def test_a_resend_that_runs_while_another_is_sending_leaves_that_notice_alone():
    # given a notice whose e-mail never went
    user = UserFactory()
    notice = Notification.objects.create(user=user, kind="k", subject="Once", body="b")
    _aged(notice, minutes=30)
    inner: list[int] = []

    def slow_send(**message):
        # a second resend starts while the first is still talking to the mail server
        inner.append(notifications_email_unsent())
        mail.outbox.append(mail.EmailMessage(message["subject"], message["message"]))

    with mock.patch("rightsdesk.core.notifications.send_mail", side_effect=slow_send):
        assert notifications_email_unsent() == 1

    assert inner == [0]  # the claimed notice was leased to the first resend
    assert [message.subject for message in mail.outbox] == ["Once"]

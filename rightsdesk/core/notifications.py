"""In-app notifications, each also e-mailed through Django's e-mail backend.

``notify`` is what every app calls (agreement reminders, licence offers, approvals). The
in-app row is the record; the e-mail is a courtesy sent after commit, so a rolled-back
transaction sends nothing and a failing mail server never loses the in-app row (the
failure is logged and ``emailed_at`` stays empty).

The e-mail goes out on a thread of the committing process (``RIGHTSDESK_MAIL_IN_BACKGROUND``),
so neither a web request nor a GPU worker between two renders waits for the mail server
(an SMTP exchange with TLS takes tens to hundreds of milliseconds, and up to
``EMAIL_TIMEOUT`` when the server stops answering). A process that ends waits for what it
queued, up to that timeout. A notice whose e-mail failed, or never left a process killed
with it queued, keeps ``emailed_at`` empty, and the periodic resend
(``notifications_email_unsent``) tries it again while it is fresh.

A ``dedupe_key`` makes a notice idempotent per user: the 30/7/1-day reminders of a daily
task pass ``f"agreement:{id}:ends:{days}"``, so a rerun creates nothing and sends nothing.
The database enforces it (``notification_dedupe``), so two workers racing are safe too.
"""

import atexit
import logging
import os
import queue
import threading
import time
from datetime import datetime, timedelta
from uuid import UUID

from django.conf import settings
from django.core.exceptions import ValidationError as DjangoValidationError
from django.core.mail import send_mail
from django.db import connection, transaction
from django.db.models import F, QuerySet
from django.utils import timezone

from rightsdesk.accounts.models import User
from rightsdesk.core import rawsql
from rightsdesk.core.errors import NotFound
from rightsdesk.core.models import Notification

logger = logging.getLogger(__name__)

# Days before an agreement or licence ends at which its parties are reminded.
REMINDER_DAYS: tuple[int, ...] = (30, 7, 1)


def reminder_due(*, ends_at: datetime, now: datetime) -> int | None:
    """The reminder (30, 7 or 1 days) that is due for something ending at ``ends_at``.

    The nearest threshold that the remaining time is within: with 25 days left, the 30-day
    reminder; with 6 days left, the 7-day one (a missed 30-day reminder is not sent late).
    None once it has ended or while more than 30 days remain. Callers dedupe on the
    threshold so each reminder goes out once.
    """
    remaining = ends_at - now
    if remaining <= timedelta(0):
        return None
    for days in sorted(REMINDER_DAYS):
        if remaining <= timedelta(days=days):
            return days
    return None


def notify(
    *,
    user: User,
    kind: str,
    subject: str,
    body: str,
    target_reference: str = "",
    dedupe_key: str = "",
) -> Notification | None:
    """Create ``user``'s in-app notice and e-mail it after commit.

    Returns None, creating and sending nothing, when ``user`` already has a notice with
    this non-empty ``dedupe_key``. Runs in the caller's transaction when there is one.
    """
    notification = Notification(
        user=user,
        kind=kind,
        subject=subject[:200],
        body=body,
        target_reference=target_reference,
        dedupe_key=dedupe_key,
    )
    # One statement: a notice already there under this key (sent before, or by another
    # worker racing this one) is skipped by the database, with no savepoint and no probe,
    # and nothing is sent.
    if not rawsql.insert(notification, skip_conflicts=bool(dedupe_key)):
        return None
    transaction.on_commit(lambda: _email(notification))
    return notification


def _email(notification: Notification) -> None:
    if settings.RIGHTSDESK_MAIL_IN_BACKGROUND:
        _sender.submit(notification)
    else:
        _send(notification)


def _send(notification: Notification, *, counted: bool = False) -> bool:
    # E-mail the notice as just written or just read, its user loaded with it; True when
    # it went. Never raises for a mail failure: the in-app notice is what counts, the
    # failure is logged and counted for the resend. ``counted``: the caller (the resend)
    # has counted this attempt already.
    user = notification.user
    if not (user.is_active and user.email):
        return False
    try:
        send_mail(
            subject=notification.subject,
            message=notification.body,
            from_email=settings.DEFAULT_FROM_EMAIL,
            recipient_list=[user.email],
        )
    except Exception:
        logger.exception("notification %s: e-mail to user %s failed", notification.pk, user.pk)
        if not counted:
            Notification.objects.filter(pk=notification.pk, emailed_at__isnull=True).update(
                email_attempts=F("email_attempts") + 1
            )
        return False
    # A conditional update: a second sender racing this one does not bump the time.
    Notification.objects.filter(pk=notification.pk, emailed_at__isnull=True).update(
        emailed_at=timezone.now()
    )
    return True


# The periodic resend (core.tasks): notices whose e-mail failed, or never left a process
# that was killed with it queued, are tried again while they are fresh, a few times.
MAX_EMAIL_ATTEMPTS = 5
RESEND_AFTER = timedelta(minutes=10)  # the mail thread's own send has long finished
RESEND_WITHIN = timedelta(days=2)  # an older notice is read in the app, not mailed late
# A claimed attempt is another resend's to finish for this long (well above EMAIL_TIMEOUT).
RESEND_LEASE = timedelta(minutes=5)


def notifications_email_unsent(*, now: datetime | None = None, limit: int = 200) -> int:
    """E-mail again the notices that were never e-mailed: older than ``RESEND_AFTER``,
    younger than ``RESEND_WITHIN``, tried fewer than ``MAX_EMAIL_ATTEMPTS`` times, to an
    active user with an address. Each attempt is claimed before it is sent by a conditional
    UPDATE of its count that also stamps ``updated_at``: a resend that read the notice
    before the claim finds the count changed, and one that reads it after skips it for
    ``RESEND_LEASE``. So two resends running at once never send one notice twice, and no
    transaction is held while the mail server answers. Returns how many went."""
    now = now or timezone.now()
    due = (
        Notification.objects.filter(
            emailed_at__isnull=True,
            email_attempts__lt=MAX_EMAIL_ATTEMPTS,
            created_at__lte=now - RESEND_AFTER,
            created_at__gte=now - RESEND_WITHIN,
            updated_at__lte=now - RESEND_LEASE,
            user__is_active=True,
        )
        .exclude(user__email="")
        .select_related("user")
        .order_by("created_at", "pk")[:limit]
    )
    sent = 0
    for notification in due:
        attempts = notification.email_attempts
        claimed = Notification.objects.filter(
            pk=notification.pk, emailed_at__isnull=True, email_attempts=attempts
        ).update(email_attempts=attempts + 1, updated_at=timezone.now())
        if claimed:
            sent += _send(notification, counted=True)
    return sent


class _MailSender:
    """One daemon thread per process that e-mails the notices queued after their commit,
    in order. A full queue (a mail server far slower than the notices) sends on the
    caller's thread instead: nothing is dropped."""

    def __init__(self, size: int = 1000) -> None:
        self._size = size
        self._lock = threading.Lock()
        self._pid = 0
        self._queue: queue.Queue[Notification] = queue.Queue(size)
        self._thread: threading.Thread | None = None

    def submit(self, notification: Notification) -> None:
        try:
            self._started().put_nowait(notification)
        except queue.Full:
            logger.warning("mail queue full: notification %s sent in line", notification.pk)
            _send(notification)

    def wait(self, timeout: float) -> bool:
        """Wait until everything queued so far was sent (or failed); False on timeout."""
        if self._pid != os.getpid():
            return True  # a forked child that queued nothing (the queue is its parent's)
        deadline = time.monotonic() + timeout
        while self._queue.unfinished_tasks:
            if time.monotonic() >= deadline:
                return False
            time.sleep(0.01)
        return True

    def _started(self) -> queue.Queue:
        with self._lock:
            # A forked child (a Celery pool process) starts its own thread and queue.
            if self._pid != os.getpid() or self._thread is None or not self._thread.is_alive():
                if self._pid != os.getpid():
                    self._queue = queue.Queue(self._size)
                self._pid = os.getpid()
                self._thread = threading.Thread(
                    target=self._run, args=(self._queue,), name="rightsdesk-mail", daemon=True
                )
                self._thread.start()
            return self._queue

    @staticmethod
    def _run(jobs: queue.Queue) -> None:
        while True:
            notification = jobs.get()
            try:
                _send(notification)
            except Exception:  # _send logs mail failures; anything else must not kill us
                logger.exception("notification %s: e-mail not sent", notification.pk)
            finally:
                if jobs.empty():
                    connection.close()  # this thread's own; it may idle for long
                jobs.task_done()


_sender = _MailSender()


@atexit.register
def _send_what_is_queued() -> None:
    # Daemon threads die with the interpreter: give them the time one send may take.
    if _sender.wait(timeout=0):
        return
    if not _sender.wait(timeout=float(getattr(settings, "EMAIL_TIMEOUT", 10) or 10) + 1):
        logger.warning("exiting with e-mails unsent; their notices keep emailed_at empty")


def notification_mark_read(*, notification: Notification, actor: User) -> Notification:
    """Mark ``actor``'s own notice read (idempotent: the first read time is kept).

    Not audited: reading a notice changes nothing anyone relies on.
    """
    if notification.user_id != actor.pk:
        raise NotFound("No such notification.")
    if notification.read_at is None:
        now = timezone.now()
        Notification.objects.filter(pk=notification.pk, read_at__isnull=True).update(
            read_at=now, updated_at=now
        )
        notification.refresh_from_db(fields=["read_at", "updated_at"])
    return notification


def notifications_for(*, user: User, unread_only: bool = False) -> QuerySet[Notification]:
    """``user``'s notices, newest first. Nobody sees another user's notices, staff included."""
    if not (user.is_authenticated and user.is_active):
        return Notification.objects.none()
    notices = Notification.objects.filter(user=user).order_by("-created_at", "-pk")
    if unread_only:
        notices = notices.filter(read_at__isnull=True)
    return notices


def notification_get_for(*, user: User, public_id: UUID | str) -> Notification:
    try:
        return notifications_for(user=user).get(public_id=public_id)
    except (Notification.DoesNotExist, DjangoValidationError, ValueError):
        raise NotFound("No such notification.")

"""Celery tasks of the agreements app: thin and idempotent."""

from celery import shared_task

from rightsdesk.agreements.services import agreements_expire_and_remind


@shared_task(ignore_result=True)
def agreements_expire_task() -> dict:
    """Expire agreements past their end and send the 30/7/1-day reminders (daily, by beat).

    Safe to run any number of times: see ``agreements_expire_and_remind``.
    """
    report = agreements_expire_and_remind()
    return {
        "versions_expired": report.versions_expired,
        "agreements_expired": report.agreements_expired,
        "reminders_sent": report.reminders_sent,
    }

"""Celery tasks of the licensing app: thin and idempotent."""

from celery import shared_task

from rightsdesk.licensing.services import licences_expire_and_remind


@shared_task(ignore_result=True)
def licences_expire_task() -> dict[str, int]:
    """Expire lapsed offers and ended licences; send the 30/7/1-day reminders (daily beat)."""
    report = licences_expire_and_remind()
    return {
        "offers_expired": report.offers_expired,
        "licences_expired": report.licences_expired,
        "reminders_sent": report.reminders_sent,
    }

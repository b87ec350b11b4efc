"""Periodic work of the core app (celery beat, see settings.CELERY_BEAT_SCHEDULE)."""

from celery import shared_task

from rightsdesk.core.notifications import notifications_email_unsent


@shared_task
def notifications_email_unsent_task() -> int:
    """E-mail again the fresh notices whose e-mail failed or was never sent."""
    return notifications_email_unsent()

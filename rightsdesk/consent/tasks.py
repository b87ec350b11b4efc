"""Celery tasks of the consent app: thin, idempotent, taking ids only."""

from celery import shared_task

from rightsdesk.consent.services import withdrawals_apply_due


@shared_task(ignore_result=True)
def withdrawals_apply_due_task() -> int:
    """Give effect to the withdrawals whose time has come (celery beat, every minute).

    Safe to run twice at once: each withdrawal is applied exactly once.
    """
    return len(withdrawals_apply_due())

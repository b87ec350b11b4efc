"""Celery tasks of the ledger: thin and idempotent (both services are safe to rerun)."""

from celery import shared_task

from rightsdesk.ledger.services import ledger_close_due_periods, ledger_expire_reservations


@shared_task(ignore_result=True)
def ledger_expire_reservations_task() -> int:
    """Void reservations past their deadline, as of the deadline (beat, every minute)."""
    return ledger_expire_reservations()


@shared_task(ignore_result=True)
def ledger_close_periods_task() -> list[str]:
    """Close every ended UTC month not closed yet (beat, daily)."""
    return ledger_close_due_periods()

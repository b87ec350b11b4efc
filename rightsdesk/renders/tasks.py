"""Celery tasks of the renders app: thin, idempotent, taking ids only.

Only the ``gpu`` queue's tasks may import ``generation``, and only inside the task body:
this module is imported by the web process through Celery's autodiscovery.
"""

from datetime import timedelta

from celery import shared_task
from django.conf import settings

from rightsdesk.renders.services import render_request_sweep_stale


@shared_task(ignore_result=True)
def sweep_stale_renders_task() -> int:
    """Fail renders stuck in ``rendering`` without a heartbeat (scheduled by celery beat)."""
    stale_after = timedelta(seconds=settings.RIGHTSDESK_RENDER_STALE_SECONDS)
    return len(render_request_sweep_stale(stale_after=stale_after))

"""Celery tasks of the talent app: thin, idempotent, taking ids only.

``train_likeness_task`` runs on the ``training`` queue: its long time limits must not
delay the redelivery of renders (PITFALLS.md, "Celery"), so on Redis the training worker
gets a visibility timeout (``CELERY_VISIBILITY``) above RIGHTSDESK_TRAINING_HARD_LIMIT_S.
``generation`` (torch) is imported inside the task body only, through ``training``: this
module is imported by the web process through Celery's autodiscovery.
"""

import logging

from celery import shared_task
from celery.exceptions import SoftTimeLimitExceeded
from django.conf import settings

from rightsdesk.talent import training

logger = logging.getLogger(__name__)


# Routed to the ``training`` queue by CELERY_TASK_ROUTES (settings.py).
@shared_task(
    ignore_result=True,
    acks_late=True,
    reject_on_worker_lost=True,
    soft_time_limit=settings.RIGHTSDESK_TRAINING_SOFT_LIMIT_S,
    time_limit=settings.RIGHTSDESK_TRAINING_HARD_LIMIT_S,
)
def train_likeness_task(likeness_id: int) -> str:
    """Train a likeness, render its samples, store both sealed; returns its status.

    A redelivered task for a likeness no longer ``training`` does nothing. Failures are
    recorded on the likeness (``failed`` with a reason code) rather than retried: a new
    training run is a new version, asked for by a person.
    """
    try:
        return training.likeness_training_run(likeness_id=likeness_id)
    except SoftTimeLimitExceeded:
        training.likeness_training_fail(
            likeness_id=likeness_id, reasons=[training.FAILURE_TIME_LIMIT]
        )
    except Exception:
        logger.exception("training likeness %s failed", likeness_id)
        training.likeness_training_fail(likeness_id=likeness_id, reasons=[training.FAILURE_ERROR])
    return training.Status.FAILED


@shared_task(ignore_result=True)
def trainings_fail_lost_task() -> int:
    """Fail the trainings whose task was lost (celery beat); idempotent."""
    return len(training.likeness_trainings_fail_lost())

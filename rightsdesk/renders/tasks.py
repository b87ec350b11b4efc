"""Celery tasks of the renders app: thin, idempotent, taking ids only.

Only the ``gpu`` queue's tasks may import ``generation``, and only inside the task body:
this module is imported by the web process through Celery's autodiscovery.

The render task acknowledges late and is rejected back to the queue when its pool
process dies (``reject_on_worker_lost``), so a killed render is redelivered; it is
idempotent by request (``renders.worker_render``). On Redis an unacknowledged message is
handed out again after the broker's visibility timeout, which therefore must exceed the
task's hard time limit, or a render still running would be handed to a second worker:
settings.py raises ``CELERY_VISIBILITY`` to the hard limit plus 5 s when it is lower.
"""

import logging
from datetime import timedelta

from celery import current_app, shared_task
from celery.signals import task_postrun, task_prerun, task_revoked, worker_process_init
from celery.worker import state as worker_state
from django.conf import settings
from django.db import close_old_connections

from rightsdesk.core.process import freeze_what_startup_made
from rightsdesk.core.task_sender import TaskSender
from rightsdesk.renders.services import (
    REASON_REVOKED,
    render_request_end_by_system,
    render_request_resend_queued,
    render_request_sweep_stale,
)
from rightsdesk.renders.states import RequestStatus

logger = logging.getLogger(__name__)


@shared_task(ignore_result=True)
def sweep_stale_renders_task() -> int:
    """Requeue or fail renders stuck in ``rendering`` without a heartbeat, and send again
    the task of requests left ``queued`` (celery beat); the number of requests handled."""
    stale_after = timedelta(seconds=settings.RIGHTSDESK_RENDER_STALE_SECONDS)
    swept = len(render_request_sweep_stale(stale_after=stale_after))
    unsent_after = timedelta(seconds=settings.RIGHTSDESK_RENDER_RESEND_QUEUED_SECONDS)
    return swept + len(render_request_resend_queued(unsent_after=unsent_after))


@shared_task(ignore_result=True)
def assets_deem_and_expire_task() -> dict[str, int]:
    """Deemed approvals and expired drafts (celery beat); idempotent."""
    from rightsdesk.renders.outputs import assets_deem_approved, assets_expire

    return {"deemed_approved": assets_deem_approved(), "expired": assets_expire()}


@shared_task(
    bind=True,
    acks_late=True,
    reject_on_worker_lost=True,
    soft_time_limit=settings.RIGHTSDESK_RENDER_SOFT_LIMIT_S,
    time_limit=settings.RIGHTSDESK_RENDER_HARD_LIMIT_S,
    ignore_result=True,
)
def render_request_task(self, render_request_id: int) -> str:
    """Render a queued request's drafts; refuses (``gate_required``) without a stored allow
    decision for the request as it stands."""
    from rightsdesk.renders.worker_render import render_request_run

    if type(render_request_id) is not int:
        logger.warning("render task with a malformed id %r: refused", render_request_id)
        return "gate_required"
    task_id = self.request.id
    return render_request_run(
        render_request_id=render_request_id,
        # A revoke reaches this process's copy of the revoked ids with the solo and thread
        # pools; under prefork the worker's own signal handler below cancels the request.
        revoked=lambda: task_id is not None and task_id in worker_state.revoked,
    )


# What a submission sends it through (rightsdesk.core.task_sender says why).
render_request_sender = TaskSender(render_request_task)


@task_revoked.connect
def _cancel_revoked_render(sender=None, request=None, **kwargs) -> None:
    # Runs in the worker's main process when a render task is revoked (before it ran, or
    # terminated while running): the request ends as cancelled, its drafts go back, and a
    # render still running sees the status at its next step.
    if getattr(sender, "name", None) != render_request_task.name:
        return
    args = getattr(request, "args", None) or ()
    if args and type(args[0]) is int:
        render_request_end_by_system(
            render_request_id=args[0], to=RequestStatus.CANCELLED, reason=REASON_REVOKED
        )


@worker_process_init.connect
def _warm_render_pipeline(**kwargs) -> None:
    # A pool process that serves the gpu queue loads the pipeline when it starts, so the
    # first render does not spend its time limit on loading the model. It runs in the
    # child: the main process never touches torch (PITFALLS.md, "Celery").
    # Then what the pool process keeps is taken out of the collector's way (a render
    # worker's full collections walked ~490,000 objects, 200-460 ms each).
    if "gpu" in current_app.amqp.queues.consume_from:
        try:
            from rightsdesk.core.worker import worker_pipeline

            worker_pipeline()
        except Exception:
            # The render task reports a broken base model on the request; the worker lives
            # on.
            logger.exception("could not warm the render pipeline")
    freeze_what_startup_made()


@task_prerun.connect
@task_postrun.connect
def _close_old_connections(sender=None, **kwargs) -> None:
    # Around every task, what Django does around every request: a connection that broke
    # or outlived CONN_MAX_AGE is closed, the others are kept. Celery's Django fix-up
    # closes them all instead unless CELERY_DB_REUSE_MAX is set, and reopening cost a
    # render task ~6 ms on SQLite (the connection, then every statement prepared anew).
    # An eager task runs inside its caller's transaction: its connection is not ours.
    if not getattr(getattr(sender, "request", None), "is_eager", False):
        close_old_connections()

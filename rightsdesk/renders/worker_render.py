"""One render request, run on a generation worker (the body of ``render_request_task``).

The task message carries only the request's id; everything else is read from the
database, so a forged message can at most name a request. What makes it safe to run:

- **The gate.** Only a queued or rendering request with a stored allow decision asked for
  it, whose spec still hashes to what was allowed, is rendered; anything else is refused
  with ``gate_required`` (a queued one fails and gives its drafts back). Just before the
  adapter is loaded the gate is asked again; on anything but allow the render is
  cancelled with the decision's codes.
- **Idempotence by request.** A worker claims a request with a conditional
  queued -> rendering (or takes over a ``rendering`` one whose recorded pool process is
  gone or silent, throwing away what it wrote) and records itself in ``worker_id``. Its
  heartbeat, and the final rendering -> rendered that creates the asset rows, only apply
  while ``worker_id`` is still its own, so a redelivered message never makes a second
  set of drafts.
- **Stopping.** Each denoising step checks the request's status (a requester's cancel, a
  withdrawal) and a Celery revoke; the render stops within one step and nothing of it
  is kept. Progress and the heartbeat are written at most every HEARTBEAT_INTERVAL_S.

``generation`` (torch) is imported inside the functions that render, never at module
level: Celery's autodiscovery imports ``renders.tasks`` in the web process too.
"""

from __future__ import annotations

import logging
import os
import socket
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any
from uuid import UUID, uuid4

from celery.exceptions import SoftTimeLimitExceeded
from django.conf import settings
from django.db import connection, transaction
from django.utils import timezone

from rightsdesk.audit.services import audit_record
from rightsdesk.consent.gate import evaluate
from rightsdesk.consent.gate_types import ALLOW
from rightsdesk.core import rawsql
from rightsdesk.core.errors import ApplicationError
from rightsdesk.renders.models import RenderRequest
from rightsdesk.renders.selectors import (
    render_request_decision_covers,
    render_request_links,
    render_seed,
)
from rightsdesk.renders.services import (
    REASON_GATE_REQUIRED,
    REASON_REVOKED,
    RenderedDraft,
    render_drafts_sign,
    render_request_approvals,
    render_request_claim,
    render_request_end,
    render_request_end_by_system,
    render_request_for_task,
    render_request_gate_query,
    render_request_heartbeat,
    render_request_store_drafts,
)
from rightsdesk.renders.states import RequestStatus

logger = logging.getLogger(__name__)

# Progress and heartbeat writes, at most this often: a 256 px step on the tiny pipeline
# takes ~20 ms, and a write per step would cost more than the step on SQLite.
HEARTBEAT_INTERVAL_S = 0.5
FAILURE_RENDER_ERROR = "render_error"
FAILURE_TIME_LIMIT = "time_limit"
FAILURE_BASE_MODEL_MISMATCH = "base_model_mismatch"


def worker_identity() -> str:
    """``<host>:<pid>`` of this pool process, recorded on the request it renders."""
    return f"{socket.gethostname()}:{os.getpid()}"


def owner_gone(render_request: RenderRequest) -> bool:
    """Whether the worker recorded on a ``rendering`` request is gone: a pool process on
    this host that no longer runs (a killed prefork child), or any worker silent for
    RIGHTSDESK_RENDER_STALE_SECONDS."""
    stale_after = timedelta(seconds=settings.RIGHTSDESK_RENDER_STALE_SECONDS)
    heartbeat = render_request.heartbeat_at or render_request.updated_at
    if heartbeat is None or timezone.now() - heartbeat > stale_after:
        return True
    host, _, pid = render_request.worker_id.rpartition(":")
    if host != socket.gethostname() or not pid.isdigit():
        return not render_request.worker_id
    return not _process_alive(int(pid))


def _process_alive(pid: int) -> bool:
    try:
        import psutil  # installed with accelerate; only used for this check
    except ImportError:  # pragma: no cover - psutil comes with the generation stack
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return False
        except PermissionError:
            return True
        return True
    try:
        # A killed child stays a zombie until its parent reaps it.
        return psutil.Process(pid).status() != psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return False


_STATUS_SQL = (
    f"SELECT status, worker_id FROM {RenderRequest._meta.db_table} "  # noqa: S608 - constant
    f"WHERE {RenderRequest._meta.pk.column} = %s"
)


@dataclass
class _Watch:
    """The step callback's view of the request: progress, heartbeat and stop signals."""

    render_request_id: int
    worker_id: str
    total_steps: int
    revoked: Callable[[], bool]
    # The claim stamped the first heartbeat: the next is due an interval later.
    last_write: float = field(default_factory=time.monotonic)
    done_steps: int = 0
    lost: bool = False
    stop_reason: str = ""

    def on_step(self, step: int, total: int, draft: int, steps_per_draft: int) -> None:
        self.done_steps = draft * steps_per_draft + min(step, steps_per_draft)
        now = time.monotonic()
        if now - self.last_write >= HEARTBEAT_INTERVAL_S:
            self.write(now)

    def write(self, now: float | None = None) -> None:
        self.last_write = now if now is not None else time.monotonic()
        progress = self.done_steps * 100 // max(self.total_steps, 1)
        if not render_request_heartbeat(
            render_request_id=self.render_request_id, worker_id=self.worker_id, progress=progress
        ):
            self.lost = True

    def should_cancel(self) -> bool:
        if self.revoked():
            self.stop_reason = REASON_REVOKED
            return True
        if self.lost:
            return True
        # Every step: one primary-key read, in plain SQL (the ORM's query building costs
        # more than the read itself, eight times per 256 px render).
        with connection.cursor() as cursor:
            cursor.execute(_STATUS_SQL, [self.render_request_id])
            status, owner = cursor.fetchone()
        if status != RequestStatus.RENDERING or owner != self.worker_id:
            self.lost = True
            return True
        return False


def render_request_run(
    *, render_request_id: int, revoked: Callable[[], bool] = lambda: False
) -> str:
    """Render the request's drafts, or refuse; returns what happened, as a short code."""
    render_request = render_request_for_task(render_request_id)
    if render_request is None:
        logger.warning("render task for unknown render request %s: refused", render_request_id)
        return REASON_GATE_REQUIRED
    if render_request.status not in (RequestStatus.QUEUED, RequestStatus.RENDERING):
        if render_request.status in (RequestStatus.RENDERED, RequestStatus.CANCELLED):
            return f"already_{render_request.status}"
        return _refuse(render_request, end=False)
    links = render_request_links(render_request)
    if not render_request_decision_covers(render_request, links):
        return _refuse(render_request, end=True)
    worker_id = worker_identity()
    claimed = render_request_claim(
        render_request=render_request, worker_id=worker_id, owner_gone=owner_gone
    )
    if claimed is None:
        return "not_ours"
    try:
        return _render(claimed, links, worker_id=worker_id, revoked=revoked)
    except SoftTimeLimitExceeded:
        logger.error("render request %s hit its soft time limit", render_request_id)
        _end_if_ours(claimed, worker_id, RequestStatus.FAILED, FAILURE_TIME_LIMIT)
        return FAILURE_TIME_LIMIT
    except Exception as error:
        # Anything unforeseen fails the render (drafts back) rather than leaving it
        # `rendering` for the sweeper; the traceback goes to the worker's log.
        logger.exception("render request %s failed", render_request_id)
        code = getattr(error, "code", "") or FAILURE_RENDER_ERROR
        _end_if_ours(claimed, worker_id, RequestStatus.FAILED, str(code))
        return str(code)


def _refuse(render_request: RenderRequest, *, end: bool) -> str:
    """No stored allow decision covers this message: render nothing; a queued request
    fails (drafts back), any other is left as it is. The refusal is audited either way."""
    logger.warning(
        "render task for render request %s (%s) refused: gate_required",
        render_request.public_id,
        render_request.status,
    )
    if end and render_request_end_by_system(
        render_request_id=render_request.pk, to=RequestStatus.FAILED, reason=REASON_GATE_REQUIRED
    ):
        return REASON_GATE_REQUIRED
    audit_record(
        actor=None,
        action="render_request.task_refused",
        target=render_request,
        payload={"code": REASON_GATE_REQUIRED, "status": render_request.status},
    )
    return REASON_GATE_REQUIRED


def _render(render_request: RenderRequest, links, *, worker_id: str, revoked) -> str:
    from generation.render import RenderCancelled, render
    from generation.spec import AdapterRef, RenderSpec
    from rightsdesk.core.worker import adapter_bytes_for, worker_pipeline

    # Loading is slow only in a cold process; the gate is asked after it, just before the
    # adapter is activated, so a withdrawal during the load still stops the render.
    likeness = render_request.likeness
    if likeness is None or not likeness.adapter_sha256:
        _end_if_ours(render_request, worker_id, RequestStatus.FAILED, REASON_GATE_REQUIRED)
        return REASON_GATE_REQUIRED
    loaded = worker_pipeline()
    if likeness.base_model != loaded.base_model_id:
        _end_if_ours(render_request, worker_id, RequestStatus.FAILED, FAILURE_BASE_MODEL_MISMATCH)
        return FAILURE_BASE_MODEL_MISMATCH
    stopped = _gate_again(render_request, links, worker_id)
    if stopped:
        return stopped
    watch = _Watch(
        render_request_id=render_request.pk,
        worker_id=worker_id,
        total_steps=render_request.steps * render_request.num_drafts,
        revoked=revoked,
    )
    adapter = AdapterRef(name=f"likeness:{likeness.public_id}", sha256=likeness.adapter_sha256)
    steps = render_request.steps
    drafts = []
    try:
        for index in range(render_request.num_drafts):
            spec = RenderSpec(
                prompt=render_request.prompt,
                negative_prompt=render_request.negative_prompt,
                width=render_request.width,
                height=render_request.height,
                steps=render_request.steps,
                guidance_scale=float(render_request.guidance_scale),
                seed=render_seed(render_request, index),
                adapter=adapter,
            )
            result = render(
                spec,
                pipeline=loaded,
                adapter_loader=lambda ref: adapter_bytes_for(likeness),
                on_step=lambda step, total, i=index: watch.on_step(step, total, i, steps),
                should_cancel=watch.should_cancel,
                # Signing marks the image and encodes it once; an encoded PNG from the
                # renderer would only be decoded again.
                encode=False,
            )
            drafts.append(_draft(render_request, index, result, worker_id))
    except RenderCancelled:
        return _stopped(render_request, worker_id, watch)
    drafts = render_drafts_sign(render_request=render_request, drafts=drafts, links=links)
    if not render_request_store_drafts(
        render_request=render_request, worker_id=worker_id, drafts=drafts
    ):
        return "not_ours"
    return RequestStatus.RENDERED


def _draft(render_request: RenderRequest, index: int, result: Any, worker_id: str) -> RenderedDraft:
    from generation.render import pixels_sha256  # worker only: generation imports torch

    metadata = {
        "timings": {name: round(value, 6) for name, value in result.timings.items()},
        "base_model_id": result.base_model_id,
        "adapter_sha256": result.adapter_sha256,
        # The renderer's own pixels, before marks and signing: the same spec on the same
        # machine gives the same hash (the signed file differs per asset by design).
        "render_pixels_sha256": pixels_sha256(result.image),
        "steps": result.steps,
        "worker": worker_id,
    }
    ids = render_request.draft_ids
    return RenderedDraft(
        # The id its usage fee was reserved under (renders.fees); a request made before
        # ids were chosen at approval gets a fresh one.
        asset_public_id=UUID(ids[index]) if index < len(ids) else uuid4(),
        index=index,
        image=result.image,
        width=result.width,
        height=result.height,
        seed=result.seed,
        metadata=metadata,
    )


def _gate_again(render_request: RenderRequest, links, worker_id: str) -> str:
    """Ask the gate again with the approvals the allow decision was given with. Returns
    "" to go on, or what stopped the render."""
    approvals = render_request_approvals(render_request)
    # Its drafts were taken from the allowance when it was queued: the gate must not count
    # them again (it still stops the render if the allowance was cut below what is used).
    query = render_request_gate_query(
        render_request, approvals=approvals, links=links, drafts_held=render_request.num_drafts
    )
    decision = evaluate(query)
    rawsql.update(
        RenderRequest, {"render_decision_id": decision.decision_id}, {"pk": render_request.pk}
    )
    if decision.outcome == ALLOW:
        return ""
    blocking = [reason.code for reason in decision.reasons]
    codes = ",".join(dict.fromkeys(blocking)) or "gate_error"
    _end_if_ours(
        render_request,
        worker_id,
        RequestStatus.CANCELLED,
        codes,
        payload={"codes": blocking, "decision": decision.decision_id},
    )
    return "cancelled:" + codes


def _stopped(render_request: RenderRequest, worker_id: str, watch: _Watch) -> str:
    """The render stopped at a step: cancelled by someone (already ended, drafts back),
    taken over by another worker (left alone), or revoked (ended here)."""
    if watch.stop_reason == REASON_REVOKED:
        _end_if_ours(render_request, worker_id, RequestStatus.CANCELLED, REASON_REVOKED)
        return "cancelled:" + REASON_REVOKED
    return "stopped"


def _end_if_ours(
    render_request: RenderRequest,
    worker_id: str,
    to: str,
    reason: str,
    payload: dict[str, Any] | None = None,
) -> bool:
    with transaction.atomic():
        locked = RenderRequest.objects.select_for_update().filter(pk=render_request.pk).first()
        if locked is None or locked.status != RequestStatus.RENDERING:
            return False
        if locked.worker_id != worker_id:
            return False
        try:
            render_request_end(
                render_request=locked, to=to, actor=None, reason=reason, payload=payload
            )
        except ApplicationError:
            return False
    return True

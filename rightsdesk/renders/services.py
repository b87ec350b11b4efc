"""Every change of a render request's or an asset's status.

A transition is a compare-and-set from the status the caller saw: the row is locked, the
table in ``renders.states`` is checked, and the write is ``UPDATE ... WHERE status=<seen>``.
If another transaction moved the row in the meantime, the caller gets
``invalid_transition`` instead of acting on a state it never saw, so a cancel and a worker
starting the render cannot both win. SQLite has no row locks; its IMMEDIATE transactions
and the conditional UPDATE give the same answer there.
"""

from datetime import datetime, timedelta
from typing import Any

from django.db import models, transaction
from django.db.models import Q
from django.utils import timezone

from rightsdesk.accounts.models import User
from rightsdesk.audit.services import audit_record
from rightsdesk.core.errors import InvalidTransition
from rightsdesk.renders.models import Asset, RenderRequest
from rightsdesk.renders.states import (
    REQUEST_TERMINAL,
    AssetStatus,
    Kind,
    RequestStatus,
    check_transition,
)

# Reason codes written by the system itself.
REASON_HEARTBEAT_LOST = "heartbeat_lost"


def _compare_and_set(
    *, kind: Kind, instance: models.Model, to: str, changes: dict[str, Any]
) -> str:
    """Lock the row, check ``seen -> to`` and write it only if the row is still ``seen``."""
    model = type(instance)
    seen = instance.status
    current = model.objects.select_for_update().values_list("status", flat=True).get(pk=instance.pk)
    if current != seen:
        raise InvalidTransition(
            f"The {kind} changed from {seen} to {current} before this change could be made.",
            **{"from": current, "to": to, "expected": seen},
        )
    check_transition(kind, seen, to)
    changes = {**changes, "status": to, "updated_at": timezone.now()}
    if model.objects.filter(pk=instance.pk, status=seen).update(**changes) != 1:
        raise InvalidTransition(**{"from": seen, "to": to})
    for field, value in changes.items():
        setattr(instance, field, value)
    return seen


@transaction.atomic
def render_request_transition(
    *, render_request: RenderRequest, to: str, actor: User | None, reason: str = ""
) -> RenderRequest:
    """Move a request to ``to``; ``reason`` is a short code (``requester``, ``withdrawal``...).

    ``actor`` is None when the system acts (the sweeper, the in-task gate).
    """
    now = timezone.now()
    changes: dict[str, Any] = {}
    if to == RequestStatus.RENDERING:
        changes |= {"started_at": now, "heartbeat_at": now}
    if to == RequestStatus.RENDERED:
        changes["progress"] = 100
    if to == RequestStatus.CANCELLED:
        changes["cancel_reason"] = reason
    if to == RequestStatus.FAILED:
        changes["failure_reason"] = reason
    if to in REQUEST_TERMINAL:
        changes["finished_at"] = now
    seen = _compare_and_set(kind="request", instance=render_request, to=to, changes=changes)
    audit_record(
        actor=actor,
        action=f"render_request.{to}",
        target=render_request,
        payload={"from": seen, "to": to, "reason": reason},
    )
    return render_request


@transaction.atomic
def asset_transition(*, asset: Asset, to: str, actor: User | None, reason: str = "") -> Asset:
    """Move an asset to ``to``; ``reason`` is a short code kept on the asset when it ends."""
    changes: dict[str, Any] = {}
    if to == AssetStatus.RELEASED:
        changes["released_at"] = timezone.now()
    if to in (AssetStatus.REJECTED, AssetStatus.EXPIRED, AssetStatus.WITHDRAWN):
        changes["reason"] = reason
    seen = _compare_and_set(kind="asset", instance=asset, to=to, changes=changes)
    audit_record(
        actor=actor,
        action=f"asset.{to}",
        target=asset,
        payload={"from": seen, "to": to, "reason": reason, "asset": asset.reference},
    )
    return asset


def _stale_rendering(cutoff: datetime) -> Q:
    # A request enters `rendering` with a heartbeat; the updated_at fallback only covers
    # rows written before heartbeats existed or by hand.
    return Q(status=RequestStatus.RENDERING) & (
        Q(heartbeat_at__lt=cutoff) | Q(heartbeat_at__isnull=True, updated_at__lt=cutoff)
    )


def render_request_sweep_stale(
    *, stale_after: timedelta, now: datetime | None = None
) -> list[RenderRequest]:
    """Fail the renders whose worker has sent no heartbeat for ``stale_after``.

    With the file broker a worker killed with -9 loses its task (PITFALLS.md), so nothing
    else would ever end such a request. Requeueing is not in the state table (rendering ->
    queued), so a stale render fails and gives back its allowance like any failure. Each
    request is failed in its own transaction, re-checked under its row lock so that a
    heartbeat that lands meanwhile keeps it alive.
    """
    cutoff = (now or timezone.now()) - stale_after
    candidates = list(
        RenderRequest.objects.filter(_stale_rendering(cutoff))
        .order_by("pk")
        .values_list("pk", flat=True)
    )
    failed = []
    for pk in candidates:
        with transaction.atomic():
            render_request = (
                RenderRequest.objects.select_for_update()
                .filter(_stale_rendering(cutoff), pk=pk)
                .first()
            )
            if render_request is None:
                continue
            render_request_transition(
                render_request=render_request,
                to=RequestStatus.FAILED,
                actor=None,
                reason=REASON_HEARTBEAT_LOST,
            )
            failed.append(render_request)
    return failed

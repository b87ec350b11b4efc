"""The render state machine: the one place that says which change of state is allowed.

A render request asks for N drafts; each draft is an Asset with its own state (DESIGN.md,
"Render lifecycle"). Services check every write against these tables; nothing else
decides; the tables are data so that tests can walk every pair.
"""

from typing import Literal

from django.db import models

from rightsdesk.core.errors import InvalidTransition

Kind = Literal["request", "asset"]


class RequestStatus(models.TextChoices):
    SUBMITTED = "submitted", "Submitted"
    DENIED = "denied", "Denied"
    AWAITING_BRIEF_APPROVAL = "awaiting_brief_approval", "Awaiting brief approval"
    APPROVED = "approved", "Approved"
    REJECTED = "rejected", "Rejected"
    QUEUED = "queued", "Queued"
    RENDERING = "rendering", "Rendering"
    RENDERED = "rendered", "Rendered"
    CANCELLED = "cancelled", "Cancelled"
    FAILED = "failed", "Failed"


class AssetStatus(models.TextChoices):
    DRAFT = "draft", "Draft"
    SELECTED = "selected", "Selected"
    AWAITING_OUTPUT_APPROVAL = "awaiting_output_approval", "Awaiting output approval"
    APPROVED = "approved", "Approved"
    DEEMED_APPROVED = "deemed_approved", "Deemed approved"
    RELEASED = "released", "Released"
    REJECTED = "rejected", "Rejected"
    EXPIRED = "expired", "Expired"
    WITHDRAWN = "withdrawn", "Withdrawn"


R = RequestStatus
A = AssetStatus

REQUEST_TERMINAL: frozenset[str] = frozenset(
    {R.DENIED, R.REJECTED, R.RENDERED, R.CANCELLED, R.FAILED}
)
ASSET_TERMINAL: frozenset[str] = frozenset({A.RELEASED, A.REJECTED, A.EXPIRED, A.WITHDRAWN})

# Any request that has not ended may be cancelled (by the requester, a withdrawal or the
# in-task gate) or fail.
_REQUEST_ABORT = frozenset({R.CANCELLED, R.FAILED})
REQUEST_TRANSITIONS: dict[str, frozenset[str]] = {
    R.SUBMITTED: frozenset({R.DENIED, R.AWAITING_BRIEF_APPROVAL, R.APPROVED}) | _REQUEST_ABORT,
    R.AWAITING_BRIEF_APPROVAL: frozenset({R.APPROVED, R.REJECTED}) | _REQUEST_ABORT,
    R.APPROVED: frozenset({R.QUEUED}) | _REQUEST_ABORT,
    R.QUEUED: frozenset({R.RENDERING}) | _REQUEST_ABORT,
    # rendering -> queued: the sweeper puts back a render whose worker died (the file
    # broker loses a message when the worker's main process is killed), a bounded number
    # of times (RIGHTSDESK_RENDER_MAX_REQUEUES); nothing else takes this edge.
    R.RENDERING: frozenset({R.RENDERED, R.QUEUED}) | _REQUEST_ABORT,
    **{status: frozenset() for status in REQUEST_TERMINAL},
}

# A draft that has not been approved may still be rejected, expire or be withdrawn. An
# approved asset not yet released may still expire (its reservation lapsed) or be
# withdrawn (DESIGN.md's table has no way out for it; without one a withdrawal could only
# block its release and it would wait forever, holding its reservation).
_ASSET_ABORT = frozenset({A.REJECTED, A.EXPIRED, A.WITHDRAWN})
_UNRELEASED_END = frozenset({A.EXPIRED, A.WITHDRAWN})
ASSET_TRANSITIONS: dict[str, frozenset[str]] = {
    A.DRAFT: frozenset({A.SELECTED}) | _ASSET_ABORT,
    A.SELECTED: frozenset({A.AWAITING_OUTPUT_APPROVAL}) | _ASSET_ABORT,
    A.AWAITING_OUTPUT_APPROVAL: frozenset({A.APPROVED, A.DEEMED_APPROVED}) | _ASSET_ABORT,
    A.APPROVED: frozenset({A.RELEASED}) | _UNRELEASED_END,
    A.DEEMED_APPROVED: frozenset({A.RELEASED}) | _UNRELEASED_END,
    **{status: frozenset() for status in ASSET_TERMINAL},
}

TRANSITIONS: dict[str, dict[str, frozenset[str]]] = {
    "request": REQUEST_TRANSITIONS,
    "asset": ASSET_TRANSITIONS,
}


def can_transition(kind: Kind, from_status: str, to_status: str) -> bool:
    """Whether the table allows ``from_status -> to_status`` for a request or an asset."""
    table = TRANSITIONS[kind]
    return to_status in table.get(from_status, frozenset())


def check_transition(kind: Kind, from_status: str, to_status: str) -> None:
    """Raise InvalidTransition (``invalid_transition``) unless the table allows the change."""
    if not can_transition(kind, from_status, to_status):
        raise InvalidTransition(
            f"A {kind} cannot go from {from_status} to {to_status}.",
            **{"from": str(from_status), "to": str(to_status)},
        )

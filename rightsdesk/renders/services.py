"""Every change of a render request's or an asset's status, and the writes around them.

A transition is a compare-and-set from the status the caller saw: the row is locked, the
table in ``renders.states`` is checked, and the write is ``UPDATE ... WHERE status=<seen>``.
If another transaction moved the row in the meantime, the caller gets
``invalid_transition`` instead of acting on a state it never saw, so a cancel and a worker
starting the render cannot both win. SQLite has no row locks; its IMMEDIATE transactions
and the conditional UPDATE give the same answer there.

Submission asks the gate and stores its decision; an allowed request takes its drafts
from each licence's allowance (a conditional UPDATE) and is queued for the ``gpu`` queue
after commit. Denied, cancelled and failed requests give their drafts back exactly once:
``RenderRequestLicence.drafts_taken`` is zeroed by a conditional UPDATE, and only the
caller that zeroed it returns the drafts. The worker's side (claiming a render, its
heartbeat, storing the drafts) is here too; ``renders.worker_render`` drives it.
"""

import contextlib
import dataclasses
import hashlib
import itertools
import json
import logging
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from functools import partial
from typing import Any
from uuid import UUID, uuid4

from django.conf import settings
from django.core.files.storage import default_storage
from django.db import IntegrityError, connection, models, transaction
from django.db.models import F, Q
from django.utils import timezone
from kombu.exceptions import KombuError

from rightsdesk.accounts.models import User
from rightsdesk.audit.services import (
    audit_deferred,
    audit_deferred_discard,
    audit_deferred_mark,
    audit_record,
)
from rightsdesk.consent.gate import decide, decision_row, evaluate, recorded
from rightsdesk.consent.gate_types import ALLOW, DENY, RENDER, Decision, GateQuery, Obligation
from rightsdesk.consent.models import ConsentKind, GateDecision
from rightsdesk.consent.selectors import creation_consent_in_force
from rightsdesk.core import rawsql
from rightsdesk.core.errors import (
    IdempotencyConflict,
    InvalidTransition,
    NotFound,
    PermissionDenied,
    ValidationFailed,
)
from rightsdesk.core.notifications import notify
from rightsdesk.core.vocab import MEDIA, UnknownTerritory, expand_territory
from rightsdesk.ledger.errors import BudgetInsufficient
from rightsdesk.licensing.models import Licence
from rightsdesk.licensing.services import licence_return_drafts, licence_take_drafts
from rightsdesk.provenance.services import (
    provenance_discard,
    provenance_record_store,
    provenance_sign,
    provenance_unstored_discard,
)
from rightsdesk.provenance.types import Disclosure
from rightsdesk.renders.errors import MultiLikenessUnsupported
from rightsdesk.renders.fees import (
    drafts_reserve_plan,
    drafts_reserve_planned,
    drafts_schedule,
    drafts_void,
)
from rightsdesk.renders.models import (
    MAX_DRAFTS,
    MAX_GUIDANCE,
    MAX_SEED,
    MAX_SIDE,
    MAX_STEPS,
    MIN_SIDE,
    Asset,
    RenderRequest,
    RenderRequestLicence,
)
from rightsdesk.renders.selectors import (
    campaign_brand_of,
    compose_prompt,
    render_request_decision_covers,
    render_request_links,
    render_spec_sha256,
    submission_licences,
)
from rightsdesk.renders.states import (
    REQUEST_TERMINAL,
    AssetStatus,
    Kind,
    RequestStatus,
    check_transition,
)
from rightsdesk.talent.models import LikenessVersion, Talent
from rightsdesk.talent.selectors import agent_has_power, talent_deciders, talent_principal_users

logger = logging.getLogger(__name__)

# Reason codes written by the system itself.
REASON_HEARTBEAT_LOST = "heartbeat_lost"
REASON_REQUESTER = "requester"
REASON_REVOKED = "revoked"
REASON_GATE_REQUIRED = "gate_required"
REASON_ALLOWANCE = "draft_allowance_exhausted"
ASSET_FOLDER = "assets"


def _compare_and_set(
    *,
    kind: Kind,
    instance: models.Model,
    to: str,
    changes: dict[str, Any],
    where: dict[str, Any] | None = None,
) -> str:
    """Check ``seen -> to`` and write it only if the row is still ``seen`` (and still
    matches ``where``, e.g. the worker that owns a render): one conditional UPDATE, which
    takes the row's lock; the row is read again only to say what it changed to."""
    model = type(instance)
    seen = instance.status
    where = where or {}
    check_transition(kind, seen, to)
    changes = {**changes, "status": to, "updated_at": timezone.now()}
    if _update(model, changes, {"pk": instance.pk, "status": seen, **where}) != 1:
        current = model.objects.filter(pk=instance.pk).values_list("status", flat=True).first()
        if current == seen:  # still `seen`: what changed is ``where`` (another owner)
            raise InvalidTransition(
                f"The {kind} is no longer held as this change expects.",
                **{"from": current, "to": to, "expected": seen},
            )
        raise InvalidTransition(
            f"The {kind} changed from {seen} to {current} before this change could be made.",
            **{"from": current, "to": to, "expected": seen},
        )
    for name, value in changes.items():
        setattr(instance, name, value)
    return seen


def _update(model: type[models.Model], changes: dict[str, Any], where: dict[str, Any]) -> int:
    # Plain values (every transition but a requeue's counter) as one hand-written
    # statement: the worker makes several transitions per render (rightsdesk.core.rawsql).
    if any(hasattr(value, "resolve_expression") for value in changes.values()):
        return model.objects.filter(**where).update(**changes)
    return rawsql.update(model, changes, where)


def render_request_transition(
    *,
    render_request: RenderRequest,
    to: str,
    actor: User | None,
    reason: str = "",
    fields: dict[str, Any] | None = None,
    payload: dict[str, Any] | None = None,
    where: dict[str, Any] | None = None,
    savepoint: bool = True,
) -> RenderRequest:
    """Move a request to ``to``; ``reason`` is a short code (``requester``, ``withdrawal``...).

    ``actor`` is None when the system acts (the sweeper, the in-task gate). ``fields`` are
    written in the same conditional UPDATE, which also requires ``where``; ``payload`` is
    added to the audit event. ``savepoint=False`` inside a transaction that is rolled back
    whole on any error (a SAVEPOINT and its RELEASE are two round trips).
    """
    with transaction.atomic(savepoint=savepoint):
        return _request_transition(render_request, to, actor, reason, fields, payload, where)


def _request_transition(
    render_request: RenderRequest,
    to: str,
    actor: User | None,
    reason: str,
    fields: dict[str, Any] | None,
    payload: dict[str, Any] | None,
    where: dict[str, Any] | None,
) -> RenderRequest:
    now = timezone.now()
    changes: dict[str, Any] = dict(fields or {})
    if to == RequestStatus.RENDERING:
        changes |= {"started_at": now, "heartbeat_at": now}
    if to == RequestStatus.RENDERED:
        changes["progress"] = 100
    if to == RequestStatus.CANCELLED:
        changes["cancel_reason"] = reason[:64]
    if to == RequestStatus.FAILED:
        changes["failure_reason"] = reason[:64]
    if to in REQUEST_TERMINAL:
        changes["finished_at"] = now
    seen = _compare_and_set(
        kind="request", instance=render_request, to=to, changes=changes, where=where
    )
    audit_record(
        actor=actor,
        action=f"render_request.{to}",
        target=render_request,
        payload={"from": seen, "to": to, "reason": reason, **(payload or {})},
    )
    if to in REQUESTER_TOLD and (actor is None or actor.pk != render_request.requester_id):
        _tell_requester(render_request, to, reason)
    return render_request


# The changes the requester hears about when someone else (or the system) makes them.
REQUESTER_TOLD = {
    RequestStatus.RENDERED: "Your drafts are ready",
    RequestStatus.FAILED: "Your render failed",
    RequestStatus.CANCELLED: "Your render request was cancelled",
    RequestStatus.REJECTED: "The talent's side rejected your brief",
}


def _tell_requester(render_request: RenderRequest, to: str, reason: str) -> None:
    why = f" ({reason})" if reason else ""
    notify(
        user=render_request.requester,
        kind=f"render_request_{to}",
        subject=REQUESTER_TOLD[to],
        body=f"Render request {render_request.public_id} is now {to}{why}.",
        target_reference=f"render_request:{render_request.public_id}",
        dedupe_key=f"render_request:{render_request.public_id}:{to}:{render_request.requeue_count}",
    )


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


# --- submission ----------------------------------------------------------------------------


@dataclass(frozen=True)
class _Submission:
    """What a submission asked for, as compared for idempotency (field by field)."""

    licences: tuple[str, ...]
    brief: str
    negative_prompt: str
    width: int
    height: int
    steps: int
    seed: int | None
    num_drafts: int
    guidance_scale: float
    territory: str
    medium: str

    def as_dict(self) -> dict[str, Any]:
        return {name: getattr(self, name) for name in self.__dataclass_fields__}

    def sha256(self) -> str:
        canonical = json.dumps(self.as_dict(), sort_keys=True, separators=(",", ":"))
        return hashlib.sha256(canonical.encode()).hexdigest()

    @classmethod
    def of(cls, render_request: RenderRequest) -> "_Submission":
        licences = render_request.licence_links.values_list("licence__public_id", flat=True)
        return cls(
            licences=tuple(sorted(str(public_id) for public_id in licences)),
            brief=render_request.brief,
            negative_prompt=render_request.negative_prompt,
            width=render_request.width,
            height=render_request.height,
            steps=render_request.steps,
            seed=render_request.seed,
            num_drafts=render_request.num_drafts,
            guidance_scale=float(render_request.guidance_scale),
            territory=render_request.territory,
            medium=render_request.medium,
        )


def _validated(submission: _Submission) -> _Submission:
    errors: dict[str, list[str]] = {}

    def check(name: str, ok: bool, message: str) -> None:
        if not ok:
            errors.setdefault(name, []).append(message)

    check("licences", bool(submission.licences), "Name the licence to render under.")
    check("brief", bool(submission.brief.strip()), "The brief cannot be empty.")
    check("brief", len(submission.brief) <= 4000, "At most 4000 characters.")
    check("negative_prompt", len(submission.negative_prompt) <= 4000, "At most 4000 characters.")
    for side in ("width", "height"):
        value = getattr(submission, side)
        check(
            side,
            type(value) is int and MIN_SIDE <= value <= MAX_SIDE and value % 8 == 0,
            f"A multiple of 8 from {MIN_SIDE} to {MAX_SIDE}.",
        )
    check(
        "steps",
        type(submission.steps) is int and 1 <= submission.steps <= MAX_STEPS,
        f"From 1 to {MAX_STEPS}.",
    )
    check(
        "num_drafts",
        type(submission.num_drafts) is int and 1 <= submission.num_drafts <= MAX_DRAFTS,
        f"From 1 to {MAX_DRAFTS}.",
    )
    check(
        "seed",
        submission.seed is None
        or (type(submission.seed) is int and 0 <= submission.seed <= MAX_SEED),
        f"From 0 to {MAX_SEED}, or empty.",
    )
    check(
        "guidance_scale",
        0 <= submission.guidance_scale <= MAX_GUIDANCE,
        f"From 0 to {MAX_GUIDANCE:g}.",
    )
    check("medium", not submission.medium or submission.medium in MEDIA, "Unknown medium.")
    if submission.territory:
        try:
            expand_territory(submission.territory)
        except UnknownTerritory:
            errors.setdefault("territory", []).append("Unknown territory.")
    if errors:
        raise ValidationFailed(fields=errors)
    return submission


def _replay(*, requester: User, key: str, submission: _Submission) -> RenderRequest | None:
    """The request first made with this key, if the payload is the same; a different
    payload is ``idempotency_conflict`` naming the fields that differ."""
    # Nearly always there is none: one hand-written probe, and the row is read through the
    # ORM only for a replay (rightsdesk.core.rawsql says why).
    if not rawsql.fetch(_KEY_PROBE, [requester.pk, key]):
        return None
    existing = RenderRequest.objects.get(requester=requester, idempotency_key=key)
    if existing.request_hash != submission.sha256():
        before = _Submission.of(existing).as_dict()
        differ = sorted(k for k, v in submission.as_dict().items() if before[k] != v)
        raise IdempotencyConflict(
            "This idempotency key was used for another request "
            f"(different {', '.join(differ) or 'payload'}).",
            fields=differ,
        )
    return existing


_KEY_PROBE = (
    f"SELECT 1 FROM {RenderRequest._meta.db_table} "  # noqa: S608 - names from the model
    "WHERE requester_id = %s AND idempotency_key = %s LIMIT 1"
)


def render_request_submit(
    *,
    requester: User,
    licences: Sequence[Licence | UUID | str],
    brief: str,
    negative_prompt: str = "",
    width: int = 512,
    height: int = 512,
    steps: int = 25,
    seed: int | None = None,
    num_drafts: int = 1,
    idempotency_key: str | None = None,
    guidance_scale: float = 5.0,
    territory: str = "",
    medium: str = "",
) -> RenderRequest:
    """A campaign manager asks for ``num_drafts`` drafts under their brand's licences.

    The gate decides at once and its decision is stored with the request: ``denied`` (with
    the reasons), ``awaiting_brief_approval``, or ``approved``, in which case the drafts
    are taken from the allowance and the request is queued for a GPU worker after commit.
    The same ``idempotency_key`` with the same payload returns the first request.

    What only reads (the licences, the gate's facts) runs before the transaction that
    writes, when the caller holds none: every read is a statement of its own at READ
    COMMITTED either way, and the gate's read then needs no savepoint. The drafts and
    their fees are taken by conditional updates and row locks inside it.
    """
    brand = campaign_brand_of(requester)
    if brand is None:
        raise PermissionDenied("Only a brand's campaign manager may request renders.")
    ids = [item.public_id if isinstance(item, Licence) else item for item in licences]
    try:
        ids = [value if isinstance(value, UUID) else UUID(str(value)) for value in ids]
    except ValueError:
        raise ValidationFailed(fields={"licences": ["Not a licence id."]})
    submission = _validated(
        _Submission(
            licences=tuple(sorted(str(value) for value in ids)),
            brief=brief,
            negative_prompt=negative_prompt or "",
            width=width,
            height=height,
            steps=steps,
            seed=seed,
            num_drafts=num_drafts,
            guidance_scale=float(guidance_scale),
            territory=(territory or "").strip().upper(),
            medium=medium or "",
        )
    )
    missing = None
    try:
        taken, found = submission_licences(
            brand=brand, public_ids=ids, requester=requester, idempotency_key=idempotency_key
        )
    except NotFound as error:
        taken, missing = bool(idempotency_key), error  # a replay is answered all the same
    if taken:
        existing = _replay(requester=requester, key=idempotency_key, submission=submission)
        if existing is not None:
            return existing
    if missing is not None:
        raise missing
    if len({licence.talent_id for licence in found}) > 1:
        raise MultiLikenessUnsupported(talents=len({licence.talent_id for licence in found}))
    if len(found) > 1:
        raise ValidationFailed(fields={"licences": ["Name one licence per talent."]})
    render_request, link = _unwritten(
        requester=requester,
        licence=found[0],
        submission=submission,
        idempotency_key=idempotency_key or None,
    )
    # The gate is asked before the row is written (it names the request by its public id),
    # so the request is inserted once, with its decision and the spec hash it allowed; the
    # decision's row is written in the same statement as the request's.
    query = render_request_gate_query(render_request, approvals=frozenset(), links=[link])
    decided = decide(query)
    with transaction.atomic():
        try:
            return _create(render_request, link, submission, decided, decision_row(query, decided))
        except _KeyTaken:
            # A concurrent twin with the same key committed first: its request is the
            # answer. (The decision stored for this one stays, as every decision asked does.)
            existing = _replay(requester=requester, key=idempotency_key, submission=submission)
            if existing is None:  # the insert waited for the twin, which committed: never
                raise RuntimeError("a render request's key was taken, then not found")
            return existing


class _KeyTaken(Exception):
    """The request's row lost the unique (requester, idempotency key) to a twin."""


def _unwritten(
    *, requester: User, licence: Licence, submission: _Submission, idempotency_key: str | None
) -> tuple[RenderRequest, RenderRequestLicence]:
    """The request and its licence row as they will be written (no id yet)."""
    likeness = licence.signed_off_likeness  # read with the licence (submission_licences)
    render_request = RenderRequest(
        public_id=uuid4(),
        organization=requester.organization,
        requester=requester,
        likeness=likeness,
        status=RequestStatus.SUBMITTED,
        brief=submission.brief,
        prompt=compose_prompt(likeness=likeness, brief=submission.brief),
        negative_prompt=submission.negative_prompt,
        width=submission.width,
        height=submission.height,
        steps=submission.steps,
        seed=submission.seed,
        num_drafts=submission.num_drafts,
        guidance_scale=submission.guidance_scale,
        territory=submission.territory,
        medium=submission.medium,
        idempotency_key=idempotency_key,
        request_hash=submission.sha256() if idempotency_key else "",
    )
    link = RenderRequestLicence(licence=licence, talent=licence.talent, likeness=likeness)
    return render_request, link


def _create(
    render_request: RenderRequest,
    link: RenderRequestLicence,
    submission: _Submission,
    decided: Decision,
    gate_row: GateDecision,
) -> RenderRequest:
    requester, licence, likeness = render_request.requester, link.licence, link.likeness
    # The row is written in the state the table leads to and one audit event records the
    # way there. An allowed request is written queued, with its drafts taken; the licence
    # and budget rows every submission under them waits for are updated after the inserts
    # and the audit chain last, so they are held for the last few statements only.
    with audit_deferred():
        path = _submission_path(render_request, decided, [link], gate_row=gate_row)
        decision = recorded(decided, gate_row)
        if render_request.status == RequestStatus.QUEUED:
            refusal = _take_drafts_and_reserve(render_request, [link], actor=requester)
            if refusal:
                path = _refused(render_request, link, refusal)
        for source, target in itertools.pairwise(path):
            check_transition("request", source, target)
        audit_record(
            actor=requester,
            action="render_request.submitted",
            target=render_request,
            payload={
                "path": path,
                "licences": list(submission.licences),
                "likeness": str(likeness.public_id) if likeness else None,
                "num_drafts": submission.num_drafts,
                "decision": decision.decision_id,
                "outcome": decision.outcome,
                "codes": render_request.denial_reasons or decision.codes(),
            },
        )
    if render_request.status == RequestStatus.QUEUED:
        transaction.on_commit(partial(_send_render_task, render_request.pk))
    if render_request.status == RequestStatus.AWAITING_BRIEF_APPROVAL:
        _ask_brief_approval(render_request, link)
    # What it was written with (its decision, its licences, no drafts yet): the answer to
    # the submission reads nothing back.
    render_request.as_written = {
        "decision": decision_output(decision),
        "licences": [str(licence.public_id)],
        "assets": [],
    }
    return render_request


def decision_output(decision: Decision) -> dict | None:
    """The stored decision as the API shows its row, without reading it back: reasons and
    obligations as their JSON forms, objects' keys in the order the database gives them."""
    if not decision.decision_id:
        return None
    return {
        "id": decision.decision_id,
        "outcome": decision.outcome,
        "reasons": _as_stored([reason.to_json() for reason in decision.reasons]),
        "obligations": _as_stored([obligation.to_json() for obligation in decision.obligations]),
    }


def _as_stored(value: Any) -> Any:
    """``value`` as a JSON column returns it. PostgreSQL's jsonb keeps an object's keys
    shortest first, then by their bytes; SQLite keeps the text as written."""
    value = json.loads(json.dumps(value))
    return _jsonb_order(value) if connection.vendor == "postgresql" else value


def _jsonb_order(value: Any) -> Any:
    if isinstance(value, dict):
        keys = sorted(value, key=lambda key: (len(key.encode()), key.encode()))
        return {key: _jsonb_order(value[key]) for key in keys}
    if isinstance(value, list):
        return [_jsonb_order(item) for item in value]
    return value


def _refused(render_request: RenderRequest, link: RenderRequestLicence, refusal: str) -> list[str]:
    """An allowed request written queued found no drafts left or no budget for their fees:
    it is denied with that reason instead (the rare way: one more statement for each row)."""
    render_request.status = RequestStatus.DENIED
    render_request.denial_reasons = [refusal]
    render_request.spec_sha256 = ""
    render_request.finished_at = timezone.now()
    RenderRequest.objects.filter(pk=render_request.pk).update(
        status=render_request.status,
        denial_reasons=render_request.denial_reasons,
        spec_sha256="",
        draft_ids=[],
        drafts_expire_at=None,
        finished_at=render_request.finished_at,
    )
    RenderRequestLicence.objects.filter(pk=link.pk).update(drafts_taken=0)
    return [RequestStatus.SUBMITTED, RequestStatus.DENIED]


def _ask_brief_approval(render_request: RenderRequest, link: RenderRequestLicence) -> None:
    """The pending brief goes to the principal and the agents who may negotiate uses."""
    for user in talent_deciders(talent=link.talent, power="negotiate"):
        notify(
            user=user,
            kind="brief_approval_requested",
            subject=f"{render_request.organization.name} asks to approve a brief",
            body=(
                f"{render_request.organization.name} asks to render your digital twin for "
                f"{link.licence.campaign}: “{render_request.brief[:300]}”. Approve or reject "
                "the brief; nothing is rendered until you do."
            ),
            target_reference=f"render_request:{render_request.public_id}",
            dedupe_key=f"brief-approval:{render_request.public_id}",
        )


def _submission_path(
    render_request: RenderRequest,
    decision: Decision,
    links: list[RenderRequestLicence],
    *,
    gate_row: GateDecision,
) -> list[str]:
    """The states a new request passes through at submission, and its row and licence rows
    written in the last of them, in one statement with ``gate_row`` (the gate's
    unstored ``decision``), which the request points at. An allowed one is written queued
    with its drafts counted as taken and its draft ids and spec hash fixed; the caller
    then takes them."""
    if decision.outcome == DENY:
        render_request.denial_reasons = decision.codes()
        path = [RequestStatus.SUBMITTED, RequestStatus.DENIED]
    elif decision.outcome != ALLOW:
        path = [RequestStatus.SUBMITTED, RequestStatus.AWAITING_BRIEF_APPROVAL]
    else:
        drafts_schedule(render_request)
        render_request.spec_sha256 = render_spec_sha256(render_request, links=links)
        for link in links:
            link.drafts_taken = render_request.num_drafts
        path = [RequestStatus.SUBMITTED, RequestStatus.APPROVED, RequestStatus.QUEUED]
    render_request.status = path[-1]
    if render_request.status in REQUEST_TERMINAL:
        render_request.finished_at = timezone.now()
    # A twin with the same key that committed first leaves this row, and so its licence
    # rows, unwritten (no savepoint's round trips: ON CONFLICT); the decision is stored all
    # the same, as every decision asked is. The only unique column besides the key is the
    # public id, a fresh uuid4.
    written = rawsql.insert_linked(
        rawsql.Linked(gate_row),
        rawsql.Linked(render_request, refs=(("decision", 0),), skip_conflicts=True),
        *(rawsql.Linked(link, refs=(("render_request", 1),)) for link in links),
    )
    if not written[1]:
        raise _KeyTaken
    for link in links:
        link.render_request = render_request
    return path


def render_request_gate_query(
    render_request: RenderRequest,
    *,
    approvals: frozenset[str],
    links: Sequence[RenderRequestLicence] | None = None,
    drafts_held: int = 0,
    action: str = RENDER,
    at: datetime | None = None,
    subject_reference: str = "",
) -> GateQuery:
    """The gate's question for this request now (``links``: its licence rows, if known;
    ``drafts_held``: its drafts already taken from the allowance, once it was queued)."""
    if links is None:
        links = list(render_request.licence_links.select_related("licence", "likeness"))
    return GateQuery(
        action=action,
        at=at or timezone.now(),
        licences=tuple(link.licence.public_id for link in links),
        likenesses=tuple(link.likeness.public_id for link in links if link.likeness),
        brand=render_request.organization_id,
        brief=render_request.brief,
        negative_prompt=render_request.negative_prompt,
        territory=render_request.territory or None,
        medium=render_request.medium or None,
        approvals_given=approvals,
        drafts=render_request.num_drafts,
        drafts_held=drafts_held,
        subject_reference=subject_reference or f"render_request:{render_request.public_id}",
    )


def render_request_attach_decision(render_request: RenderRequest, decision: Decision) -> None:
    """Keep a stored decision on the request and, for an allow, the hash of the spec it
    allowed (issue 7's brief approval attaches its new decision this way)."""
    render_request.decision_id = decision.decision_id
    render_request.spec_sha256 = (
        render_spec_sha256(render_request)
        if decision.outcome == ALLOW and decision.decision_id
        else ""
    )
    RenderRequest.objects.filter(pk=render_request.pk).update(
        decision_id=render_request.decision_id, spec_sha256=render_request.spec_sha256
    )


class _AllowanceExhausted(Exception):
    pass


def _take_drafts_and_reserve(
    render_request: RenderRequest, links: Sequence[RenderRequestLicence], *, actor: User | None
) -> str:
    """Take the drafts from every licence (one conditional UPDATE each) and reserve their
    usage fees, all or none; returns "" or the refusal's code (``draft_allowance_exhausted``,
    ``budget_insufficient``). Licence rows, then the budget's: the order every path that
    holds both keeps. Sets the links' ``drafts_taken`` and the request's draft ids and lapse
    time on the objects given; the caller writes what its rows do not hold yet."""
    # Everything that only reads comes before the first lock.
    plans = drafts_reserve_plan(render_request=render_request, licence=links[0].licence)
    mark = audit_deferred_mark()
    # The ledger refuses a reservation before writing it, so with one draft what was taken
    # is given back by hand: no savepoint's round trips while the licence row is locked.
    # Several drafts are all or none in a savepoint.
    several = len(plans) > 1
    taken: list[RenderRequestLicence] = []
    try:
        with transaction.atomic() if several else contextlib.nullcontext():
            for link in links:
                if not licence_take_drafts(licence=link.licence, count=render_request.num_drafts):
                    raise _AllowanceExhausted
                taken.append(link)
            drafts_reserve_planned(plans, actor=actor)
    except (_AllowanceExhausted, BudgetInsufficient) as error:
        audit_deferred_discard(mark)  # what it recorded was undone
        if not several:
            for link in taken:
                licence_return_drafts(licence=link.licence, count=render_request.num_drafts)
        for link in links:
            link.drafts_taken = 0
        render_request.draft_ids, render_request.drafts_expire_at = [], None
        return error.code if isinstance(error, BudgetInsufficient) else REASON_ALLOWANCE
    for link in links:
        link.drafts_taken = render_request.num_drafts
    return ""


def render_request_give_back_drafts(*, render_request: RenderRequest) -> int:
    """Return the drafts a request took; a second call returns nothing (exactly once)."""
    returned = 0
    for link in render_request.licence_links.select_related("licence").filter(drafts_taken__gt=0):
        # Only the caller whose UPDATE zeroed the count gives the drafts back.
        if RenderRequestLicence.objects.filter(pk=link.pk, drafts_taken=link.drafts_taken).update(
            drafts_taken=0
        ):
            licence_return_drafts(licence=link.licence, count=link.drafts_taken)
            returned += link.drafts_taken
    return returned


@transaction.atomic
def render_request_approve_and_queue(
    *,
    render_request: RenderRequest,
    actor: User | None,
    links: Sequence[RenderRequestLicence] | None = None,
) -> RenderRequest:
    """A request whose brief was approved (and whose new allow decision is attached with
    ``render_request_attach_decision``) takes its drafts and is queued; with none left it
    is cancelled (``draft_allowance_exhausted``), and so it is when the brand's budget
    cannot hold their usage fees (``budget_insufficient``)."""
    if links is None:
        links = list(render_request.licence_links.select_related("licence"))
    refusal = _take_drafts_and_reserve(render_request, links, actor=actor)
    if not refusal:
        for link in links:
            RenderRequestLicence.objects.filter(pk=link.pk).update(drafts_taken=link.drafts_taken)
    if refusal:
        render_request.denial_reasons = [refusal]
        RenderRequest.objects.filter(pk=render_request.pk).update(denial_reasons=[refusal])
        return render_request_end(
            render_request=render_request, to=RequestStatus.CANCELLED, actor=actor, reason=refusal
        )
    render_request_transition(
        render_request=render_request,
        to=RequestStatus.APPROVED,
        actor=actor,
        fields={
            "draft_ids": render_request.draft_ids,
            "drafts_expire_at": render_request.drafts_expire_at,
        },
    )
    return render_request_enqueue(render_request=render_request, actor=actor)


@transaction.atomic
def render_request_enqueue(*, render_request: RenderRequest, actor: User | None) -> RenderRequest:
    """approved -> queued, then the GPU task after commit."""
    render_request_transition(render_request=render_request, to=RequestStatus.QUEUED, actor=actor)
    transaction.on_commit(partial(_send_render_task, render_request.pk))
    return render_request


def _send_render_task(render_request_id: int) -> bool:
    """Send the GPU task of a committed, queued request; False when the broker could not
    be reached (after kombu's retries). The request stays queued, which is what it is: the
    sweeper sends its task again (``render_request_resend_queued``). Run after commit, so
    an error here must not become the answer to a request that was stored."""
    from rightsdesk.renders.tasks import render_request_sender  # tasks imports this module

    try:
        # The arguments' text for the worker's log given as Celery would write it: its
        # saferepr of them took a fifth of the send (~0.2 ms of ~1 ms of CPU).
        render_request_sender.send((render_request_id,), argsrepr=f"({render_request_id},)")
    except (KombuError, OSError):
        logger.warning(
            "render request %s: its task was not sent (broker unreachable); the sweeper "
            "sends it again",
            render_request_id,
            exc_info=True,
        )
        return False
    return True


def render_request_resend_queued(
    *, unsent_after: timedelta, now: datetime | None = None, limit: int = 200
) -> list[int]:
    """Send again the task of requests left ``queued`` for ``unsent_after``: a send the
    broker refused, or a web process that died between its commit and its send. A request
    still waiting its turn behind others gets a second message, which is harmless: the
    task takes a request only from ``queued`` (``render_request_claim``), so whichever
    message comes second finds it taken or done and renders nothing.

    Each request is claimed first by a conditional UPDATE of its ``updated_at`` (the lease:
    the next send comes ``unsent_after`` later at the earliest), so sweeps that overlap send
    it once, and no transaction is open while the broker answers. Returns the ids sent."""
    now = now or timezone.now()
    cutoff = now - unsent_after
    waiting = list(
        RenderRequest.objects.filter(status=RequestStatus.QUEUED, updated_at__lt=cutoff)
        .order_by("updated_at", "pk")
        .values_list("pk", "updated_at")[:limit]
    )
    sent = []
    for pk, updated_at in waiting:
        claimed = RenderRequest.objects.filter(
            pk=pk, status=RequestStatus.QUEUED, updated_at=updated_at
        ).update(updated_at=now)
        if claimed and _send_render_task(pk):
            sent.append(pk)
    return sent


# --- ending a request ---------------------------------------------------------------------


@transaction.atomic
def render_request_end(
    *,
    render_request: RenderRequest,
    to: str,
    actor: User | None,
    reason: str,
    payload: dict[str, Any] | None = None,
) -> RenderRequest:
    """Cancel or fail a request: drafts back (exactly once), its files discarded after
    commit. A running render sees the status at its next step and stops."""
    if to not in (RequestStatus.CANCELLED, RequestStatus.FAILED):
        raise ValueError("a request ends as cancelled or failed here")
    render_request_give_back_drafts(render_request=render_request)
    drafts_void(render_request=render_request, reason=reason or to, actor=actor)
    render_request_transition(
        render_request=render_request, to=to, actor=actor, reason=reason, payload=payload
    )
    _discard_files_after_commit(render_request.public_id)
    return render_request


@transaction.atomic
def render_request_cancel(*, render_request: RenderRequest, actor: User) -> RenderRequest:
    """The requester cancels; a queued render never starts, a running one stops within a
    step and its images are discarded; the drafts go back to the allowance."""
    if actor.pk != render_request.requester_id:
        raise PermissionDenied("Only the requester may cancel a render request.")
    locked = RenderRequest.objects.select_for_update().get(pk=render_request.pk)
    render_request.status = locked.status
    return render_request_end(
        render_request=render_request,
        to=RequestStatus.CANCELLED,
        actor=actor,
        reason=REASON_REQUESTER,
    )


def render_request_end_by_system(*, render_request_id: int, to: str, reason: str) -> bool:
    """End a request that has not ended yet (a revoked task, a failed render). Returns
    whether this call ended it; a request already ended is left alone."""
    with transaction.atomic():
        render_request = (
            RenderRequest.objects.select_for_update().filter(pk=render_request_id).first()
        )
        if render_request is None or render_request.status in REQUEST_TERMINAL:
            return False
        render_request_end(render_request=render_request, to=to, actor=None, reason=reason)
    return True


def _discard_files_after_commit(public_id: UUID) -> None:
    """``discard_unreferenced_files`` after the commit, best effort: an I/O error is logged
    (``robust``), never made the answer to a change that is stored; the files stay
    unreferenced, nothing else. A named function: Django's robust hook logs the callable's
    ``__qualname__``, which a ``partial`` lacks (its logging then raises)."""

    def discard_files() -> None:
        discard_unreferenced_files(public_id)

    transaction.on_commit(discard_files, robust=True)


def asset_folder(public_id: UUID) -> str:
    return f"{ASSET_FOLDER}/{public_id}"


def discard_unreferenced_files(public_id: UUID) -> int:
    """Delete the request's files that no asset row names: the images of a cancelled or
    failed render, or those a dead worker wrote before it could record them."""
    folder = asset_folder(public_id)
    try:
        _, names = default_storage.listdir(folder)
    except (FileNotFoundError, NotADirectoryError):
        return 0
    kept = set(
        Asset.objects.filter(render_request__public_id=public_id).values_list("image", flat=True)
    )
    removed = 0
    for name in names:
        path = f"{folder}/{name}"
        if path not in kept:
            default_storage.delete(path)
            removed += 1
    return removed


# --- the worker's side --------------------------------------------------------------------

# Whether the worker recorded on a rendering request is gone (renders.worker_render).
OwnerCheck = Callable[[RenderRequest], bool]


def render_request_claim(
    *, render_request: RenderRequest, worker_id: str, owner_gone: OwnerCheck
) -> RenderRequest | None:
    """Take a queued request (queued -> rendering) for ``worker_id``, or take over one left
    ``rendering`` by a worker that is gone. ``render_request`` is the task's own read
    (``render_request_for_task``). None: nothing to do (ended, or alive elsewhere).
    """
    take = partial(
        render_request_transition,
        to=RequestStatus.RENDERING,
        actor=None,
        fields={"worker_id": worker_id, "progress": 0},
        payload={"worker": worker_id},
    )
    if render_request.status == RequestStatus.QUEUED:
        # The usual case reads nothing again: the transition is a compare-and-set from
        # `queued`, so a request that moved since it was read is not taken here, and is
        # looked at again below.
        with contextlib.suppress(InvalidTransition):
            return take(render_request=render_request)
    with transaction.atomic():
        # On PostgreSQL the row is locked; SQLite's transaction holds the write lock once
        # it writes.
        render_request = render_request_for_task(render_request.pk, lock=True)
        if render_request is None:
            return None
        if render_request.status == RequestStatus.QUEUED:
            return take(render_request=render_request)
        if render_request.status != RequestStatus.RENDERING:
            return None
        previous = render_request.worker_id
        if previous == worker_id or not owner_gone(render_request):
            return None
        now = timezone.now()
        RenderRequest.objects.filter(
            pk=render_request.pk, status=RequestStatus.RENDERING, worker_id=previous
        ).update(worker_id=worker_id, heartbeat_at=now, progress=0, updated_at=now)
        render_request.worker_id, render_request.heartbeat_at = worker_id, now
        render_request.progress = 0
        audit_record(
            actor=None,
            action="render_request.restarted",
            target=render_request,
            payload={"from_worker": previous, "worker": worker_id},
        )
    # Whatever the previous attempt wrote is thrown away; this attempt renders all drafts.
    discard_unreferenced_files(render_request.public_id)
    return render_request


def render_request_for_task(render_request_id: int, *, lock: bool = False) -> RenderRequest | None:
    """The request with its stored decision, its requester (told when it ends) and its
    likeness (and the likeness's talent), or None; ``lock``: its row locked until commit.
    Written by hand: every render task reads it first (rightsdesk.core.rawsql)."""
    select = rawsql.joined(
        (RenderRequest, "r"),
        (GateDecision, "d"),
        (User, "u"),
        (LikenessVersion, "l"),
        (Talent, "t"),
    )
    sql = (
        f"SELECT {select.sql} FROM {RenderRequest._meta.db_table} r "  # noqa: S608 - names from the model
        f"LEFT JOIN {GateDecision._meta.db_table} d ON d.id = r.decision_id "
        f"JOIN {User._meta.db_table} u ON u.id = r.requester_id "
        f"LEFT JOIN {LikenessVersion._meta.db_table} l ON l.id = r.likeness_id "
        f"LEFT JOIN {Talent._meta.db_table} t ON t.id = l.talent_id WHERE r.id = %s"
        + (" FOR UPDATE OF r" if lock and connection.vendor == "postgresql" else "")
    )
    rows = rawsql.fetch(sql, [render_request_id])
    if not rows:
        return None
    render_request, decision, requester, likeness, talent = select.split(rows[0])
    render_request.decision, render_request.requester = decision, requester
    if likeness is not None:
        likeness.talent = talent
    render_request.likeness = likeness
    return render_request


def render_request_heartbeat(*, render_request_id: int, worker_id: str, progress: int) -> bool:
    """Record progress and liveness; False if the request is no longer this worker's to
    render (cancelled, failed, or taken over). The worker writes it as it renders."""
    return bool(
        rawsql.update(
            RenderRequest,
            {"progress": max(0, min(progress, 99)), "heartbeat_at": timezone.now()},
            {"pk": render_request_id, "status": RequestStatus.RENDERING, "worker_id": worker_id},
        )
    )


@dataclass(frozen=True)
class RenderedDraft:
    index: int
    image: Any = field(repr=False)  # the renderer's decoded image (PIL), unmarked
    width: int
    height: int
    seed: int
    metadata: dict[str, Any] = field(default_factory=dict)
    asset_public_id: UUID = field(default_factory=uuid4)
    # Once signed (render_drafts_sign): the signed file the asset shows, and its hash.
    signed_name: str = ""
    signed_sha256: str = ""
    # The provenance record signed for it here, stored with the asset rows; None when the
    # asset's record was made before (a redelivered render gets it back as it stands).
    record: Any = field(default=None, repr=False)


def _draft_disclosure(render_request: RenderRequest, link: RenderRequestLicence) -> Disclosure:
    licence, talent = link.licence, link.talent
    train = creation_consent_in_force(
        talent=talent,
        kind=ConsentKind.TRAIN,
        base_model=link.likeness.base_model if link.likeness else "",
    )
    return Disclosure(
        brand_name=licence.brand.name,
        licence_public_id=licence.public_id,
        # A draft: the talent approves outputs only once the manager selects them.
        approved_exact_image=False,
        stage_name=talent.stage_name if talent.stage_name_public else None,
        consent_public_ids=(train.public_id,) if train is not None else (),
        language=talent.preferred_language or "en",
    )


def render_drafts_sign(
    *,
    render_request: RenderRequest,
    drafts: Sequence[RenderedDraft],
    links: Sequence[RenderRequestLicence] | None = None,
) -> list[RenderedDraft]:
    """Mark and sign every draft as it leaves the renderer (DESIGN.md, "Provenance"): the
    visible label and other obligations of the stored allow decision, the invisible
    watermark carrying the asset's opaque id, IPTC/XMP, and a C2PA manifest. Only the
    signed file is kept; the raw pixels never reach the disk.

    Signing comes before the asset rows are written, and each provenance record is stored
    with its asset row, in the transaction that makes the request ``rendered``
    (``render_request_store_drafts``): no draft exists without its marks and its record,
    and a render that fails or loses its request to another worker leaves no record, only
    signed files, which it deletes."""
    if links is None:
        links = render_request_links(render_request)
    if len(links) != 1:
        raise MultiLikenessUnsupported(talents=len(links))
    disclosure = _draft_disclosure(render_request, links[0])
    obligations = [
        Obligation(code=item["code"], params=item.get("params") or {})
        for item in (render_request.decision.obligations or [])
    ]
    signed: list[RenderedDraft] = []
    try:
        for draft in drafts:
            started = time.perf_counter()
            record = provenance_sign(
                asset_reference=f"asset:{draft.asset_public_id}",
                image=draft.image,
                disclosure=disclosure,
                obligations=obligations,
                licence=links[0].licence,
                store=False,  # stored with the asset rows (render_request_store_drafts)
            )
            signed.append(
                dataclasses.replace(
                    draft,
                    signed_name=record.signed_file.name,
                    signed_sha256=record.signed_sha256,
                    record=record if record.pk is None else None,
                    width=record.width,
                    height=record.height,
                    # Marks and signature, apart from the renderer's own timings.
                    metadata={
                        **draft.metadata,
                        "provenance_s": round(time.perf_counter() - started, 6),
                    },
                )
            )
    except BaseException:
        # The render fails (drafts back); what was signed of it goes too.
        _discard_drafts(signed, reason="signing_failed")
        raise
    return signed


def render_request_store_drafts(
    *, render_request: RenderRequest, worker_id: str, drafts: Sequence[RenderedDraft]
) -> bool:
    """Write, in one transaction with rendering -> rendered, the asset rows of the signed
    drafts (``render_drafts_sign``). False (what was signed discarded) if the request
    stopped being this worker's meanwhile: a redelivered or cancelled render never leaves
    a second set of drafts."""
    unsigned = [draft.index for draft in drafts if not draft.signed_name]
    if unsigned:
        raise ValueError(f"drafts {unsigned} were never signed: nothing unsigned is stored")
    # Each signed file belongs to its provenance record, which the asset row names.
    written = [(draft, draft.signed_sha256, draft.signed_name) for draft in drafts]
    records = [draft.record for draft in drafts if draft.record is not None]
    try:
        assets = [
            Asset(
                public_id=draft.asset_public_id,
                render_request=render_request,
                index=draft.index,
                status=AssetStatus.DRAFT,
                image=name,
                image_sha256=sha256,
                width=draft.width,
                height=draft.height,
                seed=draft.seed,
                render_metadata=draft.metadata,
                expires_at=render_request.drafts_expire_at,
            )
            for draft, sha256, name in written
        ]
        with transaction.atomic(), audit_deferred():
            for signed in records:
                if not provenance_record_store(signed):  # the asset's record exists
                    raise IntegrityError(f"{signed.asset_reference} was signed before")
            for asset in assets:
                rawsql.insert(asset)
            # Only while the render is still this worker's: the conditional rendering ->
            # rendered, the records and the asset rows commit together, or none does.
            render_request.status = RequestStatus.RENDERING
            render_request_transition(
                render_request=render_request,
                to=RequestStatus.RENDERED,
                actor=None,
                where={"worker_id": worker_id},
                payload={"assets": [asset.reference for asset in assets], "worker": worker_id},
                savepoint=False,  # any error rolls back the records and assets too
            )
    except (InvalidTransition, IntegrityError):
        _discard_drafts(drafts, reason="render_lost")
        return False
    except BaseException:
        _discard_drafts(drafts, reason="render_error")
        raise
    return True


def _discard_drafts(drafts: Sequence[RenderedDraft], *, reason: str) -> None:
    # What this attempt signed was never stored (its transaction failed or never ran):
    # only the files are there to delete.
    provenance_unstored_discard([draft.record for draft in drafts if draft.record is not None])
    # Draft ids are the request's own (renders.fees): a redelivered render signs the same
    # asset ids as the attempt it replaced, and gets that attempt's stored records back.
    # Only records of assets that do not exist are this attempt's to discard.
    signed = {
        draft.asset_public_id for draft in drafts if draft.signed_name and draft.record is None
    }
    signed -= set(Asset.objects.filter(public_id__in=signed).values_list("public_id", flat=True))
    if signed:
        provenance_discard(asset_references=[f"asset:{i}" for i in sorted(signed)], reason=reason)


# --- the sweeper --------------------------------------------------------------------------


def _stale_rendering(cutoff: datetime) -> Q:
    # A request enters `rendering` with a heartbeat; the updated_at fallback only covers
    # rows written before heartbeats existed or by hand.
    return Q(status=RequestStatus.RENDERING) & (
        Q(heartbeat_at__lt=cutoff) | Q(heartbeat_at__isnull=True, updated_at__lt=cutoff)
    )


def render_request_sweep_stale(
    *, stale_after: timedelta, now: datetime | None = None, max_requeues: int | None = None
) -> list[RenderRequest]:
    """Requeue or fail the renders whose worker has sent no heartbeat for ``stale_after``.

    With the file broker a worker whose main process dies loses its task (PITFALLS.md), so
    nothing else would ever end such a request. A stale render that still has its allow
    decision goes back to the queue (rendering -> queued) with a fresh task message, at most
    ``max_requeues`` times (RIGHTSDESK_RENDER_MAX_REQUEUES); otherwise it fails and gives
    back its drafts. The same holds on Redis: there the original message also comes back
    after the visibility timeout, and finds the render taken or done (the task is idempotent
    by request), so requeueing only renders sooner. Each request is handled in its own
    transaction, re-checked under its row lock so that a heartbeat that lands meanwhile
    keeps it alive.
    """
    if max_requeues is None:
        max_requeues = settings.RIGHTSDESK_RENDER_MAX_REQUEUES
    cutoff = (now or timezone.now()) - stale_after
    candidates = list(
        RenderRequest.objects.filter(_stale_rendering(cutoff))
        .order_by("pk")
        .values_list("pk", flat=True)
    )
    swept = []
    for pk in candidates:
        with transaction.atomic():
            render_request = (
                RenderRequest.objects.select_for_update()
                .filter(_stale_rendering(cutoff), pk=pk)
                .first()
            )
            if render_request is None:
                continue
            if render_request.requeue_count < max_requeues and render_request_decision_covers(
                render_request
            ):
                _requeue(render_request)
            else:
                render_request_end(
                    render_request=render_request,
                    to=RequestStatus.FAILED,
                    actor=None,
                    reason=REASON_HEARTBEAT_LOST,
                )
            swept.append(render_request)
    return swept


def _requeue(render_request: RenderRequest) -> None:
    render_request_transition(
        render_request=render_request,
        to=RequestStatus.QUEUED,
        actor=None,
        reason=REASON_HEARTBEAT_LOST,
        fields={
            "worker_id": "",
            "progress": 0,
            "heartbeat_at": None,
            "requeue_count": F("requeue_count") + 1,
        },
        payload={"requeue": render_request.requeue_count + 1},
    )
    render_request.refresh_from_db(fields=["requeue_count"])
    public_id = render_request.public_id
    _discard_files_after_commit(public_id)
    transaction.on_commit(partial(_send_render_task, render_request.pk))


# --- brief approval ---------------------------------------------------------------------------


def may_approve_briefs(*, user: User, talent) -> bool:
    """The principal, or an agent whose representation may negotiate uses."""
    if any(p.pk == user.pk for p in talent_principal_users(talent=talent)):
        return True
    return agent_has_power(user=user, talent=talent, power="negotiate")


def _awaiting_brief(render_request: RenderRequest, actor: User) -> tuple[RenderRequest, list]:
    locked = RenderRequest.objects.select_for_update().get(pk=render_request.pk)
    links = list(locked.licence_links.select_related("licence", "talent", "likeness"))
    if not all(may_approve_briefs(user=actor, talent=link.talent) for link in links):
        raise PermissionDenied(
            "Only the talent, a guardian, the estate or an agent who may negotiate uses may "
            "decide on a brief."
        )
    if locked.status != RequestStatus.AWAITING_BRIEF_APPROVAL:
        raise InvalidTransition(
            f"The request is {locked.status}, not awaiting brief approval.",
            **{"from": locked.status, "to": RequestStatus.APPROVED},
        )
    return locked, links


def render_request_approvals(render_request: RenderRequest) -> frozenset[str]:
    """The approvals its allow decision was given with (a held brief's, once approved)."""
    return frozenset((render_request.decision.query or {}).get("approvals_given") or [])


def _approvals_asked(render_request: RenderRequest) -> frozenset[str]:
    reasons = render_request.decision.reasons if render_request.decision else []
    return frozenset(r["approval"] for r in reasons if r.get("approval"))


@transaction.atomic
def render_request_approve_brief(*, render_request: RenderRequest, actor: User) -> RenderRequest:
    """The talent's side approves the brief (every approval the gate asked for); the gate
    is asked again with them and, on allow, the drafts are taken, their fees reserved and
    the request queued. Anything else the gate now says cancels it with its codes."""
    locked, links = _awaiting_brief(render_request, actor)
    approvals = _approvals_asked(locked)
    decision = evaluate(render_request_gate_query(locked, approvals=approvals, links=links))
    render_request_attach_decision(locked, decision)
    audit_record(
        actor=actor,
        action="render_request.brief_approved",
        target=locked,
        payload={"approvals": sorted(approvals), "decision": decision.decision_id},
    )
    if decision.outcome != ALLOW:
        codes = decision.codes()
        RenderRequest.objects.filter(pk=locked.pk).update(denial_reasons=codes)
        return render_request_end(
            render_request=locked,
            to=RequestStatus.CANCELLED,
            actor=actor,
            reason=",".join(codes)[:64] or "gate_denied",
        )
    queued = render_request_approve_and_queue(render_request=locked, actor=actor, links=links)
    if queued.status == RequestStatus.QUEUED:
        notify(
            user=queued.requester,
            kind="brief_approved",
            subject="Your brief was approved",
            body=f"{actor.full_name} approved the brief “{queued.brief[:120]}”; it is queued.",
            target_reference=f"render_request:{queued.public_id}",
        )
    return queued


@transaction.atomic
def render_request_reject_brief(
    *, render_request: RenderRequest, actor: User, reason: str
) -> RenderRequest:
    """The talent's side turns the brief down, saying why; nothing was taken yet."""
    reason = (reason or "").strip()
    if not reason:
        raise ValidationFailed(fields={"reason": ["Say why the brief is rejected."]})
    locked, _ = _awaiting_brief(render_request, actor)
    render_request_transition(
        render_request=locked,
        to=RequestStatus.REJECTED,
        actor=actor,
        reason="brief_rejected",
        payload={"note": reason[:500]},
    )
    notify(
        user=locked.requester,
        kind="brief_rejected",
        subject="The talent's side rejected a brief",
        body=f"{actor.full_name} rejected the brief “{locked.brief[:120]}”: {reason[:500]}",
        target_reference=f"render_request:{locked.public_id}",
    )
    return locked

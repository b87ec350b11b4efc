"""The gate's values: what a caller asks (GateQuery) and what it answers (Decision).

Plain frozen dataclasses with no Django model, torch or renders import, so a Celery task of
the ``gpu`` queue, the render service and the API can all build and read them.

Reason codes are stable (clients and tests rely on them); each has a severity, a message
and what would fix it in ``REASON_CATALOGUE``.
"""

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any
from uuid import UUID

CAPTURE = "capture"
TRAIN = "train"
RENDER = "render"
RELEASE = "release"
ACTIONS = frozenset({CAPTURE, TRAIN, RENDER, RELEASE})

ALLOW = "allow"
NEEDS_APPROVAL = "needs_approval"
DENY = "deny"

Ref = int | str | UUID  # a database id or a public id


@dataclass(frozen=True)
class GateQuery:
    """One question to the gate.

    ``talents``, ``licences`` and ``likenesses`` take ids or public ids. For render and
    release every talent involved (named, or whose licence or likeness is named) needs one
    licence. Approvals are kinds such as ``"brief"``, ``"category:lingerie"`` or
    ``"name:summer"``; ``"<kind>@<talent public id>"`` gives one only for that talent of a
    group shot. ``brand`` is the requesting organisation: a licence of another brand is
    "not found". ``drafts`` is how many drafts a render asks for (the caller then takes
    them with a conditional UPDATE); ``drafts_held`` how many of the licence's used drafts
    this very request already holds (a queued render asked again in its task), so they are
    not counted twice. ``base_model`` names the base model for a ``train``
    question when no likeness does.
    """

    action: str
    at: datetime = field(default_factory=lambda: datetime.now(UTC))
    talents: tuple[Ref, ...] = ()
    licences: tuple[Ref, ...] = ()
    likenesses: tuple[Ref, ...] = ()
    brief: str = ""
    negative_prompt: str = ""
    territory: str | None = None
    medium: str | None = None
    approvals_given: frozenset[str] = frozenset()
    brand: Ref | None = None
    campaign: str | None = None
    base_model: str = ""
    drafts: int = 1
    drafts_held: int = 0
    dry_run: bool = False
    subject_reference: str = ""

    def to_json(self) -> dict[str, Any]:
        return {
            "action": self.action,
            "at": self.at.isoformat(),
            "talents": [str(ref) for ref in self.talents],
            "licences": [str(ref) for ref in self.licences],
            "likenesses": [str(ref) for ref in self.likenesses],
            "brief": self.brief,
            "negative_prompt": self.negative_prompt,
            "territory": self.territory,
            "medium": self.medium,
            "approvals_given": sorted(self.approvals_given),
            "brand": None if self.brand is None else str(self.brand),
            "campaign": self.campaign,
            "base_model": self.base_model,
            "drafts": self.drafts,
            "drafts_held": self.drafts_held,
        }


@dataclass(frozen=True)
class Reason:
    code: str
    message: str
    talent: str | None = None  # the talent's public id; None for the request as a whole
    fix: str = ""
    severity: str = DENY  # deny or needs_approval
    approval: str = ""  # the approval kind that would lift a needs_approval reason

    def to_json(self) -> dict[str, Any]:
        return {
            "code": self.code,
            "message": self.message,
            "talent": self.talent,
            "fix": self.fix,
            "severity": self.severity,
            "approval": self.approval,
        }


@dataclass(frozen=True)
class Obligation:
    code: str
    params: Mapping[str, Any] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        return {"code": self.code, "params": dict(self.params)}


@dataclass(frozen=True)
class Decision:
    outcome: str
    reasons: tuple[Reason, ...] = ()
    obligations: tuple[Obligation, ...] = ()
    decision_id: int | None = None

    @property
    def allowed(self) -> bool:
        return self.outcome == ALLOW

    def codes(self) -> list[str]:
        return [reason.code for reason in self.reasons]

    def to_json(self) -> dict[str, Any]:
        return {
            "outcome": self.outcome,
            "reasons": [reason.to_json() for reason in self.reasons],
            "obligations": [obligation.to_json() for obligation in self.obligations],
            "decision_id": self.decision_id,
        }


def outcome_of(reasons: tuple[Reason, ...] | list[Reason]) -> str:
    """The AND over every reason: any deny denies, else any approval needed, else allow."""
    severities = {reason.severity for reason in reasons}
    if DENY in severities:
        return DENY
    if NEEDS_APPROVAL in severities:
        return NEEDS_APPROVAL
    return ALLOW


# code -> (severity, message, fix). other_talent_named is a deny for a full name and asks
# for approval for a one-word stage name; the gate sets the severity per match.
REASON_CATALOGUE: dict[str, tuple[str, str, str]] = {
    "gate_error": (
        DENY,
        "The gate could not reach a decision, so it refused.",
        "Try again; if it keeps failing, tell the operator (the error is logged).",
    ),
    "talent_not_found": (
        DENY,
        "The request names a talent that does not exist.",
        "Check the talent named in the request.",
    ),
    "identity_not_verified": (
        DENY,
        "The talent's identity has not been verified.",
        "Staff or the representing agency attests the talent's identity.",
    ),
    "minor_not_allowed": (
        DENY,
        "The talent is a minor and this instance does not allow minors.",
        "Nothing: RIGHTSDESK_ALLOW_MINORS is off on this instance.",
    ),
    "no_capture_consent": (
        DENY,
        "The talent has not consented to capture.",
        "The talent, or their guardian or estate, gives a capture consent.",
    ),
    "no_train_consent": (
        DENY,
        "The talent has not consented to training on this base model.",
        "The talent, or their guardian or estate, gives a training consent naming it.",
    ),
    "likeness_not_found": (
        DENY,
        "The request names a likeness that does not exist, or not this talent's.",
        "Name a likeness of the talent.",
    ),
    "likeness_not_signed_off": (
        DENY,
        "The talent has not signed off this likeness.",
        "The talent signs the likeness off from its sample renders.",
    ),
    "licence_not_found": (
        DENY,
        "No licence of yours in this request covers this talent.",
        "Name one of your licences for each talent in the request.",
    ),
    "licence_wrong_talent": (
        DENY,
        "A licence in the request is not for the talents the request names.",
        "Name exactly one licence per talent, each for that talent.",
    ),
    "licence_wrong_campaign": (
        DENY,
        "The licence was given for another campaign.",
        "Use a licence accepted for this campaign, or propose one.",
    ),
    "licence_not_accepted": (
        DENY,
        "The licence has not been accepted.",
        "The talent, or an agent with the power, accepts the licence.",
    ),
    "licence_outside_term": (
        DENY,
        "The licence is not in force at this time, or its usage period has run out.",
        "Propose a licence, or an amendment, for this period.",
    ),
    "territory_not_licensed": (
        DENY,
        "The licence does not cover this territory for this medium.",
        "Propose a licence that covers the territory.",
    ),
    "medium_not_licensed": (
        DENY,
        "The licence does not cover this medium.",
        "Propose a licence that covers the medium.",
    ),
    "draft_allowance_exhausted": (
        DENY,
        "The licence's draft allowance is used up.",
        "Release or reject drafts, or propose a larger allowance.",
    ),
    "quantity_exhausted": (
        DENY,
        "The licence's number of assets for this use is used up.",
        "Propose a licence for more assets.",
    ),
    "withdrawal_effective": (
        DENY,
        "Consent to this use has been withdrawn.",
        "Nothing: a withdrawal cannot be undone; a new licence or consent is needed.",
    ),
    "agreement_inactive": (
        DENY,
        "The agreement is not active (unsigned, expired or terminated).",
        "Sign, renew or amend the agreement.",
    ),
    "category_never": (
        DENY,
        "The brief falls in a category the agreement never allows.",
        "Change the brief.",
    ),
    "category_needs_approval": (
        NEEDS_APPROVAL,
        "The brief falls in a category the agreement allows only with the talent's approval.",
        "Ask the talent, or an agent with the power, to approve the brief's category.",
    ),
    "global_category": (
        DENY,
        "The brief asks for content this service never produces (nudity, minors).",
        "Change the brief.",
    ),
    "appearance_limit": (
        DENY,
        "The brief asks to alter the talent's appearance in a way the talent does not allow.",
        "Change the brief.",
    ),
    "other_talent_named": (
        DENY,
        "The brief names another registered talent.",
        "Remove the name from the brief.",
    ),
    "brief_approval_required": (
        NEEDS_APPROVAL,
        "The licence requires the talent's approval of each brief.",
        "Ask the talent, or an agent with the power, to approve the brief.",
    ),
}

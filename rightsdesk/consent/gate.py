"""The gate: the one decision point every capture, training, render and release passes.

``evaluate(query)`` loads every fact it needs in one statement (``gate_facts``), applies
the rules below in Python, and stores the decision (one INSERT) unless it is a dry run.
It fails closed: any error is a deny with ``gate_error``, logged, and still stored. It
imports nothing from ``renders``; quotas are counters on the Licence that the caller takes
with a conditional UPDATE in its own transaction after an ``allow``.

The outcome is the AND over every talent and licence in the request: any deny denies,
else any reason that needs an approval asks for it, else allow. Reasons are collected,
not short-circuited, so one answer lists everything to fix; each code appears once per
talent. What each action checks:

- every action: the talent exists, its identity is verified, it is not a minor (unless
  the instance allows minors);
- capture: a live capture consent; train: a live capture consent and a live training
  consent on the base model (the likeness's, or ``query.base_model``);
- render and release: a live training consent on the base model of the likeness used
  (named, or the talent's latest signed-off one), that likeness signed off, and one
  licence per talent that is the caller's, accepted, not withdrawn, under an active
  agreement, in its term, covering the medium and territory asked, with allowance left
  (drafts at render; assets and usage period from first publication at release); the
  brief screened for global bans, the agreement's categories, the likeness's appearance
  limits and other talents' names; at render, brief approval when the licence asks for it.

A consent or licence counts as withdrawn from the earliest effective time of any
withdrawal of it (or, for a licence, of its agreement): ``at >= effective_at``.
"""

import logging
from collections.abc import Iterable

from django.conf import settings
from django.db import connection, transaction
from django.utils import timezone

from rightsdesk.consent.gate_facts import (
    FactsRequest,
    GateFacts,
    LicenceFact,
    LikenessFact,
    Refs,
    TalentFact,
    UsageFact,
    load_facts,
)
from rightsdesk.consent.gate_types import (
    ACTIONS,
    CAPTURE,
    DENY,
    NEEDS_APPROVAL,
    REASON_CATALOGUE,
    RELEASE,
    RENDER,
    TRAIN,
    Decision,
    GateQuery,
    Obligation,
    Reason,
    outcome_of,
)
from rightsdesk.consent.models import GateDecision
from rightsdesk.consent.obligations import obligations_for
from rightsdesk.consent.screening import Brief, appearance_hits, global_screen_hits
from rightsdesk.core import rawsql
from rightsdesk.core.jurisdictions import is_minor
from rightsdesk.core.vocab import UnknownTerritory, expand_territory

logger = logging.getLogger(__name__)

USE_ACTIONS = frozenset({RENDER, RELEASE})
LIVE_VERSION_STATUSES = frozenset({"active", "superseded"})


def evaluate(query: GateQuery) -> Decision:
    """Decide ``query``; store the decision unless it is a dry run. Never raises."""
    decision = decide(query)
    return decision if query.dry_run else record(query, decision)


def decide(query: GateQuery) -> Decision:
    """``evaluate`` without storing anything: the decision as ``record`` would store it. A
    caller outside any transaction decides first, then records in the transaction that
    acts on the decision, so the gate's read needs no savepoint. Never raises."""
    try:
        reasons, obligations = _decide(query)
    except Exception:
        logger.exception("gate_error deciding %r", query)
        reasons, obligations = [_reason("gate_error")], ()
    outcome = outcome_of(reasons)
    return Decision(
        outcome=outcome,
        reasons=tuple(reasons),
        obligations=() if outcome == DENY else tuple(obligations),
    )


def record(query: GateQuery, decision: Decision) -> Decision:
    """Store ``decide``'s ``decision`` for ``query``; the stored decision (with its id), or a
    gate_error deny when it could not be stored. Never raises."""
    try:
        return _store(query, decision)
    except Exception:
        # Nothing stored (the caller's transaction may be broken): still a deny.
        logger.exception("gate_error storing a decision for %r", query)
        return Decision(outcome=DENY, reasons=(_reason("gate_error"),))


def _query_json(query: GateQuery) -> dict:
    try:
        return query.to_json()
    except Exception:  # a malformed question is still recorded with its deny
        return {"unserialisable": repr(query)[:2000]}


def _store(query: GateQuery, decision: Decision) -> Decision:
    row = decision_row(query, decision)
    rawsql.insert(row)  # every use asks the gate: the ORM's save cost more than the insert
    return recorded(decision, row)


def decision_row(query: GateQuery, decision: Decision) -> GateDecision:
    """The row ``record`` stores for ``decide``'s ``decision``, unsaved: for a caller that
    writes it in one statement with its own rows (``rawsql.insert_linked``), then takes
    ``recorded(decision, row)`` as the stored decision."""
    return GateDecision(
        created_at=timezone.now(),
        action=str(query.action)[:16],
        outcome=decision.outcome,
        reasons=[reason.to_json() for reason in decision.reasons],
        obligations=[obligation.to_json() for obligation in decision.obligations],
        query=_query_json(query),
        subject_reference=str(query.subject_reference)[:80],
    )


def recorded(decision: Decision, row: GateDecision) -> Decision:
    """``decision`` as stored in ``row`` (written: it has its key)."""
    if row.pk is None:
        raise ValueError("the decision's row was not written")
    return Decision(
        outcome=decision.outcome,
        reasons=decision.reasons,
        obligations=decision.obligations,
        decision_id=row.pk,
    )


def _load(request: FactsRequest) -> GateFacts:
    # Inside the caller's transaction a failed statement would poison it, and the gate must
    # still store its deny: a savepoint keeps the transaction usable (two cheap statements).
    if connection.in_atomic_block:
        with transaction.atomic():
            return load_facts(request)
    return load_facts(request)


def _reason(
    code: str,
    talent: str | None = None,
    detail: str = "",
    *,
    severity: str | None = None,
    approval: str = "",
) -> Reason:
    default_severity, message, fix = REASON_CATALOGUE[code]
    return Reason(
        code=code,
        message=f"{message} ({detail})" if detail else message,
        talent=talent,
        fix=fix,
        severity=severity or default_severity,
        approval=approval,
    )


class _Reasons(list):
    """Reasons in the order found, each code once per talent (and approval asked)."""

    def add(self, code: str, talent: str | None = None, detail: str = "", **kwargs) -> None:
        approval = kwargs.get("approval", "")
        if not any(r.code == code and r.talent == talent and r.approval == approval for r in self):
            self.append(_reason(code, talent, detail, **kwargs))


class _Evaluation:
    def __init__(self, query: GateQuery, facts: GateFacts, brief: Brief, negative: Brief):
        self.query = query
        self.at = query.at
        self.facts = facts
        self.brief = brief
        self.negative = negative
        self.reasons = _Reasons()
        self.parents = {c.id: c.parent_id for c in facts.categories}
        self.categories = {c.id: c for c in facts.categories}
        self.brief_categories = [
            c for c in facts.categories if any(brief.mentions(k) for k in c.keywords or ())
        ]

    def approved(self, kind: str, talent: TalentFact | None = None) -> bool:
        given = self.query.approvals_given
        return kind in given or (talent is not None and f"{kind}@{talent.public_id}" in given)

    def lineage(self, category_id: int) -> list[int]:
        seen: list[int] = []
        current: int | None = category_id
        while current is not None and current not in seen:  # a cycle cannot loop forever
            seen.append(current)
            current = self.parents.get(current)
        return seen


def _decide(query: GateQuery) -> tuple[list[Reason], tuple[Obligation, ...]]:
    if query.action not in ACTIONS:
        raise ValueError(f"unknown gate action {query.action!r}")
    if query.at.tzinfo is None:
        raise ValueError("GateQuery.at must be timezone-aware")
    talent_refs = Refs.parse(query.talents)
    licence_refs = Refs.parse(query.licences)
    likeness_refs = Refs.parse(query.likenesses)
    brief = Brief.of(query.brief)
    facts = _load(
        FactsRequest(
            talents=talent_refs,
            licences=licence_refs,
            likenesses=likeness_refs,
            grams=tuple(brief.grams),
        )
    )
    ev = _Evaluation(query, facts, brief, Brief.of(query.negative_prompt))
    involved, licences, likenesses = _resolve(ev, talent_refs, licence_refs, likeness_refs)
    for talent in involved:
        _check_talent(ev, talent, likenesses.get(talent.id, []))
    if query.action in USE_ACTIONS:
        for licence in licences:
            _check_licence(ev, licence, facts.talents[licence.talent_id])
    _check_brief(ev, involved)
    obligations = obligations_for(licences, facts.rules) if query.action in USE_ACTIONS else ()
    return list(ev.reasons), obligations


def _resolve(
    ev: _Evaluation, talent_refs: Refs, licence_refs: Refs, likeness_refs: Refs
) -> tuple[list[TalentFact], list[LicenceFact], dict[int, list[LikenessFact]]]:
    """Which talents the request involves, the licence for each, the likenesses named."""
    facts, query, reasons = ev.facts, ev.query, ev.reasons
    named = [
        t for t in facts.talents.values() if talent_refs.matches(id=t.id, public_id=t.public_id)
    ]
    if talent_refs.missing(named):
        reasons.add("talent_not_found")
    likenesses = _named_likenesses(ev, likeness_refs)
    # Another brand's licence does not exist for the caller: the answer must not reveal it.
    licences = [
        licence
        for licence in facts.licences
        if licence_refs.matches(id=licence.id, public_id=licence.public_id)
        and (query.brand is None or _same_brand(query.brand, licence))
    ]
    if licence_refs.missing(licences):
        reasons.add("licence_not_found")
    ids = {t.id for t in named} | set(likenesses)
    if not named and query.action in USE_ACTIONS:
        ids |= {licence.talent_id for licence in licences}
    involved = [facts.talents[i] for i in sorted(ids)]
    if not involved:
        reasons.add("licence_not_found" if query.action in USE_ACTIONS else "talent_not_found")
    if query.action not in USE_ACTIONS:
        return involved, [], likenesses
    return involved, _one_licence_each(ev, involved, licences), likenesses


def _named_likenesses(ev: _Evaluation, refs: Refs) -> dict[int, list[LikenessFact]]:
    found = [v for t in ev.facts.talents.values() for v in t.likenesses]
    if refs.missing(found):
        ev.reasons.add("likeness_not_found")
    by_talent: dict[int, list[LikenessFact]] = {}
    for likeness in found:
        if refs.matches(id=likeness.id, public_id=likeness.public_id):
            by_talent.setdefault(likeness.talent_id, []).append(likeness)
    return by_talent


def _one_licence_each(
    ev: _Evaluation, involved: list[TalentFact], licences: list[LicenceFact]
) -> list[LicenceFact]:
    """The licences that may be used: one per involved talent, for the campaign asked."""
    ids = {talent.id for talent in involved}
    kept, refused = [], set()
    for licence in licences:
        who = ev.facts.talents[licence.talent_id].public_id
        if licence.talent_id not in ids:
            ev.reasons.add("licence_wrong_talent", who)
        elif ev.query.campaign is not None and licence.campaign != ev.query.campaign:
            ev.reasons.add("licence_wrong_campaign", who)
            refused.add(licence.talent_id)
        else:
            kept.append(licence)
    for talent in involved:
        count = sum(1 for licence in kept if licence.talent_id == talent.id)
        if count == 0 and talent.id not in refused:
            ev.reasons.add("licence_not_found", talent.public_id)
        elif count > 1:
            ev.reasons.add("licence_wrong_talent", talent.public_id, "more than one licence")
    return kept


def _same_brand(brand, licence: LicenceFact) -> bool:
    return str(brand) in (str(licence.brand_id), licence.brand_public_id)


# Per talent.


def _check_talent(ev: _Evaluation, talent: TalentFact, named: list[LikenessFact]) -> None:
    reasons, who, action = ev.reasons, talent.public_id, ev.query.action
    if talent.identity_verified_at is None:
        reasons.add("identity_not_verified", who)
    day = timezone.localdate(ev.at)
    if not settings.RIGHTSDESK_ALLOW_MINORS and is_minor(
        date_of_birth=talent.date_of_birth, jurisdiction=talent.jurisdiction, on=day
    ):
        reasons.add("minor_not_allowed", who)
    if action in (CAPTURE, TRAIN):
        _check_consent(ev, talent, "capture")
    if action == TRAIN:
        for base_model in [v.base_model for v in named] or [ev.query.base_model]:
            _check_consent(ev, talent, "train", base_model)
        return
    if action in USE_ACTIONS:
        used = named or _latest_signed_off(talent)
        if not used:
            reasons.add("likeness_not_signed_off", who, "the talent has no signed-off likeness")
        for likeness in used:
            if likeness.status != "signed_off":
                reasons.add("likeness_not_signed_off", who)
            _check_consent(ev, talent, "train", likeness.base_model)
            for code, phrase in appearance_hits(ev.brief, likeness.appearance_limits):
                reasons.add("appearance_limit", who, f"{code}: {phrase!r}")


def _latest_signed_off(talent: TalentFact) -> list[LikenessFact]:
    signed = [v for v in talent.likenesses if v.status == "signed_off"]
    return [max(signed, key=lambda v: v.version)] if signed else []


def _check_consent(ev: _Evaluation, talent: TalentFact, kind: str, base_model: str = "") -> None:
    if kind == "train" and not base_model:
        ev.reasons.add("no_train_consent", talent.public_id, "no base model named")
        return
    given = [
        c
        for c in talent.consents
        if c.kind == kind
        and c.answered_at <= ev.at
        and (kind != "train" or c.base_model == base_model)
    ]
    if any(c.withdrawn_from is None or ev.at < c.withdrawn_from for c in given):
        return
    if given:
        ev.reasons.add("withdrawal_effective", talent.public_id, f"{kind} consent withdrawn")
    else:
        ev.reasons.add(f"no_{kind}_consent", talent.public_id)


# Per licence.


def _check_licence(ev: _Evaluation, licence: LicenceFact, talent: TalentFact) -> None:
    reasons, at, who = ev.reasons, ev.at, talent.public_id
    if licence.status == "withdrawn":
        reasons.add("withdrawal_effective", who, "licence withdrawn")
    elif licence.status == "expired":
        reasons.add("licence_outside_term", who, "licence expired")
    elif licence.status != "accepted":
        reasons.add("licence_not_accepted", who)
    if _passed(licence.withdrawn_from, at) or _passed(licence.agreement_withdrawn_from, at):
        reasons.add("withdrawal_effective", who)
    if not _agreement_active(licence, at):
        reasons.add("agreement_inactive", who)
    if not licence.starts_at <= at < licence.ends_at:
        reasons.add("licence_outside_term", who)
    rows = _rows_in_scope(ev, licence, who)
    if ev.query.action == RENDER:
        used = licence.drafts_used - ev.query.drafts_held
        if used + max(ev.query.drafts, 1) > licence.draft_allowance:
            reasons.add("draft_allowance_exhausted", who)
        if licence.brief_approval_required and not ev.approved("brief", talent):
            reasons.add("brief_approval_required", who, approval="brief")
    elif rows:
        _check_release_rows(ev, licence, rows, who)
    _check_categories(ev, licence, talent)


def _passed(moment, at) -> bool:
    return moment is not None and moment <= at


def _agreement_active(licence: LicenceFact, at) -> bool:
    version = licence.active_version
    return (
        licence.agreement_status == "active"
        and not _passed(licence.agreement_terminated_at, at)
        and licence.version_status in LIVE_VERSION_STATUSES
        and version is not None
        and version.effective_from <= at < version.effective_to
    )


def _rows_in_scope(ev: _Evaluation, licence: LicenceFact, who: str) -> list[UsageFact]:
    """The usage rows covering the medium and territory asked (all rows if none asked)."""
    medium, territory = ev.query.medium, ev.query.territory
    rows = licence.usage
    if medium:
        rows = [row for row in licence.usage if row.medium == medium]
        if not rows:
            ev.reasons.add("medium_not_licensed", who, medium)
    if territory:
        try:
            wanted = expand_territory(territory)
        except UnknownTerritory:
            ev.reasons.add("territory_not_licensed", who, f"unknown territory {territory}")
            return []
        # With the medium unlicensed, still say whether the territory is (one reason each).
        in_territory = [row for row in rows or licence.usage if wanted <= set(row.territory_codes)]
        if not in_territory:
            ev.reasons.add("territory_not_licensed", who, territory)
        rows = in_territory if rows else []
    return rows


def _check_release_rows(
    ev: _Evaluation, licence: LicenceFact, rows: list[UsageFact], who: str
) -> None:
    # Durations run from first publication; the first release starts them.
    published = licence.first_published_at or ev.at
    current = [
        row for row in rows if (ev.at - published).total_seconds() < row.duration_days * 86400
    ]
    if not current:
        ev.reasons.add("licence_outside_term", who, "the usage period has run out")
    if not any(row.quantity_used < row.quantity for row in current or rows):
        ev.reasons.add("quantity_exhausted", who)


def _effective_policy(ev: _Evaluation, licence: LicenceFact, category_id: int) -> str | None:
    policies = licence.active_version.policies if licence.active_version else {}
    return next((policies[c] for c in ev.lineage(category_id) if c in policies), None)


def _globally_never(ev: _Evaluation, category_id: int) -> bool:
    return any(
        ev.categories[c].global_policy == "never"
        for c in ev.lineage(category_id)
        if c in ev.categories
    )


def _check_categories(ev: _Evaluation, licence: LicenceFact, talent: TalentFact) -> None:
    """The licence's own category (an amendment may have made it "never") and every
    category the brief mentions, under the agreement's active version. A category the
    agreement does not address, itself or through an ancestor, is allowed: the policy
    lists what the talent refuses or wants to see first."""
    who = talent.public_id
    if _globally_never(ev, licence.category_id):
        ev.reasons.add("global_category", None, ev.categories[licence.category_id].name)
    if _effective_policy(ev, licence, licence.category_id) == "never":
        ev.reasons.add("category_never", who, ev.categories[licence.category_id].name)
    for category in ev.brief_categories:
        policy = _effective_policy(ev, licence, category.id)
        if policy == "never":
            ev.reasons.add("category_never", who, category.name)
        elif policy == "with_approval":
            kind = f"category:{category.slug}"
            if not ev.approved(kind, talent):
                ev.reasons.add("category_needs_approval", who, category.name, approval=kind)


# The brief as a whole.


def _check_brief(ev: _Evaluation, involved: Iterable[TalentFact]) -> None:
    for screen, phrase in global_screen_hits(ev.brief, ev.negative):
        ev.reasons.add("global_category", None, f"{screen}: {phrase!r}")
    for category in ev.brief_categories:
        if _globally_never(ev, category.id):
            ev.reasons.add("global_category", None, category.name)
    _check_names(ev, {talent.id for talent in involved})


def _check_names(ev: _Evaluation, own: set[int]) -> None:
    # A gram that is also a name of a talent in the request is taken to mean that talent.
    own_grams = {hit.gram for hit in ev.facts.names if hit.talent_id in own}
    for hit in sorted(ev.facts.names, key=lambda h: (-h.words, h.gram)):
        if hit.talent_id in own or hit.gram in own_grams:
            continue
        if hit.words > 1 or hit.distinctive:
            ev.reasons.add("other_talent_named", None, repr(hit.gram))
        elif not ev.approved(f"name:{hit.gram}"):
            ev.reasons.add(
                "other_talent_named",
                None,
                f"{hit.gram!r}, a one-word stage name",
                severity=NEEDS_APPROVAL,
                approval=f"name:{hit.gram}",
            )

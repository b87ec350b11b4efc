"""Reads of render requests: who sees which, the spec a render is made from, and whether a
stored decision of the gate covers it.

The spec hash binds an allow decision to exactly what will be rendered. It is taken when
the decision is attached and checked again by the GPU task, so a request whose spec was
changed afterwards (or a task message naming another request) renders nothing.
"""

import hashlib
import json
from collections.abc import Sequence
from typing import Any
from uuid import UUID

from django.core.exceptions import ValidationError as DjangoValidationError
from django.db.models import Q, QuerySet

from rightsdesk.accounts.models import Organization, Role, User
from rightsdesk.agreements.models import Agreement, AgreementVersion
from rightsdesk.consent.gate_types import ALLOW, RENDER
from rightsdesk.consent.models import GateDecision
from rightsdesk.core import rawsql
from rightsdesk.core.errors import NotFound
from rightsdesk.licensing.models import Licence
from rightsdesk.licensing.selectors import licence_list_visible_to
from rightsdesk.renders.models import Asset, RenderRequest, RenderRequestLicence
from rightsdesk.talent.models import LikenessVersion, Talent

# The prompt is composed by the system, never taken from the user: the trigger token is
# what the likeness adapter was trained on (generation.train.caption).
PROMPT_TEMPLATE = "a photo of {trigger} person, {brief}"


def compose_prompt(*, likeness: LikenessVersion | None, brief: str) -> str:
    if likeness is None:
        return ""
    return PROMPT_TEMPLATE.format(trigger=likeness.trigger_token, brief=brief.strip())


def subject_reference(render_request: RenderRequest) -> str:
    """How a stored gate decision names the request it was asked for."""
    return f"render_request:{render_request.public_id}"


def render_seed(render_request: RenderRequest, index: int) -> int:
    """The seed of draft ``index``: the requested seed plus the index, or, with none
    requested, one derived from the request's id, so a redelivered task renders the same
    pixels."""
    base = render_request.seed
    if base is None:
        base = int(hashlib.sha256(render_request.public_id.bytes).hexdigest()[:8], 16)
    return base + index


def render_spec_payload(
    render_request: RenderRequest, links: Sequence[RenderRequestLicence] | None = None
) -> dict[str, Any]:
    """Everything that decides the pixels and whose use the gate allowed. ``links``: the
    request's licence rows when the caller holds them (unsaved, at submission)."""
    likeness = render_request.likeness
    if links is None:
        pairs = render_request.licence_links.values_list("licence__public_id", "talent__public_id")
    else:
        pairs = [(link.licence.public_id, link.talent.public_id) for link in links]
    links = sorted(pairs)
    return {
        "prompt": render_request.prompt,
        "brief": render_request.brief,
        "negative_prompt": render_request.negative_prompt,
        "width": render_request.width,
        "height": render_request.height,
        "steps": render_request.steps,
        "guidance_scale": float(render_request.guidance_scale),
        "seed": render_request.seed,
        "num_drafts": render_request.num_drafts,
        "territory": render_request.territory,
        "medium": render_request.medium,
        "likeness": str(likeness.public_id) if likeness else None,
        "base_model": likeness.base_model if likeness else None,
        "adapter_sha256": likeness.adapter_sha256 if likeness else None,
        "licences": [[str(licence), str(talent)] for licence, talent in links],
    }


def render_spec_sha256(
    render_request: RenderRequest, links: Sequence[RenderRequestLicence] | None = None
) -> str:
    payload = render_spec_payload(render_request, links)
    canonical = json.dumps(payload, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(canonical.encode()).hexdigest()


def render_request_decision_covers(
    render_request: RenderRequest, links: Sequence[RenderRequestLicence] | None = None
) -> bool:
    """Whether the request carries a stored allow decision for render, asked for this very
    request, about its licences and brief, and whether its spec is still the one allowed.
    ``links``: the request's licence rows with licence and talent, if already loaded."""
    decision = render_request.decision
    if decision is None or not render_request.spec_sha256:
        return False
    if links is None:
        links = render_request_links(render_request)
    query = decision.query or {}
    licences = sorted(str(link.licence.public_id) for link in links)
    return (
        decision.action == RENDER
        and decision.outcome == ALLOW
        and decision.subject_reference == subject_reference(render_request)
        and sorted(query.get("licences") or []) == licences
        and query.get("brief") == render_request.brief
        and query.get("negative_prompt", "") == render_request.negative_prompt
        and render_spec_sha256(render_request, links) == render_request.spec_sha256
    )


def render_request_links(render_request: RenderRequest) -> list[RenderRequestLicence]:
    """The request's licence rows, with their licence (and its brand), talent and likeness.
    Written by hand: every render task reads them (rightsdesk.core.rawsql)."""
    select = rawsql.joined(
        (RenderRequestLicence, "k"),
        (Licence, "l"),
        (Organization, "b"),
        (Talent, "t"),
        (LikenessVersion, "v"),
    )
    sql = (
        f"SELECT {select.sql} FROM {RenderRequestLicence._meta.db_table} k "  # noqa: S608 - names from the model
        f"JOIN {Licence._meta.db_table} l ON l.id = k.licence_id "
        f"JOIN {Organization._meta.db_table} b ON b.id = l.brand_id "
        f"JOIN {Talent._meta.db_table} t ON t.id = k.talent_id "
        f"LEFT JOIN {LikenessVersion._meta.db_table} v ON v.id = k.likeness_id "
        "WHERE k.render_request_id = %s ORDER BY k.id"
    )
    links = []
    for row in rawsql.fetch(sql, [render_request.pk]):
        link, licence, brand, talent, likeness = select.split(row)
        licence.brand = brand
        link.licence, link.talent, link.likeness = licence, talent, likeness
        link.render_request = render_request
        links.append(link)
    return links


def campaign_brand_of(user: User) -> Organization | None:
    """The brand a user may request renders for: theirs, if they are its campaign manager."""
    if (
        user.is_active
        and user.role == Role.CAMPAIGN_MANAGER
        and user.organization is not None
        and user.organization.kind == Organization.Kind.BRAND
    ):
        return user.organization
    return None


def brand_licences(*, brand: Organization, public_ids: list[UUID]) -> list[Licence]:
    """The brand's licences with these ids, in the order given; another brand's licence
    is "not found", so ids do not leak."""
    return submission_licences(brand=brand, public_ids=public_ids)[1]


def submission_licences(
    *,
    brand: Organization,
    public_ids: list[UUID],
    requester: User | None = None,
    idempotency_key: str | None = None,
) -> tuple[bool, list[Licence]]:
    """``brand_licences``, and what a submission reads with them in the same statement:
    whether ``requester`` already used ``idempotency_key`` (False without one, and when no
    licence is found: then ask ``_replay`` itself), and each licence's talent's latest
    signed-off likeness as ``licence.signed_off_likeness``: the one a render of the talent
    uses (the gate picks the same one when none is named)."""
    # With what a draft's fee is cut by (the agreement's agency and version), read here
    # rather than one by one while the licence row is locked. One statement written by
    # hand: through the ORM, compiling this four-way join took 2.8 ms of a submission's
    # CPU, the statement itself 0.3 ms (``rightsdesk.core.rawsql``); the key probe and the
    # likeness were two statements more on every submission.
    if not public_ids:
        return False, []
    select = rawsql.joined(
        (Licence, "l"),
        (Talent, "t"),
        (Agreement, "a"),
        (AgreementVersion, "v"),
        (Organization, "o"),
        (LikenessVersion, "lv"),
    )
    placeholders, params = rawsql.in_list(
        rawsql.param(Licence, "public_id", value) for value in public_ids
    )
    sql = (
        f"SELECT {select.sql}, EXISTS (SELECT 1 FROM {RenderRequest._meta.db_table} r "  # noqa: S608 - names from the model
        "WHERE r.requester_id = %s AND r.idempotency_key = %s) "
        f"FROM {Licence._meta.db_table} l "
        f"JOIN {Talent._meta.db_table} t ON t.id = l.talent_id "
        f"JOIN {Agreement._meta.db_table} a ON a.id = l.agreement_id "
        f"JOIN {AgreementVersion._meta.db_table} v ON v.id = l.agreement_version_id "
        f"LEFT JOIN {Organization._meta.db_table} o ON o.id = a.agency_id "
        f"LEFT JOIN {LikenessVersion._meta.db_table} lv ON lv.id = ("
        f"SELECT x.id FROM {LikenessVersion._meta.db_table} x "
        "WHERE x.talent_id = l.talent_id AND x.status = %s ORDER BY x.version DESC LIMIT 1) "
        f"WHERE l.public_id IN ({placeholders}) AND l.brand_id = %s"
    )
    found, taken = {}, False
    rows = rawsql.fetch(
        sql,
        [
            requester.pk if requester else None,
            idempotency_key or None,
            LikenessVersion.Status.SIGNED_OFF.value,
            *params,
            brand.pk,
        ],
    )
    for row in rows:
        licence, talent, agreement, version, agency, likeness = select.split(row)
        taken = bool(row[-1])
        agreement.agency = agency
        licence.talent, licence.agreement, licence.agreement_version = talent, agreement, version
        licence.brand = brand
        licence.signed_off_likeness = likeness
        found[licence.public_id] = licence
    if len(found) != len(set(public_ids)):
        raise NotFound("No such licence.")
    return taken, [found[public_id] for public_id in dict.fromkeys(public_ids)]


def render_request_list_visible_to(*, user: User) -> QuerySet[RenderRequest]:
    """The brand's own requests for its members; for the talent's side, the requests made
    under licences they can see; everything for staff."""
    requests = RenderRequest.objects.select_related("organization", "requester", "decision")
    if not user.is_active:
        return requests.none()
    if user.is_staff:
        return requests
    visible = Q(licence_links__licence__in=licence_list_visible_to(user=user).values("pk"))
    org = user.organization
    if org is not None and org.kind == Organization.Kind.BRAND:
        visible |= Q(organization=org)
    return requests.filter(pk__in=RenderRequest.objects.filter(visible).values("pk"))


def render_request_get_visible_to(*, user: User, public_id: UUID | str) -> RenderRequest:
    """The request by its id (its organisation, requester and decision read with it) if
    ``user`` may see it (the parties of ``render_request_list_visible_to``), else
    ``not_found``. Read by its id first and the parties checked after: the brand's own
    members (nearly every read) need no second statement, where the list's filter cost a
    plan of six joins on every read. One statement written by hand (``rawsql``): through
    the ORM, compiling the four-table join cost more CPU than a status read's three other
    statements together (bench/api_load.py)."""
    try:
        key = rawsql.param(RenderRequest, "public_id", public_id)
    except (DjangoValidationError, ValueError, TypeError):
        raise NotFound("No such render request.")
    select = rawsql.joined(
        (RenderRequest, "r"), (Organization, "o"), (User, "u"), (GateDecision, "d")
    )
    rows = rawsql.fetch(
        f"SELECT {select.sql} FROM {RenderRequest._meta.db_table} r "  # noqa: S608 - names from the model
        f"JOIN {Organization._meta.db_table} o ON o.id = r.organization_id "
        f"JOIN {User._meta.db_table} u ON u.id = r.requester_id "
        f"LEFT JOIN {GateDecision._meta.db_table} d ON d.id = r.decision_id "
        "WHERE r.public_id = %s",
        [key],
    )
    if not rows:
        raise NotFound("No such render request.")
    render_request, organization, requester, decision = select.split(rows[0])
    render_request.organization, render_request.requester = organization, requester
    render_request.decision = decision
    if not _visible(user=user, render_request=render_request):
        raise NotFound("No such render request.")
    return render_request


def render_request_licences_and_drafts(
    render_request_id: int, *, asset_fields: Sequence[str]
) -> tuple[list[str], list[dict]]:
    """A request's licence ids (in the order they were linked) and its drafts' ``asset_fields``
    (by index), as a status read shows them. Written by hand (``rawsql``): through the ORM,
    compiling the two reads cost more CPU than a status read's statements
    (bench/api_load.py)."""
    licences = rawsql.fetch(
        f"SELECT l.public_id FROM {RenderRequestLicence._meta.db_table} rl "  # noqa: S608 - names from the model
        f"JOIN {Licence._meta.db_table} l ON l.id = rl.licence_id "
        "WHERE rl.render_request_id = %s ORDER BY rl.id",
        [render_request_id],
    )
    cols = rawsql.columns(Asset, "a", names=asset_fields)
    assets = rawsql.fetch(
        f"SELECT {cols.sql} FROM {Asset._meta.db_table} a "  # noqa: S608 - names from the model
        'WHERE a.render_request_id = %s ORDER BY a."index"',
        [render_request_id],
    )
    return (
        [str(rawsql.converted(Licence, "public_id", row[0])) for row in licences],
        [dict(zip(cols.attnames, rawsql.values(cols, row), strict=True)) for row in assets],
    )


def _visible(*, user: User, render_request: RenderRequest) -> bool:
    if not user.is_active:
        return False
    if user.is_staff:
        return True
    org = user.organization
    brand = org is not None and org.kind == Organization.Kind.BRAND
    if brand and render_request.organization_id == org.pk:
        return True
    # Everyone else by the list's own rule (the talent's side, through the licences).
    return render_request_list_visible_to(user=user).filter(pk=render_request.pk).exists()


def asset_list_visible_to(*, user: User) -> QuerySet[Asset]:
    """The assets of the render requests ``user`` may see (the same parties)."""
    requests = render_request_list_visible_to(user=user)
    return Asset.objects.filter(render_request__in=requests.values("pk")).select_related(
        "render_request"
    )


def asset_get_visible_to(*, user: User, public_id: UUID | str) -> Asset:
    try:
        return asset_list_visible_to(user=user).get(public_id=public_id)
    except (Asset.DoesNotExist, DjangoValidationError, ValueError):
        raise NotFound("No such asset.")


def assets_get_visible_to(*, user: User, public_ids: Sequence[UUID | str]) -> list[Asset]:
    """All of them, in a stable order, or ``not_found`` (never which one was foreign)."""
    ids = list(dict.fromkeys(str(value) for value in public_ids))
    try:
        found = list(asset_list_visible_to(user=user).filter(public_id__in=ids).order_by("pk"))
    except (DjangoValidationError, ValueError):
        raise NotFound("No such asset.")
    if len(found) != len(ids):
        raise NotFound("No such asset.")
    return found


def asset_link(asset: Asset) -> RenderRequestLicence:
    """The licence row an asset was rendered under (one talent per request for now)."""
    return (
        RenderRequestLicence.objects.select_related(
            "licence", "licence__agreement_version", "talent", "likeness"
        )
        .filter(render_request_id=asset.render_request_id)
        .order_by("pk")
        .first()
    )

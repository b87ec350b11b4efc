"""The reads behind an evidence pack: which object it is about, who may have it, and the
records it gathers (see ``evidence.py`` for the pack itself).

Every record is written as plain JSON from explicit fields, never ``model_to_dict``: a
field someone adds later (a new note, a new secret) does not slip into a pack unseen.
Other apps are read through their models and selectors; this module writes nothing.

The network evidence of a signature, consent or acceptance (IP address, user agent) is
shown only to staff, to the operator's command and to the person it is about, as the
agreements API shows it (``signature_evidence_visible``); for anyone else it is withheld
and marked so. Talents are named by their public id; their legal name and date of birth
stay out of the pack (the deal memo and the provenance record keep the stage name they
were made with).
"""

import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any
from uuid import UUID

from django.db.models import Model, Q

from rightsdesk.accounts.models import Role, User
from rightsdesk.accounts.selectors import user_is_staff
from rightsdesk.agreements.models import Agreement, AgreementVersion
from rightsdesk.audit.evidence_check import commitment_body, sha256_hex
from rightsdesk.audit.services import target_reference
from rightsdesk.consent.models import CreationConsent, GateDecision, Withdrawal, WithdrawalApplied
from rightsdesk.core.errors import NotFound, PermissionDenied
from rightsdesk.ledger.models import Entry, Reservation
from rightsdesk.licensing.models import Licence
from rightsdesk.licensing.selectors import licence_get_visible_to, licence_list_visible_to
from rightsdesk.provenance.models import ProvenanceRecord
from rightsdesk.renders.models import Asset, RenderRequest
from rightsdesk.renders.selectors import render_request_list_visible_to
from rightsdesk.talent.models import LikenessVersion

# Who may take a pack away: brand or agency legal, the talent's principal (the records are
# about them) and staff. Campaign managers and agents see the objects but get 403.
EVIDENCE_ROLES = frozenset({Role.LEGAL, Role.TALENT, Role.GUARDIAN, Role.ESTATE})

_SAFE_NAME = re.compile(r"[^a-z0-9-]")


@dataclass(frozen=True)
class EvidenceSubject:
    """What a pack is about: a licence, or one asset (with its request's licences)."""

    kind: str  # "licence" | "asset"
    licences: tuple[Licence, ...]
    asset: Asset | None = None

    @property
    def target(self) -> Model:
        return self.asset if self.asset is not None else self.licences[0]

    @property
    def reference(self) -> str:
        return f"{self.kind}:{self.target.public_id}"


@dataclass
class EvidenceContent:
    """The records (path -> JSON value), the exact files (path -> bytes) and the audit
    targets (``("app.model", id)``) whose events the segment must give in full."""

    records: dict[str, Any] = field(default_factory=dict)
    files: dict[str, bytes] = field(default_factory=dict)
    audit_targets: set[tuple[str, str]] = field(default_factory=set)

    def track(self, objects: Iterable[Model]) -> None:
        self.audit_targets.update(target_reference(obj) for obj in objects)


# --- the subject and who may have it ------------------------------------------------------


def _uuid(value: UUID | str, what: str) -> UUID:
    try:
        return value if isinstance(value, UUID) else UUID(str(value))
    except ValueError:
        raise NotFound(f"No such {what}.")


def _asset_subject(asset: Asset) -> EvidenceSubject:
    licences = Licence.objects.filter(
        pk__in=asset.render_request.licence_links.values("licence_id")
    ).order_by("pk")
    return EvidenceSubject(kind="asset", licences=tuple(licences), asset=asset)


def evidence_subject_get(
    *, asset: UUID | str | None = None, licence: UUID | str | None = None
) -> EvidenceSubject:
    """The subject by id, unscoped: for the operator's command."""
    if asset is not None:
        found = (
            Asset.objects.select_related("render_request")
            .filter(public_id=_uuid(asset, "asset"))
            .first()
        )
        if found is None:
            raise NotFound("No such asset.")
        return _asset_subject(found)
    found = Licence.objects.filter(public_id=_uuid(licence, "licence")).first()
    if found is None:
        raise NotFound("No such licence.")
    return EvidenceSubject(kind="licence", licences=(found,))


def evidence_may_take(*, user: User) -> bool:
    return user_is_staff(user=user) or (user.is_active and user.role in EVIDENCE_ROLES)


def evidence_subject_get_visible_to(
    *, user: User, asset: UUID | str | None = None, licence: UUID | str | None = None
) -> EvidenceSubject:
    """The subject if ``user`` can see it (else 404) and may take its evidence (else 403)."""
    if asset is not None:
        found = (
            Asset.objects.select_related("render_request")
            .filter(
                public_id=_uuid(asset, "asset"),
                render_request__in=render_request_list_visible_to(user=user).values("pk"),
            )
            .first()
        )
        if found is None:
            raise NotFound("No such asset.")
        subject = _asset_subject(found)
        visible = licence_list_visible_to(user=user).filter(
            pk__in=[lic.pk for lic in subject.licences]
        )
        if visible.count() != len(subject.licences):
            raise NotFound("No such asset.")
    else:
        subject = EvidenceSubject(
            kind="licence", licences=(licence_get_visible_to(user=user, public_id=licence),)
        )
    if not evidence_may_take(user=user):
        raise PermissionDenied("Evidence packs are for legal, the talent's side and staff.")
    return subject


# --- plain values -------------------------------------------------------------------------


def _when(value: datetime | None) -> str | None:
    return value.astimezone(UTC).isoformat() if value is not None else None


def _who(user: User | None) -> str | None:
    return user.get_username() if user is not None else None


def _id(obj: Model | None) -> str | None:
    return str(obj.public_id) if obj is not None else None


def _safe(value: str) -> str:
    return _SAFE_NAME.sub("_", (value or "").lower())[:16] or "x"


def _network(*, viewer: User | None, person_id: int | None, ip: str | None, agent: str) -> dict:
    """IP and user agent, or withheld for a viewer who is neither staff nor the person."""
    if viewer is None or user_is_staff(user=viewer) or viewer.pk == person_id:
        return {"ip_address": ip, "user_agent": agent, "network_evidence_withheld": False}
    return {"ip_address": None, "user_agent": None, "network_evidence_withheld": True}


def _file_bytes(field_file) -> tuple[bytes | None, str]:
    """A stored file's bytes, or None and why not."""
    if not field_file or not field_file.name:
        return None, "no file recorded"
    try:
        with field_file.open("rb") as handle:
            return handle.read(), ""
    except (OSError, ValueError) as exc:
        return None, f"not readable from storage: {type(exc).__name__}"


def _suffix(name: str) -> str:
    suffix = name.rsplit(".", 1)[-1] if "." in name.rsplit("/", 1)[-1] else ""
    return f".{_safe(suffix)}" if suffix else ""


# --- the sections ---------------------------------------------------------------------------


def _signature(signature, viewer: User | None) -> dict:
    return {
        "party": signature.party,
        "signer": _who(signature.signer),
        "signer_role": signature.signer_role,
        "signed_sha256": signature.signed_sha256,
        "authentication_method": signature.authentication_method,
        "signed_at": _when(signature.signed_at),
        **_network(
            viewer=viewer,
            person_id=signature.signer_id,
            ip=signature.ip_address,
            agent=signature.user_agent,
        ),
    }


def _version(
    content: EvidenceContent, agreement: Agreement, version: AgreementVersion, viewer
) -> dict:
    data, note = _file_bytes(version.document)
    path = None
    if data is not None:
        path = f"documents/agreement-{agreement.public_id}-v{version.number}"
        path += _suffix(version.document.name)
        content.files[path] = data
    return {
        "id": _id(version),
        "number": version.number,
        "status": version.status,
        "document_sha256": version.document_sha256,
        "document_file": path,
        "document_note": note,
        "terms_json": version.terms_json,
        "content_sha256": version.content_sha256,
        "jurisdiction": version.jurisdiction,
        "talent_had_counsel": version.talent_had_counsel,
        "talent_had_union": version.talent_had_union,
        "effective_from": _when(version.effective_from),
        "effective_to": _when(version.effective_to),
        "activated_at": _when(version.activated_at),
        "created_at": _when(version.created_at),
        "created_by": _who(version.created_by),
        "signatures": [
            _signature(signature, viewer)
            for signature in version.signatures.select_related("signer").order_by("signed_at", "pk")
        ],
    }


def _agreements(content: EvidenceContent, agreements: list[Agreement], viewer) -> None:
    rows = []
    for agreement in agreements:
        versions = list(agreement.versions.select_related("created_by").order_by("number"))
        content.track([agreement, *versions])
        rows.append(
            {
                "id": _id(agreement),
                "title": agreement.title,
                "status": agreement.status,
                "talent": _id(agreement.talent),
                "brand": {"id": _id(agreement.brand), "name": agreement.brand.name},
                "agency": (
                    {"id": _id(agreement.agency), "name": agreement.agency.name}
                    if agreement.agency_id
                    else None
                ),
                "created_at": _when(agreement.created_at),
                "terminated_at": _when(agreement.terminated_at),
                "termination_reason": agreement.termination_reason,
                "versions": [_version(content, agreement, v, viewer) for v in versions],
            }
        )
    content.records["records/agreements.json"] = {"agreements": rows}


def _offer(content: EvidenceContent, licence: Licence, offer, viewer) -> dict:
    path = None
    if offer.deal_memo_text:
        language = _safe(offer.deal_memo_language)
        path = f"texts/deal-memo-{licence.public_id}-offer{offer.sequence}-{language}.txt"
        content.files[path] = offer.deal_memo_text.encode("utf-8")
    return {
        "sequence": offer.sequence,
        "kind": offer.kind,
        "actor": _who(offer.actor),
        "actor_role": offer.actor_role,
        "terms_json": offer.terms_json,
        "terms_sha256": offer.terms_sha256,
        "deal_memo_language": offer.deal_memo_language,
        "deal_memo_sha256": offer.deal_memo_sha256,
        "deal_memo_file": path,
        "note": offer.note,
        "authentication_method": offer.authentication_method,
        "created_at": _when(offer.created_at),
        **_network(
            viewer=viewer, person_id=offer.actor_id, ip=offer.ip_address, agent=offer.user_agent
        ),
    }


def _licence(content: EvidenceContent, licence: Licence, viewer) -> dict:
    return {
        "id": _id(licence),
        "reference": f"licence:{licence.public_id}",
        "status": licence.status,
        "talent": _id(licence.talent),
        "brand": {"id": _id(licence.brand), "name": licence.brand.name},
        "agreement": _id(licence.agreement),
        "agreement_version": licence.agreement_version.number,
        "campaign": licence.campaign,
        "use_description": licence.use_description,
        "purpose": licence.purpose,
        "advertiser": licence.advertiser,
        "product_lines": licence.product_lines,
        "category": licence.category.slug,
        "currency": licence.currency,
        "buyout_minor": licence.buyout_minor,
        "usage_fee_minor": licence.usage_fee_minor,
        "draft_allowance": licence.draft_allowance,
        "drafts_used": licence.drafts_used,
        "brief_approval_required": licence.brief_approval_required,
        "starts_at": _when(licence.starts_at),
        "ends_at": _when(licence.ends_at),
        "offer_expires_at": _when(licence.offer_expires_at),
        "accepted_at": _when(licence.accepted_at),
        "accepted_by": _who(licence.accepted_by),
        "deal_memo_sha256": licence.deal_memo_sha256,
        "first_published_at": _when(licence.first_published_at),
        "usage_rows": [
            {
                "medium": row.medium,
                "territories": row.territories,
                "territory_codes": row.territory_codes,
                "duration_days": row.duration_days,
                "quantity": row.quantity,
                "quantity_used": row.quantity_used,
            }
            for row in licence.usage_rows.order_by("pk")
        ],
        "offers": [
            _offer(content, licence, offer, viewer)
            for offer in licence.offers.select_related("actor").order_by("sequence")
        ],
    }


def _licences(content: EvidenceContent, licences: list[Licence], viewer) -> None:
    content.track(licences)
    content.records["records/licences.json"] = {
        "licences": [_licence(content, licence, viewer) for licence in licences]
    }


def _consent(content: EvidenceContent, consent: CreationConsent, viewer) -> dict:
    notice = consent.notice
    path = (
        f"texts/notice-{_safe(notice.kind)}-v{notice.version}-{_safe(notice.language)}"
        f"-{notice.sha256[:12]}.txt"
    )
    content.files[path] = notice.text.encode("utf-8")
    return {
        "id": _id(consent),
        "talent": _id(consent.talent),
        "kind": consent.kind,
        "notice": {
            "kind": notice.kind,
            "version": notice.version,
            "language": notice.language,
            "sha256": notice.sha256,
            "text_file": path,
        },
        "notice_sha256": consent.notice_sha256,
        "scope_reference": consent.scope_reference,
        "base_model": consent.base_model,
        "given_by": _who(consent.given_by),
        "given_role": consent.given_role,
        "served_at": _when(consent.served_at),
        "answered_at": _when(consent.answered_at),
        "method": consent.method,
        **_network(
            viewer=viewer,
            person_id=consent.given_by_id,
            ip=consent.ip_address,
            agent=consent.user_agent,
        ),
    }


def _withdrawal(withdrawal: Withdrawal, applied: dict[int, datetime]) -> dict:
    target = (
        {"licence": _id(withdrawal.licence)}
        if withdrawal.licence_id
        else {"agreement": _id(withdrawal.agreement)}
        if withdrawal.agreement_id
        else {"creation_consent": _id(withdrawal.creation_consent)}
    )
    return {
        "id": _id(withdrawal),
        "kind": withdrawal.kind,
        "target": target,
        "talent": _id(withdrawal.talent),
        "reason": withdrawal.reason,
        "requested_by": _who(withdrawal.requested_by),
        "requested_at": _when(withdrawal.requested_at),
        "effective_at": _when(withdrawal.effective_at),
        "run_off_until": _when(withdrawal.run_off_until),
        "applied_at": _when(applied.get(withdrawal.pk)),
    }


def _consents(
    content: EvidenceContent, licences: list[Licence], agreements: list[Agreement], viewer
) -> None:
    consents = list(
        CreationConsent.objects.filter(talent_id__in=[lic.talent_id for lic in licences])
        .select_related("notice", "given_by", "talent")
        .order_by("answered_at", "pk")
    )
    withdrawals = list(
        Withdrawal.objects.filter(
            Q(licence__in=licences) | Q(agreement__in=agreements) | Q(creation_consent__in=consents)
        )
        .select_related("licence", "agreement", "creation_consent", "talent", "requested_by")
        .order_by("requested_at", "pk")
    )
    applied = dict(
        WithdrawalApplied.objects.filter(withdrawal__in=withdrawals).values_list(
            "withdrawal_id", "applied_at"
        )
    )
    content.track([*consents, *withdrawals])
    content.records["records/consents.json"] = {
        "creation_consents": [_consent(content, consent, viewer) for consent in consents],
        "withdrawals": [_withdrawal(withdrawal, applied) for withdrawal in withdrawals],
    }


def _render_request(render_request: RenderRequest) -> dict:
    return {
        "id": _id(render_request),
        "status": render_request.status,
        "organization": _id(render_request.organization),
        "requester": _who(render_request.requester),
        "licences": [
            str(public_id)
            for public_id in render_request.licence_links.order_by("pk").values_list(
                "licence__public_id", flat=True
            )
        ],
        "likeness": _id(render_request.likeness),
        "brief": render_request.brief,
        "prompt": render_request.prompt,
        "negative_prompt": render_request.negative_prompt,
        "territory": render_request.territory,
        "medium": render_request.medium,
        "width": render_request.width,
        "height": render_request.height,
        "steps": render_request.steps,
        "seed": render_request.seed,
        "num_drafts": render_request.num_drafts,
        "guidance_scale": render_request.guidance_scale,
        "decision": render_request.decision_id,
        "render_decision": render_request.render_decision_id,
        "spec_sha256": render_request.spec_sha256,
        "denial_reasons": render_request.denial_reasons,
        "cancel_reason": render_request.cancel_reason,
        "failure_reason": render_request.failure_reason,
        "created_at": _when(render_request.created_at),
        "started_at": _when(render_request.started_at),
        "finished_at": _when(render_request.finished_at),
    }


def _asset(asset: Asset) -> dict:
    return {
        "id": _id(asset),
        "reference": asset.reference,
        "render_request": str(asset.render_request.public_id),
        "index": asset.index,
        "status": asset.status,
        "image_sha256": asset.image_sha256,
        "width": asset.width,
        "height": asset.height,
        "seed": asset.seed,
        "reason": asset.reason,
        "created_at": _when(asset.created_at),
        "updated_at": _when(asset.updated_at),
        "released_at": _when(asset.released_at),
        "first_published_at": _when(asset.first_published_at),
        "expires_at": _when(asset.expires_at),
    }


def _likeness(likeness: LikenessVersion) -> dict:
    return {
        "id": _id(likeness),
        "talent": _id(likeness.talent),
        "version": likeness.version,
        "status": likeness.status,
        "base_model": likeness.base_model,
        "adapter_sha256": likeness.adapter_sha256,
        "appearance_limits": likeness.appearance_limits,
        "trained_at": _when(likeness.trained_at),
        "signed_off_at": _when(likeness.signed_off_at),
        "signed_off_by": _who(likeness.signed_off_by),
    }


def _renders(
    content: EvidenceContent, subject: EvidenceSubject
) -> tuple[list[RenderRequest], list[Asset]]:
    if subject.asset is not None:
        requests = [subject.asset.render_request]
        assets = [subject.asset]
    else:
        requests = list(
            RenderRequest.objects.filter(licence_links__licence__in=subject.licences)
            .distinct()
            .order_by("created_at", "pk")
        )
        assets = list(
            Asset.objects.filter(render_request__in=requests)
            .select_related("render_request")
            .order_by("created_at", "index", "pk")
        )
    likenesses = list(
        LikenessVersion.objects.filter(render_requests__in=requests)
        .select_related("talent", "signed_off_by")
        .distinct()
        .order_by("pk")
    )
    content.track([*requests, *assets, *likenesses])
    content.records["records/renders.json"] = {
        "render_requests": [_render_request(r) for r in requests],
        "assets": [_asset(asset) for asset in assets],
        "likenesses": [_likeness(likeness) for likeness in likenesses],
    }
    return requests, assets


def _gate_decisions(
    content: EvidenceContent,
    licences: list[Licence],
    requests: list[RenderRequest],
    assets: list[Asset],
) -> None:
    references = (
        {f"render_request:{r.public_id}" for r in requests}
        | {asset.reference for asset in assets}
        | {f"licence:{licence.public_id}" for licence in licences}
    )
    ids = {pk for r in requests for pk in (r.decision_id, r.render_decision_id) if pk}
    decisions = GateDecision.objects.filter(
        Q(subject_reference__in=references) | Q(pk__in=ids)
    ).order_by("created_at", "pk")
    content.records["records/gate_decisions.json"] = {
        "gate_decisions": [
            {
                "id": decision.pk,
                "created_at": _when(decision.created_at),
                "action": decision.action,
                "outcome": decision.outcome,
                "reasons": decision.reasons,
                "obligations": decision.obligations,
                "query": decision.query,
                "subject_reference": decision.subject_reference,
            }
            for decision in decisions
        ]
    }


def _commitment_opening(record: ProvenanceRecord) -> tuple[dict | None, str]:
    """The salt and the text that give the record's commitment: its licence and the
    consents it named (found among the talent's creation consents), or why not."""
    if not record.commitment_salt:
        return None, "the commitment was made by the caller, without a salt kept here"
    licence = str(record.licence.public_id)
    consents = [
        str(public_id)
        for public_id in CreationConsent.objects.filter(talent_id=record.licence.talent_id)
        .order_by("answered_at", "pk")
        .values_list("public_id", flat=True)
    ]
    for candidate in ([], *([c] for c in consents), consents):
        body = commitment_body(licence=licence, consents=candidate)
        digest = sha256_hex(bytes.fromhex(record.commitment_salt) + body.encode())
        if f"sha256:{digest}" == record.commitment:
            return {"salt_hex": record.commitment_salt, "body": body}, ""
    return None, "no combination of the talent's consents opens it"


def _provenance_record(content: EvidenceContent, record: ProvenanceRecord, include_file) -> dict:
    opening, note = _commitment_opening(record)
    path = None
    if include_file:
        data, _ = _file_bytes(record.signed_file)
        if data is not None:
            path = f"assets/{record.asset_reference.partition(':')[2]}"
            path += _suffix(record.signed_file.name)
            content.files[path] = data
    credential = record.credential
    return {
        "id": _id(record),
        "asset_reference": record.asset_reference,
        "licence": _id(record.licence),
        "signed_sha256": record.signed_sha256,
        "signed_file_path": path,
        "mime_type": record.mime_type,
        "manifest_label": record.manifest_label,
        "manifest": record.manifest,
        "width": record.width,
        "height": record.height,
        "watermark_payload": record.watermark_payload,
        "perceptual_hash": record.perceptual_hash,
        "approved_exact_image": record.approved_exact_image,
        "brand_name": record.brand_name,
        "stage_name": record.stage_name,
        "commitment": record.commitment,
        "commitment_opening": opening,
        "commitment_note": note,
        "language": record.language,
        "obligations": record.obligations,
        "credential": {
            "certificate_sha256": credential.certificate_sha256,
            "subject_common_name": credential.subject_common_name,
            "issuer_name": credential.issuer_name,
            "not_before": _when(credential.not_before),
            "not_after": _when(credential.not_after),
        },
        "created_at": _when(record.created_at),
    }


def _provenance(content: EvidenceContent, subject: EvidenceSubject, assets: list[Asset]) -> None:
    records = list(
        ProvenanceRecord.objects.filter(asset_reference__in=[a.reference for a in assets])
        .select_related("credential", "licence")
        .order_by("created_at", "pk")
    )
    content.track(records)
    # The signed image itself only in an asset's pack; a licence's lists the hashes.
    include_file = subject.asset is not None
    content.records["records/provenance.json"] = {
        "records": [_provenance_record(content, record, include_file) for record in records]
    }


def _entry(entry: Entry) -> dict:
    return {
        "id": _id(entry),
        "kind": entry.kind,
        "reference": entry.reference,
        "description": entry.description,
        "effective_at": _when(entry.effective_at),
        "period": entry.period,
        "reverses": _id(entry.reverses),
        "reservation": _id(entry.reservation),
        "actor_label": entry.actor_label,
        "created_at": _when(entry.created_at),
        "payload_json": entry.payload_json,
        "payload_sha256": entry.payload_sha256,
        "lines": [
            {
                "account": line.account.key,
                "role": line.role,
                "amount_minor": line.amount_minor,
                "currency": line.currency,
            }
            for line in sorted(entry.lines.all(), key=lambda line: line.pk)
        ],
    }


def _reservation(reservation: Reservation) -> dict:
    return {
        "id": _id(reservation),
        "kind": reservation.kind,
        "reference": reservation.reference,
        "budget": reservation.budget.key,
        "currency": reservation.currency,
        "amount_minor": reservation.amount_minor,
        "fee_minor": reservation.fee_minor,
        "status": reservation.status,
        "expires_at": _when(reservation.expires_at),
        "created_at": _when(reservation.created_at),
        "resolved_at": _when(reservation.resolved_at),
        "resolution_note": reservation.resolution_note,
    }


def _ledger(content: EvidenceContent, licences: list[Licence], assets: list[Asset]) -> None:
    references = [f"licence:{lic.public_id}" for lic in licences] + [a.reference for a in assets]
    entries = list(
        Entry.objects.filter(reference__in=references)
        .select_related("reverses", "reservation")
        .prefetch_related("lines__account")
        .order_by("effective_at", "pk")
    )
    reservations = list(
        Reservation.objects.filter(reference__in=references)
        .select_related("budget")
        .order_by("created_at", "pk")
    )
    content.track([*entries, *reservations])
    content.records["records/ledger.json"] = {
        "references": references,
        "entries": [_entry(entry) for entry in entries],
        "reservations": [_reservation(reservation) for reservation in reservations],
    }


def evidence_content_gather(*, subject: EvidenceSubject, viewer: User | None) -> EvidenceContent:
    """Every record of the pack; ``viewer`` None is the operator (nothing withheld)."""
    content = EvidenceContent()
    licences = list(
        Licence.objects.filter(pk__in=[lic.pk for lic in subject.licences])
        .select_related(
            "agreement", "agreement_version", "talent", "brand", "category", "accepted_by"
        )
        .order_by("pk")
    )
    agreements = list(
        Agreement.objects.filter(pk__in={lic.agreement_id for lic in licences})
        .select_related("talent", "brand", "agency")
        .order_by("pk")
    )
    _agreements(content, agreements, viewer)
    _licences(content, licences, viewer)
    _consents(content, licences, agreements, viewer)
    requests, assets = _renders(content, subject)
    _gate_decisions(content, licences, requests, assets)
    _provenance(content, subject, assets)
    _ledger(content, licences, assets)
    return content


def evidence_subject_of(obj: Any) -> EvidenceSubject:
    """The subject for an Asset or Licence instance already loaded (demo, tests)."""
    if isinstance(obj, Asset):
        return _asset_subject(obj)
    if isinstance(obj, Licence):
        return EvidenceSubject(kind="licence", licences=(obj,))
    raise TypeError("An evidence pack is for an asset or a licence.")

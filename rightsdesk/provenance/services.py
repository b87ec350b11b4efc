"""Writes of provenance: installing signing credentials and signing released images.

``provenance_sign`` is what the render path calls for each image it releases. It applies
the gate's obligations before signing (the visible label where required; always the
invisible watermark and the XMP packet with IPTC DigitalSourceType and the PLUS
data-mining prohibition), then signs a C2PA manifest into the PNG and keeps a
ProvenanceRecord. The stages are separate functions so that bench/verify.py can time them
one by one: the marks, the PNG encoding, and the signing proper (thumbnail plus
``Builder.sign``), which is the part held to 15 ms at 1024 px.
"""

import hashlib
import io
import json
import logging
import secrets
import uuid
from dataclasses import dataclass
from typing import Any

import c2pa
from django.conf import settings
from django.core.files.base import ContentFile
from django.db import IntegrityError, transaction
from PIL import Image

from rightsdesk.accounts.models import Organization, User
from rightsdesk.audit.services import audit_record
from rightsdesk.core import rawsql
from rightsdesk.core.errors import NotFound, ValidationFailed
from rightsdesk.licensing.models import Licence
from rightsdesk.provenance import credentials, manifests, marks, png, selectors, watermark
from rightsdesk.provenance.errors import CorruptImage, SigningUnavailable
from rightsdesk.provenance.models import ProvenanceRecord, SigningCredential
from rightsdesk.provenance.types import Disclosure

logger = logging.getLogger(__name__)

THUMBNAIL_SIDE = 256
# What provenance applies itself; any other obligation code (a staff-defined rule) is
# recorded as not applied and logged.
APPLIED_CODES = frozenset(
    {
        "c2pa_manifest",
        "iptc_digital_source_type",
        "invisible_watermark",
        "visible_label",
        "images_virtuelles",
    }
)


# Credentials


@transaction.atomic
def signing_credential_install(
    *,
    chain_pem: str,
    key_pem: str,
    source: str,
    organization: Organization | None = None,
    actor: User | None = None,
) -> SigningCredential:
    """Make ``chain_pem`` / ``key_pem`` the active credential of ``organization`` (None: the
    instance's). The previous one stays, inactive: its root remains a trust anchor."""
    facts = credentials.chain_facts(chain_pem=chain_pem, key_pem=key_pem)
    owned = SigningCredential.objects.filter(organization=organization)
    existing = SigningCredential.objects.filter(certificate_sha256=facts.certificate_sha256).first()
    if existing is not None and existing.organization_id != getattr(organization, "pk", None):
        raise ValidationFailed(fields={"chain_pem": ["This certificate belongs to another owner."]})
    owned.filter(active=True).exclude(pk=getattr(existing, "pk", None)).update(active=False)
    if existing is not None:
        credential = existing
        credential.active = True
        credential.save(update_fields=["active", "updated_at"])
    else:
        credential = SigningCredential(
            organization=organization,
            source=source,
            algorithm=SigningCredential.Algorithm.ES256,
            certificate_chain_pem=facts.chain_pem,
            trust_anchor_pem=facts.trust_anchor_pem,
            certificate_sha256=facts.certificate_sha256,
            certificate_serial=facts.certificate_serial,
            subject_common_name=facts.subject_common_name,
            issuer_name=facts.issuer_name,
            not_before=facts.not_before,
            not_after=facts.not_after,
            active=True,
        )
        sealed, wrapped, kek_id = manifests.seal_private_key(
            public_id=credential.public_id, key_pem=key_pem
        )
        credential.private_key_sealed, credential.data_key_wrapped = sealed, wrapped
        credential.kek_id = kek_id
        credential.save()
    audit_record(
        actor=actor,
        action="signing_credential.activated",
        target=credential,
        payload={
            "certificate_sha256": credential.certificate_sha256,
            "source": credential.source,
            "organization": str(organization.public_id) if organization else None,
            "not_after": credential.not_after.isoformat(),
        },
    )
    transaction.on_commit(manifests.forget_reading_context, robust=True)
    return credential


def signing_credential_for(*, organization: Organization | None = None) -> SigningCredential:
    """The credential that signs for ``organization``: its own active one if the brand
    brought one, else the instance's. The instance's is installed on first use from the
    files the settings name, or (outside production) from the development CA in var/; a
    change of those files rotates to the new certificate."""
    active = selectors.active_signing_credentials(
        organization_id=organization.pk if organization is not None else None
    )
    if organization is not None and organization.pk in active:
        return active[organization.pk]
    current = active.get(None)
    configured = credentials.configured_chain()
    if configured is None:
        if current is not None:
            return current
        if settings.PRODUCTION:
            raise SigningUnavailable()
        chain_pem, key_pem = credentials.development_chain()
        source = SigningCredential.Source.DEVELOPMENT
    else:
        chain_pem, key_pem = configured
        if current is not None and current.certificate_sha256 == credentials.leaf_sha256(chain_pem):
            return current
        source = SigningCredential.Source.SETTINGS
    try:
        return signing_credential_install(chain_pem=chain_pem, key_pem=key_pem, source=source)
    except IntegrityError:
        # Another process installed it at the same moment.
        return SigningCredential.objects.get(organization__isnull=True, active=True)


# Signing


@dataclass(frozen=True)
class MarkedImage:
    image: Image.Image
    payload: int  # unsigned 64-bit watermark payload
    label_lines: tuple[str, ...]
    label_box: marks.Box | None


def provenance_apply_marks(
    *, image: Image.Image, asset_id: uuid.UUID, obligations: list, language: str
) -> MarkedImage:
    """The visible label where the obligations require it, then the watermark (always)."""
    lines = marks.label_lines(obligations=obligations, language=language)
    labelled, box = marks.draw_label(image, lines)
    payload = watermark.payload_for(asset_id)
    return MarkedImage(watermark.embed(labelled, payload), payload, tuple(lines), box)


def provenance_encode_png(*, image: Image.Image, inference_allowed: bool) -> bytes:
    """PNG with the XMP packet, through our own encoder (``provenance.png``: two to three
    times faster than Pillow's at its fastest level)."""
    return png.encode(image, xmp=marks.xmp_packet(inference_allowed=inference_allowed))


def provenance_thumbnail(*, image: Image.Image) -> bytes:
    small = image.convert("RGB")
    small.thumbnail((THUMBNAIL_SIDE, THUMBNAIL_SIDE), Image.BILINEAR, reducing_gap=2.0)
    out = io.BytesIO()
    small.save(out, "JPEG", quality=75)
    return out.getvalue()


def provenance_commitment(*, disclosure: Disclosure) -> tuple[str, str]:
    """``(commitment, salt hex)``: the caller's commitment, or a salted SHA-256 over the
    licence and consent ids (the salt stays in the record for the evidence pack)."""
    if disclosure.commitment:
        return disclosure.commitment, ""
    salt = secrets.token_bytes(32)
    body = json.dumps(
        {
            "licence": str(disclosure.licence_public_id),
            "consents": sorted(str(ref) for ref in disclosure.consent_public_ids),
        },
        sort_keys=True,
        separators=(",", ":"),
    ).encode()
    return "sha256:" + hashlib.sha256(salt + body).hexdigest(), salt.hex()


def provenance_sign_bytes(
    *,
    data: bytes,
    mime_type: str,
    thumbnail: bytes,
    definition: dict[str, Any],
    credential: SigningCredential,
) -> bytes:
    """``data`` signed; with RIGHTSDESK_TSA_URL set, timestamped by that authority, and
    SigningUnavailable (503, worth a retry) when it does not answer usably."""
    tsa_url = settings.RIGHTSDESK_TSA_URL
    signer = manifests.signer_for(credential)
    try:
        signed = manifests.sign(
            definition=definition,
            data=data,
            mime_type=mime_type,
            signer=signer,
            thumbnail=thumbnail,
        )
    except c2pa.C2paError as exc:
        if not tsa_url:
            raise
        # The library asks the TSA inside Builder.sign (waiting up to 30 s) and fails the
        # whole signature when it gets no usable token.
        logger.warning("signing failed with the timestamp authority %s: %s", tsa_url, exc)
        raise SigningUnavailable(
            "The timestamp authority (RIGHTSDESK_TSA_URL) gave no usable answer, so nothing "
            "was signed. Try again later."
        ) from exc
    if tsa_url and manifests.timestamp_check_due(
        certificate_sha256=credential.certificate_sha256, tsa_url=tsa_url
    ):
        _warn_if_timestamp_untrusted(signed=signed, mime_type=mime_type, credential=credential)
    return signed


def _warn_if_timestamp_untrusted(
    *, signed: bytes, mime_type: str, credential: SigningCredential
) -> None:
    try:
        if manifests.timestamp_trusted(data=signed, mime_type=mime_type):
            return
    except c2pa.C2paError as exc:  # a diagnosis only: it never stops a signing
        logger.warning("could not read back the timestamp just signed: %s", exc)
        return
    logger.warning(
        "Verification does not trust the timestamps of RIGHTSDESK_TSA_URL (%s): add the "
        "TSA's root certificate to RIGHTSDESK_C2PA_TRUST_ANCHORS, or every asset signed by "
        "%s turns invalid when its certificate expires on %s.",
        settings.RIGHTSDESK_TSA_URL,
        credential.subject_common_name,
        credential.not_after.date().isoformat(),
    )


def _asset_id(asset_reference: str) -> uuid.UUID:
    prefix, _, value = asset_reference.partition(":")
    try:
        if prefix != "asset":
            raise ValueError(asset_reference)
        return uuid.UUID(value)
    except ValueError:
        raise ValidationFailed(fields={"asset_reference": ["Expected asset:<uuid>."]})


def _decode_png(image_png: bytes) -> Image.Image:
    try:
        image = Image.open(io.BytesIO(image_png), formats=["PNG"])
        image.load()
    except (OSError, SyntaxError, ValueError, EOFError):
        raise CorruptImage("The image to sign is not a readable PNG.")
    return _as_rgb(image)


def _as_rgb(image: Image.Image) -> Image.Image:
    return image if image.mode in ("RGB", "RGBA") else image.convert("RGB")


def _obligations_applied(obligations: list, lines: tuple[str, ...]) -> list[dict[str, Any]]:
    applied = []
    for obligation in obligations:
        entry = {"code": obligation.code, "applied": obligation.code in APPLIED_CODES}
        if obligation.code in ("visible_label", "images_virtuelles"):
            entry["label"] = list(lines)
        if not entry["applied"]:
            logger.warning("obligation %s is not one provenance can apply", obligation.code)
        applied.append(entry)
    return applied


def provenance_sign(
    *,
    asset_reference: str,
    image_png: bytes | None = None,
    disclosure: Disclosure,
    obligations: list,
    credential: SigningCredential | None = None,
    image: Image.Image | None = None,
    licence: Licence | None = None,
    store: bool = True,
) -> ProvenanceRecord:
    """Mark and sign one released image; idempotent per asset (a retry gets the record
    already made). ``obligations`` are the gate Decision's; the statutory floor is applied
    whatever they hold. The image comes as PNG bytes, or decoded (``image``: a renderer's
    output, never encoded before); ``licence``, with its brand and talent, when the
    caller holds the disclosure's licence already.

    ``store=False`` signs and keeps the signed file but leaves the record unsaved (no
    ``pk``): the caller stores it with ``provenance_record_store`` in the transaction that
    writes what the image belongs to, or deletes its file with
    ``provenance_unstored_discard``. A record found already made comes back saved."""
    if (image is None) == (image_png is None):
        raise ValueError("give the image as image_png or as image, not both")
    asset_id = _asset_id(asset_reference)
    existing = selectors.provenance_record_of(asset_reference=asset_reference)
    if existing is not None:
        return existing
    if licence is None or licence.public_id != disclosure.licence_public_id:
        licence = (
            Licence.objects.select_related("brand", "talent")
            .filter(public_id=disclosure.licence_public_id)
            .first()
        )
    if licence is None:
        raise NotFound("No such licence.")
    credential = credential or signing_credential_for(organization=licence.brand)
    marked = provenance_apply_marks(
        image=_as_rgb(image) if image is not None else _decode_png(image_png),
        asset_id=asset_id,
        obligations=list(obligations),
        language=disclosure.language,
    )
    png = provenance_encode_png(image=marked.image, inference_allowed=disclosure.inference_allowed)
    commitment, salt = provenance_commitment(disclosure=disclosure)
    definition = manifests.manifest_definition(
        asset_id=asset_id,
        manifest_label=f"urn:c2pa:{uuid.uuid4()}",
        disclosure=disclosure,
        commitment=commitment,
        mime_type="image/png",
    )
    signed = provenance_sign_bytes(
        data=png,
        mime_type="image/png",
        thumbnail=provenance_thumbnail(image=marked.image),
        definition=definition,
        credential=credential,
    )
    phash = watermark.perceptual_hash(marked.image)
    record = ProvenanceRecord(
        asset_reference=asset_reference,
        credential=credential,
        licence=licence,
        signed_sha256=hashlib.sha256(signed).hexdigest(),
        mime_type="image/png",
        manifest_label=definition["label"],
        manifest=definition,
        width=marked.image.width,
        height=marked.image.height,
        watermark_payload=watermark.to_signed(marked.payload),
        perceptual_hash=watermark.to_signed(phash),
        approved_exact_image=disclosure.approved_exact_image,
        brand_name=disclosure.brand_name[:200],
        # Kept only if the talent opts in now; the card checks again when it is shown.
        stage_name=(
            disclosure.stage_name[:200]
            if disclosure.stage_name and licence.talent.stage_name_public
            else ""
        ),
        commitment=commitment,
        commitment_salt=salt,
        language=disclosure.language[:8],
        obligations=_obligations_applied(list(obligations), marked.label_lines),
    )
    record.phash_q0, record.phash_q1, record.phash_q2, record.phash_q3 = watermark.phash_quarters(
        phash
    )
    record.signed_file.save(f"{asset_id}.png", ContentFile(signed), save=False)
    if not store:
        return record
    try:
        with transaction.atomic():
            saved = provenance_record_store(record)
    except Exception:
        record.signed_file.delete(save=False)
        raise
    if saved:
        return record
    record.signed_file.delete(save=False)
    # A retry of the same release got there first: its record stands.
    existing = ProvenanceRecord.objects.filter(asset_reference=asset_reference).first()
    if existing is None:
        raise IntegrityError(f"a provenance record conflicts with {record.manifest_label}")
    return existing


def provenance_record_store(record: ProvenanceRecord) -> bool:
    """Insert a record signed with ``store=False`` and audit it, in the caller's
    transaction; False, writing nothing, when the asset has one already. One hand-written
    INSERT (``rightsdesk.core.rawsql``): ``save()`` compiled it anew for every signed draft
    (~0.7 ms of CPU)."""
    if not rawsql.insert(record, skip_conflicts=True):
        return False
    audit_record(
        actor=None,
        action="provenance.signed",
        target=record,
        payload={
            "asset": record.asset_reference,
            "signed_sha256": record.signed_sha256,
            "manifest_label": record.manifest_label,
            "credential": record.credential.certificate_sha256,
            "obligations": [entry["code"] for entry in record.obligations],
        },
    )
    return True


def provenance_unstored_discard(records: list[ProvenanceRecord]) -> None:
    """Delete the signed files of records the caller signed with ``store=False`` and
    did not store: the transaction that was to store them failed or never ran, so no row
    names the files. (``provenance_discard`` removes records that were stored.)"""
    for record in records:
        if record.signed_file.name:
            record.signed_file.delete(save=False)


@transaction.atomic
def provenance_discard(*, asset_references: list[str], reason: str) -> int:
    """Remove the records (and signed files) of images signed for assets that were never
    created: a render that lost its request to another worker, or was stopped after
    signing. Returns how many went. The audit chain keeps that they were signed and
    discarded."""
    records = list(
        ProvenanceRecord.objects.select_for_update().filter(asset_reference__in=asset_references)
    )
    for record in records:
        name = record.signed_file.name
        audit_record(
            actor=None,
            action="provenance.discarded",
            target=record,
            payload={"asset": record.asset_reference, "reason": reason},
        )
        record.delete()
        storage = record.signed_file.storage
        # Best effort after the commit: a file that cannot be deleted is logged, not a 500.
        transaction.on_commit(lambda name=name, storage=storage: storage.delete(name), robust=True)
    return len(records)


def provenance_record_approval(*, asset_reference: str) -> bool:
    """The talent approved this exact image after it was signed: the card says so from
    now on (the signed manifest keeps what was true when it was signed, a draft's
    ``approved: false``). False when no record exists."""
    updated = ProvenanceRecord.objects.filter(
        asset_reference=asset_reference, approved_exact_image=False
    ).update(approved_exact_image=True)
    return (
        bool(updated) or ProvenanceRecord.objects.filter(asset_reference=asset_reference).exists()
    )

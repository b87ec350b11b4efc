"""Verifying an image for anyone who asks: the public page, the API and ``manage.py verify``.

The order keeps cost and memory bounded. The byte size is checked first, then the format
from the first bytes, then the pixel count from the header (Pillow only refuses above twice
its own limit, PITFALLS.md); nothing is decoded yet. The c2pa Reader, with the shared
offline Context (manifests.reading_context), then validates the manifest. The state comes
from ``validation_state`` (Trusted / Valid / Invalid), never from failure codes: a CAWG
file is Valid with "untrusted" codes, and an ingredient's failure sits in ingredientDeltas.

When the manifest validates, no pixel is decoded; one of our own (its disclosure names an
asset whose record holds the same manifest label, and the state is trusted) costs one
database round trip for its card. Only a file without an embedded manifest is decoded (a
JPEG at reduced scale), to look for our watermark and then a perceptual-hash neighbour:
that is a "possible match", naming the brand only, never a verification.
"""

import io
import json
import logging
import re
import warnings
from datetime import datetime
from typing import Any
from urllib.parse import quote
from uuid import UUID

import c2pa
from django.conf import settings
from PIL import Image

from rightsdesk.core.errors import NotFound
from rightsdesk.provenance import manifests, selectors, types, watermark
from rightsdesk.provenance.errors import CorruptImage, EmptyFile, UnsupportedFormat
from rightsdesk.talent.errors import ImageTooLarge

logger = logging.getLogger(__name__)

# Errors Pillow raises on a malformed file while reading its header or decoding it.
_DECODE_ERRORS = (OSError, SyntaxError, ValueError, EOFError, IndexError, TypeError)
_REMOTE_URL = re.compile(r"https?://\S+")

FINDING_REMOTE = "remote_manifest_not_fetched"
FINDING_UNMATCHED = "rightsdesk_disclosure_not_verified"
FINDING_NOT_READ = "credentials_not_readable_in_this_format"


def sniff(data: bytes) -> tuple[str, str]:
    """``(mime type, Pillow format)`` from the first bytes, after the size checks."""
    if not data:
        raise EmptyFile()
    max_bytes = settings.RIGHTSDESK_VERIFY_MAX_BYTES
    if len(data) > max_bytes:
        raise ImageTooLarge(max_bytes=max_bytes, byte_size=len(data))
    head = data[:16]
    if head.startswith(b"\xff\xd8\xff"):
        return "image/jpeg", "JPEG"
    if head.startswith(b"\x89PNG\r\n\x1a\n"):
        return "image/png", "PNG"
    if head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return "image/webp", "WEBP"
    if head[:4] in (b"II*\x00", b"MM\x00*"):
        return "image/tiff", "TIFF"
    if head[4:8] == b"ftyp" and head[8:12] in (b"avif", b"avis"):
        return "image/avif", "AVIF"
    raise UnsupportedFormat()


def _open(data: bytes, pil_format: str) -> Image.Image:
    with warnings.catch_warnings():
        # Our own pixel limit decides, before decoding.
        warnings.simplefilter("ignore", Image.DecompressionBombWarning)
        return Image.open(io.BytesIO(data), formats=[pil_format])


def check_header(data: bytes, pil_format: str) -> tuple[int, int]:
    """The size the header claims, refused above RIGHTSDESK_VERIFY_MAX_PIXELS."""
    max_pixels = settings.RIGHTSDESK_VERIFY_MAX_PIXELS
    try:
        with _open(data, pil_format) as image:
            width, height = image.size
    except Image.DecompressionBombError:
        raise ImageTooLarge(max_pixels=max_pixels)
    except _DECODE_ERRORS:
        raise CorruptImage()
    if width <= 0 or height <= 0:
        raise CorruptImage()
    if width * height > max_pixels:
        raise ImageTooLarge(
            "The image has more pixels than this instance verifies.",
            max_pixels=max_pixels,
            width=width,
            height=height,
        )
    return width, height


def verify_image(
    data: bytes, *, filename: str | None = None, at: datetime | None = None
) -> types.VerificationReport:
    """What can be said about ``data`` (the permission status as of ``at``, default now).
    Raises EmptyFile, UnsupportedFormat, CorruptImage or ImageTooLarge (all 400) when the
    file cannot be verified at all."""
    mime, pil_format = sniff(data)
    check_header(data, pil_format)
    try:
        store = _read_store(data, mime)
    except c2pa.C2paError as exc:
        return _without_manifest(data, mime, pil_format, filename, exc)
    report = _from_store(store, mime, filename, at)
    if report.state == types.VALID_UNTRUSTED and FINDING_UNMATCHED in report.findings:
        # Maybe signed by a credential made in another process since our anchors loaded.
        store = _read_store(data, mime, reload=True)
        report = _from_store(store, mime, filename, at)
    return report


def _read_store(data: bytes, mime: str, *, reload: bool = False) -> dict[str, Any]:
    context = manifests.reading_context(reload=reload)
    try:
        with c2pa.Reader(mime, io.BytesIO(data), context=context) as reader:
            return json.loads(reader.json())
    except c2pa.C2paError:
        raise
    except (ValueError, TypeError, OSError) as exc:
        # Not the library's own error type, but the same meaning: it could not read it.
        logger.warning("c2pa reader failed on a %s: %r", mime, exc)
        raise c2pa.C2paError(f"Other: {exc}")


def _without_manifest(
    data: bytes, mime: str, pil_format: str, filename: str | None, exc: Exception
) -> types.VerificationReport:
    message = str(exc)
    findings: tuple[str, ...] = ()
    remote_url = None
    if isinstance(exc, c2pa.C2paError.ManifestNotFound) or message.startswith("ManifestNotFound"):
        pass
    elif message.startswith("Remote"):
        found = _REMOTE_URL.search(message)
        remote_url = found.group(0) if found else None
        findings = (FINDING_REMOTE,)
    elif message.startswith(("Io", "Other: asset could not be parsed")):
        raise CorruptImage()
    elif message.startswith("NotSupported"):
        findings = (FINDING_NOT_READ,)
    else:
        # The file has a manifest store the library cannot even parse: present but invalid.
        code = "manifest.unreadable"
        return types.VerificationReport(
            state=types.INVALID, format=mime, codes=(code,), filename=filename
        )
    match = recover(data, pil_format)
    return types.VerificationReport(
        state=types.POSSIBLE_MATCH if match else types.NO_CREDENTIALS,
        format=mime,
        remote_manifest_url=remote_url,
        findings=findings,
        possible_match=match,
        filename=filename,
    )


def _codes(store: dict[str, Any]) -> tuple[str, ...]:
    results = store.get("validation_results") or {}
    active = results.get("activeManifest") or {}
    codes = [entry.get("code") for entry in active.get("failure", [])]
    for delta in results.get("ingredientDeltas", []):
        codes += [e.get("code") for e in (delta.get("validationDeltas") or {}).get("failure", [])]
    codes += [entry.get("code") for entry in store.get("validation_status", [])]
    codes += [entry.get("code") for entry in active.get("informational", [])]
    return tuple(dict.fromkeys(code for code in codes if code))


def _claim_generator(manifest: dict[str, Any]) -> str | None:
    infos = manifest.get("claim_generator_info") or []
    if infos and isinstance(infos[0], dict) and infos[0].get("name"):
        first = infos[0]
        return " ".join(part for part in (first.get("name"), first.get("version")) if part)
    return manifest.get("claim_generator")


def _time(value: str | None) -> datetime | None:
    try:
        return datetime.fromisoformat(value) if value else None
    except ValueError:
        return None


def _disclosure(manifest: dict[str, Any]) -> dict[str, Any] | None:
    for assertion in manifest.get("assertions") or []:
        if assertion.get("label") == manifests.DISCLOSURE_LABEL:
            data = assertion.get("data")
            return data if isinstance(data, dict) else None
    return None


def _from_store(
    store: dict[str, Any], mime: str, filename: str | None, at: datetime | None
) -> types.VerificationReport:
    manifest = (store.get("manifests") or {}).get(store.get("active_manifest")) or {}
    state = {"Trusted": types.TRUSTED, "Valid": types.VALID_UNTRUSTED}.get(
        store.get("validation_state"), types.INVALID
    )
    signature = manifest.get("signature_info") or {}
    issuer, signed_at = signature.get("issuer"), _time(signature.get("time"))
    card, findings = None, ()
    disclosure = _disclosure(manifest)
    if disclosure is not None:
        card = _card_for_manifest(disclosure, manifest, state, signed_at, issuer, at)
        findings = () if card else (FINDING_UNMATCHED,)
    return types.VerificationReport(
        state=state,
        format=mime,
        codes=_codes(store),
        issuer=issuer,
        signer=signature.get("common_name"),
        claim_generator=_claim_generator(manifest),
        signed_at=signed_at,
        findings=findings,
        card=card,
        filename=filename,
    )


def _card_for_manifest(
    disclosure: dict[str, Any],
    manifest: dict[str, Any],
    state: str,
    signed_at: datetime | None,
    issuer: str | None,
    at: datetime | None,
) -> types.Card | None:
    """Our card, only for a trusted manifest whose label is the one our record signed: a
    foreign signer copying our assertion gets no card."""
    if state != types.TRUSTED:
        return None
    try:
        asset_id = UUID(str(disclosure.get("asset")))
    except ValueError:
        return None
    facts = selectors.card_facts(asset_reference=f"asset:{asset_id}")
    if facts is None or facts.manifest_label != manifest.get("label"):
        return None
    return card_for(facts, signed_at=signed_at, issuer=issuer, at=at)


def card_for(
    facts: selectors.CardFacts,
    *,
    signed_at: datetime | None = None,
    issuer: str | None = None,
    at: datetime | None = None,
) -> types.Card:
    asset_id = UUID(facts.asset_reference.partition(":")[2])
    status = selectors.permission_status_of(facts=facts, at=at)
    return types.Card(
        asset_id=asset_id,
        status_url=manifests.status_url(asset_id),
        brand=facts.brand_name,
        # Named only while the talent still opts in, whatever they chose at signing.
        stage_name=(facts.stage_name or None) if facts.stage_name_public else None,
        approved_exact_image=facts.approved_exact_image,
        signed_at=signed_at or facts.created_at,
        issuer=issuer or facts.issuer_name,
        permission=status.state,
        permission_until=status.until,
        report_url=report_url(asset_id) if status.state == types.PERMISSION_ENDED else None,
    )


def report_url(asset_id: UUID) -> str:
    subject = quote(f"Image in use after its permission ended: {asset_id}")
    return f"mailto:{settings.RIGHTSDESK_REPORT_EMAIL}?subject={subject}"


def recover(data: bytes, pil_format: str) -> types.PossibleMatch | None:
    """Look for our watermark, then a perceptual-hash neighbour, in a file with no
    embedded manifest. Decodes the pixels (a JPEG at reduced scale)."""
    try:
        with _open(data, pil_format) as image, warnings.catch_warnings():
            # A palette with transparency bytes: the luma is all we need of it.
            warnings.simplefilter("ignore", UserWarning)
            if image.format == "JPEG":
                # DCT scaling: decode only what the 256x256 analysis needs, in luma.
                image.draft("L", (watermark.CANON, watermark.CANON))
            image.load()
            gray = image.convert("L")
    except Image.DecompressionBombError:
        raise ImageTooLarge(max_pixels=settings.RIGHTSDESK_VERIFY_MAX_PIXELS)
    except _DECODE_ERRORS:
        raise CorruptImage()
    decoded = watermark.decode(gray)
    if decoded.present:
        record = selectors.provenance_record_by_watermark(payload=decoded.payload)
        if record is not None:
            return types.PossibleMatch(brand=record.licence.brand.name, method="watermark")
    near = selectors.provenance_record_near(phash=watermark.perceptual_hash(gray))
    if near is not None:
        record, distance = near
        return types.PossibleMatch(
            brand=record.licence.brand.name, method="perceptual_hash", distance=distance
        )
    return None


def asset_card(*, asset_id: UUID) -> types.Card:
    """The card of one of our assets, for its status page (no file needed)."""
    facts = selectors.card_facts(asset_reference=f"asset:{asset_id}")
    if facts is None:
        raise NotFound("No such asset.")
    return card_for(facts)

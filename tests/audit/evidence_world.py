"""A licence made the way the product makes one, all through the services, so that its audit
events are the real ones: two creation consents on the current notices, an agreement
drafted by brand legal with an uploaded document and signed by both parties, a licence
proposed and accepted from its deal memo (which books the buy-out in the ledger).

Between those steps other people's events go into the chain (``noise``), so the pack's
audit segment has runs to redact. ``pack()`` and ``rewrite()`` build a pack in memory and
tamper with one.
"""

import base64
import datetime
import hashlib
import io
import json
import zipfile
from collections.abc import Callable
from dataclasses import dataclass, field

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from django.core.files.uploadedfile import SimpleUploadedFile
from django.utils import timezone

from rightsdesk.accounts.models import Organization, User
from rightsdesk.agreements.models import Agreement
from rightsdesk.agreements.services import agreement_create, agreement_sign
from rightsdesk.agreements.taxonomy import category_ensure_defaults
from rightsdesk.agreements.terms import AgreementTerms
from rightsdesk.audit.evidence import evidence_pack_write
from rightsdesk.audit.evidence_selectors import EvidenceSubject, evidence_subject_of
from rightsdesk.audit.services import audit_record
from rightsdesk.consent.models import CreationConsent
from rightsdesk.consent.notices import consent_notice_current
from rightsdesk.consent.services import creation_consent_give
from rightsdesk.licensing.memo import deal_memo_render
from rightsdesk.licensing.models import Licence
from rightsdesk.licensing.services import licence_accept, licence_propose
from rightsdesk.talent.models import Talent
from tests.factories import (
    AgencyFactory,
    OrganizationFactory,
    RepresentationFactory,
    TalentFactory,
    UserFactory,
    VerifiedTalentFactory,
)
from tests.licensing.factories import licence_terms, now_s

DAY = datetime.timedelta(days=1)
DOCUMENT = b"%PDF-1.7 The agreement between the talent and Maison Evidence"
TALENT_IP = "198.51.100.23"
LEGAL_IP = "203.0.113.9"


@dataclass
class DealWorld:
    brand: Organization
    talent: Talent
    stranger: Talent
    agreement: Agreement
    licence: Licence
    consents: list[CreationConsent]
    users: dict[str, User] = field(default_factory=dict)

    def noise(self, n: int = 2) -> None:
        """Events about someone else, whose payloads the pack must not show."""
        for i in range(n):
            audit_record(
                actor=None,
                action="test.unrelated",
                target=self.stranger,
                payload={"secret": f"someone else's business {i}"},
            )


def _terms() -> AgreementTerms:
    now = now_s()
    return AgreementTerms(
        jurisdiction="US-NY",
        talent_had_counsel=True,
        effective_from=now - DAY,
        effective_to=now + 365 * DAY,
        max_licence_term_days=365,
        category_policies={"fragrance": "allowed", "lingerie": "never"},
    )


def _consent(talent: Talent, kind: str, base_model: str = "") -> CreationConsent:
    notice = consent_notice_current(kind=kind)
    return creation_consent_give(
        talent=talent,
        kind=kind,
        notice=notice,
        notice_sha256=notice.sha256,
        served_at=timezone.now() - datetime.timedelta(minutes=3),
        base_model=base_model,
        actor=talent.user,
        method="web",
        ip=TALENT_IP,
        user_agent="talent-browser/1.0",
    )


def _sign(agreement: Agreement, user: User, ip: str) -> None:
    version = agreement.versions.get(number=1)
    agreement_sign(
        version=version,
        actor=user,
        signed_sha256=version.content_sha256,
        authentication_method="session",
        ip=ip,
        user_agent=f"{user.role}-browser/1.0",
    )


def build_deal_world() -> DealWorld:
    category_ensure_defaults()
    brand = OrganizationFactory(kind=Organization.Kind.BRAND, name="Maison Evidence")
    other_brand = OrganizationFactory(kind=Organization.Kind.BRAND, name="Rival House")
    agency = AgencyFactory()
    talent = VerifiedTalentFactory(stage_name="Ivy Lane", preferred_language="en")
    RepresentationFactory(talent=talent, agency=agency)
    users = {
        "talent": talent.user,
        "legal": UserFactory(role="legal", organization=brand),
        "manager": UserFactory(role="campaign_manager", organization=brand),
        "agent": UserFactory(role="agent", organization=agency),
        "agency_legal": UserFactory(role="legal", organization=agency),
        "other_legal": UserFactory(role="legal", organization=other_brand),
        "staff": UserFactory(role="staff", is_staff=True, is_superuser=True),
    }
    world = DealWorld(
        brand=brand,
        talent=talent,
        stranger=TalentFactory(),
        agreement=None,  # type: ignore[arg-type]
        licence=None,  # type: ignore[arg-type]
        consents=[],
        users=users,
    )
    world.noise()
    world.consents = [_consent(talent, "capture"), _consent(talent, "train", "tiny-sd")]
    world.noise(3)
    world.agreement = agreement_create(
        talent=talent,
        brand=brand,
        title="Eau de Nuit agreement",
        document=SimpleUploadedFile("agreement.pdf", DOCUMENT, content_type="application/pdf"),
        terms=_terms(),
        actor=users["legal"],
    )
    _sign(world.agreement, users["legal"], LEGAL_IP)
    world.noise(1)
    _sign(world.agreement, talent.user, TALENT_IP)
    world.licence = licence_propose(
        agreement=world.agreement,
        terms=licence_terms(buyout_minor=500_000),
        actor=users["legal"],
    )
    world.noise(4)
    memo = deal_memo_render(licence=world.licence)
    world.licence = licence_accept(
        licence=world.licence,
        deal_memo_sha256=memo.sha256,
        language=memo.language,
        actor=talent.user,
        authentication_method="token",
        ip=TALENT_IP,
        user_agent="talent-app/2.0",
    )
    world.noise(2)
    return world


def pack(obj, *, viewer: User | None = None) -> bytes:
    """The pack of a licence or asset, as bytes."""
    out = io.BytesIO()
    subject: EvidenceSubject = evidence_subject_of(obj)
    evidence_pack_write(subject=subject, viewer=viewer, out=out)
    return out.getvalue()


def members(data: bytes) -> dict[str, bytes]:
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        return {name: archive.read(name) for name in archive.namelist()}


def rewrite(data: bytes, change: Callable[[dict[str, bytes]], None]) -> bytes:
    """The same pack with ``change`` applied to its members (a dict, edited in place)."""
    files = members(data)
    change(files)
    return _zip(files)


def json_member(data: bytes, name: str):
    return json.loads(members(data)[name])


def event_lines(data: bytes) -> list[dict]:
    return [json.loads(line) for line in members(data)["audit/events.jsonl"].splitlines()]


def forge(data: bytes, change: Callable[[dict[str, bytes]], None]) -> bytes:
    """Tamper as a forger would who does not hold the instance's key: apply ``change``,
    put the new files' hashes in the manifest and sign it again with a key of their own.
    Only the checks that do not rest on the manifest's hashes can then catch it."""
    files = members(data)
    change(files)
    manifest = json.loads(files["manifest.json"])
    for entry in manifest["files"]:
        content = files[entry["path"]]
        entry["sha256"], entry["bytes"] = hashlib.sha256(content).hexdigest(), len(content)
    key = Ed25519PrivateKey.generate()
    raw = key.public_key().public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    manifest["signing"]["public_key"] = base64.b64encode(raw).decode()
    manifest["signing"]["fingerprint"] = hashlib.sha256(raw).hexdigest()
    files["manifest.json"] = json.dumps(manifest).encode()
    files["manifest.sig"] = base64.b64encode(key.sign(files["manifest.json"]))
    return _zip(files)


def _zip(files: dict[str, bytes]) -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as archive:
        for name, content in files.items():
            archive.writestr(name, content)
    return out.getvalue()

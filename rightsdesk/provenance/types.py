"""Provenance's values across boundaries: what the render path hands in (Disclosure) and
what verification answers (VerificationReport, with its Card or PossibleMatch).

Plain frozen dataclasses with no model import, so a Celery task or the render service can
build a Disclosure without loading provenance's models.
"""

from dataclasses import asdict, dataclass
from datetime import datetime
from typing import Any
from uuid import UUID

TRUSTED = "trusted"
VALID_UNTRUSTED = "valid_untrusted"
INVALID = "invalid"
NO_CREDENTIALS = "no_credentials"
POSSIBLE_MATCH = "possible_match"
STATES = (TRUSTED, VALID_UNTRUSTED, INVALID, NO_CREDENTIALS, POSSIBLE_MATCH)

PERMISSION_CURRENT = "current"
PERMISSION_ENDING = "ending"
PERMISSION_ENDED = "ended"


@dataclass(frozen=True)
class Disclosure:
    """What the signed image discloses, as the render path knows it at release.

    ``stage_name`` is given only when the talent opted in to being named. ``commitment``
    is ``"sha256:<hex>"`` over the licence and consent records, computed by the caller;
    when it is None, provenance computes a salted one from ``licence_public_id`` and
    ``consent_public_ids`` and keeps the salt, so that the evidence pack can open it. No
    readable identifier reaches the manifest either way.
    """

    brand_name: str
    licence_public_id: UUID
    approved_exact_image: bool
    stage_name: str | None = None
    consent_public_ids: tuple[UUID, ...] = ()
    commitment: str | None = None
    language: str = "en"
    # cawg.training-mining's ai_inference entry, as the agreement says; training and data
    # mining are always notAllowed.
    inference_allowed: bool = False


@dataclass(frozen=True)
class Card:
    """The plain-language facts about one of our own assets; ``lines()`` words them."""

    asset_id: UUID
    status_url: str
    brand: str
    stage_name: str | None
    approved_exact_image: bool
    signed_at: datetime
    issuer: str
    permission: str  # current, ending or ended
    permission_until: datetime
    report_url: str | None  # only once the permission is ending or ended

    def lines(self) -> list[str]:
        from rightsdesk.provenance.wording import card_lines

        return card_lines(self)

    def to_json(self) -> dict[str, Any]:
        data = asdict(self)
        data["asset_id"] = str(self.asset_id)
        data["signed_at"] = self.signed_at.isoformat()
        data["permission_until"] = self.permission_until.isoformat()
        data["text"] = self.lines()
        return data


@dataclass(frozen=True)
class PossibleMatch:
    """A stripped file that resembles one of ours: the brand only, never talent details."""

    brand: str
    method: str  # "watermark" or "perceptual_hash"
    distance: int | None = None  # Hamming distance of the perceptual hashes

    def lines(self) -> list[str]:
        from rightsdesk.provenance.wording import possible_match_lines

        return possible_match_lines(self)

    def to_json(self) -> dict[str, Any]:
        return {**asdict(self), "text": self.lines()}


@dataclass(frozen=True)
class VerificationReport:
    state: str
    format: str
    codes: tuple[str, ...] = ()  # failure codes first, then informational ones
    issuer: str | None = None
    signer: str | None = None  # the signing certificate's common name
    claim_generator: str | None = None
    signed_at: datetime | None = None  # the signature's timestamp, when it has one
    remote_manifest_url: str | None = None  # reported, never fetched
    findings: tuple[str, ...] = ()
    card: Card | None = None
    possible_match: PossibleMatch | None = None
    filename: str | None = None

    def summary(self) -> str:
        from rightsdesk.provenance.wording import state_summary

        return state_summary(self.state)

    def to_json(self) -> dict[str, Any]:
        return {
            "filename": self.filename,
            "state": self.state,
            "summary": self.summary(),
            "format": self.format,
            "codes": list(self.codes),
            "issuer": self.issuer,
            "signer": self.signer,
            "claim_generator": self.claim_generator,
            "signed_at": self.signed_at.isoformat() if self.signed_at else None,
            "remote_manifest_url": self.remote_manifest_url,
            "findings": list(self.findings),
            "card": self.card.to_json() if self.card else None,
            "possible_match": self.possible_match.to_json() if self.possible_match else None,
        }

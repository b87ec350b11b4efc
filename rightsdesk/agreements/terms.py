"""An agreement version's structured terms, their canonical JSON and the hash parties sign.

``AgreementTerms`` is the typed value services take; ``terms_json()`` is its canonical
JSON (sorted keys, no whitespace, UTF-8, datetimes in UTC ISO 8601, policies and
exclusivities in a fixed order), stored verbatim on the version. The hash a party signs is

    content_sha256 = SHA-256( document_sha256 + "\\n" + terms_json )   (UTF-8, hex digests)

so neither the document nor a single term can change under a signature, and anyone with
the file and the stored terms text can recompute it offline.

Parsing (``AgreementTerms.from_json``) checks shapes and types only; the rules that need
the database or settings (caps, minors, categories) are in services.py.
"""

import datetime
import hashlib
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from django.utils.dateparse import parse_date, parse_datetime

from rightsdesk.audit.canonical import canonical_json
from rightsdesk.core.errors import ValidationFailed
from rightsdesk.core.vocab import InvalidTerritorySpec, TerritorySpec

POLICIES = ("allowed", "with_approval", "never")


@dataclass(frozen=True)
class ExclusivityTerm:
    category: str  # a Category slug
    territories: TerritorySpec
    starts_at: datetime.datetime
    ends_at: datetime.datetime

    def to_json(self) -> dict[str, Any]:
        return {
            "category": self.category,
            "territories": {
                "include": sorted(set(self.territories.include)),
                "exclude": sorted(set(self.territories.exclude)),
            },
            "starts_at": _iso(self.starts_at),
            "ends_at": _iso(self.ends_at),
        }


@dataclass(frozen=True)
class AgreementTerms:
    jurisdiction: str
    effective_from: datetime.datetime
    effective_to: datetime.datetime
    max_licence_term_days: int
    talent_had_counsel: bool = False
    talent_had_union: bool = False
    withdrawal_notice_days: int = 30
    run_off_days: int = 90
    client_agency_fee_bps: int = 0
    approval_window_hours: int = 72
    category_policies: Mapping[str, str] = field(default_factory=dict)
    exclusivities: tuple[ExclusivityTerm, ...] = ()

    def to_json(self) -> dict[str, Any]:
        return {
            "jurisdiction": self.jurisdiction,
            "talent_had_counsel": self.talent_had_counsel,
            "talent_had_union": self.talent_had_union,
            "effective_from": _iso(self.effective_from),
            "effective_to": _iso(self.effective_to),
            "max_licence_term_days": self.max_licence_term_days,
            "withdrawal_notice_days": self.withdrawal_notice_days,
            "run_off_days": self.run_off_days,
            "client_agency_fee_bps": self.client_agency_fee_bps,
            "approval_window_hours": self.approval_window_hours,
            "category_policies": dict(sorted(self.category_policies.items())),
            "exclusivities": sorted((e.to_json() for e in self.exclusivities), key=canonical_json),
        }

    def terms_json(self) -> str:
        return canonical_json(self.to_json())

    @classmethod
    def from_json(cls, data: Any) -> "AgreementTerms":
        """Parse the API's (or a stored version's) terms; ValidationFailed names each bad field."""
        if not isinstance(data, Mapping):
            raise ValidationFailed(fields={"terms": ["Expected a JSON object."]})
        parser = _Parser(data)
        terms = parser.parse()
        if parser.errors:
            raise ValidationFailed(fields=parser.errors)
        return terms


def content_sha256(*, document_sha256: str, terms_json: str) -> str:
    """The hash a party signs: SHA-256 over the document's hex digest, a newline, the terms."""
    return hashlib.sha256(f"{document_sha256}\n{terms_json}".encode()).hexdigest()


def _iso(value: datetime.datetime) -> str:
    return value.astimezone(datetime.UTC).isoformat()


_FIELDS = {
    "jurisdiction",
    "talent_had_counsel",
    "talent_had_union",
    "effective_from",
    "effective_to",
    "max_licence_term_days",
    "withdrawal_notice_days",
    "run_off_days",
    "client_agency_fee_bps",
    "approval_window_hours",
    "category_policies",
    "exclusivities",
}


class _Parser:
    def __init__(self, data: Mapping[str, Any]) -> None:
        self.data = data
        self.errors: dict[str, list[str]] = {}

    def fail(self, name: str, message: str) -> None:
        self.errors.setdefault(name, []).append(message)

    def parse(self) -> "AgreementTerms":
        for unknown in sorted(set(self.data) - _FIELDS):
            self.fail(unknown, "Unknown term.")
        defaults = AgreementTerms.__dataclass_fields__
        return AgreementTerms(
            jurisdiction=self.text("jurisdiction"),
            talent_had_counsel=self.boolean("talent_had_counsel"),
            talent_had_union=self.boolean("talent_had_union"),
            effective_from=self.moment("effective_from", self.data.get("effective_from")),
            effective_to=self.moment("effective_to", self.data.get("effective_to")),
            max_licence_term_days=self.count("max_licence_term_days", None, minimum=1),
            withdrawal_notice_days=self.count(
                "withdrawal_notice_days", defaults["withdrawal_notice_days"].default
            ),
            run_off_days=self.count("run_off_days", defaults["run_off_days"].default),
            client_agency_fee_bps=self.count("client_agency_fee_bps", 0, maximum=10000),
            approval_window_hours=self.count(
                "approval_window_hours", defaults["approval_window_hours"].default, minimum=1
            ),
            category_policies=self.policies(),
            exclusivities=self.exclusivity_terms(),
        )

    def text(self, name: str) -> str:
        value = self.data.get(name)
        if not isinstance(value, str) or not value.strip():
            self.fail(name, "This field is required.")
            return ""
        return value.strip().upper()

    def boolean(self, name: str) -> bool:
        value = self.data.get(name, False)
        if not isinstance(value, bool):
            self.fail(name, "Must be true or false.")
            return False
        return value

    def count(
        self, name: str, default: int | None, *, minimum: int = 0, maximum: int | None = None
    ) -> int:
        value = self.data.get(name, default)
        if value is None:
            self.fail(name, "This field is required.")
            return 0
        if isinstance(value, bool) or not isinstance(value, int):
            self.fail(name, "Must be a whole number.")
            return 0
        if value < minimum or (maximum is not None and value > maximum):
            bound = f"between {minimum} and {maximum}" if maximum is not None else f">= {minimum}"
            self.fail(name, f"Must be {bound}.")
        return value

    def moment(self, name: str, value: Any) -> datetime.datetime:
        epoch = datetime.datetime(1970, 1, 1, tzinfo=datetime.UTC)
        if not isinstance(value, str):
            self.fail(name, "An ISO 8601 date-time is required.")
            return epoch
        # A bare date means the start of that day in UTC. Checked first: on Python 3.11
        # parse_datetime reads "2026-06-01" too, as a naive midnight, refused below.
        day = parse_date(value) if len(value) == 10 else None
        if day is not None:
            parsed = datetime.datetime.combine(day, datetime.time(), tzinfo=datetime.UTC)
        else:
            parsed = parse_datetime(value)
        if parsed is None or parsed.tzinfo is None:
            self.fail(name, "An ISO 8601 date-time with a UTC offset is required.")
            return epoch
        return parsed.astimezone(datetime.UTC)

    def policies(self) -> dict[str, str]:
        value = self.data.get("category_policies", {})
        if not isinstance(value, Mapping):
            self.fail("category_policies", "Expected an object {category: policy}.")
            return {}
        for slug, policy in value.items():
            if policy not in POLICIES:
                self.fail("category_policies", f"{slug}: the policy must be one of {POLICIES}.")
        return {str(slug): str(policy) for slug, policy in value.items()}

    def exclusivity_terms(self) -> tuple[ExclusivityTerm, ...]:
        value = self.data.get("exclusivities", [])
        if not isinstance(value, list):
            self.fail("exclusivities", "Expected a list.")
            return ()
        terms = []
        for index, item in enumerate(value):
            name = f"exclusivities[{index}]"
            if not isinstance(item, Mapping) or not isinstance(item.get("category"), str):
                self.fail(name, "Expected {category, territories, starts_at, ends_at}.")
                continue
            try:
                spec = TerritorySpec.from_json(item.get("territories"))
            except InvalidTerritorySpec as exc:
                self.fail(name, f"territories: {exc}.")
                continue
            terms.append(
                ExclusivityTerm(
                    category=item["category"],
                    territories=spec,
                    starts_at=self.moment(name, item.get("starts_at")),
                    ends_at=self.moment(name, item.get("ends_at")),
                )
            )
        return tuple(terms)

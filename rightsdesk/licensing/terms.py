"""The terms of a licence as one typed value, and their canonical form.

``LicenceTerms`` is what brand legal proposes and the talent's side counters. Its canonical
JSON (sorted keys, datetimes in UTC, integers only) and the SHA-256 of it are stored on
every LicenceOffer, so the negotiation history says exactly what each side put forward.
Money is in integer minor units everywhere: a float is refused, never rounded.
"""

import hashlib
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import pycountry
from django.utils.dateparse import parse_datetime

from rightsdesk.audit.canonical import canonical_json
from rightsdesk.core.errors import ValidationFailed
from rightsdesk.core.vocab import (
    MEDIA,
    InvalidTerritorySpec,
    TerritorySpec,
    UnknownTerritory,
)

TEXT_LIMITS = {"campaign": 200, "purpose": 200, "advertiser": 200}
TERMS_FIELDS = (
    "campaign",
    "use_description",
    "purpose",
    "advertiser",
    "product_lines",
    "category",
    "usage",
    "currency",
    "buyout_minor",
    "usage_fee_minor",
    "draft_allowance",
    "brief_approval_required",
    "starts_at",
    "ends_at",
    "offer_expires_at",
)


def territories_json(spec: TerritorySpec) -> dict[str, list[str]]:
    """The spec as stored and hashed: names upper-cased, in the order given."""
    return {
        "include": [name.strip().upper() for name in spec.include],
        "exclude": [name.strip().upper() for name in spec.exclude],
    }


@dataclass(frozen=True)
class UsageTerms:
    """One usage row: a medium, in territories, for a duration from first publication,
    up to a number of assets."""

    medium: str
    territories: TerritorySpec
    duration_days: int
    quantity: int

    def to_json(self) -> dict[str, Any]:
        return {
            "medium": self.medium,
            "territories": territories_json(self.territories),
            "duration_days": self.duration_days,
            "quantity": self.quantity,
        }


@dataclass(frozen=True)
class LicenceTerms:
    campaign: str
    use_description: str
    purpose: str
    advertiser: str
    product_lines: tuple[str, ...]
    category: str  # a Category slug
    usage: tuple[UsageTerms, ...]
    currency: str
    buyout_minor: int
    usage_fee_minor: int  # per released asset
    draft_allowance: int
    brief_approval_required: bool
    starts_at: datetime
    ends_at: datetime
    offer_expires_at: datetime | None = None

    def to_json(self) -> dict[str, Any]:
        return {
            "campaign": self.campaign,
            "use_description": self.use_description,
            "purpose": self.purpose,
            "advertiser": self.advertiser,
            "product_lines": list(self.product_lines),
            "category": self.category,
            "usage": [row.to_json() for row in self.usage],
            "currency": self.currency,
            "buyout_minor": self.buyout_minor,
            "usage_fee_minor": self.usage_fee_minor,
            "draft_allowance": self.draft_allowance,
            "brief_approval_required": self.brief_approval_required,
            "starts_at": _iso(self.starts_at),
            "ends_at": _iso(self.ends_at),
            "offer_expires_at": _iso(self.offer_expires_at) if self.offer_expires_at else None,
        }

    def canonical_json(self) -> str:
        return canonical_json(self.to_json())

    def sha256(self) -> str:
        return hashlib.sha256(self.canonical_json().encode("utf-8")).hexdigest()

    def territory_codes(self) -> frozenset[str]:
        """Every country any usage row reaches."""
        codes: set[str] = set()
        for row in self.usage:
            codes |= row.territories.codes()
        return frozenset(codes)

    def max_duration_days(self) -> int:
        return max((row.duration_days for row in self.usage), default=0)

    @classmethod
    def from_json(cls, data: Any) -> "LicenceTerms":
        """Parse and validate terms from JSON; ValidationFailed names every bad field."""
        if not isinstance(data, dict):
            raise ValidationFailed(fields={"terms": ["Expected an object."]})
        errors: dict[str, list[str]] = {}
        unknown = sorted(set(data) - set(TERMS_FIELDS))
        if unknown:
            errors["terms"] = [f"Unknown fields: {', '.join(unknown)}."]
        for name in TERMS_FIELDS:
            if name not in data and name != "offer_expires_at":
                errors.setdefault(name, []).append("This field is required.")
        if errors:
            raise ValidationFailed(fields=errors)
        usage = data["usage"]
        if not isinstance(usage, list):
            raise ValidationFailed(fields={"usage": ["Expected a list of usage rows."]})
        terms = cls(
            campaign=data["campaign"],
            use_description=data["use_description"],
            purpose=data["purpose"],
            advertiser=data["advertiser"],
            product_lines=tuple(data["product_lines"])
            if isinstance(data["product_lines"], list)
            else data["product_lines"],
            category=data["category"],
            usage=tuple(_usage_from_json(row, index, errors) for index, row in enumerate(usage)),
            currency=data["currency"],
            buyout_minor=data["buyout_minor"],
            usage_fee_minor=data["usage_fee_minor"],
            draft_allowance=data["draft_allowance"],
            brief_approval_required=data["brief_approval_required"],
            starts_at=_datetime(data["starts_at"], "starts_at", errors),
            ends_at=_datetime(data["ends_at"], "ends_at", errors),
            offer_expires_at=_datetime(data.get("offer_expires_at"), "offer_expires_at", errors),
        )
        if errors:
            raise ValidationFailed(fields=errors)
        terms_validate(terms)
        return terms


def _iso(value: datetime) -> str:
    return value.astimezone(UTC).isoformat()


def _datetime(value: Any, field: str, errors: dict[str, list[str]]) -> Any:
    if value is None or isinstance(value, datetime):
        return value
    parsed = parse_datetime(value) if isinstance(value, str) else None
    if parsed is None:
        errors.setdefault(field, []).append("Expected an ISO 8601 date and time.")
    return parsed


def _usage_from_json(row: Any, index: int, errors: dict[str, list[str]]) -> UsageTerms:
    field = f"usage[{index}]"
    if not isinstance(row, dict) or set(row) != {
        "medium",
        "territories",
        "duration_days",
        "quantity",
    }:
        errors.setdefault(field, []).append(
            "Expected medium, territories, duration_days and quantity."
        )
        return UsageTerms(medium="", territories=TerritorySpec(()), duration_days=0, quantity=0)
    try:
        territories = TerritorySpec.from_json(row["territories"])
    except InvalidTerritorySpec as exc:
        errors.setdefault(f"{field}.territories", []).append(str(exc))
        territories = TerritorySpec(())
    return UsageTerms(
        medium=row["medium"],
        territories=territories,
        duration_days=row["duration_days"],
        quantity=row["quantity"],
    )


def _is_int(value: Any) -> bool:
    # bool is an int subclass and a float may look whole: neither is money or a count.
    return type(value) is int


def _check_text(terms: LicenceTerms, errors: dict[str, list[str]]) -> None:
    for name in ("campaign", "use_description", "purpose", "advertiser"):
        value = getattr(terms, name)
        if not isinstance(value, str) or not value.strip():
            errors.setdefault(name, []).append("Plain words are required here.")
        elif name in TEXT_LIMITS and len(value) > TEXT_LIMITS[name]:
            errors.setdefault(name, []).append(f"At most {TEXT_LIMITS[name]} characters.")
    lines = terms.product_lines
    if not isinstance(lines, tuple) or not all(isinstance(v, str) and v.strip() for v in lines):
        errors.setdefault("product_lines", []).append("Expected a list of product line names.")
    if not isinstance(terms.category, str) or not terms.category:
        errors.setdefault("category", []).append("A category slug is required.")


def _check_money(terms: LicenceTerms, errors: dict[str, list[str]]) -> None:
    currency = terms.currency
    if not (
        isinstance(currency, str)
        and len(currency) == 3
        and currency.isupper()
        and pycountry.currencies.get(alpha_3=currency) is not None
    ):
        errors.setdefault("currency", []).append("Expected an ISO 4217 code such as EUR.")
    for name in ("buyout_minor", "usage_fee_minor"):
        value = getattr(terms, name)
        if not _is_int(value) or value < 0:
            errors.setdefault(name, []).append("Expected a whole number of minor units, >= 0.")
    if not _is_int(terms.draft_allowance) or terms.draft_allowance < 1:
        errors.setdefault("draft_allowance", []).append("Expected a whole number >= 1.")
    if not isinstance(terms.brief_approval_required, bool):
        errors.setdefault("brief_approval_required", []).append("Expected true or false.")


def _check_usage(terms: LicenceTerms, errors: dict[str, list[str]]) -> None:
    if not terms.usage:
        errors.setdefault("usage", []).append("At least one usage row is required.")
    for index, row in enumerate(terms.usage):
        field = f"usage[{index}]"
        if row.medium not in MEDIA:
            errors.setdefault(f"{field}.medium", []).append(f"Unknown medium {row.medium!r}.")
        try:
            row.territories.validated()
        except UnknownTerritory as exc:
            errors.setdefault(f"{field}.territories", []).append(f"Unknown territory {exc}.")
        except InvalidTerritorySpec as exc:
            errors.setdefault(f"{field}.territories", []).append(str(exc))
        for name in ("duration_days", "quantity"):
            value = getattr(row, name)
            if not _is_int(value) or value < 1:
                errors.setdefault(f"{field}.{name}", []).append("Expected a whole number >= 1.")


def _check_period(terms: LicenceTerms, errors: dict[str, list[str]]) -> None:
    for name in ("starts_at", "ends_at", "offer_expires_at"):
        value = getattr(terms, name)
        if value is None and name == "offer_expires_at":
            continue
        if not isinstance(value, datetime) or value.tzinfo is None:
            errors.setdefault(name, []).append("Expected a date and time with its time zone.")
    if "starts_at" not in errors and "ends_at" not in errors and terms.ends_at <= terms.starts_at:
        errors.setdefault("ends_at", []).append("The licence must end after it starts.")


def terms_validate(terms: LicenceTerms) -> None:
    """Raise ValidationFailed unless every value is well formed (not yet: fits the agreement)."""
    errors: dict[str, list[str]] = {}
    _check_text(terms, errors)
    _check_money(terms, errors)
    _check_usage(terms, errors)
    _check_period(terms, errors)
    if errors:
        raise ValidationFailed(fields=errors)

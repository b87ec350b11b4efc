"""Values that cross the ledger's boundary: owners, account keys, postings, fees.

Owners are opaque strings the domain builds with ``owner_ref``: "brand:<uuid>",
"talent:<uuid>", "agency:<uuid>", or "platform". The ledger never looks behind them.
"""

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any
from uuid import UUID

PLATFORM = "platform"
OWNER_KINDS = ("brand", "talent", "agency")
_OWNER = re.compile(r"^(brand|talent|agency):[A-Za-z0-9_.:-]{1,100}$")
_CURRENCY = re.compile(r"^[A-Z]{3}$")

# Entry kinds. Fees are what the brand pays the talent for (DESIGN.md, "Ledger").
FEE_KINDS = ("capture", "training", "buyout", "usage")
TOP_UP = "top_up"
PAYOUT = "payout"
REVERSAL = "reversal"
ENTRY_KINDS = (*FEE_KINDS, TOP_UP, PAYOUT, REVERSAL, "adjustment")

# Line roles: what each line of an entry is, so a statement can show gross, commission
# and net without recomputing a split.
CHARGE = "charge"  # the brand pays: fee + client fee + platform fee
TALENT_NET = "talent_net"
AGENCY_COMMISSION = "agency_commission"
MOTHER_COMMISSION = "mother_commission"
CLIENT_FEE = "client_fee"
PLATFORM_FEE = "platform_fee"
FUNDING = "funding"  # cash side of a top-up
PAYOUT_ROLE = "payout"
COMMISSION_ROLES = (AGENCY_COMMISSION, MOTHER_COMMISSION)


def owner_ref(kind: str, public_id: UUID | str) -> str:
    """The opaque owner the ledger knows a brand, talent or agency by."""
    if kind not in OWNER_KINDS:
        raise ValueError(f"owner kind must be one of {OWNER_KINDS}")
    return f"{kind}:{public_id}"


def is_owner(value: str, kind: str | None = None) -> bool:
    if value == PLATFORM:
        return kind in (None, PLATFORM)
    match = _OWNER.match(value or "")
    return bool(match) and (kind is None or match.group(1) == kind)


def is_currency(value: str) -> bool:
    return bool(_CURRENCY.match(value or ""))


def is_minor(value: Any) -> bool:
    """An integer amount: bools and floats (even 1.0) are refused, money is never a float."""
    return type(value) is int


@dataclass(frozen=True, order=True)
class AccountKey:
    owner: str
    kind: str
    currency: str

    @property
    def key(self) -> str:
        return f"{self.owner}/{self.kind}/{self.currency}"


@dataclass(frozen=True)
class PostingLine:
    account: AccountKey
    amount_minor: int  # > 0 debit, < 0 credit
    role: str


@dataclass(frozen=True)
class Posting:
    """One entry to post. ``request`` is what a retry must repeat (default: the lines);
    ``remittance_payer`` makes the talent's net line a remittance due from that payer."""

    idempotency_key: str
    kind: str
    reference: str
    lines: tuple[PostingLine, ...]
    description: str = ""
    effective_at: datetime | None = None
    request: Mapping[str, Any] | None = None
    remittance_payer: str | None = None
    reverses_id: int | None = None
    reservation_id: int | None = None

    def payload(self) -> dict[str, Any]:
        if self.request is not None:
            return dict(self.request)
        payload: dict[str, Any] = {
            "kind": self.kind,
            "reference": self.reference,
            "description": self.description,
            "lines": [[ln.account.key, ln.role, ln.amount_minor] for ln in self.lines],
        }
        if self.effective_at is not None:
            payload["effective_at"] = self.effective_at
        if self.remittance_payer is not None:
            payload["remittance_payer"] = self.remittance_payer
        return payload


@dataclass(frozen=True)
class PostingResult:
    """One posting's outcome in a batch: ``created``, ``exists`` (a retry, the original
    entry) or ``failed`` with a stable error code; a failure affects no other posting."""

    idempotency_key: str
    status: str
    entry_id: int | None = None
    code: str = ""
    message: str = ""
    extra: Mapping[str, Any] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return self.status in ("created", "exists")


@dataclass(frozen=True)
class FeeSpec:
    """A fee the brand pays a talent, and who takes a part of it.

    ``commission_bps`` and ``mother_agency_share_bps`` come from the talent's
    Representation (the mother agency's share is of the commission);
    ``client_agency_fee_bps`` from the agreement's terms (paid by the brand on top, to
    ``agency``); ``platform_fee_bps`` defaults to RIGHTSDESK_PLATFORM_FEE_BPS.
    """

    kind: str
    brand: str
    talent: str
    currency: str
    fee_minor: int
    agency: str | None = None
    commission_bps: int = 0
    mother_agency: str | None = None
    mother_agency_share_bps: int = 0
    client_agency_fee_bps: int = 0
    platform_fee_bps: int | None = None


@dataclass(frozen=True)
class FeeSplit:
    """A fee cut into its parts. Always: talent_net + agency_commission +
    mother_commission == fee, and brand_total == fee + client_fee + platform_fee."""

    fee_minor: int
    commission_minor: int
    agency_commission_minor: int
    mother_commission_minor: int
    talent_net_minor: int
    client_fee_minor: int
    platform_fee_minor: int

    @property
    def brand_total_minor(self) -> int:
        return self.fee_minor + self.client_fee_minor + self.platform_fee_minor

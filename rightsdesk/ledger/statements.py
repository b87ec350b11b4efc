"""A talent's statement for one month: gross fee, commission and net, line by line, each
traced to the reference that earned it, with the payouts and the balance.

A statement is a pure function of the entries dated up to the month's end, rendered in a
fixed order with fixed formats, so a closed month's statement regenerates byte for byte
(its SHA-256 is stored when the month closes). Nothing in it depends on when it is read.
"""

import csv
import datetime
import hashlib
import io
import re
from collections import defaultdict
from dataclasses import asdict, astuple, dataclass
from typing import Any

from django.db.models import Sum

from rightsdesk.audit.canonical import canonical_json
from rightsdesk.core.errors import ValidationFailed
from rightsdesk.ledger.models import Account, AccountKind, Line
from rightsdesk.ledger.types import COMMISSION_ROLES, PAYOUT_ROLE, TALENT_NET

_PERIOD = re.compile(r"^(\d{4})-(0[1-9]|1[0-2])$")
CSV_COLUMNS = [
    "currency",
    "row",
    "date",
    "entry",
    "kind",
    "reference",
    "description",
    "gross_minor",
    "commission_minor",
    "net_minor",
    "paid_out_minor",
    "balance_minor",
]


def period_bounds(period: str) -> tuple[datetime.datetime, datetime.datetime]:
    """[start, end) of a "YYYY-MM" month in UTC."""
    match = _PERIOD.match(period or "")
    if not match:
        raise ValidationFailed(fields={"period": ["A month as YYYY-MM."]})
    year, month = int(match.group(1)), int(match.group(2))
    start = datetime.datetime(year, month, 1, tzinfo=datetime.UTC)
    end = datetime.datetime(year + month // 12, month % 12 + 1, 1, tzinfo=datetime.UTC)
    return start, end


def next_month(period: str) -> str:
    return period_bounds(period)[1].strftime("%Y-%m")


def _stamp(moment: datetime.datetime) -> str:
    return moment.astimezone(datetime.UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


@dataclass(frozen=True)
class StatementRow:
    date: str
    entry: str
    kind: str
    reference: str
    description: str
    gross_minor: int
    commission_minor: int
    net_minor: int
    paid_out_minor: int


@dataclass(frozen=True)
class StatementAccount:
    currency: str
    opening_balance_minor: int
    rows: tuple[StatementRow, ...]

    @property
    def totals(self) -> dict[str, int]:
        names = ("gross_minor", "commission_minor", "net_minor", "paid_out_minor")
        return {name: sum(getattr(row, name) for row in self.rows) for name in names}

    @property
    def closing_balance_minor(self) -> int:
        totals = self.totals
        return self.opening_balance_minor + totals["net_minor"] - totals["paid_out_minor"]


@dataclass(frozen=True)
class Statement:
    owner: str
    period: str
    accounts: tuple[StatementAccount, ...]

    def document(self) -> dict[str, Any]:
        start, end = period_bounds(self.period)
        return {
            "owner": self.owner,
            "period": self.period,
            "period_start": _stamp(start),
            "period_end": _stamp(end),
            "accounts": [
                {
                    "currency": account.currency,
                    "opening_balance_minor": account.opening_balance_minor,
                    **account.totals,
                    "closing_balance_minor": account.closing_balance_minor,
                    "rows": [asdict(row) for row in account.rows],
                }
                for account in self.accounts
            ],
        }

    def json_bytes(self) -> bytes:
        return canonical_json(self.document()).encode("utf-8")

    def csv_bytes(self) -> bytes:
        out = io.StringIO()
        writer = csv.writer(out, lineterminator="\r\n")
        writer.writerow(CSV_COLUMNS)
        for account in self.accounts:
            balance = account.opening_balance_minor
            writer.writerow([account.currency, "opening", *[""] * 9, balance])
            for row in account.rows:
                balance += row.net_minor - row.paid_out_minor
                writer.writerow([account.currency, "line", *astuple(row), balance])
            totals = account.totals
            writer.writerow(
                [account.currency, "closing", "", "", "", "", "", *totals.values(), balance]
            )
        return out.getvalue().encode("utf-8")

    @property
    def json_sha256(self) -> str:
        return hashlib.sha256(self.json_bytes()).hexdigest()

    @property
    def csv_sha256(self) -> str:
        return hashlib.sha256(self.csv_bytes()).hexdigest()


def _rows(account: Account, period: str) -> tuple[StatementRow, ...]:
    lines = list(
        Line.objects.filter(account=account, entry__period=period)
        .select_related("entry")
        .order_by("entry__effective_at", "entry_id", "pk")
    )
    entry_ids = sorted({line.entry_id for line in lines})
    commission: dict[int, int] = defaultdict(int)
    for entry_id, amount in Line.objects.filter(
        entry_id__in=entry_ids, role__in=COMMISSION_ROLES
    ).values_list("entry_id", "amount_minor"):
        commission[entry_id] -= amount  # credits to the agencies, as positive amounts
    rows: list[StatementRow] = []
    by_entry: dict[int, list[Line]] = {}
    for line in lines:
        by_entry.setdefault(line.entry_id, []).append(line)
    for entry_id, entry_lines in by_entry.items():
        entry = entry_lines[0].entry
        net = -sum(ln.amount_minor for ln in entry_lines if ln.role == TALENT_NET)
        paid = sum(ln.amount_minor for ln in entry_lines if ln.role == PAYOUT_ROLE)
        fee_commission = commission[entry_id]
        rows.append(
            StatementRow(
                date=_stamp(entry.effective_at),
                entry=str(entry.public_id),
                kind=entry.kind,
                reference=entry.reference,
                description=entry.description,
                gross_minor=net + fee_commission,
                commission_minor=fee_commission,
                net_minor=net,
                paid_out_minor=paid,
            )
        )
    return tuple(rows)


def statement_build(*, owner: str, period: str) -> Statement:
    """The statement of ``owner``'s earnings accounts (one per currency) for ``period``."""
    period_bounds(period)
    accounts = []
    # Only accounts with a line by the month's end: one opened later must not change a
    # closed month's statement.
    in_use = Account.objects.filter(
        owner=owner, kind=AccountKind.EARNINGS, lines__entry__period__lte=period
    )
    for account in in_use.distinct().order_by("currency"):
        before = Line.objects.filter(account=account, entry__period__lt=period).aggregate(
            total=Sum("amount_minor")
        )["total"]
        accounts.append(
            StatementAccount(
                currency=account.currency,
                opening_balance_minor=-(before or 0),  # earnings are credit-normal
                rows=_rows(account, period),
            )
        )
    return Statement(owner=owner, period=period, accounts=tuple(accounts))

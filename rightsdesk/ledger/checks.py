"""Reconciliation: the ledger's own checks, and those the domain apps register.

The ledger knows nothing of assets or licences, so the checks that need them ("every
released asset has exactly one posted usage fee") belong to the apps that own them. They
register a function from their AppConfig.ready():

    from rightsdesk.ledger.checks import ledger_register_check
    from rightsdesk.ledger.selectors import ledger_fee_posting_counts

    def released_assets_paid_once() -> Iterable[str]:
        counts = ledger_fee_posting_counts(kind="usage")
        for asset in Asset.objects.filter(status="released"):
            if counts.get(asset.reference, 0) != 1:
                yield f"{asset.reference}: {counts.get(asset.reference, 0)} usage postings"

    ledger_register_check("renders.released_assets_paid_once", released_assets_paid_once)

A check returns (or yields) one plain sentence per problem and nothing when all is well.
``manage.py ledger_reconcile`` runs them all and exits non-zero when any found a problem.
"""

import json
from collections import defaultdict
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass

from django.db.models import Count, F, Q, Sum
from django.utils import timezone

from rightsdesk.ledger.models import (
    Account,
    AccountBalance,
    Entry,
    Line,
    PeriodStatement,
    Remittance,
    Reservation,
)
from rightsdesk.ledger.statements import statement_build
from rightsdesk.ledger.types import TALENT_NET

LedgerCheck = Callable[[], Iterable[str]]

_registered: dict[str, LedgerCheck] = {}


def ledger_register_check(name: str, check: LedgerCheck) -> LedgerCheck:
    """Register ``check`` under ``name`` (registering the same name again replaces it)."""
    if not name or not callable(check):
        raise ValueError("a check needs a name and a callable")
    _registered[name] = check
    return check


def ledger_unregister_check(name: str) -> None:
    _registered.pop(name, None)


def ledger_registered_checks() -> dict[str, LedgerCheck]:
    return dict(_registered)


# --- the ledger's own checks ---------------------------------------------------------------


def entries_balance() -> Iterator[str]:
    unbalanced = (
        Line.objects.values("entry__public_id", "currency")
        .annotate(total=Sum("amount_minor"))
        .exclude(total=0)
        .order_by("entry__public_id", "currency")
    )
    for row in unbalanced:
        yield (
            f"entry {row['entry__public_id']} does not balance in {row['currency']}: "
            f"{row['total']:+d}"
        )
    # An entry has exactly the lines it was written with: none added later, none missing.
    miscounted = Entry.objects.annotate(n=Count("lines")).exclude(n=F("line_count"))
    for entry in miscounted.order_by("pk"):
        yield f"entry {entry.public_id} has {entry.n} line(s), written with {entry.line_count}"


def lines_match_account_currency() -> Iterator[str]:
    mismatched = Line.objects.exclude(currency=F("account__currency")).select_related(
        "entry", "account"
    )
    for line in mismatched.order_by("pk"):
        yield f"a line of entry {line.entry.public_id} is in {line.currency} on {line.account}"


def totals_match_lines() -> Iterator[str]:
    """Running totals on each account equal the totals rebuilt from its lines."""
    rebuilt = Account.objects.annotate(
        debits=Sum("lines__amount_minor", filter=Q(lines__amount_minor__gt=0), default=0),
        credits=Sum("lines__amount_minor", filter=Q(lines__amount_minor__lt=0), default=0),
    ).order_by("pk")
    stored = {
        pk: (debits, credits)
        for pk, debits, credits in AccountBalance.objects.values_list(
            "pk", "debits_posted", "credits_posted"
        )
    }
    for account in rebuilt:
        have = stored.get(account.pk)
        if have != (account.debits, -account.credits):
            yield (
                f"{account.key}: stored debits/credits {have}, rebuilt from lines "
                f"{(account.debits, -account.credits)}"
            )


def pending_matches_reservations() -> Iterator[str]:
    debits: dict[int, int] = defaultdict(int)
    credits: dict[int, int] = defaultdict(int)
    for lines_json in Reservation.objects.filter(status=Reservation.Status.PENDING).values_list(
        "lines_json", flat=True
    ):
        for account_id, _role, amount in json.loads(lines_json):
            if amount > 0:
                debits[account_id] += amount
            else:
                credits[account_id] -= amount
    for balance in AccountBalance.objects.select_related("account").order_by("pk"):
        expected = (debits.get(balance.pk, 0), credits.get(balance.pk, 0))
        if (balance.debits_pending, balance.credits_pending) != expected:
            yield (
                f"{balance.account.key}: stored pending {balance.debits_pending}/"
                f"{balance.credits_pending}, pending reservations add up to "
                f"{expected[0]}/{expected[1]}"
            )


def reservations_resolved_once() -> Iterator[str]:
    now = timezone.now()
    for reservation in Reservation.objects.filter(
        status=Reservation.Status.PENDING, expires_at__lte=now
    ).order_by("pk"):
        yield f"reservation {reservation.public_id} is pending past its deadline"
    posted = Reservation.objects.annotate(n=Count("entry")).order_by("pk")
    for reservation in posted:
        wants = 1 if reservation.status == Reservation.Status.POSTED else 0
        if reservation.n != wants:
            yield (
                f"reservation {reservation.public_id} ({reservation.status}) has "
                f"{reservation.n} posting(s)"
            )


def remittances_match_earnings() -> Iterator[str]:
    remittances = Remittance.objects.annotate(
        earned=Sum(
            "entry__lines__amount_minor",
            filter=Q(entry__lines__role=TALENT_NET, entry__lines__account_id=F("account_id")),
            default=0,
        )
    )
    for remittance in remittances.order_by("pk"):
        net = -remittance.earned
        if net != remittance.amount_minor:
            yield (
                f"remittance {remittance.public_id} is {remittance.amount_minor}, its earning {net}"
            )


def closed_statements_regenerate() -> Iterator[str]:
    for stored in PeriodStatement.objects.select_related("period").order_by("pk"):
        statement = statement_build(owner=stored.owner, period=stored.period.period)
        if (statement.json_sha256, statement.csv_sha256) != (
            stored.json_sha256,
            stored.csv_sha256,
        ):
            yield f"the closed statement of {stored.owner} for {stored.period.period} changed"


BUILT_IN: dict[str, LedgerCheck] = {
    "ledger.entries_balance": entries_balance,
    "ledger.lines_match_account_currency": lines_match_account_currency,
    "ledger.totals_match_lines": totals_match_lines,
    "ledger.pending_matches_reservations": pending_matches_reservations,
    "ledger.reservations_resolved_once": reservations_resolved_once,
    "ledger.remittances_match_earnings": remittances_match_earnings,
    "ledger.closed_statements_regenerate": closed_statements_regenerate,
}


@dataclass(frozen=True)
class CheckOutcome:
    name: str
    problems: tuple[str, ...]

    @property
    def ok(self) -> bool:
        return not self.problems


def ledger_reconcile() -> list[CheckOutcome]:
    """Run the built-in checks, then the registered ones, in name order. A check that
    raises is reported as a problem, never skipped."""
    outcomes = []
    for name, check in [*BUILT_IN.items(), *sorted(_registered.items())]:
        try:
            problems = tuple(check() or ())
        except Exception as error:  # a broken check must fail the run, not hide
            problems = (f"the check raised {type(error).__name__}: {error}",)
        outcomes.append(CheckOutcome(name=name, problems=problems))
    return outcomes

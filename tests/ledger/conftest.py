"""Parties as the ledger knows them (opaque owner references), staff, and helpers to fund
a brand's budget and describe a fee."""

import datetime
import uuid
from dataclasses import dataclass

import pytest
from django.utils import timezone

from rightsdesk.accounts.models import User
from rightsdesk.ledger.checks import (
    ledger_register_check,
    ledger_registered_checks,
    ledger_unregister_check,
)
from rightsdesk.ledger.models import Account, AccountBalance, Entry, Line, Reservation
from rightsdesk.ledger.services import ledger_budget_top_up
from rightsdesk.ledger.types import FeeSpec, owner_ref
from tests.factories import UserFactory

HOUR = datetime.timedelta(hours=1)
DAY = datetime.timedelta(days=1)


@dataclass
class Parties:
    brand: str
    talent: str
    agency: str
    mother: str
    staff: User


@pytest.fixture
def parties(db) -> Parties:
    return Parties(
        brand=owner_ref("brand", uuid.uuid4()),
        talent=owner_ref("talent", uuid.uuid4()),
        agency=owner_ref("agency", uuid.uuid4()),
        mother=owner_ref("agency", uuid.uuid4()),
        staff=UserFactory(role="staff", is_staff=True, is_superuser=True),
    )


def fee_spec(p: Parties, *, fee_minor: int = 10_000, kind: str = "usage", **overrides) -> FeeSpec:
    values = {
        "kind": kind,
        "brand": p.brand,
        "talent": p.talent,
        "currency": "EUR",
        "fee_minor": fee_minor,
        "agency": p.agency,
        "commission_bps": 2000,
        "mother_agency": p.mother,
        "mother_agency_share_bps": 2500,
        "client_agency_fee_bps": 1000,
        "platform_fee_bps": 0,
    }
    return FeeSpec(**{**values, **overrides})


def fund(p: Parties, amount_minor: int, *, key: str | None = None, currency: str = "EUR"):
    return ledger_budget_top_up(
        brand=p.brand,
        currency=currency,
        amount_minor=amount_minor,
        idempotency_key=key or f"top-up-{uuid.uuid4()}",
        actor=p.staff,
    )


def later(hours: float = 1) -> datetime.datetime:
    return timezone.now() + datetime.timedelta(hours=hours)


def account(owner: str, kind: str, currency: str = "EUR") -> Account:
    return Account.objects.get(owner=owner, kind=kind, currency=currency)


def ledger_counts() -> tuple[int, int, int]:
    """Entries, lines and reservations: what a refused call must leave unchanged."""
    return Entry.objects.count(), Line.objects.count(), Reservation.objects.count()


def totals() -> list[tuple]:
    return list(
        AccountBalance.objects.order_by("pk").values_list(
            "account__key", "debits_posted", "credits_posted", "debits_pending", "credits_pending"
        )
    )


@pytest.fixture(autouse=True)
def only_the_ledgers_own_checks():
    """The apps' registered checks (renders') read their own rows, which these tests do not
    make: run the ledger's tests against its own checks, and restore the registry after."""
    saved = ledger_registered_checks()
    for name in saved:
        ledger_unregister_check(name)
    yield
    for name in ledger_registered_checks():
        ledger_unregister_check(name)
    for name, check in saved.items():
        ledger_register_check(name, check)

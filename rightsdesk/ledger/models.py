"""The royalty ledger: double entry in integer minor units.

An Entry is one business event (a fee earned, a top-up, a payout, a reversal); its Lines
move money between Accounts. A line's ``amount_minor`` is signed: positive debits,
negative credits, so an entry balances when its lines sum to zero in every currency.
Entries and lines are written once and never changed: a mistake is corrected by a
reversing entry that points at the one it reverses (on PostgreSQL triggers refuse UPDATE
and DELETE, and a deferred constraint trigger checks the balance at commit).

An Account belongs to an opaque owner ("brand:<uuid>", "talent:<uuid>", "agency:<uuid>",
"platform"); its AccountBalance holds running totals, TigerBeetle-style: debits and
credits posted, and debits and credits pending (reserved by two-phase Reservations). A
brand's budget is guarded (``debits_must_not_exceed_credits``): a CHECK keeps what is
posted or reserved against it within what was credited to it, whatever a caller does.
The ledger imports nothing from the domain; ``reference`` names what earned an entry
("asset:<uuid>").
"""

import uuid

from django.db import models
from django.db.models import F, Q
from django.utils import timezone


class AccountKind(models.TextChoices):
    BUDGET = "budget", "Budget (prepaid by the brand)"
    PAYABLE = "payable", "Payable (invoiced to the brand)"
    EARNINGS = "earnings", "Earnings (owed to the talent)"
    COMMISSION = "commission", "Commission (agency or mother agency)"
    CLIENT_FEES = "client_fees", "Client fees (agency, paid by the brand on top)"
    FEES = "fees", "Platform fees"
    CASH = "cash", "Cash (money in and out of the platform)"


class NormalBalance(models.TextChoices):
    DEBIT = "debit", "Debit"
    CREDIT = "credit", "Credit"


class Account(models.Model):
    """Who an account belongs to and what it holds; written once, never changed. Its
    running totals live apart, in AccountBalance, the one row every posting updates."""

    key = models.CharField(max_length=200, unique=True)  # "<owner>/<kind>/<currency>"
    owner = models.CharField(max_length=120)
    kind = models.CharField(max_length=16, choices=AccountKind.choices)
    currency = models.CharField(max_length=3)
    normal_balance = models.CharField(max_length=6, choices=NormalBalance.choices)
    debits_must_not_exceed_credits = models.BooleanField(default=False)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["owner", "kind", "currency"], name="ledger_account_owner_kind_currency"
            ),
            models.CheckConstraint(
                condition=Q(currency__regex=r"^[A-Z]{3}$"), name="ledger_account_currency_iso"
            ),
        ]

    def __str__(self) -> str:
        return self.key

    # The totals, read through to the balance row (reload the account to see new ones).
    @property
    def debits_posted(self) -> int:
        return self.balance.debits_posted

    @property
    def credits_posted(self) -> int:
        return self.balance.credits_posted

    @property
    def debits_pending(self) -> int:
        return self.balance.debits_pending

    @property
    def credits_pending(self) -> int:
        return self.balance.credits_pending

    @property
    def balance_minor(self) -> int:
        """Posted balance on the account's normal side (what is owed to or by its owner)."""
        if self.normal_balance == NormalBalance.DEBIT:
            return self.debits_posted - self.credits_posted
        return self.credits_posted - self.debits_posted

    @property
    def available_minor(self) -> int:
        """For a guarded (budget) account: what may still be reserved or posted."""
        return self.balance.available_minor


class AccountBalance(models.Model):
    """An account's running totals, TigerBeetle-style. Kept off the Account row on
    purpose: under PostgreSQL's MVCC every update leaves a row version behind, and the rows
    that postings look up and join (accounts) stay untouched by the rows they update."""

    account = models.OneToOneField(
        Account, primary_key=True, on_delete=models.PROTECT, related_name="balance"
    )
    guarded = models.BooleanField()  # the account's debits_must_not_exceed_credits
    debits_posted = models.BigIntegerField(default=0)
    credits_posted = models.BigIntegerField(default=0)
    debits_pending = models.BigIntegerField(default=0)
    credits_pending = models.BigIntegerField(default=0)

    class Meta:
        constraints = [
            models.CheckConstraint(
                condition=Q(debits_posted__gte=0)
                & Q(credits_posted__gte=0)
                & Q(debits_pending__gte=0)
                & Q(credits_pending__gte=0),
                name="ledger_balance_totals_non_negative",
            ),
            # A brand's budget never goes below zero, reserved amounts included: the last
            # line of defence behind the services' checks under the row lock.
            models.CheckConstraint(
                condition=Q(guarded=False)
                | Q(debits_posted__lte=F("credits_posted") - F("debits_pending")),
                name="ledger_balance_guarded_within_credits",
            ),
        ]

    @property
    def available_minor(self) -> int:
        return self.credits_posted - self.debits_posted - self.debits_pending


class LedgerState(models.Model):
    """One row (pk=1): the last closed month. Every posting holds a share lock on it, and
    closing a month takes it exclusively, so no entry slips into a month being closed."""

    closed_through = models.CharField(max_length=7, blank=True)  # "YYYY-MM" or ""


class Reservation(models.Model):
    """A two-phase hold on a brand's budget (a draft's usage fee): pending until it is
    posted (at most the reserved amount), voided or expired, exactly once."""

    class Status(models.TextChoices):
        PENDING = "pending", "Pending"
        POSTED = "posted", "Posted"
        VOIDED = "voided", "Voided"
        EXPIRED = "expired", "Expired"

    public_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    idempotency_key = models.CharField(max_length=200, unique=True)
    payload_json = models.TextField()
    payload_sha256 = models.CharField(max_length=64)
    kind = models.CharField(max_length=16)
    reference = models.CharField(max_length=200, db_index=True)
    currency = models.CharField(max_length=3)
    # PROTECT: a reservation's accounts stay, as its lines' do. No index of its own: the
    # (budget, status, expires_at) index leads with it. With both, PostgreSQL's cached plan
    # for the lapsed-reservation probe took this one and filtered every reservation of the
    # budget on each submission (bench/api_load.py).
    budget = models.ForeignKey(Account, on_delete=models.PROTECT, related_name="+", db_index=False)
    amount_minor = models.BigIntegerField()  # reserved from the budget: fee and charges on top
    fee_minor = models.BigIntegerField()  # the talent's fee inside it
    # The lines the posting of the whole fee would write, as canonical JSON
    # [[account_id, role, amount_minor], ...]: the pending amounts held on each account.
    lines_json = models.TextField()
    status = models.CharField(max_length=8, choices=Status.choices, default=Status.PENDING)
    expires_at = models.DateTimeField()
    created_at = models.DateTimeField(default=timezone.now)
    resolved_at = models.DateTimeField(null=True, blank=True)
    resolution_note = models.CharField(max_length=200, blank=True)

    class Meta:
        constraints = [
            models.CheckConstraint(
                condition=Q(amount_minor__gt=0) & Q(fee_minor__gt=0),
                name="ledger_reservation_positive",
            ),
            models.CheckConstraint(
                condition=Q(status="pending", resolved_at__isnull=True)
                | (~Q(status="pending") & Q(resolved_at__isnull=False)),
                name="ledger_reservation_resolved_has_time",
            ),
        ]
        indexes = [models.Index(fields=["budget", "status", "expires_at"])]

    def __str__(self) -> str:
        return f"reservation {self.public_id} ({self.status})"


class Entry(models.Model):
    public_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    idempotency_key = models.CharField(max_length=200, unique=True)
    # The canonical request that made it: a retry with the same key must send the same.
    payload_json = models.TextField()
    payload_sha256 = models.CharField(max_length=64)
    kind = models.CharField(max_length=16)
    reference = models.CharField(max_length=200, db_index=True)
    description = models.CharField(max_length=200, blank=True)
    effective_at = models.DateTimeField()
    period = models.CharField(max_length=7, db_index=True)  # UTC month of effective_at
    # How many lines it was written with: the commit-time trigger refuses an entry whose
    # lines differ, so no line can be added to an entry later, even a balanced pair.
    line_count = models.PositiveSmallIntegerField()
    # One reversal per entry at most, and one posting per reservation: unique by OneToOne.
    reverses = models.OneToOneField(
        "self", null=True, blank=True, on_delete=models.PROTECT, related_name="reversed_by"
    )
    reservation = models.OneToOneField(
        Reservation, null=True, blank=True, on_delete=models.PROTECT, related_name="entry"
    )
    actor_label = models.CharField(max_length=254, blank=True)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        verbose_name_plural = "entries"
        constraints = [
            models.CheckConstraint(
                condition=Q(kind="reversal", reverses__isnull=False)
                | (~Q(kind="reversal") & Q(reverses__isnull=True)),
                name="ledger_entry_reversal_points_back",
            ),
            models.CheckConstraint(condition=Q(line_count__gte=2), name="ledger_entry_two_lines"),
        ]

    def __str__(self) -> str:
        return f"{self.kind} {self.reference} ({self.public_id})"


class Line(models.Model):
    # PROTECT: ledger rows are never deleted, and neither is anything they point at.
    entry = models.ForeignKey(Entry, on_delete=models.PROTECT, related_name="lines")
    # No database foreign key here, on purpose: a key check takes a share lock on the
    # account row, which every batch also updates, and on PostgreSQL those crossed locks
    # (multixacts) were the hot spot of concurrent posting. The integrity holds anyway:
    # the commit-time trigger joins each line to its account (a line naming no account
    # leaves its entry short of lines and is refused), and accounts cannot be deleted.
    account = models.ForeignKey(
        Account, on_delete=models.PROTECT, related_name="lines", db_constraint=False
    )
    amount_minor = models.BigIntegerField()  # > 0 debit, < 0 credit
    # The account's currency, copied so balances group without a join; checked at commit.
    currency = models.CharField(max_length=3)
    role = models.CharField(max_length=24)

    class Meta:
        constraints = [
            models.CheckConstraint(condition=~Q(amount_minor=0), name="ledger_line_not_zero"),
        ]

    def __str__(self) -> str:
        return f"{self.role} {self.amount_minor} {self.currency}"


class Remittance(models.Model):
    """What an agency (or the platform, for a talent without one) owes a talent for one
    earning, due by ``due_on`` (the NY Fashion Workers Act gives agencies 45 days)."""

    class Status(models.TextChoices):
        PENDING = "pending", "Pending"
        PAID = "paid", "Paid"
        CANCELLED = "cancelled", "Cancelled (the earning was reversed)"

    public_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    entry = models.OneToOneField(Entry, on_delete=models.PROTECT, related_name="remittance")
    account = models.ForeignKey(Account, on_delete=models.PROTECT, related_name="+")
    payer = models.CharField(max_length=120)  # "agency:<uuid>" or "platform"
    amount_minor = models.BigIntegerField()
    currency = models.CharField(max_length=3)
    due_on = models.DateField()
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.PENDING)
    paid_entry = models.OneToOneField(
        Entry,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="remittance_paid",
    )
    resolved_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [
            models.CheckConstraint(
                condition=Q(amount_minor__gt=0), name="ledger_remittance_positive"
            ),
            models.CheckConstraint(
                condition=~Q(status="paid") | Q(paid_entry__isnull=False),
                name="ledger_remittance_paid_has_entry",
            ),
        ]
        indexes = [models.Index(fields=["status", "due_on"])]

    def __str__(self) -> str:
        return f"remittance {self.public_id} ({self.status}, due {self.due_on})"


class Period(models.Model):
    """A closed UTC month. Its statements' SHA-256 are kept to prove they never change."""

    period = models.CharField(max_length=7, unique=True)  # "YYYY-MM"
    closed_at = models.DateTimeField()
    closed_by = models.CharField(max_length=254, blank=True)

    def __str__(self) -> str:
        return self.period


class PeriodStatement(models.Model):
    # No index of its own: ledger_statement_unique (period, owner) leads with it.
    period = models.ForeignKey(
        Period, on_delete=models.PROTECT, related_name="statements", db_index=False
    )
    owner = models.CharField(max_length=120)
    json_sha256 = models.CharField(max_length=64)
    csv_sha256 = models.CharField(max_length=64)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["period", "owner"], name="ledger_statement_unique")
        ]

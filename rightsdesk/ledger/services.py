"""Every write to the ledger.

Fees (DESIGN.md, "Ledger"): the brand pays the talent's fee plus the agency's client fee
on top plus the platform fee; the talent earns the fee less the Representation's
commission, part of which may go to a mother agency; nothing else is ever deducted from
the talent. The domain passes the fee and the basis points, and the ledger cuts it
(``splits.fee_split``). A fee earned at one moment (a buy-out, a capture) is invoiced to
the brand's payable account; a fee that work must earn first (a draft's usage fee, a
training) is reserved from its prepaid budget before the work and posted from it when the
work is delivered (two-phase, as TigerBeetle's pending transfers).

Every posting carries an idempotency key: the same key and payload returns the original
entry; the same key with another payload is refused (``idempotency_conflict``, naming the
field). State-changing services run in one transaction and write their audit event last;
the batch path writes one event per call so that it stays fast.
"""

import json
from collections.abc import Sequence
from dataclasses import asdict, dataclass, replace
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.db import connection, transaction
from django.db.models import Min
from django.utils import timezone

from rightsdesk.accounts.selectors import user_is_staff
from rightsdesk.audit.services import audit_record
from rightsdesk.core import rawsql
from rightsdesk.core.errors import (
    ApplicationError,
    IdempotencyConflict,
    InvalidTransition,
    PermissionDenied,
    ValidationFailed,
)
from rightsdesk.ledger.errors import (
    BudgetInsufficient,
    EntryAlreadyReversed,
    PeriodNotClosable,
    ReservationExceeded,
    ReservationExpired,
    ReservationResolved,
)
from rightsdesk.ledger.models import (
    Account,
    AccountKind,
    Entry,
    LedgerState,
    Period,
    PeriodStatement,
    Remittance,
    Reservation,
)
from rightsdesk.ledger.posting import (
    LOCK_AVAILABLE_SQL,
    PENDING_ADD_SQL,
    account_refs,
    accounts_lock,
    accounts_lock_available,
    closed_through,
    conflict,
    month_of,
    payload_text,
    pending_add,
    pending_add_params,
    pg_execute,
    post_entries,
)
from rightsdesk.ledger.splits import fee_split
from rightsdesk.ledger.statements import next_month, period_bounds, statement_build
from rightsdesk.ledger.types import (
    AGENCY_COMMISSION,
    CHARGE,
    CLIENT_FEE,
    FEE_KINDS,
    FUNDING,
    MOTHER_COMMISSION,
    PAYOUT,
    PAYOUT_ROLE,
    PLATFORM,
    PLATFORM_FEE,
    REVERSAL,
    TALENT_NET,
    TOP_UP,
    AccountKey,
    FeeSpec,
    FeeSplit,
    Posting,
    PostingLine,
    PostingResult,
    is_currency,
    is_minor,
    is_owner,
)

CHARGE_TO = (AccountKind.PAYABLE, AccountKind.BUDGET)


def _label(actor: Any | None) -> str:
    return actor.get_username() if actor is not None else "system"


def _error(result: PostingResult) -> ApplicationError:
    error_class = ApplicationError.registry.get(result.code, ApplicationError)
    return error_class(result.message, **dict(result.extra))


def _post_one(posting: Posting, *, actor: Any | None, open_accounts: bool) -> tuple[Entry, bool]:
    """Post one entry in the caller's transaction; (entry, created). No audit event: the
    calling service writes its own, last."""
    [result] = post_entries(
        [posting], now=timezone.now(), actor_label=_label(actor), open_accounts=open_accounts
    )
    if not result.ok:
        raise _error(result)
    return Entry.objects.get(pk=result.entry_id), result.status == "created"


def _entry_payload(entry: Entry) -> dict[str, Any]:
    lines = entry.lines.select_related("account").order_by("pk")
    return {
        "entry": str(entry.public_id),
        "kind": entry.kind,
        "reference": entry.reference,
        "idempotency_key": entry.idempotency_key,
        "lines": [[ln.account.key, ln.role, ln.amount_minor] for ln in lines],
    }


# --- plain postings ----------------------------------------------------------------------


@transaction.atomic
def ledger_post(*, posting: Posting, actor: Any | None = None) -> Entry:
    """Post one entry (accounts opened on demand); a retry returns the original."""
    entry, created = _post_one(posting, actor=actor, open_accounts=True)
    if created:
        audit_record(
            actor=actor, action="ledger.entry_posted", target=entry, payload=_entry_payload(entry)
        )
    return entry


@transaction.atomic
def ledger_post_batch(
    *, postings: Sequence[Posting], actor: Any | None = None, open_accounts: bool = False
) -> list[PostingResult]:
    """Post up to 100 entries, each all-or-nothing on its own; one result per posting.

    One audit event covers the call (the entries are themselves append-only records), so
    the chain lock is taken once per batch, last.
    """
    results = post_entries(
        postings, now=timezone.now(), actor_label=_label(actor), open_accounts=open_accounts
    )
    created = [r.entry_id for r in results if r.status == "created"]
    if created:
        audit_record(
            actor=actor,
            action="ledger.batch_posted",
            target=None,
            payload={
                "created": len(created),
                "first_entry_id": min(created),
                "last_entry_id": max(created),
                "failed": sum(1 for r in results if r.status == "failed"),
            },
        )
    return results


# --- fees --------------------------------------------------------------------------------


def _fee_check(fee: FeeSpec) -> None:
    errors: dict[str, list[str]] = {}
    if fee.kind not in FEE_KINDS:
        errors["kind"] = [f"One of {', '.join(FEE_KINDS)}."]
    for name, kind, value in (
        ("brand", "brand", fee.brand),
        ("talent", "talent", fee.talent),
        ("agency", "agency", fee.agency),
        ("mother_agency", "agency", fee.mother_agency),
    ):
        if value is not None and not is_owner(value, kind):
            errors[name] = [f'An owner reference "{kind}:<id>".']
    if not is_currency(fee.currency):
        errors["currency"] = ["An ISO 4217 code."]
    if fee.agency is None and (fee.commission_bps or fee.client_agency_fee_bps):
        errors["agency"] = ["A commission or client fee goes to an agency: name it."]
    if fee.mother_agency is not None and fee.agency is None:
        errors["agency"] = ["A mother agency shares an agency's commission."]
    if fee.mother_agency is None and fee.mother_agency_share_bps:
        errors["mother_agency"] = ["A mother agency share needs the mother agency."]
    if errors:
        raise ValidationFailed(fields=errors)


def fee_resolved(fee: FeeSpec) -> tuple[FeeSpec, FeeSplit]:
    """The fee with its platform rate fixed (the setting, unless given), and its split."""
    _fee_check(fee)
    split = fee_split(
        fee_minor=fee.fee_minor,
        commission_bps=fee.commission_bps,
        mother_agency_share_bps=fee.mother_agency_share_bps,
        client_agency_fee_bps=fee.client_agency_fee_bps,
        platform_fee_bps=fee.platform_fee_bps,
    )
    if fee.platform_fee_bps is None:
        fee = replace(fee, platform_fee_bps=settings.RIGHTSDESK_PLATFORM_FEE_BPS)
    return fee, split


def fee_lines(fee: FeeSpec, split: FeeSplit, *, charge_to: str) -> tuple[PostingLine, ...]:
    """The balanced lines of a fee: the brand's charge against each party's part."""
    cur = fee.currency
    parts = [
        (fee.talent, AccountKind.EARNINGS, TALENT_NET, split.talent_net_minor),
        (fee.agency, AccountKind.COMMISSION, AGENCY_COMMISSION, split.agency_commission_minor),
        (
            fee.mother_agency,
            AccountKind.COMMISSION,
            MOTHER_COMMISSION,
            split.mother_commission_minor,
        ),
        (fee.agency, AccountKind.CLIENT_FEES, CLIENT_FEE, split.client_fee_minor),
        (PLATFORM, AccountKind.FEES, PLATFORM_FEE, split.platform_fee_minor),
    ]
    lines = [PostingLine(AccountKey(fee.brand, charge_to, cur), split.brand_total_minor, CHARGE)]
    lines += [
        PostingLine(AccountKey(owner, kind, cur), -amount, role)
        for owner, kind, role, amount in parts
        if amount
    ]
    return tuple(lines)


def _fee_request(fee: FeeSpec, **more: Any) -> dict[str, Any]:
    return {**asdict(fee), **{k: v for k, v in more.items() if v is not None}}


@transaction.atomic
def ledger_post_fee(
    *,
    fee: FeeSpec,
    reference: str,
    idempotency_key: str,
    charge_to: str = AccountKind.PAYABLE,
    effective_at: datetime | None = None,
    description: str = "",
    actor: Any | None = None,
) -> Entry:
    """Book a fee the brand pays a talent (capture, training, buy-out, usage).

    The brand is charged ``charge_to`` (its ``payable``, invoiced, by default; ``budget``
    draws on prepaid money and is refused when it does not cover the charge). The talent's
    net becomes a remittance due from the agency (or the platform, without one).
    """
    if charge_to not in CHARGE_TO:
        raise ValidationFailed(fields={"charge_to": ["payable or budget."]})
    fee, split = fee_resolved(fee)
    posting = Posting(
        idempotency_key=idempotency_key,
        kind=fee.kind,
        reference=reference,
        lines=fee_lines(fee, split, charge_to=charge_to),
        description=description,
        effective_at=effective_at,
        request=_fee_request(
            fee,
            reference=reference,
            description=description,
            charge_to=str(charge_to),
            effective_at=effective_at,
        ),
        remittance_payer=fee.agency or PLATFORM,
    )
    entry, created = _post_one(posting, actor=actor, open_accounts=True)
    if created:
        audit_record(
            actor=actor, action="ledger.fee_posted", target=entry, payload=_entry_payload(entry)
        )
    return entry


# --- reservations (two-phase) ------------------------------------------------------------


def _pending_lines(reservation: Reservation) -> list[tuple[int, str, int]]:
    return [tuple(row) for row in json.loads(reservation.lines_json)]


def _pending_apply(lines: Sequence[tuple[int, str, int]], *, sign: int) -> None:
    """Add (sign=1) or release (sign=-1) a reservation's pending amounts; accounts locked."""
    pending_add(_pending_changes(lines, sign=sign))


def _pending_changes(
    lines: Sequence[tuple[int, str, int]], *, sign: int
) -> dict[int, tuple[int, int]]:
    """account id -> (debits, credits) to add to its pending totals. A positive line amount
    is a debit, a negative one a credit."""
    changes: dict[int, tuple[int, int]] = {}
    for account_id, _role, amount in lines:
        debits, credits = changes.get(account_id, (0, 0))
        if amount > 0:
            debits += sign * amount
        else:
            credits -= sign * amount
        changes[account_id] = (debits, credits)
    return changes


def _expire_locked(reservations: Sequence[Reservation]) -> None:
    """Void lapsed reservations as of their deadline (never of when the sweep ran), so
    the outcome depends on the deadline alone. Rows and accounts are locked."""
    for reservation in reservations:
        updated = Reservation.objects.filter(
            pk=reservation.pk, status=Reservation.Status.PENDING
        ).update(
            status=Reservation.Status.EXPIRED,
            resolved_at=reservation.expires_at,
            resolution_note="deadline passed",
        )
        if updated:
            _pending_apply(_pending_lines(reservation), sign=-1)


def _lapsed(*, now: datetime, budget_id: int | None = None, limit: int = 500):
    # SKIP LOCKED: a reservation another transaction holds is being resolved there; waiting
    # for it here while holding nothing else keeps the lock order (reservations first).
    lapsed = Reservation.objects.select_for_update(skip_locked=True).filter(
        status=Reservation.Status.PENDING, expires_at__lte=now
    )
    if budget_id is not None:
        lapsed = lapsed.filter(budget_id=budget_id)
    return list(lapsed.order_by("pk")[:limit])


def _same_reservation(existing: Reservation, request: dict[str, Any]) -> Reservation:
    if existing.payload_sha256 != payload_text(request)[1]:
        raise conflict(existing.payload_json, request)
    return existing


@dataclass(frozen=True)
class ReservationPlan:
    """What ``ledger_reserve_plan`` read and settled before any lock: the fee's lines on
    their accounts (opened if missing), the stored payload, whether the budget holds
    reservations lapsed by ``planned_at``, or the key's earlier reservation
    (``existing``), which is then the answer."""

    idempotency_key: str
    reference: str
    expires_at: datetime
    fee: FeeSpec
    split: FeeSplit
    request: dict[str, Any]
    payload_json: str
    payload_sha256: str
    planned_at: datetime
    budget_key: str = ""
    budget_id: int = 0
    pending: tuple[tuple[int, str, int], ...] = ()
    lapsed_seen: bool = False
    existing: Reservation | None = None


def ledger_reserve_plan(
    *, fee: FeeSpec, reference: str, idempotency_key: str, expires_at: datetime
) -> ReservationPlan:
    """Everything of a reservation that reads without locking (``ledger_reserve`` is this,
    then ``ledger_reserve_planned``). A caller about to lock hot rows of its own plans
    first, so that its locks are held for the ledger's writes only."""
    now = timezone.now()
    fee, split = fee_resolved(fee)
    request = _fee_request(fee, reference=reference, expires_at=expires_at)
    text, sha = payload_text(request)
    plan = ReservationPlan(
        idempotency_key=idempotency_key,
        reference=reference,
        expires_at=expires_at,
        fee=fee,
        split=split,
        request=request,
        payload_json=text,
        payload_sha256=sha,
        planned_at=now,
    )
    lines = fee_lines(fee, split, charge_to=AccountKind.BUDGET)
    budget_key = lines[0].account.key
    account_keys = sorted({line.account.key for line in lines})
    taken, lapsed_seen, refs = _plan_probe(
        key=idempotency_key, budget_key=budget_key, account_keys=account_keys, now=now
    )
    if taken:  # the row is read only for a replay
        existing = Reservation.objects.get(idempotency_key=idempotency_key)
        return replace(plan, existing=_same_reservation(existing, request))
    if not 0 < len(idempotency_key) <= 200 or len(reference) > 200:
        raise ValidationFailed(fields={"idempotency_key": ["1 to 200 characters."]})
    if expires_at.tzinfo is None or expires_at <= now:
        raise ValidationFailed(fields={"expires_at": ["An aware time in the future."]})
    if len(refs) < len(account_keys):  # a new budget or payee
        refs = account_refs([line.account for line in lines], create=True)
    budget_id = refs[budget_key][0]
    return replace(
        plan,
        budget_key=budget_key,
        budget_id=budget_id,
        pending=tuple((refs[ln.account.key][0], ln.role, ln.amount_minor) for ln in lines),
        lapsed_seen=lapsed_seen,
    )


def _plan_probe(
    *, key: str, budget_key: str, account_keys: Sequence[str], now: datetime
) -> tuple[bool, bool, dict[str, tuple[int, bool]]]:
    """One statement for what a plan reads (it ran on every submission, as three): whether
    the key is taken, whether the budget holds a pending reservation lapsed at ``now``, and
    ``account_refs`` of the accounts that exist. The flags come on every row, and on one
    row of NULL accounts when none exists."""
    placeholders, params = rawsql.in_list(account_keys)
    rows = rawsql.fetch(
        _PLAN_PROBE.format(placeholders),
        [
            key,
            budget_key,
            Reservation.Status.PENDING.value,
            rawsql.param(Reservation, "expires_at", now),
            *params,
        ],
    )
    taken, lapsed = bool(rows[0][3]), bool(rows[0][4])
    refs = {k: (pk, bool(guarded)) for k, pk, guarded, _, _ in rows if k is not None}
    return taken, lapsed, refs


_PLAN_PROBE = (
    "SELECT a.key, a.id, a.debits_must_not_exceed_credits, f.taken, f.lapsed FROM ("
    "SELECT EXISTS (SELECT 1 FROM ledger_reservation WHERE idempotency_key = %s) AS taken, "
    "EXISTS (SELECT 1 FROM ledger_reservation r "
    "JOIN ledger_account b ON b.id = r.budget_id "
    "WHERE b.key = %s AND r.status = %s AND r.expires_at <= %s) AS lapsed) f "
    "LEFT JOIN ledger_account a ON a.key IN ({})"
)

_RESERVATION_COLUMNS = (
    "public_id, idempotency_key, payload_json, payload_sha256, kind, reference, currency, "
    "budget_id, amount_minor, fee_minor, lines_json, status, expires_at, created_at, "
    "resolved_at, resolution_note"
)
_RESERVATION_VALUES = "%b, %b, %b, %b, %b, %b, %b, %b, %b, %b, %b, %b, %b, %b, NULL, ''"

# The reservation and the pending totals it adds, in one statement: the UPDATE sees the
# insert's RETURNING, so a key taken meanwhile (ON CONFLICT, no row) changes nothing.
_RESERVATION_INSERT = (
    f"WITH added AS (INSERT INTO ledger_reservation ({_RESERVATION_COLUMNS}) "  # noqa: S608 - constants
    f"VALUES ({_RESERVATION_VALUES}) "
    "ON CONFLICT (idempotency_key) DO NOTHING RETURNING id), "
    f"held AS ({PENDING_ADD_SQL} AND EXISTS (SELECT 1 FROM added)) "
    "SELECT id FROM added"
)

# The same after locking the accounts (all of them, in the ledger's order, as
# posting.LOCK_AVAILABLE_SQL does), and only if the budget holds the amount under the
# lock: one statement where the lock, then the insert, held the budget for two round trips
# and the Python between them. Returns the budget's available amount as locked and the
# reservation's id (NULL when refused, or when the key was taken meanwhile).
_RESERVATION_INSERT_IF_AVAILABLE = (
    f"WITH locked AS MATERIALIZED ({LOCK_AVAILABLE_SQL}), "  # noqa: S608 - constants
    "budget AS (SELECT available FROM locked WHERE account_id = %b), "
    f"added AS (INSERT INTO ledger_reservation ({_RESERVATION_COLUMNS}) "
    f"SELECT {_RESERVATION_VALUES} WHERE (SELECT available FROM budget) >= %b "
    "ON CONFLICT (idempotency_key) DO NOTHING RETURNING id), "
    f"held AS ({PENDING_ADD_SQL} AND EXISTS (SELECT 1 FROM added)) "
    "SELECT (SELECT available FROM budget), (SELECT id FROM added)"
)


def _reservation_params(reservation: Reservation) -> list[Any]:
    r = reservation
    return [
        r.public_id,
        r.idempotency_key,
        r.payload_json,
        r.payload_sha256,
        r.kind,
        r.reference,
        r.currency,
        r.budget_id,
        r.amount_minor,
        r.fee_minor,
        r.lines_json,
        r.status,
        r.expires_at,
        r.created_at,
    ]


def _reservation_stored(reservation: Reservation, pk: int) -> None:
    reservation.pk = pk
    reservation._state.adding, reservation._state.db = False, connection.alias


def _reservation_insert(reservation: Reservation, *, pending: Sequence) -> bool:
    """Insert ``reservation`` and add its ``pending`` lines to the (locked) accounts'
    pending totals; False, with nothing written, when a concurrent caller committed its
    key first. On PostgreSQL one statement (ON CONFLICT), where a savepoint around the
    insert took three round trips while the budget's rows were locked, and the totals'
    UPDATE a fourth."""
    changes = _pending_changes(pending, sign=1)
    if connection.vendor != "postgresql":
        if not rawsql.insert(reservation, skip_conflicts=True):
            return False
        pending_add(changes)
        return True
    rows = pg_execute(
        _RESERVATION_INSERT, [*_reservation_params(reservation), *pending_add_params(changes)]
    )
    if not rows:
        return False
    _reservation_stored(reservation, rows[0][0])
    return True


def _reservation_insert_if_available(
    reservation: Reservation, *, pending: Sequence, needed_minor: int
) -> tuple[int, bool]:
    """PostgreSQL: lock the pending lines' accounts, and insert ``reservation`` with its
    pending totals only if the budget holds ``needed_minor``, in one statement. Returns the
    budget's available amount under the lock and whether the reservation was written
    (False: refused, or its key was committed meanwhile by a concurrent caller)."""
    changes = _pending_changes(pending, sign=1)
    ids = sorted({row[0] for row in pending})
    params = [
        ids,
        reservation.budget_id,
        *_reservation_params(reservation),
        needed_minor,
        *pending_add_params(changes),
    ]
    ((available, pk),) = pg_execute(_RESERVATION_INSERT_IF_AVAILABLE, params)
    if available is None:
        raise RuntimeError(f"ledger account {reservation.budget_id} has no balance row")
    if pk is None:
        return available, False
    _reservation_stored(reservation, pk)
    return available, True


def ledger_reserve_planned(plan: ReservationPlan, *, actor: Any | None = None) -> Reservation:
    """Lock the budget and hold the planned fee on it (see ``ledger_reserve``), in the
    caller's transaction. Refused (``budget_insufficient``) before it writes anything but
    the expiry of lapsed reservations, so a caller may go on without a savepoint."""
    if not connection.in_atomic_block:
        raise RuntimeError("ledger_reserve_planned runs inside the caller's transaction")
    if plan.existing is not None:
        return plan.existing
    split, budget_id = plan.split, plan.budget_id
    reservation = Reservation(
        idempotency_key=plan.idempotency_key,
        payload_json=plan.payload_json,
        payload_sha256=plan.payload_sha256,
        kind=plan.fee.kind,
        reference=plan.reference,
        currency=plan.fee.currency,
        budget_id=budget_id,
        amount_minor=split.brand_total_minor,
        fee_minor=split.fee_minor,
        lines_json=json.dumps(plan.pending, separators=(",", ":")),
        expires_at=plan.expires_at,
        created_at=timezone.now(),
    )
    if connection.vendor == "postgresql" and not plan.lapsed_seen:
        # The usual way: lock, check and insert in one statement.
        available, written = _reservation_insert_if_available(
            reservation, pending=plan.pending, needed_minor=split.brand_total_minor
        )
    else:
        # Lapsed as of the plan's instant: what is available depends on deadlines only.
        lapsed = _lapsed(now=plan.planned_at, budget_id=budget_id) if plan.lapsed_seen else []
        ids = {row[0] for row in plan.pending}
        ids |= {row[0] for r in lapsed for row in _pending_lines(r)}
        locked = accounts_lock_available(ids)  # all at once, in the ledger's lock order
        if lapsed:
            _expire_locked(lapsed)
            locked = accounts_lock_available([budget_id])  # held already: a plain read
        available = locked[budget_id]
        written = available >= split.brand_total_minor and _reservation_insert(
            reservation, pending=plan.pending
        )
    if available < split.brand_total_minor:
        raise BudgetInsufficient(
            account=plan.budget_key,
            available_minor=available,
            needed_minor=split.brand_total_minor,
        )
    if not written:  # the key, taken meanwhile
        existing = Reservation.objects.get(idempotency_key=plan.idempotency_key)
        return _same_reservation(existing, plan.request)
    audit_record(
        actor=actor,
        action="ledger.reserved",
        target=reservation,
        payload={
            "reference": plan.reference,
            "budget": plan.budget_key,
            "amount_minor": reservation.amount_minor,
            "fee_minor": reservation.fee_minor,
            "expires_at": plan.expires_at,
        },
    )
    return reservation


@transaction.atomic
def ledger_reserve(
    *,
    fee: FeeSpec,
    reference: str,
    idempotency_key: str,
    expires_at: datetime,
    actor: Any | None = None,
) -> Reservation:
    """Hold a fee and its charges on the brand's budget until posted, voided or expired.

    Refused (``budget_insufficient``) when the budget, less what is already reserved, does
    not cover it: concurrent reservations serialise on the budget's row lock and each sees
    what the others took. Reservations past their deadline are voided first, so what is
    available depends on deadlines only, never on when the sweeper last ran. The same key
    with the same payload returns the first reservation.
    """
    plan = ledger_reserve_plan(
        fee=fee, reference=reference, idempotency_key=idempotency_key, expires_at=expires_at
    )
    return ledger_reserve_planned(plan, actor=actor)


def _reservation_locked(reservation: Reservation) -> Reservation:
    return Reservation.objects.select_for_update().get(pk=reservation.pk)


def _post_reservation(
    reservation: Reservation,
    *,
    fee_minor: int,
    key: str,
    effective_at: datetime | None,
    actor: Any | None,
) -> Entry:
    stored = json.loads(reservation.payload_json)
    fee = FeeSpec(**{name: stored[name] for name in FeeSpec.__dataclass_fields__})
    fee, split = fee_resolved(replace(fee, fee_minor=fee_minor))
    _pending_apply(_pending_lines(reservation), sign=-1)
    Reservation.objects.filter(pk=reservation.pk).update(
        status=Reservation.Status.POSTED, resolved_at=timezone.now()
    )
    posting = Posting(
        idempotency_key=key,
        kind=reservation.kind,
        reference=reservation.reference,
        lines=fee_lines(fee, split, charge_to=AccountKind.BUDGET),
        effective_at=effective_at,
        request=_post_request(reservation, fee_minor, effective_at),
        remittance_payer=fee.agency or PLATFORM,
        reservation_id=reservation.pk,
    )
    entry, created = _post_one(posting, actor=actor, open_accounts=False)
    if not created:  # the key names another entry already: never resolve twice
        raise IdempotencyConflict(field="idempotency_key")
    return entry


def _post_request(reservation: Reservation, fee_minor: int, effective_at: datetime | None):
    request: dict[str, Any] = {"reservation": str(reservation.public_id), "fee_minor": fee_minor}
    if effective_at is not None:
        request["effective_at"] = effective_at
    return request


def ledger_post_reserved(
    *,
    reservation: Reservation,
    fee_minor: int | None = None,
    idempotency_key: str | None = None,
    effective_at: datetime | None = None,
    actor: Any | None = None,
) -> Entry:
    """Post a reservation (a draft's release): at most the reserved fee, exactly once.

    A retry with the same key returns the entry. Past its deadline the reservation is
    voided as of the deadline and ``reservation_expired`` is raised (the expiry is kept
    unless the caller's own transaction rolls back).
    """
    key = idempotency_key or f"{reservation.idempotency_key}:post"
    with transaction.atomic():
        locked = _reservation_locked(reservation)
        amount = locked.fee_minor if fee_minor is None else fee_minor
        if locked.status == Reservation.Status.POSTED:
            entry = locked.entry
            request = _post_request(locked, amount, effective_at)
            if entry.idempotency_key == key and entry.payload_sha256 == payload_text(request)[1]:
                return entry
            raise ReservationResolved(status=locked.status)
        if locked.status != Reservation.Status.PENDING:
            raise ReservationResolved(status=locked.status)
        if not is_minor(amount) or not 0 < amount <= locked.fee_minor:
            raise ReservationExceeded(reserved_fee_minor=locked.fee_minor, fee_minor=amount)
        accounts_lock([row[0] for row in _pending_lines(locked)])
        expired = locked.expires_at <= timezone.now()
        if expired:
            _expire_locked([locked])
            audit_record(
                actor=actor,
                action="ledger.reservation_expired",
                target=locked,
                payload={"expires_at": locked.expires_at, "reference": locked.reference},
            )
        else:
            entry = _post_reservation(
                locked, fee_minor=amount, key=key, effective_at=effective_at, actor=actor
            )
            audit_record(
                actor=actor,
                action="ledger.reservation_posted",
                target=entry,
                payload={**_entry_payload(entry), "reservation": str(locked.public_id)},
            )
    if expired:
        raise ReservationExpired(expires_at=locked.expires_at.isoformat())
    return entry


@transaction.atomic
def ledger_void_reservation(
    *, reservation: Reservation, reason: str, actor: Any | None = None
) -> Reservation:
    """Release a reservation (a draft rejected, expired or withdrawn). Voiding one that is
    already voided or expired changes nothing; a posted one cannot be voided."""
    locked = _reservation_locked(reservation)
    if locked.status in (Reservation.Status.VOIDED, Reservation.Status.EXPIRED):
        return locked
    if locked.status != Reservation.Status.PENDING:
        raise ReservationResolved(status=locked.status)
    lines = _pending_lines(locked)
    accounts_lock([row[0] for row in lines])
    Reservation.objects.filter(pk=locked.pk).update(
        status=Reservation.Status.VOIDED, resolved_at=timezone.now(), resolution_note=reason[:200]
    )
    _pending_apply(lines, sign=-1)
    locked.refresh_from_db()
    audit_record(
        actor=actor,
        action="ledger.reservation_voided",
        target=locked,
        payload={"reason": reason, "reference": locked.reference},
    )
    return locked


@transaction.atomic
def ledger_expire_reservations(*, now: datetime | None = None) -> int:
    """Void every reservation past its deadline, as of that deadline (beat, every minute)."""
    lapsed = _lapsed(now=now or timezone.now())
    if not lapsed:
        return 0
    accounts_lock(sorted({row[0] for r in lapsed for row in _pending_lines(r)}))
    _expire_locked(lapsed)
    audit_record(
        actor=None,
        action="ledger.reservations_expired",
        target=None,
        payload={"reservations": [str(r.public_id) for r in lapsed]},
    )
    return len(lapsed)


# --- corrections, top-ups, payouts ---------------------------------------------------------


@transaction.atomic
def ledger_reverse(
    *, entry: Entry, idempotency_key: str, reason: str, actor: Any | None = None
) -> Entry:
    """Correct an entry with one that negates each of its lines, dated now.

    An entry is reversed at most once and a reversal is never reversed (post the entry
    again instead). A pending remittance for a reversed earning is cancelled; a reversed
    payout puts its remittance back to pending.
    """
    if entry.kind == REVERSAL:
        raise EntryAlreadyReversed("A reversal is not reversed; post the entry again.")
    request = {"reverses": str(entry.public_id), "reason": reason}
    earlier = Entry.objects.filter(reverses=entry).first()
    if earlier is not None and earlier.idempotency_key != idempotency_key:
        raise EntryAlreadyReversed(reversal=str(earlier.public_id))
    lines = tuple(
        PostingLine(
            AccountKey(ln.account.owner, ln.account.kind, ln.account.currency),
            -ln.amount_minor,
            ln.role,
        )
        for ln in entry.lines.select_related("account").order_by("pk")
    )
    now = timezone.now()
    Remittance.objects.filter(entry=entry, status=Remittance.Status.PENDING).update(
        status=Remittance.Status.CANCELLED, resolved_at=now
    )
    Remittance.objects.filter(paid_entry=entry, status=Remittance.Status.PAID).update(
        status=Remittance.Status.PENDING, paid_entry=None, resolved_at=None
    )
    posting = Posting(
        idempotency_key=idempotency_key,
        kind=REVERSAL,
        reference=entry.reference,
        lines=lines,
        description=reason[:200],
        request=request,
        reverses_id=entry.pk,
    )
    reversal, created = _post_one(posting, actor=actor, open_accounts=False)
    if created:
        audit_record(
            actor=actor,
            action="ledger.entry_reversed",
            target=reversal,
            payload={**_entry_payload(reversal), "reverses": str(entry.public_id)},
        )
    return reversal


def _ensure_staff(actor: Any) -> None:
    if actor is None or not user_is_staff(user=actor):
        raise PermissionDenied("Only staff may do this.")


@transaction.atomic
def ledger_budget_top_up(
    *,
    brand: str,
    currency: str,
    amount_minor: int,
    idempotency_key: str,
    actor: Any,
    note: str = "",
) -> Entry:
    """Staff credit a brand's budget with money received (cash in)."""
    _ensure_staff(actor)
    if not is_owner(brand, "brand"):
        raise ValidationFailed(fields={"brand": ['An owner reference "brand:<id>".']})
    if not is_minor(amount_minor) or amount_minor <= 0:
        raise ValidationFailed(fields={"amount_minor": ["A positive integer in minor units."]})
    posting = Posting(
        idempotency_key=idempotency_key,
        kind=TOP_UP,
        reference=brand,
        lines=(
            PostingLine(AccountKey(PLATFORM, AccountKind.CASH, currency), amount_minor, FUNDING),
            PostingLine(AccountKey(brand, AccountKind.BUDGET, currency), -amount_minor, TOP_UP),
        ),
        description=note[:200],
    )
    entry, created = _post_one(posting, actor=actor, open_accounts=True)
    if created:
        audit_record(
            actor=actor,
            action="ledger.budget_topped_up",
            target=entry,
            payload=_entry_payload(entry),
        )
    return entry


@transaction.atomic
def ledger_remittance_pay(
    *, remittance: Remittance, actor: Any, idempotency_key: str | None = None
) -> Entry:
    """Record that a talent was paid an earning: their earnings account is debited."""
    _ensure_staff(actor)
    locked = Remittance.objects.select_for_update().get(pk=remittance.pk)
    key = idempotency_key or f"remittance:{locked.public_id}:pay"
    if locked.status == Remittance.Status.PAID and locked.paid_entry.idempotency_key == key:
        return locked.paid_entry
    if locked.status != Remittance.Status.PENDING:
        raise InvalidTransition(**{"from": locked.status, "to": Remittance.Status.PAID})
    account = Account.objects.get(pk=locked.account_id)
    posting = Posting(
        idempotency_key=key,
        kind=PAYOUT,
        reference=f"remittance:{locked.public_id}",
        lines=(
            PostingLine(
                AccountKey(account.owner, account.kind, account.currency),
                locked.amount_minor,
                PAYOUT_ROLE,
            ),
            PostingLine(
                AccountKey(PLATFORM, AccountKind.CASH, account.currency),
                -locked.amount_minor,
                PAYOUT_ROLE,
            ),
        ),
    )
    entry, _created = _post_one(posting, actor=actor, open_accounts=True)
    Remittance.objects.filter(pk=locked.pk).update(
        status=Remittance.Status.PAID, paid_entry=entry, resolved_at=timezone.now()
    )
    audit_record(
        actor=actor,
        action="ledger.remittance_paid",
        target=locked,
        payload={"entry": str(entry.public_id), "amount_minor": locked.amount_minor},
    )
    return entry


# --- months --------------------------------------------------------------------------------


def _first_open_month(*, closed: str, period: str) -> str:
    if closed:
        return next_month(closed)
    earliest = Entry.objects.aggregate(first=Min("period"))["first"]
    return min(earliest or period, period)


@transaction.atomic
def ledger_period_close(
    *, period: str, actor: Any | None = None, now: datetime | None = None
) -> Period:
    """Close a month that has ended: postings dated in it (or earlier) are refused from
    now on, and each talent's statement for it is hashed so it provably never changes.

    Months close in order. The ledger state row is locked for update, which waits for
    every posting in flight (they share-lock it) and holds new ones until the commit.
    """
    now = now or timezone.now()
    _start, end = period_bounds(period)
    if end > now:
        raise PeriodNotClosable(reason="not_ended", period=period)
    closed = closed_through(for_update=True)
    if closed and period <= closed:
        raise PeriodNotClosable(reason="already_closed", period=period)
    first_open = _first_open_month(closed=closed, period=period)
    if period != first_open:
        raise PeriodNotClosable(reason="earlier_open", period=period, first_open=first_open)
    record = Period.objects.create(period=period, closed_at=now, closed_by=_label(actor))
    owners = (
        Account.objects.filter(kind=AccountKind.EARNINGS, lines__entry__period__lte=period)
        .values_list("owner", flat=True)
        .distinct()
    )
    statements = [statement_build(owner=owner, period=period) for owner in sorted(set(owners))]
    PeriodStatement.objects.bulk_create(
        PeriodStatement(
            period=record, owner=s.owner, json_sha256=s.json_sha256, csv_sha256=s.csv_sha256
        )
        for s in statements
    )
    LedgerState.objects.filter(pk=1).update(closed_through=period)
    audit_record(
        actor=actor,
        action="ledger.period_closed",
        target=record,
        payload={"period": period, "statements": len(statements)},
    )
    return record


def ledger_close_due_periods(*, now: datetime | None = None, actor: Any | None = None) -> list[str]:
    """Close every ended month not closed yet, oldest first (beat, daily)."""
    now = now or timezone.now()
    last = month_of(now.replace(day=1) - timedelta(days=1))
    closed = LedgerState.objects.filter(pk=1).values_list("closed_through", flat=True).first()
    month = _first_open_month(closed=closed or "", period=last)
    done: list[str] = []
    while month <= last:
        ledger_period_close(period=month, actor=actor, now=now)
        done.append(month)
        month = next_month(month)
    return done

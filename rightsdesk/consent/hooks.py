"""What other apps do when a withdrawal takes effect, without consent importing them.

``consent`` must not import ``renders`` (the gate imports nothing from it), yet a withdrawal
has to cancel queued renders, and, once capture exists, destroy data keys. Those apps
register a callback here, from their AppConfig.ready():

    from rightsdesk.consent.hooks import on_withdrawal_effective

    @on_withdrawal_effective
    def cancel_queued_renders(effect: WithdrawalEffect) -> None: ...

Callbacks run inside the transaction that records the withdrawal as applied, exactly once
per withdrawal: if one raises, the whole application rolls back and the next run of
``withdrawals_apply_due`` tries again. So keep them to database work and schedule anything
slow with ``transaction.on_commit``.
"""

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from uuid import UUID


@dataclass(frozen=True)
class WithdrawalEffect:
    withdrawal_id: int
    withdrawal_public_id: UUID
    kind: str  # contractual, for_cause, data_protection
    talent_id: int
    effective_at: datetime
    run_off_until: datetime
    # What it covers: a licence, every licence of an agreement, or a creation consent.
    licence_ids: tuple[int, ...]
    agreement_id: int | None
    creation_consent_id: int | None
    consent_kind: str  # capture or train for a creation consent, else ""
    base_model: str  # for a train consent, else ""


WithdrawalCallback = Callable[[WithdrawalEffect], None]

_callbacks: list[WithdrawalCallback] = []


def on_withdrawal_effective(callback: WithdrawalCallback) -> WithdrawalCallback:
    """Register ``callback`` (idempotent; usable as a decorator)."""
    if callback not in _callbacks:
        _callbacks.append(callback)
    return callback


def withdrawal_effective_callbacks() -> tuple[WithdrawalCallback, ...]:
    return tuple(_callbacks)


def off_withdrawal_effective(callback: WithdrawalCallback) -> None:
    """Unregister ``callback`` (tests)."""
    if callback in _callbacks:
        _callbacks.remove(callback)

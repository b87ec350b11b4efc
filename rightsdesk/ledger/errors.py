from rightsdesk.core.errors import ApplicationError


class EntryUnbalanced(ApplicationError):
    # Debits and credits differ in a currency (extra.currency, extra.difference_minor).
    code = "entry_unbalanced"
    default_message = "The entry's debits and credits differ."


class LedgerAccountUnknown(ApplicationError):
    code = "ledger_account_unknown"
    default_message = "The posting names a ledger account that does not exist."


class BudgetInsufficient(ApplicationError):
    # A brand's budget never goes below zero, reserved amounts included.
    code = "budget_insufficient"
    status = 409
    default_message = "The brand's budget does not cover this amount."


class PeriodClosed(ApplicationError):
    code = "period_closed"
    status = 409
    default_message = "The month this posting is dated in is closed."


class PeriodNotClosable(ApplicationError):
    # extra.reason: "not_ended" (the month is still running) or "already_closed".
    code = "period_not_closable"
    status = 409
    default_message = "This month cannot be closed."


class ReservationResolved(ApplicationError):
    # Each reservation resolves exactly once: posted, voided or expired (extra.status).
    code = "reservation_resolved"
    status = 409
    default_message = "The reservation was already posted, voided or expired."


class ReservationExpired(ApplicationError):
    code = "reservation_expired"
    status = 409
    default_message = "The reservation passed its deadline and was voided."


class ReservationExceeded(ApplicationError):
    code = "reservation_exceeded"
    default_message = "A reservation posts at most the amount it reserved."


class EntryAlreadyReversed(ApplicationError):
    code = "entry_already_reversed"
    status = 409
    default_message = "The entry was already reversed (or is itself a reversal)."

"""Walk the audit chain and name the first broken event.

Events are read in sequence order in batches. Each must carry the next sequence number,
link to the previous event's hash, and hash to its stored hash; the chain head must then
point at the last event (otherwise events were deleted from the end). A deleted event
shows as a sequence gap, an edited one as a hash mismatch, and reordered ones as a
previous-hash mismatch at the first moved event.
"""

from dataclasses import dataclass

from rightsdesk.audit.canonical import GENESIS_HASH
from rightsdesk.audit.models import AuditChainHead, AuditEvent

BATCH_SIZE = 2000

HASH_MISMATCH = "hash mismatch"
SEQUENCE_GAP = "sequence gap"
PREVIOUS_HASH_MISMATCH = "previous hash mismatch"
HEAD_MISMATCH = "chain head mismatch"


@dataclass(frozen=True)
class ChainBreak:
    sequence: int
    event_id: int | None  # None when the event named is missing altogether
    reason: str
    detail: str

    def __str__(self) -> str:
        event = f"event #{self.sequence}" + (
            f" (id {self.event_id})" if self.event_id is not None else ""
        )
        return f"{event}: {self.reason}: {self.detail}"


@dataclass(frozen=True)
class ChainVerification:
    events_checked: int
    first_break: ChainBreak | None

    @property
    def intact(self) -> bool:
        return self.first_break is None


def _check_event(event: AuditEvent, expected_sequence: int, prev_hash: str) -> ChainBreak | None:
    def broken(reason: str, detail: str) -> ChainBreak:
        return ChainBreak(sequence=event.sequence, event_id=event.pk, reason=reason, detail=detail)

    if event.sequence != expected_sequence:
        return broken(SEQUENCE_GAP, f"expected sequence {expected_sequence}")
    if event.prev_hash != prev_hash:
        return broken(PREVIOUS_HASH_MISMATCH, "does not link to the event before it")
    if event.compute_hash() != event.hash:
        return broken(HASH_MISMATCH, "its fields were changed after it was written")
    return None


def _check_head(last_sequence: int, last_hash: str, last_id: int | None) -> ChainBreak | None:
    head = AuditChainHead.objects.filter(pk=1).first()
    head_sequence, head_hash = (head.last_sequence, head.last_hash) if head else (0, GENESIS_HASH)
    if (head_sequence, head_hash) == (last_sequence, last_hash):
        return None
    if head_sequence > last_sequence:
        detail = f"the chain head records #{head_sequence}; later events are missing"
        return ChainBreak(last_sequence + 1, None, SEQUENCE_GAP, detail)
    detail = f"the chain head records #{head_sequence}, not the last event"
    return ChainBreak(last_sequence, last_id, HEAD_MISMATCH, detail)


def verify_chain(*, batch_size: int = BATCH_SIZE) -> ChainVerification:
    """Check the whole chain; stop at the first broken event."""
    expected_sequence, prev_hash, last_id, checked = 1, GENESIS_HASH, None, 0
    events = AuditEvent.objects.order_by("sequence").iterator(chunk_size=batch_size)
    for event in events:
        found = _check_event(event, expected_sequence, prev_hash)
        if found is not None:
            return ChainVerification(events_checked=checked, first_break=found)
        checked += 1
        expected_sequence, prev_hash, last_id = event.sequence + 1, event.hash, event.pk
    return ChainVerification(
        events_checked=checked, first_break=_check_head(expected_sequence - 1, prev_hash, last_id)
    )

"""The reconciliation checks that need renders' own rows (run by ``ledger_reconcile``)."""

from collections.abc import Iterator

from rightsdesk.ledger.models import Reservation
from rightsdesk.ledger.selectors import ledger_fee_posting_counts
from rightsdesk.renders.fees import USAGE_FEE, reservation_key
from rightsdesk.renders.models import Asset
from rightsdesk.renders.states import AssetStatus


def released_assets_paid_once() -> Iterator[str]:
    """Every released asset whose usage fee was reserved has exactly one posted usage fee,
    and no usage fee was posted for an asset that is not released."""
    counts = ledger_fee_posting_counts(kind=USAGE_FEE)
    released = Asset.objects.filter(status=AssetStatus.RELEASED)
    reserved = set(
        Reservation.objects.filter(
            idempotency_key__in=[reservation_key(a.reference) for a in released]
        ).values_list("reference", flat=True)
    )
    released_refs = set()
    for asset in released.order_by("pk"):
        released_refs.add(asset.reference)
        posted = counts.get(asset.reference, 0)
        if asset.reference in reserved and posted != 1:
            yield f"{asset.reference} is released with {posted} usage-fee postings"
    for reference, posted in sorted(counts.items()):
        if reference.startswith("asset:") and reference not in released_refs:
            yield f"{reference} has {posted} usage-fee postings but is not released"


RENDERS_CHECKS = {"renders.released_assets_paid_once": released_assets_paid_once}

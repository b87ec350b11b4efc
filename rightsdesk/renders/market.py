"""The talent's "my twin in market": every released image of the twin, where and until when
it may be used, and what it earned, read from the ledger's lines for the asset."""

from collections import defaultdict
from typing import Any

from rightsdesk.consent.selectors import licence_permission_status, withdrawal_window_for
from rightsdesk.ledger.models import Line
from rightsdesk.ledger.types import AGENCY_COMMISSION, MOTHER_COMMISSION, TALENT_NET
from rightsdesk.renders.models import Asset, RenderRequestLicence
from rightsdesk.renders.states import AssetStatus
from rightsdesk.talent.models import Talent

FEE_PARTS = (TALENT_NET, AGENCY_COMMISSION, MOTHER_COMMISSION)


def _earnings(references: list[str]) -> dict[str, dict[str, int]]:
    """Per asset reference: the gross fee (the talent's net plus the commissions, which come
    out of it) and the talent's net, from the posted, unreversed entries."""
    lines = Line.objects.filter(
        entry__reference__in=references, entry__reversed_by__isnull=True, role__in=FEE_PARTS
    ).values_list("entry__reference", "role", "amount_minor")
    totals: dict[str, dict[str, int]] = defaultdict(lambda: {"gross": 0, "net": 0})
    for reference, role, amount in lines:
        totals[reference]["gross"] += abs(amount)
        if role == TALENT_NET:
            totals[reference]["net"] += abs(amount)
    return totals


def twin_in_market(*, talent: Talent, earnings: bool = True) -> list[dict[str, Any]]:
    """Every released image of the twin, newest first; without ``earnings`` (a reader
    who may not see them, ``may_read_earnings``) the earned amounts are None."""
    links = {
        link.render_request_id: link
        for link in RenderRequestLicence.objects.filter(talent=talent).select_related(
            "licence", "licence__brand", "licence__agreement"
        )
    }
    assets = list(
        Asset.objects.filter(
            render_request_id__in=list(links), status=AssetStatus.RELEASED
        ).select_related("render_request")
    )
    earned = _earnings([asset.reference for asset in assets]) if earnings else {}
    permissions: dict[int, tuple] = {}
    rows = []
    for asset in sorted(assets, key=lambda a: (a.released_at, a.pk), reverse=True):
        licence = links[asset.render_request_id].licence
        if licence.pk not in permissions:
            window = withdrawal_window_for(target=licence)
            permissions[licence.pk] = (licence_permission_status(licence=licence), window)
        status, window = permissions[licence.pk]
        rows.append(
            {
                "asset": asset.public_id,
                "brand": licence.brand.name,
                "campaign": licence.campaign,
                "medium": asset.render_request.medium,
                "territory": asset.render_request.territory,
                "released_at": asset.released_at,
                "first_published_at": asset.first_published_at,
                "permission": status.state,
                "permission_ends_at": status.until if status.state != "ended" else None,
                "run_off_until": window.run_off_until if window else None,
                "approved_exact_image": asset.decided_by_id is not None,
                "currency": licence.currency,
                "earned_gross_minor": earned[asset.reference]["gross"] if earnings else None,
                "earned_net_minor": earned[asset.reference]["net"] if earnings else None,
            }
        )
    return rows

"""Cutting a fee into its parts, in integer minor units.

The rounding rule, one for every part: a part worth ``bps`` basis points of a base is
``floor(base * bps / 10000)``, and the remainder stays with the party the part is cut
from. So the commission is rounded down and the talent keeps the odd minor unit (nothing
but the commission is ever deducted from the talent, and never more than its rate); the
mother agency's share of the commission is rounded down and the agency keeps the rest;
the client fee and the platform fee, charged to the brand on top, are rounded down so the
brand never pays more than the rate. The parts always sum to the whole exactly, because
each remainder is a subtraction, never a second rounding.
"""

from django.conf import settings

from rightsdesk.core.errors import CommissionAboveCap, ValidationFailed
from rightsdesk.ledger.types import FeeSplit, is_minor

BPS = 10_000


def bps_part(*, base_minor: int, bps: int) -> int:
    """``floor(base * bps / 10000)`` for non-negative integers; exact, no floats."""
    return base_minor * bps // BPS


def _check_bps(errors: dict[str, list[str]], name: str, value: object) -> None:
    if not is_minor(value) or not 0 <= value <= BPS:
        errors[name] = ["An integer number of basis points between 0 and 10000."]


def fee_split(
    *,
    fee_minor: int,
    commission_bps: int = 0,
    mother_agency_share_bps: int = 0,
    client_agency_fee_bps: int = 0,
    platform_fee_bps: int | None = None,
) -> FeeSplit:
    """The parts of ``fee_minor`` (see the module's rounding rule).

    ``platform_fee_bps`` defaults to RIGHTSDESK_PLATFORM_FEE_BPS. The commission may not
    exceed RIGHTSDESK_MAX_COMMISSION_BPS (20% under the NY Fashion Workers Act).
    """
    if platform_fee_bps is None:
        platform_fee_bps = settings.RIGHTSDESK_PLATFORM_FEE_BPS
    errors: dict[str, list[str]] = {}
    if not is_minor(fee_minor) or fee_minor <= 0:
        errors["fee_minor"] = ["A positive integer amount in minor units."]
    for name, value in (
        ("commission_bps", commission_bps),
        ("mother_agency_share_bps", mother_agency_share_bps),
        ("client_agency_fee_bps", client_agency_fee_bps),
        ("platform_fee_bps", platform_fee_bps),
    ):
        _check_bps(errors, name, value)
    if errors:
        raise ValidationFailed(fields=errors)
    if commission_bps > settings.RIGHTSDESK_MAX_COMMISSION_BPS:
        raise CommissionAboveCap(
            commission_bps=commission_bps, cap_bps=settings.RIGHTSDESK_MAX_COMMISSION_BPS
        )
    commission = bps_part(base_minor=fee_minor, bps=commission_bps)
    mother = bps_part(base_minor=commission, bps=mother_agency_share_bps)
    return FeeSplit(
        fee_minor=fee_minor,
        commission_minor=commission,
        agency_commission_minor=commission - mother,
        mother_commission_minor=mother,
        talent_net_minor=fee_minor - commission,
        client_fee_minor=bps_part(base_minor=fee_minor, bps=client_agency_fee_bps),
        platform_fee_minor=bps_part(base_minor=fee_minor, bps=platform_fee_bps),
    )

"""Splits: one rounding rule (floor each part, the remainder stays with the party it is
cut from), so the parts always sum to the whole and nothing is taken from the talent
beyond the commission's rate."""

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from rightsdesk.core.errors import CommissionAboveCap, ValidationFailed
from rightsdesk.ledger.splits import fee_split

bps = st.integers(min_value=0, max_value=10_000)


@settings(max_examples=300, deadline=None)
@given(
    fee=st.integers(min_value=1, max_value=10**15),
    commission=st.integers(min_value=0, max_value=2000),
    mother=bps,
    client=bps,
    platform=bps,
)
def test_parts_always_sum_to_the_whole(fee, commission, mother, client, platform):
    split = fee_split(
        fee_minor=fee,
        commission_bps=commission,
        mother_agency_share_bps=mother,
        client_agency_fee_bps=client,
        platform_fee_bps=platform,
    )

    assert (
        split.talent_net_minor + split.agency_commission_minor + split.mother_commission_minor
        == fee
    )
    assert split.agency_commission_minor + split.mother_commission_minor == split.commission_minor
    assert split.brand_total_minor == fee + split.client_fee_minor + split.platform_fee_minor
    # Floors: never more than the exact rate is taken from the talent or charged the brand.
    assert (
        split.commission_minor * 10_000 <= fee * commission < (split.commission_minor + 1) * 10_000
    )
    assert split.client_fee_minor * 10_000 <= fee * client
    assert split.platform_fee_minor * 10_000 <= fee * platform
    assert all(
        part >= 0
        for part in (
            split.talent_net_minor,
            split.agency_commission_minor,
            split.mother_commission_minor,
            split.client_fee_minor,
            split.platform_fee_minor,
        )
    )


def test_the_odd_minor_unit_stays_with_the_talent_and_the_agency():
    # 20% of 1,999 is 399.8: the commission is 399 and the talent keeps 1,600; a third of
    # that commission (3,333 bps) is 132.99: the mother agency gets 132, the agency 267.
    split = fee_split(
        fee_minor=1_999,
        commission_bps=2000,
        mother_agency_share_bps=3333,
        client_agency_fee_bps=1000,
        platform_fee_bps=250,
    )

    assert (split.commission_minor, split.talent_net_minor) == (399, 1_600)
    assert (split.mother_commission_minor, split.agency_commission_minor) == (132, 267)
    assert (split.client_fee_minor, split.platform_fee_minor) == (199, 49)
    assert split.brand_total_minor == 1_999 + 199 + 49


def test_platform_fee_defaults_to_the_setting(settings):
    settings.RIGHTSDESK_PLATFORM_FEE_BPS = 300

    assert fee_split(fee_minor=10_000).platform_fee_minor == 300


def test_commission_above_the_cap_is_refused(settings):
    settings.RIGHTSDESK_MAX_COMMISSION_BPS = 2000

    with pytest.raises(CommissionAboveCap):
        fee_split(fee_minor=10_000, commission_bps=2001)


@pytest.mark.parametrize(
    "kwargs, field",
    [
        ({"fee_minor": 10.0}, "fee_minor"),
        ({"fee_minor": 0}, "fee_minor"),
        ({"fee_minor": True}, "fee_minor"),
        ({"fee_minor": 100, "commission_bps": -1}, "commission_bps"),
        ({"fee_minor": 100, "client_agency_fee_bps": 10_001}, "client_agency_fee_bps"),
        ({"fee_minor": 100, "mother_agency_share_bps": 1.5}, "mother_agency_share_bps"),
    ],
)
def test_floats_and_out_of_range_rates_are_refused(kwargs, field):
    with pytest.raises(ValidationFailed) as refused:
        fee_split(**kwargs)

    assert field in refused.value.extra["fields"]

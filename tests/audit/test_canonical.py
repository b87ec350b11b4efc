import datetime
import uuid
from decimal import Decimal

import pytest

from rightsdesk.audit.canonical import canonical_json


def test_canonical_json_sorts_keys_drops_whitespace_and_keeps_unicode():
    assert canonical_json({"b": [1, 2], "a": {"d": "é", "c": None}}) == (
        '{"a":{"c":null,"d":"é"},"b":[1,2]}'
    )


def test_canonical_json_serialises_datetimes_uuids_and_decimals_deterministically():
    paris = datetime.timezone(datetime.timedelta(hours=2))
    value = {
        "at": datetime.datetime(2026, 5, 1, 12, 0, 0, 500, tzinfo=paris),
        "on": datetime.date(2026, 5, 1),
        "id": uuid.UUID("12345678-1234-5678-1234-567812345678"),
        "fee": Decimal("12.50"),
    }

    text = canonical_json(value)

    assert text == (
        '{"at":"2026-05-01T10:00:00.000500+00:00","fee":"12.50",'
        '"id":"12345678-1234-5678-1234-567812345678","on":"2026-05-01"}'
    )
    assert canonical_json(dict(reversed(list(value.items())))) == text


@pytest.mark.parametrize("value", [{"x": object()}, {"x": float("nan")}])
def test_canonical_json_refuses_values_without_one_canonical_form(value):
    with pytest.raises((TypeError, ValueError)):
        canonical_json(value)

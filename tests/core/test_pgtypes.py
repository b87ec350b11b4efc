"""Timestamps read through the compiled loader are the datetimes Django's loader gives."""

import datetime

import pytest
from django.db import connection
from django.db.backends.postgresql.psycopg_any import register_tzloader
from psycopg.pq import Format

from rightsdesk.core.pgtypes import TIMESTAMPTZ_OID, timestamptz_loader

VALUES = [
    "2026-11-29 18:43:43.956123+00",
    "2026-11-29 18:43:43+00",
    "2026-11-29 20:43:43.5+02",
    "1999-12-31 23:59:59.999999-05:30",
    "0001-01-01 00:00:00+00",
]


def _read(values: list[str]) -> list[datetime.datetime]:
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT v::timestamptz FROM unnest(%s::text[]) WITH ORDINALITY AS t(v, n) ORDER BY n",
            [values],
        )
        return [row[0] for row in cursor.fetchall()]


@pytest.mark.postgres
@pytest.mark.django_db
def test_connections_read_timestamps_through_the_fast_loader():
    connection.ensure_connection()
    loader = connection.connection.adapters.get_loader(TIMESTAMPTZ_OID, Format.TEXT)
    assert loader.__name__ == "UtcTimestamptzLoader"
    assert loader.timezone == connection.timezone == datetime.UTC
    fast = _read(VALUES)
    # The same values through Django's own loader, on this connection's cursor.
    with connection.cursor() as cursor:
        register_tzloader(connection.timezone, cursor.cursor)
        cursor.execute(
            "SELECT v::timestamptz FROM unnest(%s::text[]) WITH ORDINALITY AS t(v, n) ORDER BY n",
            [VALUES],
        )
        django = [row[0] for row in cursor.fetchall()]
    assert fast == django
    assert [value.tzinfo for value in fast] == [datetime.UTC] * len(VALUES)
    assert [value.utcoffset() for value in fast] == [datetime.timedelta(0)] * len(VALUES)
    assert fast[0] == datetime.datetime(2026, 11, 29, 18, 43, 43, 956123, tzinfo=datetime.UTC)
    assert fast[2] == datetime.datetime(2026, 11, 29, 18, 43, 43, 500000, tzinfo=datetime.UTC)


@pytest.mark.postgres
@pytest.mark.django_db
def test_a_timestamp_out_of_pythons_range_is_refused_as_before():
    from django.db.utils import DataError

    with pytest.raises(DataError):
        _read(["infinity"])


def test_the_loader_pins_the_zone_it_is_made_for():
    zone = datetime.timezone(datetime.timedelta(hours=3))
    loader = timestamptz_loader(zone)(TIMESTAMPTZ_OID, None)
    assert loader.timezone is zone

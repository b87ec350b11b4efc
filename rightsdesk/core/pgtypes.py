"""How PostgreSQL values are read, where Django's own way is slow.

Django reads every ``timestamptz`` through a loader that subclasses psycopg's pure-Python
one, so that it can pin the tzinfo; the compiled loader of ``psycopg[binary]`` cannot be
subclassed, and so it is never used. A render submission reads a few dozen such values
(licence, agreement, likeness, gate facts). ``UtcTimestamptzLoader`` wraps whichever
loader psycopg registered (the compiled one where installed) and pins the tzinfo as
Django's does: 1.0 against 2.4 microseconds a value here, the same datetimes
(tests/core/test_pgtypes.py).
"""

from django.conf import settings
from django.db.backends.signals import connection_created
from psycopg import adapters as psycopg_adapters
from psycopg.adapt import Loader
from psycopg.pq import Format

TIMESTAMPTZ_OID = 1184


def timestamptz_loader(tz) -> type[Loader]:
    """A text ``timestamptz`` loader giving datetimes in ``tz`` (as Django's, whose check
    reads its ``timezone``), through psycopg's fastest loader."""
    base = psycopg_adapters.get_loader(TIMESTAMPTZ_OID, Format.TEXT)

    class UtcTimestamptzLoader(Loader):
        timezone = tz

        def __init__(self, oid, context=None):
            super().__init__(oid, context)
            self._load = base(oid, context).load

        def load(self, data):
            return self._load(data).replace(tzinfo=self.timezone)

    return UtcTimestamptzLoader


def reads_timestamps_in(adapters, tz) -> bool:
    """Whether ``adapters`` (a connection's) read ``timestamptz`` as datetimes in ``tz``: its
    loader is Django's for that zone, or ours."""
    return getattr(adapters.get_loader(TIMESTAMPTZ_OID, Format.TEXT), "timezone", None) == tz


def use_fast_loaders(sender, connection, **kwargs) -> None:
    """``connection_created`` receiver: a new PostgreSQL connection reads timestamps through
    the compiled loader. Only where Django pins UTC (``USE_TZ``)."""
    if connection.vendor != "postgresql" or not settings.USE_TZ:
        return
    adapters = connection.connection.adapters
    if not reads_timestamps_in(adapters, connection.timezone):
        return  # not Django's loader for this connection's zone: leave it be
    adapters.register_loader("timestamptz", timestamptz_loader(connection.timezone))


def connect() -> None:
    connection_created.connect(use_fast_loaders, dispatch_uid="rightsdesk.core.pgtypes")

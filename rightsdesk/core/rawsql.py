"""Hand-written statements for the hottest paths, read back as model instances.

The ORM compiles a queryset's SQL anew each time it runs. For a one-row read that costs
several times the statement itself (measured on the bench machine, PostgreSQL, warm:
``filter().first()`` 1.1 ms of CPU, the same with three ``select_related`` 2.8 ms, the
same statement through a cursor and ``Model.from_db`` 0.2 ms). A render submission made
a dozen such reads and writes, so the few statements it and token authentication run are
written once and executed through Django's own cursor: the caller's transaction, query
logging and ``CaptureQueriesContext`` see them as any other, and psycopg prepares them.

Rows become instances the way the ORM makes them: each column through its field's
database converters (SQLite's text dates and hex UUIDs, JSON), then ``Model.from_db``.
Parameters go through the field's ``get_db_prep_value`` (``param``), and ``insert``
writes every concrete field as ``save`` would (``pre_save`` fills ``auto_now`` dates).
"""

from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from functools import cache
from typing import Any

from django.db import DEFAULT_DB_ALIAS, connection, connections
from django.db.models import Model

from rightsdesk.core import pgtypes


@dataclass(frozen=True)
class Columns:
    """A model's concrete columns as selected under ``alias``, and how to read them."""

    model: type[Model]
    sql: str  # '"alias"."column", ...'
    attnames: tuple[str, ...]
    converters: tuple[tuple[int, tuple[Callable, ...], Any], ...]  # (index, converters, col)

    def __len__(self) -> int:
        return len(self.attnames)


@cache
def _columns(model: type[Model], alias: str, vendor: str, names: tuple[str, ...]) -> Columns:
    quote = connection.ops.quote_name
    meta = model._meta
    fields = [meta.get_field(name) for name in names] if names else meta.concrete_fields
    converters = []
    for index, field in enumerate(fields):
        col = field.get_col(alias)
        # The backend's converters, then the field's: the order the ORM's compiler uses.
        found = (*connection.ops.get_db_converters(col), *col.get_db_converters(connection))
        if found:
            converters.append((index, found, col))
    return Columns(
        model=model,
        sql=", ".join(f"{quote(alias)}.{quote(field.column)}" for field in fields),
        attnames=tuple(field.attname for field in fields),
        converters=tuple(converters),
    )


def columns(model: type[Model], alias: str | None = None, names: Sequence[str] = ()) -> Columns:
    """Every concrete column of ``model`` (or only the fields ``names``) as ``alias`` (its
    table by default) selects it. Only a full set of columns can ``build`` an instance;
    ``values`` reads either."""
    return _columns(model, alias or model._meta.db_table, connection.vendor, tuple(names))


def values(cols: Columns, row: Sequence[Any], start: int = 0) -> list[Any]:
    """``row[start:start + len(cols)]`` as the fields read them (no instance made)."""
    found = list(row[start : start + len(cols.attnames)])
    for index, converters, col in cols.converters:
        value = found[index]
        for convert in converters:
            value = convert(value, col, connection)
        found[index] = value
    return found


def build(cols: Columns, row: Sequence[Any], start: int = 0) -> Model:
    """The instance ``cols`` describes, from ``row[start:start + len(cols)]``."""
    return cols.model.from_db(connection.alias, cols.attnames, values(cols, row, start))


def converted(model: type[Model], name: str, value: Any) -> Any:
    """A value selected on its own (``MIN(...)``, a subquery) as ``model.name`` reads it."""
    return values(columns(model, names=(name,)), (value,))[0]


def in_list(items) -> tuple[str, list]:
    """Placeholders for ``IN (...)`` and their parameters; ``NULL`` (matching nothing) for
    no items, where ``IN ()`` would be a syntax error."""
    items = list(items)
    return (", ".join(["%s"] * len(items)) or "NULL"), items


def array(items: Iterable[Any]) -> str:
    """``items`` as PostgreSQL's text form of a one-dimensional array, for a parameter the
    statement casts (``%s::bigint[]``, ``%s::text[]``): ``None`` is ``NULL``, an integer
    its digits, anything else its ``str`` quoted (uuids, text, aware datetimes).

    psycopg dumps a list element by element in Python: the gate's seven arrays took 118 µs
    to dump, against 31 µs to write them this way and hand psycopg one string, and with
    the audit append's a submission took 8.2-8.4 ms of CPU instead of 8.8-9.2 (measured on
    the bench machine, in process, interleaved)."""
    return "{" + ",".join(map(_array_element, items)) + "}"


def _array_element(value: Any) -> str:
    if value is None:
        return "NULL"
    if type(value) is int:
        return str(value)
    return '"' + str(value).replace("\\", "\\\\").replace('"', '\\"') + '"'


@dataclass(frozen=True)
class Joined:
    """The columns of several models selected side by side (a join), in order."""

    parts: tuple[Columns, ...]
    sql: str  # the select list

    def split(self, row: Sequence[Any]) -> list[Model | None]:
        """One instance per model, None where an outer join found no row (NULL key)."""
        found, start = [], 0
        for cols in self.parts:
            pk = cols.attnames.index(cols.model._meta.pk.attname)
            found.append(None if row[start + pk] is None else build(cols, row, start))
            start += len(cols)
        return found


def joined(*models: tuple[type[Model], str]) -> Joined:
    """``joined((Licence, "l"), (Talent, "t"))``: every column of each model under its
    alias, for ``SELECT {joined.sql} FROM ... l JOIN ... t ...``."""
    parts = tuple(columns(model, alias) for model, alias in models)
    return Joined(parts=parts, sql=", ".join(cols.sql for cols in parts))


def param(model: type[Model], name: str, value: Any) -> Any:
    """``value`` as a statement's parameter for ``model.name`` (a UUID is hex text on
    SQLite, a native uuid on PostgreSQL)."""
    return model._meta.get_field(name).get_db_prep_value(value, connection)


def fetch(sql: str, params: Sequence[Any] | Mapping[str, Any] = ()) -> list[tuple]:
    """The rows of a statement that returns rows (SELECT, or a write with RETURNING);
    ``params`` a sequence for ``%s``, or a mapping for ``%(name)s``."""
    # Not ``cursor.description``: psycopg builds an object per column to answer it, which
    # cost more than the statement for a row of a hundred columns.
    with _cursor() as cursor:
        cursor.execute(sql, params)
        return cursor.fetchall()


def execute(sql: str, params: Sequence[Any] = ()) -> int:
    """Run a statement that returns no rows; its row count."""
    with _cursor() as cursor:
        cursor.execute(sql, params)
        return cursor.rowcount


@contextmanager
def _cursor() -> Iterator[Any]:
    """The cursor a statement runs on: the kept psycopg one (``_open_cursor``) with Django's
    errors, or else Django's own."""
    db = connections[DEFAULT_DB_ALIAS]
    cursor = _open_cursor(db)
    if cursor is None:
        with db.cursor() as cursor:
            yield cursor
    else:
        with db.wrap_database_errors:
            yield cursor


def _open_cursor(db) -> Any:
    """On PostgreSQL, the open connection's own psycopg cursor, kept for the next statement,
    when nothing of what Django's cursor adds is wanted: a statement through it cost 33
    microseconds of CPU here against 57 through Django's (a new cursor, its wrapper and the
    wrapper's checks, on each of a submission's ten statements). None otherwise, and the
    caller goes through Django: to connect, for the per-request health check, when queries
    are logged (``CaptureQueriesContext``, ``DEBUG``) or execute wrappers are installed.
    Errors are still Django's (``wrap_database_errors``), and a transaction broken by an
    earlier error still refuses the statement, as Django's cursor does."""
    raw = db.connection
    if (
        raw is None
        or db.vendor != "postgresql"
        or db.queries_logged
        or db.execute_wrappers
        or (db.health_check_enabled and not db.health_check_done)
    ):
        return None
    # Django's cursors pin its time zone's loader on the cursor when the connection's
    # differs (the zone changed after connecting); this one is only used where it does not.
    if not pgtypes.reads_timestamps_in(raw.adapters, db.timezone):
        return None
    db.validate_thread_sharing()
    db.validate_no_broken_transaction()
    cursor = db.__dict__.get("_rawsql_cursor")
    if cursor is None or cursor.connection is not raw or cursor.closed:
        cursor = db.__dict__["_rawsql_cursor"] = raw.cursor()
    return cursor


@cache
def _insert_sql(model: type[Model], vendor: str, skip_conflicts: bool) -> tuple[str, tuple]:
    quote = connection.ops.quote_name
    meta = model._meta
    fields = tuple(f for f in meta.concrete_fields if not (f.primary_key and f.db_returning))
    placeholders = ", ".join(["%s"] * len(fields))
    sql = (
        f"INSERT INTO {quote(meta.db_table)} ({', '.join(quote(f.column) for f in fields)}) "  # noqa: S608 - names from the model
        f"VALUES ({placeholders})"
        + (" ON CONFLICT DO NOTHING" if skip_conflicts else "")
        + f" RETURNING {quote(meta.pk.column)}"
    )
    return sql, fields


def insert(obj: Model, *, skip_conflicts: bool = False) -> bool:
    """Insert ``obj`` with every concrete field and set its primary key, as
    ``save(force_insert=True)`` does. With ``skip_conflicts``, a row that would break a
    unique constraint is not written and False is returned (``ON CONFLICT DO NOTHING``:
    no savepoint needed around it)."""
    sql, fields = _insert_sql(type(obj), connection.vendor, skip_conflicts)
    values = [f.get_db_prep_save(f.pre_save(obj, True), connection) for f in fields]
    rows = fetch(sql, values)
    if not rows:
        return False
    _written(obj, rows[0][0])
    return True


def _written(obj: Model, key: Any) -> None:
    """``obj`` as ``save`` leaves a new row: its key set, no longer being added."""
    obj.pk = key
    obj._state.adding = False
    obj._state.db = connection.alias


@dataclass(frozen=True)
class Linked:
    """A row for ``insert_linked``: ``obj``, whose foreign keys named in ``refs`` (field
    name -> position in the same call) take the keys of rows inserted before it."""

    obj: Model
    refs: tuple[tuple[str, int], ...] = ()
    skip_conflicts: bool = False


def insert_linked(*rows: Linked) -> list[bool]:
    """Insert rows that point at one another, as ``insert`` each in turn would, and set
    their keys; whether each was written. A row skipped for a conflict leaves the rows
    that point at it unwritten too. On PostgreSQL it is one statement (each insert a
    data-modifying ``WITH``, the next selecting the key it returned): one round trip
    instead of one per row. SQLite has no such ``WITH``: one insert per row there."""
    for position, row in enumerate(rows):
        if any(index >= position for _, index in row.refs):
            raise ValueError("a row can only point at rows before it")
    if connection.vendor != "postgresql":
        return _insert_linked_one_by_one(*rows)
    sql, fields = _linked_sql(tuple((type(row.obj), row.refs, row.skip_conflicts) for row in rows))
    params = [
        field.get_db_prep_save(field.pre_save(row.obj, True), connection)
        for row, own in zip(rows, fields, strict=True)
        for field in own  # every field but the primary key and the linked ones
    ]
    keys = fetch(sql, params)[0]
    written = []
    for row, key in zip(rows, keys, strict=True):
        if key is not None:
            for name, index in row.refs:
                setattr(row.obj, row.obj._meta.get_field(name).attname, keys[index])
            _written(row.obj, key)
        written.append(key is not None)
    return written


def _insert_linked_one_by_one(*rows: Linked) -> list[bool]:
    written: list[bool] = []
    for row in rows:
        if not all(written[index] for _, index in row.refs):
            written.append(False)
            continue
        for name, index in row.refs:
            setattr(row.obj, row.obj._meta.get_field(name).attname, rows[index].obj.pk)
        written.append(insert(row.obj, skip_conflicts=row.skip_conflicts))
    return written


@cache
def _linked_sql(shape: tuple) -> tuple[str, tuple[tuple[Any, ...], ...]]:
    """The statement for rows of ``shape`` ((model, refs, skip_conflicts) each) and, per
    row, the fields its parameters are, in order."""
    quote = connection.ops.quote_name
    parts, fields = [], []
    for position, (model, refs, skip_conflicts) in enumerate(shape):
        meta, linked = model._meta, dict(refs)
        own = [
            f
            for f in meta.concrete_fields
            if not (f.primary_key and f.db_returning) and f.name not in linked
        ]
        columns_sql = ", ".join(quote(f.column) for f in [*own, *map(meta.get_field, linked)])
        # Typed placeholders: a SELECT's untyped parameters would be read as text, which
        # is not assignable to every column. Character columns are cast to text, not to
        # their varchar(n), which would cut an over-long value instead of refusing it.
        selected = [f"%s::{_cast_type(f)}" for f in own]
        selected += [f"i{index}.{quote('id')}" for index in linked.values()]
        sources = ", ".join(f"i{index}" for index in sorted(set(linked.values())))
        body = (
            f"SELECT {', '.join(selected)} FROM {sources}"  # noqa: S608 - names from the model
            if sources
            else f"VALUES ({', '.join(['%s'] * len(own))})"
        )
        parts.append(
            f"i{position} AS (INSERT INTO {quote(meta.db_table)} ({columns_sql}) {body}"  # noqa: S608 - names from the model
            + (" ON CONFLICT DO NOTHING" if skip_conflicts else "")
            + f" RETURNING {quote(meta.pk.column)} AS {quote('id')})"
        )
        fields.append(tuple(own))
    keys = ", ".join(f"(SELECT {quote('id')} FROM i{n})" for n in range(len(shape)))  # noqa: S608
    return f"WITH {', '.join(parts)} SELECT {keys}", tuple(fields)


def _cast_type(field) -> str:
    db_type = field.db_type(connection)
    return "text" if db_type.startswith("varchar") else db_type


def update(model: type[Model], changes: dict[str, Any], where: dict[str, Any]) -> int:
    """``UPDATE`` the rows of ``model`` matching every ``where`` (a None is ``IS NULL``)
    with ``changes``, as ``filter(**where).update(**changes)`` writes plain values (not
    expressions); the number of rows changed."""
    meta, quote = model._meta, connection.ops.quote_name
    sets, params = [], []
    for name, value in changes.items():
        field = meta.get_field(name)
        sets.append(f"{quote(field.column)} = %s")
        params.append(field.get_db_prep_save(value, connection))
    conditions = []
    for name, value in where.items():
        field = meta.pk if name == "pk" else meta.get_field(name)
        if value is None:
            conditions.append(f"{quote(field.column)} IS NULL")
        else:
            conditions.append(f"{quote(field.column)} = %s")
            params.append(field.get_db_prep_value(value, connection))
    sql = (
        f"UPDATE {quote(meta.db_table)} SET {', '.join(sets)} "  # noqa: S608 - names from the model
        f"WHERE {' AND '.join(conditions)}"
    )
    return execute(sql, params)

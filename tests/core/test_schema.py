"""No index of ours is a leading part of another one on the same table.

Such an index adds nothing a lookup could not get from the longer one, costs every insert,
and is a trap: with prepared statements (``prepare_threshold``) PostgreSQL caches a generic
plan, which took the single-column index of a foreign key and filtered the rest. A
submission's idempotency probe filtered every earlier request of its requester that way,
and its lapsed-reservation probe every reservation of the budget: O(n) per submission.

Nor has any table of ours a pattern-operator copy of an index (``varchar_pattern_ops``,
Django's ``_like`` index beside a unique or indexed character column): it serves only
``LIKE 'prefix%'``, which none of our queries makes (core.migration_ops).
"""

import pytest
from django.apps import apps
from django.db import connection

# Tables of Django's own apps (auth's many-to-many tables come with the user model).
DJANGO_TABLES = ("auth_", "django_", "authtoken_", "accounts_user_groups", "accounts_user_user_")

REDUNDANT = """
WITH idx AS (
    SELECT i.indrelid::regclass::text AS tbl, i.indexrelid::regclass::text AS name,
           i.indisunique AS uniq, i.indkey::text AS cols,
           i.indpred IS NULL AND i.indexprs IS NULL AS plain,
           (SELECT o.opcname LIKE '%%pattern%%' FROM pg_opclass o WHERE o.oid = i.indclass[0])
               AS pattern
    FROM pg_index i JOIN pg_class c ON c.oid = i.indrelid
    JOIN pg_namespace n ON n.oid = c.relnamespace
    WHERE n.nspname = current_schema())
SELECT a.tbl, a.name, b.name FROM idx a JOIN idx b ON a.tbl = b.tbl AND a.name <> b.name
WHERE NOT a.uniq AND a.plain AND b.plain AND NOT a.pattern AND NOT b.pattern
  AND (b.cols = a.cols OR b.cols LIKE a.cols || ' %%')
ORDER BY 1, 2
"""


def _tables_of_ours() -> set[str]:
    return {
        table
        for table in (model._meta.db_table for model in apps.get_models())
        if not table.startswith(DJANGO_TABLES)
    }


@pytest.mark.postgres
@pytest.mark.django_db
def test_no_index_is_a_leading_part_of_another():
    ours = _tables_of_ours()
    with connection.cursor() as cursor:
        cursor.execute(REDUNDANT)
        found = [
            f"{table}: {index} is covered by {wider}"
            for table, index, wider in cursor.fetchall()
            if table in ours
        ]
    assert found == []


@pytest.mark.postgres
@pytest.mark.django_db
def test_the_check_sees_a_covered_index():
    # The query finds what it is meant to: an index covered by a wider one made here.
    with connection.cursor() as cursor:
        cursor.execute("CREATE INDEX covered_probe ON renders_renderrequest (organization_id)")
        cursor.execute(
            "CREATE INDEX wider_probe ON renders_renderrequest (organization_id, status)"
        )
        cursor.execute(REDUNDANT)
        rows = cursor.fetchall()
    assert ("renders_renderrequest", "covered_probe", "wider_probe") in rows


PATTERN = """
SELECT i.indrelid::regclass::text, i.indexrelid::regclass::text
FROM pg_index i JOIN pg_class c ON c.oid = i.indrelid
JOIN pg_namespace n ON n.oid = c.relnamespace
WHERE n.nspname = current_schema()
  AND EXISTS (SELECT 1 FROM pg_opclass o
              WHERE o.oid = ANY(i.indclass::oid[]) AND o.opcname LIKE '%%pattern%%')
ORDER BY 1, 2
"""


def _pattern_indexes_of_ours() -> list[str]:
    ours = _tables_of_ours()
    with connection.cursor() as cursor:
        cursor.execute(PATTERN)
        return [f"{table}: {index}" for table, index in cursor.fetchall() if table in ours]


@pytest.mark.postgres
@pytest.mark.django_db
def test_no_index_of_ours_is_a_pattern_operator_copy():
    assert _pattern_indexes_of_ours() == []


@pytest.mark.postgres
@pytest.mark.django_db
def test_the_check_sees_a_pattern_operator_index():
    with connection.cursor() as cursor:
        cursor.execute(
            "CREATE INDEX pattern_probe ON ledger_reservation (reference varchar_pattern_ops)"
        )
    assert _pattern_indexes_of_ours() == ["ledger_reservation: pattern_probe"]

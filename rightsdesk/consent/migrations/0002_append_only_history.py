"""On PostgreSQL, refuse UPDATE and DELETE of consent notices, creation consents,
withdrawals and their applications: each history must read back as it was written.

Row-level BEFORE triggers, so statements that touch no rows pass. No TRUNCATE trigger:
pytest's transactional tests flush with TRUNCATE (PITFALLS.md). check_violation makes
Django raise IntegrityError. SQLite has no trigger; the services never update these rows
and the admin is read-only.
"""

from django.db import migrations

TABLES = [
    "consent_consentnotice",
    "consent_creationconsent",
    "consent_withdrawal",
    "consent_withdrawalapplied",
]

CREATE = [
    """
CREATE OR REPLACE FUNCTION consent_history_refuse_change() RETURNS trigger AS $$
BEGIN
    RAISE EXCEPTION 'consent history is append-only: % on % is refused', TG_OP, TG_TABLE_NAME
        USING ERRCODE = 'check_violation';
END;
$$ LANGUAGE plpgsql
""",
    *[
        f"""
CREATE TRIGGER {table}_append_only
    BEFORE UPDATE OR DELETE ON {table}
    FOR EACH ROW EXECUTE FUNCTION consent_history_refuse_change()
"""
        for table in TABLES
    ],
]

DROP = [
    *[f"DROP TRIGGER IF EXISTS {table}_append_only ON {table}" for table in TABLES],
    "DROP FUNCTION IF EXISTS consent_history_refuse_change()",
]


def _run_on_postgresql(statements: list[str]):
    def run(apps, schema_editor):
        if schema_editor.connection.vendor != "postgresql":
            return
        for sql in statements:
            # params=None: the '%' in RAISE is not a query placeholder.
            schema_editor.execute(sql, params=None)

    return run


class Migration(migrations.Migration):
    dependencies = [("consent", "0001_initial")]

    operations = [
        migrations.RunPython(_run_on_postgresql(CREATE), _run_on_postgresql(DROP)),
    ]

"""On PostgreSQL, guard the rows that prove what was captured and destroyed.

- Capture images and destruction certificates are append-only: UPDATE and DELETE refused.
- A talent data key may change in exactly two ways: a live key is rewrapped (new wrapped
  key and KEK id, still live), or it is destroyed (wrapped key emptied, destroyed_at set).
  A destroyed key never changes again, and no key is ever deleted.

Row-level BEFORE triggers, no TRUNCATE trigger (pytest's transactional tests flush with
TRUNCATE, PITFALLS.md); check_violation makes Django raise IntegrityError. SQLite has none;
the services only make those two changes and the admin is read-only.
"""

from django.db import migrations

APPEND_ONLY = ["talent_captureimage", "talent_destructioncertificate"]

CREATE = [
    """
CREATE OR REPLACE FUNCTION talent_capture_refuse_change() RETURNS trigger AS $$
BEGIN
    RAISE EXCEPTION 'capture history is append-only: % on % is refused', TG_OP, TG_TABLE_NAME
        USING ERRCODE = 'check_violation';
END;
$$ LANGUAGE plpgsql
""",
    *[
        f"""
CREATE TRIGGER {table}_append_only
    BEFORE UPDATE OR DELETE ON {table}
    FOR EACH ROW EXECUTE FUNCTION talent_capture_refuse_change()
"""
        for table in APPEND_ONLY
    ],
    """
CREATE OR REPLACE FUNCTION talent_data_key_guard() RETURNS trigger AS $$
BEGIN
    IF TG_OP = 'DELETE' THEN
        RAISE EXCEPTION 'talent data keys are never deleted; destroy them instead'
            USING ERRCODE = 'check_violation';
    END IF;
    IF OLD.destroyed_at IS NOT NULL
       OR NEW.id <> OLD.id OR NEW.public_id <> OLD.public_id
       OR NEW.talent_id <> OLD.talent_id OR NEW.created_at <> OLD.created_at THEN
        RAISE EXCEPTION 'talent data key %: only a rewrap or a destruction is allowed', OLD.id
            USING ERRCODE = 'check_violation';
    END IF;
    IF NEW.destroyed_at IS NOT NULL AND (octet_length(NEW.wrapped_key) <> 0
                                         OR NEW.kek_id <> OLD.kek_id) THEN
        RAISE EXCEPTION 'talent data key %: a destruction only empties the key', OLD.id
            USING ERRCODE = 'check_violation';
    END IF;
    RETURN NEW;
END;
$$ LANGUAGE plpgsql
""",
    """
CREATE TRIGGER talent_talentdatakey_guard
    BEFORE UPDATE OR DELETE ON talent_talentdatakey
    FOR EACH ROW EXECUTE FUNCTION talent_data_key_guard()
""",
]

DROP = [
    "DROP TRIGGER IF EXISTS talent_talentdatakey_guard ON talent_talentdatakey",
    "DROP FUNCTION IF EXISTS talent_data_key_guard()",
    *[f"DROP TRIGGER IF EXISTS {table}_append_only ON {table}" for table in APPEND_ONLY],
    "DROP FUNCTION IF EXISTS talent_capture_refuse_change()",
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
    dependencies = [("talent", "0003_capture_and_data_keys")]

    operations = [
        migrations.RunPython(_run_on_postgresql(CREATE), _run_on_postgresql(DROP)),
    ]

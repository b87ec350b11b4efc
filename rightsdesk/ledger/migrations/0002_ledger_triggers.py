"""On PostgreSQL, the ledger's invariants held by the database itself.

1. Accounts, entries, lines, closed months and their statement hashes are append-only:
   row-level BEFORE triggers refuse UPDATE and DELETE (statements that touch no rows
   pass); account balances change but are never deleted. No TRUNCATE trigger: pytest's transactional tests flush
   with TRUNCATE (PITFALLS.md).
2. At commit, a deferred constraint trigger checks every entry written: its lines
   balance in every currency, each is in its account's currency, and there are exactly as
   many as the entry was written with. Once per INSERT into lines, a statement trigger
   refuses any entry getting more lines than that, so no line (not even a balanced pair)
   can be added to an entry later. The posting service runs the commit-time checks (and
   the foreign keys) right after its inserts, before it locks the accounts
   (posting._check_now), so they never run while other batches wait for those locks.

check_violation makes Django raise IntegrityError. SQLite has no such triggers; there the
services validate before writing and ``ledger_reconcile`` checks the same rules.
"""

from django.db import migrations

APPEND_ONLY = [
    "ledger_account",
    "ledger_entry",
    "ledger_line",
    "ledger_period",
    "ledger_periodstatement",
]

CREATE = [
    """
CREATE OR REPLACE FUNCTION ledger_refuse_change() RETURNS trigger AS $$
BEGIN
    RAISE EXCEPTION 'the ledger is append-only: % on % is refused', TG_OP, TG_TABLE_NAME
        USING ERRCODE = 'check_violation';
END;
$$ LANGUAGE plpgsql
""",
    # Balances change (the running totals) but are never removed.
    """
CREATE TRIGGER ledger_accountbalance_never_deleted
    BEFORE DELETE ON ledger_accountbalance
    FOR EACH ROW EXECUTE FUNCTION ledger_refuse_change()
""",
    *[
        f"""
CREATE TRIGGER {table}_append_only
    BEFORE UPDATE OR DELETE ON {table}
    FOR EACH ROW EXECUTE FUNCTION ledger_refuse_change()
"""
        for table in APPEND_ONLY
    ],
    """
CREATE OR REPLACE FUNCTION ledger_entry_check_lines() RETURNS trigger AS $$
DECLARE
    written integer;
    currencies integer;
    total numeric;
    foreign_currency boolean;
BEGIN
    SELECT count(*), count(DISTINCT l.currency), sum(l.amount_minor),
           coalesce(bool_or(a.currency <> l.currency), false)
      INTO written, currencies, total, foreign_currency
      FROM ledger_line l JOIN ledger_account a ON a.id = l.account_id
     WHERE l.entry_id = NEW.id;
    IF (currencies = 1 AND total <> 0) OR (currencies > 1 AND EXISTS (
            SELECT 1 FROM ledger_line WHERE entry_id = NEW.id
            GROUP BY currency HAVING sum(amount_minor) <> 0)) THEN
        RAISE EXCEPTION 'ledger entry % does not balance', NEW.id
            USING ERRCODE = 'check_violation';
    END IF;
    IF foreign_currency THEN
        RAISE EXCEPTION 'ledger entry % has a line in another currency than its account',
            NEW.id USING ERRCODE = 'check_violation';
    END IF;
    IF written <> NEW.line_count THEN
        RAISE EXCEPTION 'ledger entry % has % lines, written with %', NEW.id, written,
            NEW.line_count USING ERRCODE = 'check_violation';
    END IF;
    RETURN NULL;
END;
$$ LANGUAGE plpgsql
""",
    """
CREATE CONSTRAINT TRIGGER ledger_entry_balanced
    AFTER INSERT ON ledger_entry
    DEFERRABLE INITIALLY DEFERRED
    FOR EACH ROW EXECUTE FUNCTION ledger_entry_check_lines()
""",
    # Set-based, once per INSERT statement: no entry may ever get more lines than it was
    # written with, so a line added to a committed (complete) entry is refused at once.
    """
CREATE OR REPLACE FUNCTION ledger_line_check_count() RETURNS trigger AS $$
DECLARE
    overfull bigint;
BEGIN
    -- Correlated lookups by key, never a join the planner could turn into a scan of the
    -- whole (growing) ledger: the transition table has no statistics.
    SELECT n.entry_id INTO overfull
      FROM (SELECT DISTINCT entry_id FROM new_lines) n
     WHERE (SELECT count(*) FROM ledger_line l WHERE l.entry_id = n.entry_id)
         > (SELECT e.line_count FROM ledger_entry e WHERE e.id = n.entry_id)
     LIMIT 1;
    IF overfull IS NOT NULL THEN
        RAISE EXCEPTION 'ledger entry % would have more lines than it was written with',
            overfull USING ERRCODE = 'check_violation';
    END IF;
    RETURN NULL;
END;
$$ LANGUAGE plpgsql
""",
    """
CREATE TRIGGER ledger_line_within_count
    AFTER INSERT ON ledger_line
    REFERENCING NEW TABLE AS new_lines
    FOR EACH STATEMENT EXECUTE FUNCTION ledger_line_check_count()
""",
]

DROP = [
    "DROP TRIGGER IF EXISTS ledger_line_within_count ON ledger_line",
    "DROP FUNCTION IF EXISTS ledger_line_check_count()",
    "DROP TRIGGER IF EXISTS ledger_entry_balanced ON ledger_entry",
    "DROP FUNCTION IF EXISTS ledger_entry_check_lines()",
    *[f"DROP TRIGGER IF EXISTS {table}_append_only ON {table}" for table in APPEND_ONLY],
    "DROP TRIGGER IF EXISTS ledger_accountbalance_never_deleted ON ledger_accountbalance",
    "DROP FUNCTION IF EXISTS ledger_refuse_change()",
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
    dependencies = [("ledger", "0001_initial")]

    operations = [
        migrations.RunPython(_run_on_postgresql(CREATE), _run_on_postgresql(DROP)),
    ]

"""On PostgreSQL, append events to the chain in one statement: ``audit_append()``.

Appending took three statements (lock the head, insert, update the head) with the hashes
computed in Python between them, and every other writer of the chain waited for all of it,
client round trips and the caller's thread getting the CPU back included. The function
locks the head, numbers the events, stamps them with the server's clock after the lock
(so times never run backwards along the chain), computes each hash, inserts them and
moves the head, inside the one statement.

The hash is the one ``rightsdesk.audit.canonical.event_hash`` computes: SHA-256 of the
canonical JSON array ``[sequence, created_at, actor_id, actor_label, action, target_type,
target_id, payload_json, prev_hash]``. The caller sends each event's middle part
(``canonical_json([actor_id, ..., payload_json])`` without its brackets), so the server
only writes the sequence, the time (``audit_instant_text``: Python's ``isoformat()`` of the
UTC instant, with no fraction when the microseconds are zero) and the previous hash around
it; verification stays the Python code it was.
"""

from django.db import migrations

CREATE = [
    """
CREATE OR REPLACE FUNCTION audit_instant_text(instant timestamptz) RETURNS text
LANGUAGE sql STABLE AS $$
    SELECT to_char(instant AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS')
        || CASE WHEN extract(microseconds FROM instant)::bigint % 1000000 = 0 THEN ''
                ELSE to_char(instant AT TIME ZONE 'UTC', '.US') END
        || '+00:00'
$$
""",
    """
CREATE OR REPLACE FUNCTION audit_append(
    actor_ids bigint[],
    actor_labels text[],
    actions text[],
    target_types text[],
    target_ids text[],
    payloads text[],
    middles text[]
) RETURNS TABLE (id bigint, sequence bigint, created_at timestamptz, prev_hash text, hash text)
LANGUAGE plpgsql AS $$
#variable_conflict use_column
DECLARE
    v_seq bigint;
    v_hash text;
    v_stamped timestamptz;
    v_stamped_text text;
    v_sequences bigint[] := '{}';
    v_prevs text[] := '{}';
    v_hashes text[] := '{}';
    v_ids bigint[];
BEGIN
    SELECT h.last_sequence, h.last_hash INTO v_seq, v_hash
        FROM audit_auditchainhead h WHERE h.id = 1 FOR UPDATE;
    IF NOT FOUND THEN
        -- Made on demand, not by a migration: transactional tests TRUNCATE it.
        INSERT INTO audit_auditchainhead (id, last_sequence, last_hash)
            VALUES (1, 0, repeat('0', 64)) ON CONFLICT DO NOTHING;
        SELECT h.last_sequence, h.last_hash INTO v_seq, v_hash
            FROM audit_auditchainhead h WHERE h.id = 1 FOR UPDATE;
    END IF;
    v_stamped := clock_timestamp();
    v_stamped_text := audit_instant_text(v_stamped);
    FOR i IN 1 .. coalesce(cardinality(middles), 0) LOOP
        v_seq := v_seq + 1;
        v_prevs := v_prevs || v_hash;
        v_hash := encode(sha256(convert_to(
            '[' || v_seq || ',"' || v_stamped_text || '",' || middles[i] || ',"'
                || v_hash || '"]',
            'UTF8')), 'hex');
        v_sequences := v_sequences || v_seq;
        v_hashes := v_hashes || v_hash;
    END LOOP;
    WITH added AS (
        INSERT INTO audit_auditevent (sequence, created_at, actor_id, actor_label, action,
                                      target_type, target_id, payload_json, prev_hash, hash)
        SELECT e.sequence, v_stamped, e.actor_id, e.actor_label, e.action, e.target_type,
               e.target_id, e.payload, e.prev_hash, e.hash
        FROM unnest(v_sequences, actor_ids, actor_labels, actions, target_types, target_ids,
                    payloads, v_prevs, v_hashes)
            AS e(sequence, actor_id, actor_label, action, target_type, target_id, payload,
                 prev_hash, hash)
        RETURNING audit_auditevent.id, audit_auditevent.sequence
    )
    SELECT array_agg(added.id ORDER BY added.sequence) INTO v_ids FROM added;
    UPDATE audit_auditchainhead SET last_sequence = v_seq, last_hash = v_hash
        WHERE audit_auditchainhead.id = 1;
    RETURN QUERY
        SELECT r.id, r.sequence, v_stamped, r.prev_hash, r.hash
        FROM unnest(v_ids, v_sequences, v_prevs, v_hashes) AS r(id, sequence, prev_hash, hash);
END;
$$
""",
]

DROP = [
    "DROP FUNCTION IF EXISTS audit_append(bigint[], text[], text[], text[], text[], text[], text[])",
    "DROP FUNCTION IF EXISTS audit_instant_text(timestamptz)",
]


def _run_on_postgresql(statements: list[str]):
    def run(apps, schema_editor):
        if schema_editor.connection.vendor != "postgresql":
            return
        for sql in statements:
            schema_editor.execute(sql, params=None)  # '%' is the modulo, not a placeholder

    return run


class Migration(migrations.Migration):
    dependencies = [("audit", "0002_append_only_trigger")]

    operations = [
        migrations.RunPython(_run_on_postgresql(CREATE), _run_on_postgresql(DROP)),
    ]

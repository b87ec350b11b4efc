"""The gate's taxonomy stamp (rightsdesk/consent/gate_sql.py says why).

``consent_gatetaxonomystamp`` holds one row whose stamp takes a new random value whenever
a category or an obligation rule is inserted, updated or deleted (and, on PostgreSQL, when
either table is truncated, as transactional tests flush). A process keeps the category tree
and the rule pack under the stamp it read them with and reads them again only when the
stamp differs. The table is not a model, so a flush leaves its row alone; a missing row
means "no stamp" and the facts are read every time.

The gate function gains ``p_stamp`` and returns the taxonomy only for a stale stamp: a
frozen copy of gate_sql.FUNCTION_SQL as it was when written.
"""

from importlib import import_module

from django.db import migrations

WATCHED = ("agreements_category", "consent_obligationrule")

CREATE_TABLE = (
    "CREATE TABLE consent_gatetaxonomystamp (id integer PRIMARY KEY CHECK (id = 1), "
    "stamp text NOT NULL)"
)
SEED = {
    "postgresql": "INSERT INTO consent_gatetaxonomystamp VALUES (1, gen_random_uuid()::text)",
    "sqlite": "INSERT INTO consent_gatetaxonomystamp VALUES (1, lower(hex(randomblob(16))))",
}

POSTGRESQL_TRIGGERS = [
    """
CREATE FUNCTION consent_gate_taxonomy_bump() RETURNS trigger AS $$
BEGIN
    INSERT INTO consent_gatetaxonomystamp (id, stamp) VALUES (1, gen_random_uuid()::text)
    ON CONFLICT (id) DO UPDATE SET stamp = EXCLUDED.stamp;
    RETURN NULL;
END;
$$ LANGUAGE plpgsql
""",
    *[
        f"""
CREATE TRIGGER {table}_taxonomy_stamp
    AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON {table}
    FOR EACH STATEMENT EXECUTE FUNCTION consent_gate_taxonomy_bump()
"""
        for table in WATCHED
    ],
]
SQLITE_TRIGGERS = [
    f"""
CREATE TRIGGER {table}_taxonomy_stamp_{event.lower()} AFTER {event} ON {table}
BEGIN
    INSERT OR REPLACE INTO consent_gatetaxonomystamp (id, stamp)
    VALUES (1, lower(hex(randomblob(16))));
END
"""  # noqa: S608 - names from this module
    for table in WATCHED
    for event in ("INSERT", "UPDATE", "DELETE")
]

OLD_DROP = (
    "DROP FUNCTION IF EXISTS consent_gate_facts(bigint[], uuid[], bigint[], uuid[], bigint[], "
    "uuid[], text[])"
)
NEW_DROP = (
    "DROP FUNCTION IF EXISTS consent_gate_facts(bigint[], uuid[], bigint[], uuid[], bigint[], "
    "uuid[], text[], text)"
)

FUNCTION_SQL = r"""CREATE OR REPLACE FUNCTION consent_gate_facts(p_licence_ids bigint[], p_licence_uuids uuid[], p_likeness_ids bigint[], p_likeness_uuids uuid[], p_talent_ids bigint[], p_talent_uuids uuid[], p_grams text[], p_stamp text) RETURNS json
LANGUAGE plpgsql STABLE
SET plan_cache_mode = force_generic_plan
AS $gate$
DECLARE
    v_stamp text := (SELECT stamp FROM consent_gatetaxonomystamp WHERE id = 1);
BEGIN
    RETURN (
SELECT json_build_object(
'talents', (SELECT json_agg(json_build_object(
    'id', t.id, 'public_id', t.public_id, 'date_of_birth', t.date_of_birth,
    'jurisdiction', t.jurisdiction, 'deceased', t.deceased,
    'identity_verified_at', t.identity_verified_at,
    'consents', (SELECT json_agg(json_build_object(
        'kind', c.kind, 'base_model', c.base_model, 'answered_at', c.answered_at,
        'withdrawn_from', (SELECT min(w.effective_at) FROM consent_withdrawal w
                           WHERE w.creation_consent_id = c.id)))
        FROM consent_creationconsent c WHERE c.talent_id = t.id),
    'likenesses', (SELECT json_agg(json_build_object(
        'id', v.id, 'public_id', v.public_id, 'version', v.version, 'status', v.status,
        'base_model', v.base_model, 'appearance_limits', v.appearance_limits))
        FROM talent_likenessversion v WHERE v.talent_id = t.id)))
    FROM talent_talent t
    WHERE t.id = ANY(ARRAY(
        SELECT x.id FROM talent_talent x
        WHERE x.id = ANY(p_talent_ids) OR x.public_id = ANY(p_talent_uuids)
        UNION
        SELECT x.talent_id FROM licensing_licence x
        WHERE x.id = ANY(p_licence_ids)
           OR x.public_id = ANY(p_licence_uuids)
        UNION
        SELECT x.talent_id FROM talent_likenessversion x
        WHERE x.id = ANY(p_likeness_ids)
           OR x.public_id = ANY(p_likeness_uuids)))),
'licences', (SELECT json_agg(json_build_object(
    'id', l.id, 'public_id', l.public_id, 'talent_id', l.talent_id, 'brand_id', l.brand_id,
    'brand_public_id', o.public_id, 'campaign', l.campaign, 'status', l.status,
    'purpose', l.purpose, 'category_id', l.category_id, 'starts_at', l.starts_at,
    'ends_at', l.ends_at, 'draft_allowance', l.draft_allowance, 'drafts_used', l.drafts_used,
    'brief_approval_required', l.brief_approval_required,
    'first_published_at', l.first_published_at, 'usage_fee_minor', l.usage_fee_minor,
    'currency', l.currency,
    'withdrawn_from', (SELECT min(w.effective_at) FROM consent_withdrawal w
                       WHERE w.licence_id = l.id),
    'agreement_status', a.status, 'agreement_terminated_at', a.terminated_at,
    'agreement_withdrawn_from', (SELECT min(w.effective_at) FROM consent_withdrawal w
                                 WHERE w.agreement_id = a.id),
    'version_status', lv.status,
    'active_version', (SELECT json_build_object(
        'id', av.id, 'effective_from', av.effective_from, 'effective_to', av.effective_to,
        'policies', (SELECT json_object_agg(cp.category_id, cp.policy)
                     FROM agreements_categorypolicy cp WHERE cp.version_id = av.id))
        FROM agreements_agreementversion av
        WHERE av.agreement_id = l.agreement_id AND av.status = 'active' LIMIT 1),
    'usage', (SELECT json_agg(json_build_object(
        'medium', u.medium, 'territory_codes', u.territory_codes,
        'duration_days', u.duration_days, 'quantity', u.quantity,
        'quantity_used', u.quantity_used))
        FROM licensing_usagerow u WHERE u.licence_id = l.id)))
    FROM licensing_licence l
    JOIN agreements_agreement a ON a.id = l.agreement_id
    JOIN agreements_agreementversion lv ON lv.id = l.agreement_version_id
    JOIN accounts_organization o ON o.id = l.brand_id
    WHERE l.id = ANY(p_licence_ids) OR l.public_id = ANY(p_licence_uuids)),
'stamp', v_stamp,
'taxonomy', CASE WHEN v_stamp IS NULL OR v_stamp IS DISTINCT FROM p_stamp THEN json_build_object(
'categories', (SELECT json_agg(json_build_object(
    'id', k.id, 'slug', k.slug, 'name', k.name, 'parent_id', k.parent_id,
    'global_policy', k.global_policy, 'keywords', k.keywords))
    FROM agreements_category k),
'rules', (SELECT json_agg(json_build_object(
    'code', r.code, 'territories', r.applies_to_territories,
    'purposes', r.applies_to_purposes, 'params', r.params, 'active', r.active))
    FROM consent_obligationrule r)) END,
'names', (SELECT json_agg(json_build_object(
    'gram', g.gram, 'words', g.words, 'talent_id', g.talent_id,
    'distinctive', nt.stage_name_distinctive))
    FROM talent_talentnamegram g JOIN talent_talent nt ON nt.id = g.talent_id
    WHERE g.gram = ANY(p_grams)))
);
END
$gate$
"""


def forward(apps, schema_editor):
    vendor = schema_editor.connection.vendor
    schema_editor.execute(CREATE_TABLE, params=None)
    schema_editor.execute(SEED[vendor], params=None)
    if vendor == "postgresql":
        for sql in [*POSTGRESQL_TRIGGERS, OLD_DROP, FUNCTION_SQL]:
            schema_editor.execute(sql, params=None)
    else:
        for sql in SQLITE_TRIGGERS:
            schema_editor.execute(sql, params=None)


def backward(apps, schema_editor):
    previous = import_module("rightsdesk.consent.migrations.0003_gate_facts_function")
    vendor = schema_editor.connection.vendor
    if vendor == "postgresql":
        for table in WATCHED:
            schema_editor.execute(f"DROP TRIGGER IF EXISTS {table}_taxonomy_stamp ON {table}")
        schema_editor.execute("DROP FUNCTION IF EXISTS consent_gate_taxonomy_bump()")
        schema_editor.execute(NEW_DROP, params=None)
        schema_editor.execute(previous.FUNCTION_SQL, params=None)
    else:
        for table in WATCHED:
            for event in ("insert", "update", "delete"):
                schema_editor.execute(f"DROP TRIGGER IF EXISTS {table}_taxonomy_stamp_{event}")
    schema_editor.execute("DROP TABLE consent_gatetaxonomystamp")


class Migration(migrations.Migration):
    dependencies = [("consent", "0003_gate_facts_function")]

    operations = [migrations.RunPython(forward, backward)]

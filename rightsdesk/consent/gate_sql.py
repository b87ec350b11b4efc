"""The gate's one read on PostgreSQL, as a PL/pgSQL function.

Planning, not execution, dominates small statements here (PITFALLS.md): planned on every
call this SELECT costs ~0.6 ms to plan and ~0.25 ms to run. A prepared statement does not
help: with arrays as parameters PostgreSQL's plan cache keeps choosing custom plans (the
generic plan's estimates assume ten elements per array), and Django leaves psycopg's
``prepare_threshold`` off anyway. A PL/pgSQL function caches its statement's plan for the
session, and ``SET plan_cache_mode = force_generic_plan`` makes it the generic plan from
the first call, so a decision pays only the ~0.25 ms of execution.

Every lookup is "= ANY(array)" on a primary key, a unique or a foreign-key index, with the
talent ids gathered into an array first, so the generic plan is the same nested index scans
whatever the arguments (a join against a set of unknown size made it scan every talent)
and its cost does not grow with the tables.

The category tree and the obligation rule pack are the same for every decision and change
rarely, yet were most of the document (4 of its 6 kB in the gate tests' world) and of the
function's time. The caller passes the taxonomy stamp it holds them under (``p_stamp``);
the function returns them only when the stamp in ``consent_gatetaxonomystamp`` differs or
is missing. Triggers on both tables give the stamp a new random value on every change,
TRUNCATE included (migration 0004), so a stamp names exactly one state of both tables: a
rolled-back change leaves the old stamp and the old rows visible together.

The migration that creates the function holds a frozen copy of ``FUNCTION_SQL``; a test
compares the function in the database with this module, so a change here needs a new
migration (copy ``FUNCTION_SQL`` into it).
"""

FUNCTION_NAME = "consent_gate_facts"
STAMP_TABLE = "consent_gatetaxonomystamp"
ARGUMENTS = (
    "p_licence_ids bigint[], p_licence_uuids uuid[], p_likeness_ids bigint[], "
    "p_likeness_uuids uuid[], p_talent_ids bigint[], p_talent_uuids uuid[], p_grams text[], "
    "p_stamp text"
)
CALL_SQL = (
    "SELECT consent_gate_facts(%(licence_ids)s::bigint[], %(licence_uuids)s::uuid[], "
    "%(likeness_ids)s::bigint[], %(likeness_uuids)s::uuid[], %(talent_ids)s::bigint[], "
    "%(talent_uuids)s::uuid[], %(grams)s::text[], %(stamp)s::text)"
)

FACTS_SELECT = """
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
"""

FUNCTION_BODY = f"""
DECLARE
    v_stamp text := (SELECT stamp FROM {STAMP_TABLE} WHERE id = 1);
BEGIN
    RETURN ({FACTS_SELECT});
END
"""  # noqa: S608 - names from this module

FUNCTION_SQL = f"""
CREATE OR REPLACE FUNCTION {FUNCTION_NAME}({ARGUMENTS}) RETURNS json
LANGUAGE plpgsql STABLE
SET plan_cache_mode = force_generic_plan
AS $gate${FUNCTION_BODY}$gate$
"""

DROP_SQL = (
    f"DROP FUNCTION IF EXISTS {FUNCTION_NAME}"
    "(bigint[], uuid[], bigint[], uuid[], bigint[], uuid[], text[], text)"
)


# SQLite (the embedded default): the same document from one statement with SQLite's JSON
# functions, where the portable loader's dozen statements and model instances cost ~2 ms
# of each decision, and a render asks twice. ``{name}`` is the placeholder list of each
# array; the taxonomy is read apart (gate_facts keeps it). Column values come as SQLite
# holds them (uuids as 32 hex digits, times as naive UTC text, booleans as 0/1, JSON
# columns as text, hence json()); gate_facts reads them into the same facts.
SQLITE_FACTS_SELECT = """
SELECT json_object(
'talents', json((SELECT json_group_array(json_object(
    'id', t.id, 'public_id', t.public_id, 'date_of_birth', t.date_of_birth,
    'jurisdiction', t.jurisdiction, 'deceased', t.deceased,
    'identity_verified_at', t.identity_verified_at,
    'consents', json((SELECT json_group_array(json_object(
        'kind', c.kind, 'base_model', c.base_model, 'answered_at', c.answered_at,
        'withdrawn_from', (SELECT min(w.effective_at) FROM consent_withdrawal w
                           WHERE w.creation_consent_id = c.id)))
        FROM consent_creationconsent c WHERE c.talent_id = t.id)),
    'likenesses', json((SELECT json_group_array(json_object(
        'id', v.id, 'public_id', v.public_id, 'version', v.version, 'status', v.status,
        'base_model', v.base_model, 'appearance_limits', json(v.appearance_limits)))
        FROM talent_likenessversion v WHERE v.talent_id = t.id))))
    FROM talent_talent t
    WHERE t.id IN ({talent_ids}) OR t.public_id IN ({talent_uuids})
       OR t.id IN (SELECT x.talent_id FROM licensing_licence x
                   WHERE x.id IN ({licence_ids}) OR x.public_id IN ({licence_uuids}))
       OR t.id IN (SELECT x.talent_id FROM talent_likenessversion x
                   WHERE x.id IN ({likeness_ids}) OR x.public_id IN ({likeness_uuids})))),
'licences', json((SELECT json_group_array(json_object(
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
    'active_version', json((SELECT json_object(
        'id', av.id, 'effective_from', av.effective_from, 'effective_to', av.effective_to,
        'policies', json((SELECT json_group_object(cp.category_id, cp.policy)
                     FROM agreements_categorypolicy cp WHERE cp.version_id = av.id)))
        FROM agreements_agreementversion av
        WHERE av.agreement_id = l.agreement_id AND av.status = 'active'
        ORDER BY av.id DESC LIMIT 1)),
    'usage', json((SELECT json_group_array(json_object(
        'medium', u.medium, 'territory_codes', json(u.territory_codes),
        'duration_days', u.duration_days, 'quantity', u.quantity,
        'quantity_used', u.quantity_used))
        FROM licensing_usagerow u WHERE u.licence_id = l.id))))
    FROM licensing_licence l
    JOIN agreements_agreement a ON a.id = l.agreement_id
    JOIN agreements_agreementversion lv ON lv.id = l.agreement_version_id
    JOIN accounts_organization o ON o.id = l.brand_id
    WHERE l.id IN ({licence_ids}) OR l.public_id IN ({licence_uuids}))),
'names', json((SELECT json_group_array(json_object(
    'gram', g.gram, 'words', g.words, 'talent_id', g.talent_id,
    'distinctive', nt.stage_name_distinctive))
    FROM talent_talentnamegram g JOIN talent_talent nt ON nt.id = g.talent_id
    WHERE g.gram IN ({grams}))))
"""

"""How fast the gate decides, and whether that holds when the data grows tenfold.

Creates a database of its own (``rightsdesk_bench_gate``, dropped at the end; never the
demo's), migrates it and seeds it server-side (INSERT ... SELECT generate_series, the
fastest way in on two cores): 10,000 talents, 50,000 licences with usage rows, agreements,
versions and category policies, 200,000 consent and acceptance records (two creation
consents per talent, 3.6 licence offers per licence), likenesses, withdrawals and the
name index. It then times ``evaluate`` on random render and release requests (a tenth of
them group shots, briefs that sometimes name a category, another talent or an appearance
change), each inside ``transaction.atomic`` as the render service runs it: with the stored
decision, and as a dry run (no INSERT). It counts the SQL statements of each decision, then
grows the data to ``--scale`` times and measures again.

    DATABASE_URL=postgres:///test?host=/var/run/postgresql .venv/bin/python bench/gate.py \
        [--talents 10000] [--scale 10] [--calls 5000] [--prepare-threshold N]

The last line is ``RESULT gate_p50_ms=<x> gate_p99_ms=<y> queries=<n>``: the stored
decision at the largest size, and the most statements any decision took.
"""

import argparse
import os
import random
import statistics
import sys
import tempfile
import time
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

BENCH_DB = "rightsdesk_bench_gate"
LICENCES_PER_TALENT = 5
AGREEMENTS_PER_TALENT = 2
BRANDS = 200
FIRST = (  # noqa: SIM905
    "Anna Ben Chloe David Emma Felix Grace Hugo Ines Jules Karin Leo Maya Nils Olga Paul "
    "Quinn Rosa Sami Tara Ugo Vera Wim Xena Yann Zoe Alba Bruno Clara Dario Elsa Fabio "
    "Gaia Hanna Ivo Jana Kofi Lina Marco Nora"
).split()
LAST = (  # noqa: SIM905
    "Durand Martin Bernard Moreau Laurent Simon Michel Lefebvre Leroy Roux Schmidt Muller "
    "Weber Wagner Becker Hoffmann Rossi Russo Ferrari Esposito Bianchi Romano Garcia "
    "Lopez Perez Sanchez Smith Jones Brown Taylor Wilson Davies Evans Thomas Johnson "
    "Roberts Walker Wright Robinson Thompson"
).split()
BRIEFS = [
    "A model in a linen suit on a pier at dawn, soft light, film grain",
    "Studio portrait, white background, oversized wool coat, looking over the shoulder",
    "Street style shot in Paris, trench coat, autumn leaves, shallow depth of field",
    "Golden hour on a rooftop, summer dress, wind in the hair, 35mm",
    "Close-up beauty shot, natural makeup, freckles visible, soft box light",
    "Running on a beach at sunrise in sportswear, motion blur, high energy",
]
EXTRAS = ["wearing a bikini", "with a bottle of perfume", "in lingerie", "make her look slimmer"]


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--talents", type=int, default=10_000)
    parser.add_argument("--scale", type=int, default=10, help="the second size, times the first")
    parser.add_argument("--calls", type=int, default=5_000)
    parser.add_argument("--seed", type=int, default=2026)
    parser.add_argument(
        "--prepare-threshold",
        type=int,
        default=None,
        help="psycopg prepare_threshold (default: the project's settings, which leave it off)",
    )
    return parser.parse_args()


def bench_url(url: str) -> tuple[str, str]:
    """The server's URL on its maintenance database, and on the bench's own database."""
    parts = urlsplit(url)
    if not parts.scheme.startswith("postgres"):
        raise SystemExit("bench/gate.py needs PostgreSQL: set DATABASE_URL=postgres://...")
    if parts.path.strip("/") == BENCH_DB:
        raise SystemExit(f"DATABASE_URL must name another database than {BENCH_DB}")
    return url, urlunsplit(parts._replace(path=f"/{BENCH_DB}"))


def admin_execute(url: str, sql: str) -> None:
    import psycopg

    with psycopg.connect(url.replace("postgres://", "postgresql://", 1), autocommit=True) as c:
        c.execute(sql)


def setup_django(url: str, prepare_threshold: int | None) -> None:
    os.environ["DATABASE_URL"] = url
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "rightsdesk.settings")
    os.environ.setdefault("RIGHTSDESK_VAR_DIR", tempfile.mkdtemp(prefix="bench_gate_"))
    os.environ.setdefault("LOG_LEVEL", "WARNING")
    import django
    from django.conf import settings

    django.setup()
    if prepare_threshold is not None:
        settings.DATABASES["default"]["OPTIONS"]["prepare_threshold"] = prepare_threshold


# Seeding: rows are numbered so that relations are arithmetic. Talent i has agreements
# 2i-1 and 2i (version ids equal to theirs) and licences 5(i-1)+1 .. 5i; licence l of
# talent i, j = (l-1) mod 5, is under agreement 2i-1 + (j mod 2) with its brand.


def brand_of(talent: int, parity: int) -> int:
    return 1 + (talent * 7 + parity * 13) % BRANDS


SEED_SQL = [
    # Talents: 2% unverified, 1% minors; a third have a one-word stage name, a sixth of
    # which are marked distinctive.
    """
INSERT INTO talent_talent (id, public_id, created_at, updated_at, legal_name, stage_name,
    date_of_birth, jurisdiction, preferred_language, deceased, stage_name_public,
    identity_verified_at, identity_verification_method, identity_verified_by_id, user_id,
    stage_name_distinctive)
SELECT i, md5('talent' || i)::uuid, %(now)s, %(now)s,
    (%(first)s::text[])[1 + mod(i, 40)] || ' ' || (%(last)s::text[])[1 + mod(i / 40, 40)] || i,
    CASE WHEN mod(i, 3) = 0 THEN 'Nova' || i
         ELSE (%(first)s::text[])[1 + mod(i * 7, 40)] || ' Star' || i END,
    CASE WHEN mod(i, 100) = 0 THEN date '2014-01-01' ELSE date '1985-01-01' + mod(i, 5000) END,
    CASE WHEN mod(i, 4) = 0 THEN 'US-NY' ELSE 'FR' END, 'en', false, false,
    CASE WHEN mod(i, 50) = 0 THEN NULL ELSE %(now)s - interval '300 days' END,
    CASE WHEN mod(i, 50) = 0 THEN '' ELSE 'document_check' END,
    CASE WHEN mod(i, 50) = 0 THEN NULL ELSE %(staff)s END,
    NULL, mod(i, 18) = 0
FROM generate_series(%(lo)s::int, %(hi)s::int) i
""",
    """
INSERT INTO talent_talentnamegram (gram, words, source, distinctive, talent_id)
SELECT lower(legal_name), 2, 'legal_name', false, id FROM talent_talent
WHERE id BETWEEN %(lo)s AND %(hi)s
UNION ALL
SELECT lower(stage_name), CASE WHEN stage_name LIKE 'Nova%%' THEN 1 ELSE 2 END,
    'stage_name', stage_name_distinctive, id FROM talent_talent
WHERE id BETWEEN %(lo)s AND %(hi)s
""",
    # Creation consents: capture (2i-1) and train on tiny-sd (2i).
    """
INSERT INTO consent_creationconsent (id, kind, notice_sha256, scope_reference, base_model,
    given_role, served_at, answered_at, method, ip_address, user_agent, public_id,
    given_by_id, notice_id, talent_id)
SELECT 2 * i - 1 + k, CASE k WHEN 0 THEN 'capture' ELSE 'train' END, repeat('a', 64),
    '', CASE k WHEN 0 THEN '' ELSE 'tiny-sd' END, 'talent', %(now)s - interval '201 days',
    %(now)s - interval '200 days', 'web', NULL, '', md5('consent' || (2 * i - 1 + k))::uuid,
    %(staff)s, CASE k WHEN 0 THEN %(capture_notice)s ELSE %(train_notice)s END, i
FROM generate_series(%(lo)s::int, %(hi)s::int) i CROSS JOIN (VALUES (0), (1)) kk(k)
""",
    """
INSERT INTO talent_likenessversion (id, public_id, created_at, updated_at, version, status,
    base_model, trigger_token, adapter_file, adapter_sha256, adapter_key_id,
    appearance_limits, training_params, progress, failure_reasons, rejection_reason,
    signed_off_at, signed_off_by_id, talent_id)
SELECT i, md5('likeness' || i)::uuid, %(now)s, %(now)s, 1,
    CASE WHEN mod(i, 40) = 0 THEN 'awaiting_signoff' ELSE 'signed_off' END, 'tiny-sd',
    'rdtk' || i, '', '', '', '["body_reshaping", "skin_tone", "age_change"]'::jsonb, '{}',
    100, '[]', '',
    CASE WHEN mod(i, 40) = 0 THEN NULL ELSE %(now)s - interval '150 days' END,
    CASE WHEN mod(i, 40) = 0 THEN NULL ELSE %(staff)s END, i
FROM generate_series(%(lo)s::int, %(hi)s::int) i
""",
    """
INSERT INTO agreements_agreement (id, public_id, created_at, updated_at, title, status,
    terminated_at, termination_reason, agency_id, brand_id, created_by_id, talent_id)
SELECT 2 * i - 1 + k, md5('agreement' || (2 * i - 1 + k))::uuid, %(now)s, %(now)s,
    'Bench agreement', CASE WHEN mod(2 * i - 1 + k, 100) = 0 THEN 'terminated' ELSE 'active' END,
    NULL, '', NULL, 1 + mod(i * 7 + k * 13, %(brands)s), %(staff)s, i
FROM generate_series(%(lo)s::int, %(hi)s::int) i CROSS JOIN (VALUES (0), (1)) kk(k)
""",
    """
INSERT INTO agreements_agreementversion (id, public_id, created_at, updated_at, number, status,
    document, document_sha256, terms_json, content_sha256, jurisdiction, talent_had_counsel,
    talent_had_union, effective_from, effective_to, max_licence_term_days,
    withdrawal_notice_days, run_off_days, client_agency_fee_bps, approval_window_hours,
    activated_at, agreement_id, created_by_id)
SELECT a, md5('version' || a)::uuid, %(now)s, %(now)s, 1,
    CASE WHEN mod(a, 97) = 0 THEN 'expired' ELSE 'active' END, 'agreements/bench.pdf',
    repeat('b', 64), '{}', repeat('c', 64), 'FR', false, false, %(now)s - interval '400 days',
    %(now)s + interval '700 days', 3650, 30, 90, 0, 72, %(now)s - interval '400 days', a,
    %(staff)s
FROM generate_series(2 * %(lo)s - 1, 2 * %(hi)s) a
""",
    """
INSERT INTO agreements_categorypolicy (policy, category_id, version_id)
SELECT p.policy, p.category_id, a
FROM generate_series(2 * %(lo)s - 1, 2 * %(hi)s) a
CROSS JOIN (VALUES ('allowed', %(apparel)s::bigint), ('with_approval', %(swimwear)s::bigint),
                   ('never', %(lingerie)s::bigint)) p(policy, category_id)
""",
    # Licences: 80% accepted, 10% proposed, 5% declined, 2% withdrawn, 3% expired; 2% out
    # of term; a tenth ask for brief approval; a twentieth are French commercial influence.
    """
INSERT INTO licensing_licence (id, public_id, created_at, updated_at, campaign, status,
    use_description, purpose, advertiser, product_lines, currency, buyout_minor,
    usage_fee_minor, draft_allowance, drafts_used, brief_approval_required, starts_at,
    ends_at, offer_expires_at, accepted_at, deal_memo_sha256, first_published_at,
    accepted_by_id, agreement_id, agreement_version_id, brand_id, category_id,
    proposed_by_id, talent_id)
SELECT l, md5('licence' || l)::uuid, %(now)s, %(now)s, 'Campaign ' || mod(l, 7),
    CASE WHEN mod(l, 100) < 80 THEN 'accepted' WHEN mod(l, 100) < 90 THEN 'proposed'
         WHEN mod(l, 100) < 95 THEN 'declined' WHEN mod(l, 100) < 97 THEN 'withdrawn'
         ELSE 'expired' END,
    'Bench use', CASE WHEN mod(l, 20) = 0 THEN 'commercial_influence' ELSE 'advertising' END,
    'Brand', '[]', 'EUR', 0, 25000, 50, LEAST(mod(l * 31, 60), 50), mod(l, 10) = 0,
    %(now)s - interval '60 days',
    CASE WHEN mod(l, 50) = 0 THEN %(now)s - interval '1 day' ELSE %(now)s + interval '300 days' END,
    NULL, CASE WHEN mod(l, 100) < 80 THEN %(now)s - interval '55 days' END, '',
    CASE WHEN mod(l, 3) = 0 THEN %(now)s - interval '30 days' END, NULL,
    2 * t - 1 + mod(l - 1 - 5 * (t - 1), 2), 2 * t - 1 + mod(l - 1 - 5 * (t - 1), 2),
    1 + mod(t * 7 + mod(l - 1 - 5 * (t - 1), 2) * 13, %(brands)s), %(apparel)s, %(staff)s, t
FROM generate_series(5 * (%(lo)s - 1) + 1, 5 * %(hi)s) l, LATERAL (SELECT (l - 1) / 5 + 1 AS t) tt
""",
    """
INSERT INTO licensing_usagerow (medium, territories, territory_codes, duration_days, quantity,
    quantity_used, licence_id)
SELECT 'paid_social', '{"include": ["EU"]}'::jsonb,
    CASE mod(l, 4) WHEN 0 THEN '["DE", "FR"]' WHEN 1 THEN '["FR"]' WHEN 2 THEN '["US"]'
         ELSE %(eea)s END::jsonb, 365, 100, mod(l * 17, 101), l
FROM generate_series(5 * (%(lo)s - 1) + 1, 5 * %(hi)s) l
UNION ALL
SELECT 'print', '{"include": ["US", "CA"]}'::jsonb, '["CA", "US"]'::jsonb, 180, 20, mod(l, 21), l
FROM generate_series(5 * (%(lo)s - 1) + 1, 5 * %(hi)s) l
""",
    # The acceptance records: proposed, countered, proposed again, answered (3.6 a licence).
    """
INSERT INTO licensing_licenceoffer (sequence, kind, actor_role, terms_json, terms_sha256,
    deal_memo_language, deal_memo_text, deal_memo_sha256, note, authentication_method,
    ip_address, user_agent, created_at, actor_id, licence_id)
SELECT s, CASE WHEN s = n THEN 'accepted' WHEN mod(s, 2) = 0 THEN 'countered' ELSE 'proposed' END,
    'legal', '{}', repeat('d', 64), 'en', '', repeat('e', 64), '', 'password', NULL, '',
    %(now)s - interval '56 days', %(staff)s, l
FROM generate_series(5 * (%(lo)s - 1) + 1, 5 * %(hi)s) l,
     LATERAL (SELECT 3 + (mod(l, 5) < 3)::int AS n) nn, LATERAL generate_series(1, n) s
""",
    # Withdrawals in force: 1% of licences, 0.5% of agreements, 0.5% of training consents.
    """
INSERT INTO consent_withdrawal (kind, reason, requested_at, effective_at, run_off_until,
    public_id, agreement_id, creation_consent_id, licence_id, requested_by_id, talent_id)
SELECT 'for_cause', 'bench', %(now)s - interval '3 days', %(now)s - interval '2 days',
    %(now)s + interval '88 days', md5('wl' || l)::uuid, NULL::bigint, NULL::bigint, l,
    %(staff)s, (l - 1) / 5 + 1
FROM generate_series(5 * (%(lo)s - 1) + 1, 5 * %(hi)s) l WHERE mod(l, 100) = 42
UNION ALL
SELECT 'for_cause', 'bench', %(now)s - interval '3 days', %(now)s - interval '2 days',
    %(now)s + interval '88 days', md5('wa' || a)::uuid, a, NULL::bigint, NULL::bigint,
    %(staff)s, (a + 1) / 2
FROM generate_series(2 * %(lo)s - 1, 2 * %(hi)s) a WHERE mod(a, 200) = 7
UNION ALL
SELECT 'data_protection', 'bench', %(now)s - interval '3 days', %(now)s - interval '2 days',
    %(now)s - interval '2 days', md5('wc' || i)::uuid, NULL::bigint, 2 * i, NULL::bigint,
    %(staff)s, i
FROM generate_series(%(lo)s::int, %(hi)s::int) i WHERE mod(i, 200) = 3
""",
]


def seed_base():
    """The brands, a staff user, the notices and the category tree; returns the ids."""
    from django.utils import timezone

    from rightsdesk.accounts.models import Organization, User
    from rightsdesk.agreements.models import Category
    from rightsdesk.agreements.taxonomy import category_ensure_defaults
    from rightsdesk.consent.models import ConsentNotice
    from rightsdesk.consent.obligations import obligation_rules_ensure_defaults

    Organization.objects.bulk_create(
        [Organization(id=b, name=f"Brand {b}", kind="brand", country="FR") for b in range(1, 201)]
    )
    staff = User.objects.create_user("bench-staff@example.test", None, role="staff")
    notices = {
        kind: ConsentNotice.objects.create(kind=kind, version=1, text=kind, sha256="f" * 64)
        for kind in ("capture", "train")
    }
    category_ensure_defaults()
    obligation_rules_ensure_defaults()
    slugs = dict(Category.objects.values_list("slug", "pk"))
    return {
        "now": timezone.now(),
        "staff": staff.pk,
        "capture_notice": notices["capture"].pk,
        "train_notice": notices["train"].pk,
        "apparel": slugs["apparel"],
        "swimwear": slugs["swimwear"],
        "lingerie": slugs["lingerie"],
        "brands": BRANDS,
        "first": FIRST,
        "last": LAST,
    }


def seed(base: dict, lo: int, hi: int) -> float:
    from django.db import connection

    from rightsdesk.core.vocab import EEA

    started = time.perf_counter()
    params = {**base, "lo": lo, "hi": hi, "eea": str(sorted(EEA)).replace("'", '"')}
    with connection.cursor() as cursor:
        cursor.execute("SET synchronous_commit = off")
        for sql in SEED_SQL:
            cursor.execute(sql, params)
        for table in (
            "talent_talent",
            "consent_creationconsent",
            "talent_likenessversion",
            "agreements_agreement",
            "agreements_agreementversion",
            "licensing_licence",
        ):
            cursor.execute(
                f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), "
                f"(SELECT max(id) FROM {table}))"
            )
        cursor.execute("ANALYZE")
    return time.perf_counter() - started


def counts() -> dict[str, int]:
    from django.db import connection

    tables = {
        "talents": "talent_talent",
        "licences": "licensing_licence",
        "usage_rows": "licensing_usagerow",
        "agreements": "agreements_agreement",
        "category_policies": "agreements_categorypolicy",
        "creation_consents": "consent_creationconsent",
        "licence_offers": "licensing_licenceoffer",
        "withdrawals": "consent_withdrawal",
        "name_grams": "talent_talentnamegram",
    }
    with connection.cursor() as cursor:
        found = {}
        for label, table in tables.items():
            cursor.execute(f"SELECT count(*) FROM {table}")
            found[label] = cursor.fetchone()[0]
    return found


def random_query(rng: random.Random, talents: int, base: dict, *, dry_run: bool):
    from rightsdesk.consent.gate_types import RELEASE, RENDER, GateQuery

    talent = rng.randint(1, talents)
    j = rng.randrange(LICENCES_PER_TALENT)
    licences = [5 * (talent - 1) + 1 + j]
    brand = brand_of(talent, j % 2)
    if rng.random() < 0.1:  # a group shot: a second talent under the same brand
        other = talent + BRANDS * rng.randint(1, 20)
        other = other if other <= talents else other - BRANDS * ((other - 1) // BRANDS)
        if other != talent and brand_of(other, j % 2) == brand:
            licences.append(5 * (other - 1) + 1 + j)
    words = [rng.choice(BRIEFS)]
    if rng.random() < 0.3:
        words.append(rng.choice(EXTRAS))
    if rng.random() < 0.1:
        named = rng.randint(1, talents)
        words.append(f"next to {FIRST[named % 40]} {LAST[(named // 40) % 40]}{named}")
    return GateQuery(
        action=RELEASE if rng.random() < 0.15 else RENDER,
        at=base["now"],
        licences=tuple(f"{md5_uuid('licence', lid)}" for lid in licences),
        brand=brand,
        brief=", ".join(words),
        territory=rng.choice(["FR", "DE", "US", None]),
        medium=rng.choice(["paid_social", "print", None]),
        dry_run=dry_run,
        subject_reference=f"bench:{talent}:{j}",
    )


def md5_uuid(prefix: str, number: int) -> str:
    import hashlib
    import uuid

    return str(uuid.UUID(hashlib.md5(f"{prefix}{number}".encode()).hexdigest()))  # noqa: S324


def timed(queries) -> list[float]:
    from django.db import transaction

    from rightsdesk.consent.gate import evaluate

    times = []
    for query in queries:
        started = time.perf_counter()
        with transaction.atomic():
            evaluate(query)
        times.append((time.perf_counter() - started) * 1000)
    return times


def statements(queries) -> list[int]:
    from django.db import connection, transaction
    from django.test.utils import CaptureQueriesContext

    from rightsdesk.consent.gate import evaluate

    found = []
    for query in queries:
        with transaction.atomic(), CaptureQueriesContext(connection) as captured:
            evaluate(query)
        found.append(len(captured.captured_queries))
    return found


def pct(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(p / 100 * (len(ordered) - 1))))]


def measure(label: str, talents: int, base: dict, calls: int, seed: int) -> dict:
    from collections import Counter

    from rightsdesk.consent.gate import evaluate

    rng = random.Random(seed)
    stored = [random_query(rng, talents, base, dry_run=False) for _ in range(calls)]
    dry = [random_query(rng, talents, base, dry_run=True) for _ in range(calls)]
    timed(stored[:300] + dry[:300])  # warm-up: connection, caches, prepared plans
    with_insert = timed(stored)
    without_insert = timed(dry)
    counted = statements(stored[:200])
    outcomes = Counter(evaluate(q).outcome for q in dry[:1000])
    result = {
        "p50": statistics.median(with_insert),
        "p99": pct(with_insert, 99),
        "dry_p50": statistics.median(without_insert),
        "dry_p99": pct(without_insert, 99),
        "queries": max(counted),
    }
    print(
        f"[{label}] {calls} decisions each in transaction.atomic\n"
        f"  with the decision INSERT: p50 {result['p50']:.3f} ms  p99 {result['p99']:.3f} ms  "
        f"mean {statistics.fmean(with_insert):.3f} ms\n"
        f"  dry run (no INSERT):      p50 {result['dry_p50']:.3f} ms  "
        f"p99 {result['dry_p99']:.3f} ms  mean {statistics.fmean(without_insert):.3f} ms\n"
        f"  SQL statements per stored decision: {sorted(Counter(counted).items())} "
        f"(SAVEPOINT, the one SELECT, RELEASE, INSERT)\n"
        f"  outcomes of 1000 dry runs: {dict(outcomes)}",
        flush=True,
    )
    return result


def main() -> None:
    args = parse_args()
    server_url, url = bench_url(
        os.environ.get("DATABASE_URL") or "postgres:///test?host=/var/run/postgresql"
    )
    admin_execute(server_url, f"DROP DATABASE IF EXISTS {BENCH_DB}")
    admin_execute(server_url, f"CREATE DATABASE {BENCH_DB}")
    try:
        setup_django(url, args.prepare_threshold)
        from django.core.management import call_command
        from django.db import connections

        started = time.perf_counter()
        call_command("migrate", verbosity=0)
        print(f"migrated {BENCH_DB} in {time.perf_counter() - started:.1f} s", flush=True)
        base = seed_base()
        results = []
        done = 0
        for size in (args.talents, args.talents * args.scale):
            seconds = seed(base, done + 1, size)
            done = size
            print(f"seeded up to {size} talents in {seconds:.1f} s: {counts()}", flush=True)
            results.append(measure(f"{size} talents", size, base, args.calls, args.seed))
        connections.close_all()
    finally:
        admin_execute(server_url, f"DROP DATABASE IF EXISTS {BENCH_DB} WITH (FORCE)")
    small, large = results[0], results[-1]
    print(
        f"growth x{args.scale}: p50 {small['p50']:.3f} -> {large['p50']:.3f} ms, "
        f"p99 {small['p99']:.3f} -> {large['p99']:.3f} ms"
    )
    queries = max(r["queries"] for r in results)
    print(f"RESULT gate_p50_ms={large['p50']:.3f} gate_p99_ms={large['p99']:.3f} queries={queries}")


if __name__ == "__main__":
    main()

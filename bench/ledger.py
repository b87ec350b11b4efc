"""Royalty entries per second through the ledger's batch posting service, against raw
inserts of the same rows.

Creates a database of its own (``rightsdesk_bench_ledger``, dropped at the end; never the
demo's), migrates it and opens the accounts: 50 brands (payable), 1,000 talents
(earnings), 20 agencies (commission) and one platform account (fees), in EUR. Then
8 clients (processes started with ``spawn``: PITFALLS.md) post 20,000 royalty entries of
three lines each through ``ledger_post_batch``, 100 a call, all-or-nothing per entry:
half a usage fee less a 20% commission to the talent's agency, half a fee with a 5%
platform fee on top for a talent without one, each cut by ``fee_split``. In the same run
the same clients insert the same rows raw (``executemany``, a batch of 100 a commit) into
the same tables with the ledger's triggers disabled. It prints both rates and their ratio,
checks that every entry balances and that the accounts' running totals equal the lines,
and ends with ``RESULT ledger_entries_per_s=<x> ratio_to_raw=<y> imbalance=<z>``.

    .venv/bin/python bench/ledger.py [--entries 20000] [--clients 8] [--batch 100]

``DATABASE_URL`` names the server (default: the unix socket,
``postgres:///postgres?host=/var/run/postgresql``); the bench uses its own database there.
"""

import argparse
import multiprocessing
import os
import sys
import tempfile
import time
from pathlib import Path
from urllib.parse import urlsplit

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

BENCH_DB = "rightsdesk_bench_ledger"
BRANDS, TALENTS, AGENCIES = 50, 1_000, 20
CURRENCY = "EUR"


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--entries", type=int, default=20_000)
    parser.add_argument("--clients", type=int, default=8)
    parser.add_argument("--batch", type=int, default=100)
    return parser.parse_args()


def bench_url(url: str) -> tuple[str, str]:
    """The server's URL on its maintenance database, and on the bench's own database."""
    parts = urlsplit(url)
    if not parts.scheme.startswith("postgres"):
        raise SystemExit("bench/ledger.py needs PostgreSQL: set DATABASE_URL=postgres://...")
    if parts.path.strip("/") == BENCH_DB:
        raise SystemExit(f"DATABASE_URL must name another database than {BENCH_DB}")
    # Built by hand: urlunsplit drops the "//" of a URL with no host ("postgres:///x?host=").
    query = f"?{parts.query}" if parts.query else ""
    return url, f"{parts.scheme}://{parts.netloc}/{BENCH_DB}{query}"


def psycopg_url(url: str) -> str:
    return url.replace("postgres://", "postgresql://", 1)


def admin_execute(url: str, sql: str) -> None:
    import psycopg

    with psycopg.connect(psycopg_url(url), autocommit=True) as conn:
        conn.execute(sql)


def setup_django(url: str) -> None:
    os.environ["DATABASE_URL"] = url
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "rightsdesk.settings")
    os.environ.setdefault("RIGHTSDESK_VAR_DIR", tempfile.mkdtemp(prefix="bench_ledger_"))
    os.environ.setdefault("LOG_LEVEL", "WARNING")
    import django

    django.setup()


def owner(kind: str, number: int) -> str:
    return f"{kind}:00000000-0000-4000-8000-{number:012d}"


def royalty(index: int):
    """Entry ``index``: a usage fee with commission (even) or a platform fee (odd)."""
    from rightsdesk.ledger.services import fee_lines, fee_resolved
    from rightsdesk.ledger.types import FeeSpec, Posting

    talent = (index * 7) % TALENTS
    fee_minor = 1_000 + (index * 7_919) % 99_000
    if index % 2 == 0:
        fee = FeeSpec(
            kind="usage",
            brand=owner("brand", index % BRANDS),
            talent=owner("talent", talent),
            currency=CURRENCY,
            fee_minor=fee_minor,
            agency=owner("agency", talent % AGENCIES),
            commission_bps=2000,
            platform_fee_bps=0,
        )
    else:
        fee = FeeSpec(
            kind="usage",
            brand=owner("brand", index % BRANDS),
            talent=owner("talent", talent),
            currency=CURRENCY,
            fee_minor=fee_minor,
            platform_fee_bps=500,
        )
    fee, split = fee_resolved(fee)
    return Posting(
        idempotency_key=f"bench-{index}",
        kind="usage",
        reference=f"asset:bench-{index}",
        lines=fee_lines(fee, split, charge_to="payable"),
    )


def open_accounts() -> None:
    from rightsdesk.ledger.posting import accounts_open
    from rightsdesk.ledger.types import PLATFORM, AccountKey

    keys = [AccountKey(owner("brand", n), "payable", CURRENCY) for n in range(BRANDS)]
    keys += [AccountKey(owner("talent", n), "earnings", CURRENCY) for n in range(TALENTS)]
    keys += [AccountKey(owner("agency", n), "commission", CURRENCY) for n in range(AGENCIES)]
    keys.append(AccountKey(PLATFORM, "fees", CURRENCY))
    accounts_open(keys)


def _post_through_ledger(postings, batch: int) -> int:
    from rightsdesk.ledger.services import ledger_post_batch

    refused = 0
    for start in range(0, len(postings), batch):
        results = ledger_post_batch(postings=postings[start : start + batch])
        refused += sum(1 for r in results if r.status != "created")
    return refused


_RAW_ENTRY = (
    "INSERT INTO ledger_entry (public_id, idempotency_key, payload_json, payload_sha256, "
    "kind, reference, description, effective_at, period, line_count, actor_label, created_at) "
    "VALUES (%s, %s, %s, %s, %s, %s, '', %s, %s, %s, 'bench', %s) RETURNING id"
)
_RAW_LINE = (
    "INSERT INTO ledger_line (entry_id, account_id, amount_minor, currency, role) "
    "VALUES (%s, %s, %s, %s, %s)"
)


def _raw_rows(postings, accounts: dict[str, int]):
    """The rows the ledger wrote for ``postings``, under keys of their own ("raw-...")."""
    import uuid

    from django.utils import timezone

    from rightsdesk.ledger.posting import month_of, payload_text

    now = timezone.now()
    rows = []
    for posting in postings:
        text, sha = payload_text(posting.payload())
        entry = (
            uuid.uuid4(),
            f"raw-{posting.idempotency_key}",
            text,
            sha,
            posting.kind,
            posting.reference,
            now,
            month_of(now),
            len(posting.lines),
            now,
        )
        lines = [
            (accounts[line.account.key], line.amount_minor, line.account.currency, line.role)
            for line in posting.lines
        ]
        rows.append((entry, lines))
    return rows


def _insert_raw(url: str, rows, batch: int) -> None:
    import psycopg

    with psycopg.connect(psycopg_url(url)) as conn:
        for start in range(0, len(rows), batch):
            chunk = rows[start : start + batch]
            with conn.cursor() as cursor:
                cursor.executemany(_RAW_ENTRY, [entry for entry, _ in chunk], returning=True)
                ids = []
                while True:
                    ids.append(cursor.fetchone()[0])
                    if not cursor.nextset():
                        break
                cursor.executemany(
                    _RAW_LINE,
                    [
                        (i, *line)
                        for i, (_, lines) in zip(ids, chunk, strict=True)
                        for line in lines
                    ],
                )
            conn.commit()


def client(url: str, first: int, last: int, batch: int, barrier, results) -> None:
    """One client: posts its share through the ledger, then inserts the same rows raw."""
    setup_django(url)
    from django.db import connections

    from rightsdesk.ledger.models import Account

    postings = [royalty(i) for i in range(first, last)]
    accounts = dict(Account.objects.values_list("key", "pk"))
    barrier.wait()  # start: posting through the ledger
    refused = _post_through_ledger(postings, batch)
    connections.close_all()
    barrier.wait()  # done; the main process disables the triggers
    rows = _raw_rows(postings, accounts)
    barrier.wait()  # start: raw inserts
    _insert_raw(url, rows, batch)
    barrier.wait()  # done
    results.put(refused)


def run_phase(barrier) -> float:
    barrier.wait()
    started = time.perf_counter()
    barrier.wait()
    return time.perf_counter() - started


def set_triggers(url: str, enabled: bool) -> None:
    verb = "ENABLE" if enabled else "DISABLE"
    for table in ("ledger_entry", "ledger_line"):
        admin_execute(url, f"ALTER TABLE {table} {verb} TRIGGER USER")


def verify(url: str) -> dict[str, int]:
    """Imbalance over every entry (ledger and raw), and the ledger's own checks."""
    import psycopg

    from rightsdesk.ledger.checks import entries_balance

    with psycopg.connect(psycopg_url(url)) as conn:
        per_entry = conn.execute(
            "SELECT coalesce(sum(abs(t)), 0) FROM (SELECT sum(amount_minor) t FROM ledger_line "
            "GROUP BY entry_id, currency) s"
        ).fetchone()[0]
        entries = conn.execute("SELECT count(*) FROM ledger_entry").fetchone()[0]
        lines = conn.execute("SELECT count(*) FROM ledger_line").fetchone()[0]
    return {
        "imbalance": int(per_entry),
        "entries": entries,
        "lines": lines,
        "unbalanced": len(list(entries_balance())),
    }


def main() -> None:
    args = parse_args()
    server_url, url = bench_url(
        os.environ.get("DATABASE_URL") or "postgres:///postgres?host=/var/run/postgresql"
    )
    admin_execute(server_url, f"DROP DATABASE IF EXISTS {BENCH_DB} WITH (FORCE)")
    admin_execute(server_url, f"CREATE DATABASE {BENCH_DB}")
    try:
        setup_django(url)
        from django.core.management import call_command
        from django.db import connections

        from rightsdesk.ledger.checks import totals_match_lines

        call_command("migrate", verbosity=0)
        open_accounts()
        connections.close_all()
        print(f"migrated {BENCH_DB}; {BRANDS + TALENTS + AGENCIES + 1} accounts", flush=True)

        context = multiprocessing.get_context("spawn")
        barrier = context.Barrier(args.clients + 1, timeout=600)
        results = context.Queue()
        share = args.entries // args.clients
        processes = [
            context.Process(
                daemon=True,  # never outlive a failed run
                target=client,
                args=(url, n * share, (n + 1) * share, args.batch, barrier, results),
            )
            for n in range(args.clients)
        ]
        for process in processes:
            process.start()
        posted = share * args.clients
        ledger_seconds = run_phase(barrier)
        # The raw rows go into the same tables, without the ledger's triggers.
        totals_ok_before_raw = not list(totals_match_lines())
        connections.close_all()
        set_triggers(url, enabled=False)
        raw_seconds = run_phase(barrier)
        set_triggers(url, enabled=True)
        refused = sum(results.get() for _ in processes)
        for process in processes:
            process.join()
        checks = verify(url)
        connections.close_all()
    finally:
        admin_execute(server_url, f"DROP DATABASE IF EXISTS {BENCH_DB} WITH (FORCE)")
    ledger_rate = posted / ledger_seconds
    raw_rate = posted / raw_seconds
    print(
        f"ledger: {posted} entries in {ledger_seconds:.2f} s = {ledger_rate:,.0f}/s "
        f"({args.clients} clients, {args.batch} a call, {refused} refused)"
    )
    print(f"raw:    {posted} entries in {raw_seconds:.2f} s = {raw_rate:,.0f}/s")
    print(
        f"rows: {checks['entries']} entries, {checks['lines']} lines; "
        f"running totals equal the lines: {totals_ok_before_raw}; "
        f"unbalanced entries: {checks['unbalanced']}"
    )
    # Anything short of every entry posted, balanced and in the running totals counts.
    imbalance = checks["imbalance"] + checks["unbalanced"] + refused + (not totals_ok_before_raw)
    print(
        f"RESULT ledger_entries_per_s={ledger_rate:.0f} ratio_to_raw={ledger_rate / raw_rate:.2f} "
        f"imbalance={imbalance}"
    )


if __name__ == "__main__":
    main()

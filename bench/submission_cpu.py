"""What one render submission costs in CPU, in process: a steadier figure than wrk's rates.

bench/api_load.py measures the load target as the issue states it (gunicorn, wrk, 16
connections), but on these machines its rates swing up to 2x between runs of the same code,
so a change worth 5% cannot be seen in it. This bench drives the same four requests as
api_load.py (the health check, the floor, a submission with a fresh idempotency key, a
status read), on the same world and settings, through Django's test client in this one
process: the whole application (middleware, DRF, the token, the services, the task sent to
a private broker after commit) without the HTTP server. For each it measures this thread's
CPU and the CPU of the PostgreSQL backend serving it (``/proc/<pid>/schedstat``), in blocks that
alternate between the kinds, and prints the medians.

The figure to compare across changes is ``CPU per submission: X health checks' worth``,
Python and PostgreSQL together, as api_load.py prints it for the server. It runs about
twice as high here as there: without the HTTP server a health check costs half as much,
a submission hardly less. It is for comparing code, not for the issue's target.

``--patch FILE``: a Python file defining ``setA()`` and ``setB()``; then only submissions
are driven, in blocks alternating between the two (the order swapped every other round),
and the medians of A and B are printed: an A/B comparison of two ways of doing one thing
in the same process, which is how the changes of stops 19 and 20 were measured.

    .venv/bin/python bench/submission_cpu.py [--block 100] [--rounds 9] [--patch FILE]
"""

import argparse
import json
import shutil
import statistics
import sys
import tempfile
import time
import uuid
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import api_load  # noqa: E402 - the bench folder, put on the path above

BENCH_DB = "rightsdesk_bench_cpu"
KINDS = ("health", "floor", "submit", "read")


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--block", type=int, default=100, help="requests per block")
    parser.add_argument("--rounds", type=int, default=9, help="blocks of each kind")
    parser.add_argument("--patch", help="a file defining setA() and setB() (A/B mode)")
    parser.add_argument("--broker", default="file", help="file or redis://...")
    return parser.parse_args()


def backend_cpu_seconds(pid: int) -> float:
    """A PostgreSQL backend's time on a CPU, in nanoseconds from ``schedstat``. Not
    api_load.py's ``/proc/<pid>/stat`` reading: its 10 ms clock ticks are too coarse for a
    block of health checks. (``schedstat`` counts one thread, which is all a backend has;
    api_load.py's gunicorn workers have several.)"""
    return int(Path(f"/proc/{pid}/schedstat").read_text().split()[0]) / 1e9


class Driver:
    """The four requests, as api_load.py's wrk scripts send them."""

    def __init__(self, world: dict, read_ids: list[str]) -> None:
        from django.test import Client

        self.client = Client()
        self.world = world
        self.read_ids = read_ids
        self.headers = {"HTTP_AUTHORIZATION": f"Token {world['token']}"}
        self.n = 0

    def one(self, kind: str) -> None:
        self.n += 1
        if kind == "health":
            response = self.client.get("/healthz")
            expected = 200
        elif kind == "read":
            path = f"{api_load.SUBMIT_PATH}{self.read_ids[self.n % len(self.read_ids)]}/"
            response = self.client.get(path, **self.headers)
            expected = 200
        else:
            path = api_load.SUBMIT_PATH if kind == "submit" else api_load.FLOOR_PATH
            body = {**self.world["body"], "idempotency_key": f"cpu-{uuid.uuid4().hex}"}
            response = self.client.post(
                path, data=json.dumps(body), content_type="application/json", **self.headers
            )
            expected = 201
        if response.status_code != expected:
            raise SystemExit(f"{kind}: {response.status_code} {response.content[:300]!r}")

    def block(self, kind: str, count: int, backend: int) -> tuple[float, float]:
        """Milliseconds of CPU per request: this thread's, PostgreSQL's."""
        cpu, pg = time.thread_time(), backend_cpu_seconds(backend)
        for _ in range(count):
            self.one(kind)
        return (
            (time.thread_time() - cpu) * 1000 / count,
            (backend_cpu_seconds(backend) - pg) * 1000 / count,
        )


def run(args: argparse.Namespace) -> None:
    import django

    django.setup()
    from django.core.management import call_command
    from django.db import connection

    call_command("migrate", verbosity=0)
    capacity = args.block * args.rounds * 3 + 1000
    world = api_load.build_world(submissions=capacity)
    read_ids = api_load.seed_reads(world)
    driver = Driver(world, read_ids)
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_backend_pid()")
        (backend,) = cursor.fetchone()
    kinds = ("submit",) if args.patch else KINDS
    for kind in kinds:  # caches, prepared statements, the broker's connection
        for _ in range(50):
            driver.one(kind)
    if args.patch:
        compare(args, driver, backend)
        return
    results: dict[str, list[tuple[float, float]]] = {kind: [] for kind in KINDS}
    for round_ in range(args.rounds):
        order = KINDS if round_ % 2 == 0 else KINDS[::-1]
        for kind in order:
            results[kind].append(driver.block(kind, args.block, backend))
    totals = {}
    for kind in KINDS:
        python = statistics.median(r[0] for r in results[kind])
        postgres = statistics.median(r[1] for r in results[kind])
        totals[kind] = statistics.median(r[0] + r[1] for r in results[kind])
        print(
            f"{kind:7s} CPU per request: python {python:6.2f} ms, postgres {postgres:5.2f} ms "
            f"(medians of {args.rounds} blocks of {args.block})"
        )
    health = totals["health"]
    print(f"CPU per submission: {totals['submit'] / health:.1f} health checks' worth (in process)")
    print(f"  of which the floor: {totals['floor'] / health:.1f}")
    print(
        f"RESULT submit_cpu_ms={totals['submit']:.2f} health_cpu_ms={health:.2f} "
        f"ratio={totals['submit'] / health:.1f}"
    )


def compare(args: argparse.Namespace, driver: Driver, backend: int) -> None:
    space: dict = {}
    exec(compile(Path(args.patch).read_text(), args.patch, "exec"), space)  # noqa: S102 - the caller's own file
    sides = {"A": space["setA"], "B": space["setB"]}
    results: dict[str, list[float]] = {"A": [], "B": []}
    for round_ in range(args.rounds * 2):
        order = "AB" if round_ % 2 == 0 else "BA"
        for side in order:
            sides[side]()
            python, postgres = driver.block("submit", args.block, backend)
            results[side].append(python + postgres)
    for side in "AB":
        values = results[side]
        print(
            f"{side}: {statistics.median(values):.3f} ms of CPU a submission "
            f"(median of {len(values)} blocks; range {min(values):.3f}-{max(values):.3f})"
        )
    a, b = (statistics.median(results[side]) for side in "AB")
    print(f"RESULT a_ms={a:.3f} b_ms={b:.3f} b_over_a={b / a:.3f}")


def main() -> None:
    args = parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="rightsdesk-bench-cpu-"))
    server = api_load.prepare_environment(args, tmp, database=BENCH_DB)
    try:
        run(args)
    finally:
        from django.db import connections

        connections.close_all()
        api_load.admin_execute(server, f"DROP DATABASE IF EXISTS {BENCH_DB} WITH (FORCE)")
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()

"""How many render requests per second the API takes, served as production serves it.

On a PostgreSQL database of its own (``rightsdesk_bench_api``, created on the server that
``DATABASE_URL`` names, by default the local one over its unix socket, and dropped at the
end) it builds the gate tests' world (a brand with a campaign manager, a verified talent
with a signed-off likeness, an active agreement and an accepted licence), sizes the
licence's draft allowance and tops up the brand's budget for every submission the run can
make, and starts the application under gunicorn with persistent database connections
(``CONN_MAX_AGE`` from settings). No worker consumes the ``gpu`` queue: each accepted
submission leaves its task message in a private broker (a file-broker folder in a
temporary directory, or ``--broker redis://...``), after commit, as in production.

wrk then drives, at ``--connections`` for ``--duration`` seconds each (after a short warm
up), with a Lua script written to the temporary folder:

- ``/healthz``: one ``SELECT 1``, the ceiling of this stack on this machine;
- ``POST /bench/floor/`` with the submissions' bodies and token: the same framework and
  the same number and shape of statements as a submission, each a trivial ``SELECT``, and
  nothing else (bench/floor/urls.py, a route only this bench's settings add): the least
  a submission could cost here, so what is above it is the product's own work;
- ``POST /api/v1/render-requests/`` with the manager's token and a unique idempotency key
  per request (1 draft of 64x64 each; expected answer 201 ``queued``);
- ``GET /api/v1/render-requests/{id}/`` over requests made beforehand (expected 200).

For each it prints requests per second, p50 and p99 latency and errors (socket errors,
time-outs and any answer other than the expected one), and the CPU time per request of the
server's processes and of the bench database's PostgreSQL backends (``/proc``, sampled
every half second). It then checks that every submission answered 201 is in the
database, queued, exactly once. Before the load it counts the SQL statements of one
submission, one status read, one health check and one floor (``CaptureQueriesContext``,
through Django's test client on the same database).

Before it, the CPU of one submission in health checks (server and PostgreSQL together), a
figure that moves less with the machine's speed than the rates do, and the floor's. The
last line is ``RESULT submit_rps=<x> ratio_to_health=<r> p99_ms=<y> errors=<z>`` (p99 of
the submissions; errors of all the runs). Targets on this 2-core machine: 400
submissions per second, 0.2 of the health rate, p99 under 150 ms, no errors.

Server: 2 gthread workers of 2 threads by default (4 until stop 19; see below). Measured
here (stop 17, 30 s runs, a machine ~3x faster than stop 16's, which still varied by 2x
within minutes; 4 threads): health
4,090-4,360/s, reads 700-1,420/s, submissions 222-254/s with p99 105-125 ms, against
185-208/s for stop 16's code in alternate runs. A submission costs 4.1-4.8 ms of the
server's CPU (5.1-5.3 ms before: the input read straight from the serializer's fields,
timestamps through psycopg's compiled loader) and 2.7-3.1 ms of PostgreSQL's; a status read
1.1 ms and 0.24 ms; a health check 0.4 ms and 0.04 ms. 2 or 3 workers, 1 to 4 threads,
or sync workers: within noise (CPU-bound; stop 19 alternated pairs and found two threads
better than four, below). Stop 16, on the slower machine: submissions
73-118/s, 10-12 ms of server CPU each.

Stop 18, on a machine ~3x slower again (health 1,370-1,710/s), alternated with stop 17's
code: submissions 116-117/s against 104-109/s; per submission 10.5 and 9.8 ms of server
CPU against 10.7 and 11.1 ms, PostgreSQL 4.1 and 3.8 ms against 5.0 and 5.4 ms (10
statements, was 12). PostgreSQL's share fell most: the key and lapse probes no longer
filter every earlier request of the requester and every reservation of the budget (their
cached plans had taken a foreign key's own index), and the gate's decision, the request
and its licence rows are one statement.

Stop 19, on a machine like stop 18's (health 1,220-1,450/s): the floor 486-630/s (0.33-0.52 of
health; 2.1-2.8 health checks' worth of CPU), submissions 108-117/s (0.080-0.089 of
health, p99 233-246 ms; 11.4-11.6 health checks' worth, 12.7 in stop 18), reads 469-496/s.
A submission is 10.4-11.6 ms of server CPU and 4.3-4.6 ms of PostgreSQL's, the floor 2.6-3.1
and 0.4-0.5: the product's own work (gate, ledger, audit, queue and the real statements)
is about four fifths of a submission, and 0.2 of health leaves it about 2.5 health checks.
Two threads a worker instead of four, alternated run by run (15 s, submissions only):
132.7, 136.3 and 140.4/s against 113.4, 126.5 and 117.5/s, with less CPU per submission
(server 9.4-10.1 against 9.9-10.6 ms, PostgreSQL 3.5-3.7 against 3.9-4.2 ms): eight
connections queued on the licence's and the budget's rows and on four threads' share of
the GIL, where four do not. Health (1,620 and 1,743 against 1,307 and 1,656/s) and reads
(592 and 561 against 511 and 537/s) were faster too, so the ratio barely moves. Timed in
the server (an experiment, not kept), the licence's row was held from its UPDATE to the
end of the commit for 7.7 ms on average with four threads a worker (p99 19 ms), which
caps submissions at ~130/s (that run made 124/s), 5.5 ms with two and 2.9 ms with one:
the threads queue for their worker's GIL between the last three statements while the row
is locked. One thread a worker was then CPU-bound instead, and no faster than two over
alternated runs (this machine's speed swung 2x between runs of the same settings).

Stop 20, on a slower machine again (health 618/s in one 10 s run, 1,155-1,206/s in 30 s
runs an hour later): the floor 369-413/s, submissions 99-103/s (0.085-0.086 of health, p99
303-339 ms; 10.9-11.3 health checks' worth, the floor 2.9-3.3), reads 409-417/s. Render
tasks now go through ``rightsdesk.core.task_sender`` (1.4-1.6 against 1.8-2.2 ms of CPU a
send inside a submission). The floor alone, ten trivial statements and no product work,
ran below 400/s here.

Stop 21, on a machine about twice as fast as stop 20's: gthread workers are capped at
their share of wrk's connections plus their threads (``worker_connections``). Without it,
one worker took all 16 connections in about one run in three, and that run's rates halved
(health 894-955 against 1,900-2,380/s), which made a ratio either twice or half what it
was. Each endpoint now prints the workers' shares of the server's CPU (50%/50% in every
capped run) and flags a worker under half its share. Two full 30-s runs: health
2,099-2,103/s, the floor 827-876/s, submissions 214-237/s (0.102-0.113 of health, p99
104-114 ms, 0 errors; 8.9-9.7 health checks' worth, the floor 2.5-2.6), reads 768-819/s.

    .venv/bin/python bench/api_load.py [--duration 30] [--connections 16] [--workers 2] \
        [--threads 2] [--worker-class gthread|sync] [--broker file|redis://...] \
        [--licences 1|2] [--only health|floor|submit|read ...]
"""

import argparse
import contextlib
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
import uuid
from pathlib import Path
from urllib.parse import urlsplit

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

BENCH_DB = "rightsdesk_bench_api"
DEFAULT_SERVER = "postgres:///postgres?host=/var/run/postgresql"
SUBMIT_PATH = "/api/v1/render-requests/"
FLOOR_PATH = "/bench/floor/"
READ_IDS = 200  # requests made beforehand for the status reads
FEE_HEADROOM = 10**13  # minor units: far more than any run can reserve


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--duration", type=int, default=30, help="seconds per endpoint")
    parser.add_argument("--warmup", type=int, default=3, help="seconds per endpoint")
    parser.add_argument("--connections", type=int, default=16)
    parser.add_argument("--wrk-threads", type=int, default=2)
    parser.add_argument("--workers", type=int, default=2, help="gunicorn worker processes")
    parser.add_argument("--threads", type=int, default=2, help="threads per worker (gthread)")
    parser.add_argument("--worker-class", default="gthread", choices=["gthread", "sync"])
    parser.add_argument(
        "--worker-connections",
        type=int,
        help="connections a gthread worker holds at most (default: its share of "
        "--connections, plus its threads; see worker_connections)",
    )
    parser.add_argument(
        "--broker", default="file", help='"file", or a redis:// URL of a database it may flush'
    )
    parser.add_argument("--only", choices=["health", "floor", "submit", "read"], action="append")
    parser.add_argument(
        "--licences",
        type=int,
        choices=[1, 2],
        default=1,
        help="submit under one licence, or alternate between two talents' (same brand)",
    )
    parser.add_argument("--keep", action="store_true", help="keep the temporary folder")
    return parser.parse_args()


# --- the database and the environment ------------------------------------------------------


def admin_execute(url: str, sql: str) -> None:
    import psycopg

    with psycopg.connect(url.replace("postgres://", "postgresql://", 1), autocommit=True) as c:
        c.execute(sql)


def with_database(url: str, name: str) -> str:
    # Spelled out: urlunsplit drops the "//" of a URL with no host (a unix socket).
    parts = urlsplit(url)
    query = f"?{parts.query}" if parts.query else ""
    return f"{parts.scheme}://{parts.netloc}/{name}{query}"


def prepare_environment(args: argparse.Namespace, tmp: Path, database: str = BENCH_DB) -> str:
    """Point this process and the server at the bench's own database (``database``, made
    anew) and broker; returns the server's maintenance URL (to drop the database at the
    end)."""
    url = os.environ.get("DATABASE_URL") or DEFAULT_SERVER
    if not url.startswith(("postgres://", "postgresql://")):
        raise SystemExit("bench/api_load.py needs PostgreSQL: set DATABASE_URL=postgres://...")
    if urlsplit(url).path.strip("/") == database:
        raise SystemExit(f"DATABASE_URL must name another database than {database}")
    server = with_database(url, "postgres")
    admin_execute(server, f"DROP DATABASE IF EXISTS {database} WITH (FORCE)")
    admin_execute(server, f"CREATE DATABASE {database}")
    broker = "filesystem://" if args.broker == "file" else args.broker
    os.environ.update(
        {
            # The application's settings and routes, and the floor's route (floor/urls.py).
            "DJANGO_SETTINGS_MODULE": "bench.floor.settings",
            "DATABASE_URL": with_database(url, database),
            "RIGHTSDESK_VAR_DIR": str(tmp / "var"),
            "CELERY_BROKER_URL": broker,
            "RIGHTSDESK_BROKER_DIR": str(tmp / "broker"),
            "CELERY_TASK_ALWAYS_EAGER": "0",
            "DEBUG": "0",
            "LOG_LEVEL": "WARNING",
        }
    )
    if broker.startswith("redis://"):
        import redis

        redis.Redis.from_url(broker).flushdb()
    return server


# --- the world ----------------------------------------------------------------------------


def build_world(*, submissions: int) -> dict:
    """The gate world, its licences (talents X and Y) and the brand's budget sized for
    ``submissions``; the manager's token."""
    from rest_framework.authtoken.models import Token

    from rightsdesk.ledger.services import ledger_budget_top_up
    from rightsdesk.ledger.types import owner_ref
    from rightsdesk.licensing.models import Licence
    from tests.consent.gate_world import BRIEF, build_gate_world

    world = build_gate_world()
    licence = world.x.licence
    Licence.objects.filter(pk__in=[world.x.licence.pk, world.y.licence.pk]).update(
        draft_allowance=submissions + 10 * READ_IDS
    )
    ledger_budget_top_up(
        brand=owner_ref("brand", world.brand.public_id),
        currency=licence.currency,
        amount_minor=max(FEE_HEADROOM, 2 * licence.usage_fee_minor * submissions),
        idempotency_key=f"bench-top-up-{uuid.uuid4()}",
        actor=world.staff,
    )
    token = Token.objects.create(user=world.manager).key
    body = submission_body(licence=str(licence.public_id), brief=BRIEF)
    licences = [str(side.licence.public_id) for side in (world.x, world.y)]
    return {"token": token, "licences": licences, "brief": BRIEF, "body": body}


def submission_body(*, licence: str, brief: str, key: str = "", seed: int = 1) -> dict:
    body = {
        "licences": [licence],
        "brief": brief,
        "width": 64,
        "height": 64,
        "steps": 4,
        "seed": seed,
        "num_drafts": 1,
        "territory": "FR",
        "medium": "paid_social",
    }
    return {**body, "idempotency_key": key} if key else body


def seed_reads(world: dict) -> list[str]:
    """Requests to read, made through the API as a client would."""
    from rest_framework.test import APIClient

    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {world['token']}")
    ids = []
    for n in range(READ_IDS):
        body = {**world["body"], "idempotency_key": f"bench-read-{n}", "seed": n}
        response = client.post(SUBMIT_PATH, body, format="json")
        if response.status_code != 201 or response.json()["status"] != "queued":
            raise SystemExit(f"seeding a request failed: {response.status_code} {response.content}")
        ids.append(response.json()["public_id"])
    return ids


def count_statements(world: dict, read_id: str) -> dict[str, int]:
    """SQL statements of one submission, one status read, one health check and one floor."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext
    from rest_framework.test import APIClient

    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {world['token']}")
    counts = {}
    calls = {
        "submit": lambda: client.post(
            SUBMIT_PATH,
            {**world["body"], "idempotency_key": f"bench-count-{uuid.uuid4()}"},
            format="json",
        ),
        "read": lambda: client.get(f"{SUBMIT_PATH}{read_id}/"),
        "health": lambda: client.get("/healthz"),
        "floor": lambda: client.post(FLOOR_PATH, world["body"], format="json"),
    }
    for name, call in calls.items():
        call()  # a warm one first: caches (content types, prepared statements) filled
        with CaptureQueriesContext(connection) as captured:
            call()
        counts[name] = len(captured.captured_queries)
        if name == "submit":
            counts["submit_detail"] = [q["sql"] for q in captured.captured_queries]
    return counts


# --- gunicorn ------------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def worker_connections(args: argparse.Namespace) -> int:
    """How many connections one gthread worker may hold: its even share of wrk's, plus
    its threads.

    wrk opens its connections at once and keeps them. A gthread worker goes on accepting
    while connections wait, up to this cap (gunicorn's default is 1,000), so one worker
    could take all of them and serve the whole run on one core while the other idled: 3
    health runs in 8 here, at 894-955 against 1,900-2,380/s, one worker's CPU at 6.15 s
    and the other's at 0.01 s. The cap splits them. The threads are added because
    gunicorn keeps a connection alive only while fewer than the cap less the threads are
    kept: at the bare share it would close some after each answer.
    """
    if args.worker_connections:
        return args.worker_connections
    return -(-args.connections // args.workers) + args.threads


def start_server(args: argparse.Namespace, tmp: Path, port: int) -> subprocess.Popen:
    command = [sys.executable, "-m", "gunicorn", "rightsdesk.wsgi:application"]
    command += ["--bind", f"127.0.0.1:{port}", "--workers", str(args.workers)]
    command += ["--worker-class", args.worker_class, "--threads", str(args.threads)]
    # Sync workers ignore it, but gunicorn runs gthread ones for "sync" with threads > 1.
    command += ["--worker-connections", str(worker_connections(args))]
    command += ["--backlog", "256", "--keep-alive", "30", "--log-level", "warning"]
    command += ["--error-logfile", str(tmp / "gunicorn.log")]
    return subprocess.Popen(command, cwd=ROOT, start_new_session=True)


def wait_ready(process: subprocess.Popen, tmp: Path, port: int) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise SystemExit("gunicorn exited:\n" + (tmp / "gunicorn.log").read_text()[-4000:])
        url = f"http://127.0.0.1:{port}/healthz"
        with contextlib.suppress(OSError), urllib.request.urlopen(url, timeout=1) as answer:
            if answer.status == 200:
                return
        time.sleep(0.2)
    raise SystemExit("gunicorn did not answer /healthz within 60 s")


def stop_server(process: subprocess.Popen) -> None:
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
        with contextlib.suppress(subprocess.TimeoutExpired):
            process.wait(timeout=20)
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGKILL)
    process.wait(timeout=20)


# --- wrk -----------------------------------------------------------------------------------

# Shared by the three scripts: per-thread status counts (and, for submissions, the ids of
# the requests created), gathered by done() into a JSON file. Every script defines
# response(), so wrk does the same work per answer for each endpoint.
LUA_COMMON = r"""
local threads = {}
function setup(thread)
  table.insert(threads, thread)
  thread:set("tid", #threads)
end
statuses = {}
created = {}
counter = 0
function response(status, headers, body)
  statuses[status] = (statuses[status] or 0) + 1
  if KEEP_IDS and status == 201 then
    created[#created + 1] = body:match('"public_id":"([0-9a-f-]+)"')
  end
end
function done(summary, latency, requests)
  local all, ids = {}, {}
  for _, thread in ipairs(threads) do
    for status, n in pairs(thread:get("statuses")) do
      all[tostring(status)] = (all[tostring(status)] or 0) + n
    end
    for _, id in ipairs(thread:get("created")) do ids[#ids + 1] = id end
  end
  local parts = {}
  for status, n in pairs(all) do parts[#parts + 1] = string.format('"%s":%d', status, n) end
  local e = summary.errors
  local out = io.open(OUT, "w")
  out:write(string.format(
    '{"requests":%d,"duration_us":%d,"p50_us":%d,"p99_us":%d,"max_us":%d,' ..
    '"errors":{"connect":%d,"read":%d,"write":%d,"timeout":%d,"status":%d},' ..
    '"statuses":{%s},"created":["%s"]}',
    summary.requests, summary.duration, latency:percentile(50), latency:percentile(99),
    latency.max, e.connect, e.read, e.write, e.timeout, e.status,
    table.concat(parts, ","), table.concat(ids, '","')))
  out:close()
end
"""

LUA_SUBMIT = r"""
local heads = BODY_HEADS
function request()
  counter = counter + 1
  local key = RUN .. "-" .. PHASE .. "-" .. tid .. "-" .. counter
  local head = heads[counter % #heads + 1]
  local body = head .. ',"seed":' .. (counter % 100000) .. ',"idempotency_key":"' .. key .. '"}'
  return wrk.format("POST", PATH, HEADERS, body)
end
"""

LUA_READ = r"""
KEEP_IDS = false
local ids = IDS
function request()
  counter = counter + 1
  return wrk.format("GET", PATH .. ids[(counter * 7 + tid) % #ids + 1] .. "/", HEADERS)
end
"""

LUA_HEALTH = r"""
KEEP_IDS = false
function request()
  return wrk.format("GET", "/healthz")
end
"""


def lua_string(value: str) -> str:
    return json.dumps(value)  # a JSON string is a valid Lua string literal here


def write_script(tmp: Path, name: str, body: str, out: Path, **values: str) -> Path:
    lines = [f"OUT = {lua_string(str(out))}"]
    lines += [f"{key} = {value}" for key, value in values.items()]
    script = tmp / f"{name}.lua"
    script.write_text("\n".join(lines) + "\n" + LUA_COMMON + body)
    return script


def scripts(world: dict, read_ids: list[str], run: str, licences: int) -> dict[str, tuple]:
    """Each endpoint's script, the values it needs and the status it expects. ``run``
    prefixes the idempotency keys; wrk adds its thread, the phase and a counter."""
    auth = {"Authorization": f"Token {world['token']}"}
    headers = {**auth, "Content-Type": "application/json"}
    heads = [
        json.dumps(submission_body(licence=licence, brief=world["brief"]))[:-1]
        for licence in world["licences"][:licences]
    ]
    # Lua table constructors for the headers and the ids.
    lua_headers = "{" + ",".join(f"[{lua_string(k)}]={lua_string(v)}" for k, v in headers.items())
    lua_auth = "{" + ",".join(f"[{lua_string(k)}]={lua_string(v)}" for k, v in auth.items())
    lua_ids = "{" + ",".join(lua_string(i) for i in read_ids) + "}"
    posts = {  # what the submissions and the floor send
        "RUN": lua_string(run),
        "HEADERS": lua_headers + "}",
        "BODY_HEADS": "{" + ",".join(lua_string(head) for head in heads) + "}",
    }
    return {
        "health": (LUA_HEALTH, {}, 200),
        "submit": (LUA_SUBMIT, {**posts, "KEEP_IDS": "true", "PATH": lua_string(SUBMIT_PATH)}, 201),
        # The same bodies and headers to the floor (bench/floor/urls.py).
        "floor": (LUA_SUBMIT, {**posts, "KEEP_IDS": "false", "PATH": lua_string(FLOOR_PATH)}, 201),
        "read": (
            LUA_READ,
            {"PATH": lua_string(SUBMIT_PATH), "HEADERS": lua_auth + "}", "IDS": lua_ids},
            200,
        ),
    }


def _cpu_seconds(pid: int) -> float:
    """User plus system CPU time a process has used (Linux ``/proc``); 0 once it is gone."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def server_processes(server_pid: int) -> dict[str, list[int]]:
    """The gunicorn master and workers, and the PostgreSQL backends of the bench's
    database (a backend's process title names its database)."""
    found: dict[str, list[int]] = {"server": [server_pid], "postgres": []}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
            title = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode()
        except OSError:
            continue
        if int(stat.rsplit(")", 1)[1].split()[1]) == server_pid:
            found["server"].append(int(entry.name))
        elif title.startswith("postgres: ") and f" {BENCH_DB} " in title:
            found["postgres"].append(int(entry.name))
    return found


class CpuMeter:
    """CPU time the server's processes and the bench database's backends use while wrk
    runs, sampled every half second: a backend that exits meanwhile (connections live
    ``CONN_MAX_AGE`` seconds) is counted up to its last sample, one that starts from zero."""

    def __init__(self, server_pid: int) -> None:
        self.server_pid = server_pid
        self.first: dict[tuple[str, int], float] = {}
        self.last: dict[tuple[str, int], float] = {}
        self.stop = threading.Event()
        self.sample(start=True)
        self.thread = threading.Thread(target=self.loop, daemon=True)
        self.thread.start()

    def sample(self, *, start: bool = False) -> None:
        for kind, pids in server_processes(self.server_pid).items():
            for pid in pids:
                used = _cpu_seconds(pid)
                if used:
                    self.first.setdefault((kind, pid), used if start else 0.0)
                    self.last[(kind, pid)] = used

    def loop(self) -> None:
        while not self.stop.wait(0.5):
            self.sample()

    def finish(self) -> tuple[dict[str, float], list[float]]:
        """CPU seconds of the server and of PostgreSQL, and each server process's."""
        self.stop.set()
        self.thread.join()
        self.sample()
        used: dict[str, float] = {"server": 0.0, "postgres": 0.0}
        processes = []
        for (kind, pid), last in sorted(self.last.items()):
            spent = last - self.first[(kind, pid)]
            used[kind] += spent
            if kind == "server" and pid != self.server_pid:
                processes.append(spent)
        return used, processes


def run_wrk(
    args, tmp: Path, port: int, name: str, spec: tuple, seconds: int, tag: str, server_pid: int
) -> dict:
    body, values, expected = spec
    out = tmp / f"{name}-{tag}.json"
    script = write_script(tmp, f"{name}-{tag}", body, out, PHASE=lua_string(tag), **values)
    command = ["wrk", "-t", str(args.wrk_threads), "-c", str(args.connections)]
    command += ["-d", f"{seconds}s", "--timeout", "5s", "-s", str(script)]
    command += [f"http://127.0.0.1:{port}"]
    meter = CpuMeter(server_pid)
    finished = subprocess.run(command, capture_output=True, text=True, timeout=seconds + 60)
    used, workers = meter.finish()
    if finished.returncode != 0 or not out.exists():
        raise SystemExit(f"wrk failed ({finished.returncode}):\n{finished.stderr[-3000:]}")
    result = json.loads(out.read_text())
    result["created"] = [i for i in result["created"] if i]
    result["rps"] = result["requests"] / (result["duration_us"] / 1e6)
    wrong = sum(n for status, n in result["statuses"].items() if int(status) != expected)
    socket_errors = sum(v for k, v in result["errors"].items() if k != "status")
    result["error_count"] = wrong + socket_errors
    result["cpu_ms"] = {
        kind: 1000 * seconds / max(result["requests"], 1) for kind, seconds in used.items()
    }
    # Each worker's share of the workers' CPU: a worker that served nothing halves the
    # rate, and the rate would say nothing of it.
    total = sum(workers)
    result["worker_shares"] = [used_s / total for used_s in workers] if total > 0 else []
    return result


def ensure_wrk() -> None:
    if shutil.which("wrk"):
        return
    print("wrk is missing: installing the Debian package")
    subprocess.run(["apt-get", "install", "-y", "wrk"], check=False, capture_output=True)
    if not shutil.which("wrk"):
        subprocess.run(["apt-get", "update"], check=False, capture_output=True)
        subprocess.run(["apt-get", "install", "-y", "wrk"], check=True, capture_output=True)


# --- checks and report ---------------------------------------------------------------------


def check_created(created: list[str], run: str, in_flight: int) -> tuple[str, int]:
    """Every 201 is in the database, queued, once. Returns the problems and how many rows
    no answer was read for: requests still in flight when wrk stopped (at most one per
    connection and run), which the server completed all the same."""
    from rightsdesk.renders.models import RenderRequest

    problems = []
    if len(set(created)) != len(created):
        problems.append(f"{len(created) - len(set(created))} ids answered twice")
    rows = RenderRequest.objects.filter(idempotency_key__startswith=f"{run}-")
    found = {
        str(public_id): status for public_id, status in rows.values_list("public_id", "status")
    }
    missing = [i for i in created if i not in found]
    if missing:
        problems.append(f"{len(missing)} accepted requests are not in the database")
    unanswered = len(found) - len(set(created) & set(found))
    if unanswered > in_flight:
        problems.append(f"{unanswered} rows without an answer, more than {in_flight} in flight")
    not_queued = sum(1 for status in found.values() if status != "queued")
    if not_queued:
        problems.append(f"{not_queued} rows not queued")
    return "; ".join(problems), unanswered


def statement_kinds(statements: list[str]) -> str:
    kinds: dict[str, int] = {}
    for sql in statements:
        kind = sql.split(None, 1)[0].upper()
        kind = "SAVEPOINT" if kind in ("SAVEPOINT", "RELEASE", "ROLLBACK") else kind
        kinds[kind] = kinds.get(kind, 0) + 1
    return ", ".join(f"{kind} {n}" for kind, n in sorted(kinds.items(), key=lambda kv: -kv[1]))


def report(name: str, result: dict) -> None:
    statuses = ", ".join(f"{k}: {v}" for k, v in sorted(result["statuses"].items()))
    print(
        f"{name:<7} {result['rps']:8.1f} req/s  p50 {result['p50_us'] / 1000:6.1f} ms  "
        f"p99 {result['p99_us'] / 1000:6.1f} ms  max {result['max_us'] / 1000:7.1f} ms  "
        f"errors {result['error_count']}  ({result['requests']} requests; {statuses})"
    )
    cpu = result["cpu_ms"]
    shares = result["worker_shares"]
    print(
        f"{'':<7} CPU per request: server {cpu['server']:.2f} ms, postgres {cpu['postgres']:.2f} ms"
        f"; workers' shares {'/'.join(f'{share:.0%}' for share in shares)}"
        + (" (UNBALANCED: a worker did under half its share)" if unbalanced(shares) else "")
    )


def unbalanced(shares: list[float]) -> bool:
    return bool(shares) and min(shares) < 0.5 / len(shares)


def run(args: argparse.Namespace, tmp: Path) -> None:
    import django

    django.setup()
    from django.core.management import call_command

    ensure_wrk()
    call_command("migrate", verbosity=0)
    capacity = 2000 * (args.duration + args.warmup) + 10_000  # far above any rate here
    world = build_world(submissions=capacity)
    read_ids = seed_reads(world)
    counts = count_statements(world, read_ids[0])
    print(
        f"SQL statements per request: submit {counts['submit']}, read {counts['read']}, "
        f"health {counts['health']}, floor {counts['floor']}"
    )
    print(f"  submit: {statement_kinds(counts['submit_detail'])}")
    from django.db import connections

    connections.close_all()  # the server's workers have their own connections
    run_id = f"bench-{uuid.uuid4().hex[:8]}"
    port = free_port()
    server = start_server(args, tmp, port)
    loadavg = os.getloadavg()
    try:
        wait_ready(server, tmp, port)
        print(
            f"gunicorn: {args.workers} workers ({args.worker_class}, {args.threads} threads"
            + (
                f", {worker_connections(args)} connections at most"
                if args.worker_class == "gthread" or args.threads > 1
                else ""
            )
            + "); "
            f"wrk: {args.wrk_threads} threads, {args.connections} connections, "
            f"{args.duration} s each; broker {os.environ['CELERY_BROKER_URL']}; "
            f"submissions under {args.licences} licence(s); "
            f"load average before: {loadavg[0]:.2f}"
        )
        specs = scripts(world, read_ids, run_id, args.licences)
        results, created = {}, []
        for name in args.only or ["health", "floor", "submit", "read"]:
            warm = run_wrk(args, tmp, port, name, specs[name], args.warmup, "warmup", server.pid)
            created += warm["created"]
            results[name] = run_wrk(
                args, tmp, port, name, specs[name], args.duration, "run", server.pid
            )
            created += results[name]["created"]
            report(name, results[name])
    finally:
        stop_server(server)
    print(f"load average after: {os.getloadavg()[0]:.2f}")
    problem = ""
    if "submit" in results:
        problem, unanswered = check_created(created, run_id, in_flight=2 * args.connections)
        print(
            f"accepted submissions checked in the database: {len(created)}, "
            f"{problem or 'all there, queued, once'} "
            f"(and {unanswered} still in flight when wrk stopped, stored all the same)"
        )
    log = (tmp / "gunicorn.log").read_text() if (tmp / "gunicorn.log").exists() else ""
    if "Traceback" in log:
        print("the server logged errors:\n" + log[-3000:])
    errors = sum(r["error_count"] for r in results.values()) + (1 if problem else 0)
    if "submit" in results and "health" in results:
        submit, health = results["submit"], results["health"]
        # What one submission costs in health checks, server and PostgreSQL together: this
        # moves far less than requests per second when the machine's speed changes between
        # the two runs. On a machine the load keeps busy, the ratio target (0.2) needs <= 5.
        costs = [sum(r["cpu_ms"].values()) for r in (submit, health)]
        if costs[1] > 0:
            print(f"CPU per submission: {costs[0] / costs[1]:.1f} health checks' worth")
            if "floor" in results:
                # The part of it no submission on this stack can avoid (floor/urls.py).
                floor = sum(results["floor"]["cpu_ms"].values()) / costs[1]
                print(
                    f"  of which the floor (framework, token, 10 trivial statements): {floor:.1f}"
                )
        print(
            f"RESULT submit_rps={submit['rps']:.1f} "
            f"ratio_to_health={submit['rps'] / health['rps']:.3f} "
            f"p99_ms={submit['p99_us'] / 1000:.1f} errors={errors}"
        )


def main() -> None:
    args = parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="rightsdesk-bench-api-"))
    server = prepare_environment(args, tmp)
    try:
        run(args, tmp)
    finally:
        from django.db import connections

        connections.close_all()
        admin_execute(server, f"DROP DATABASE IF EXISTS {BENCH_DB} WITH (FORCE)")
        if args.keep:
            print(f"kept {tmp}")
        else:
            shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()

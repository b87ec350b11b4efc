"""What the whole render path costs on top of the render itself.

In one run, on a database and broker of its own (a SQLite file and a file broker in a
temporary folder; PostgreSQL when DATABASE_URL names a server: the database
``rightsdesk_bench_render`` is created there and dropped at the end), it starts a real
Celery worker (prefork, one child, as in production), warms it, and then times, for each
of ``--renders`` renders at 256x256 and 8 steps on the tiny pipeline:

- the whole path: the submission service (gate, stored decision, drafts taken, task sent
  after commit), the file broker, the worker (claim, in-task gate, adapter, render with
  progress, PNG, asset row, ``rendered``), and the hand-off: this process reads the asset
  row and its PNG. The worker's part ends at the ``rendered`` audit event, which the last
  statement of the transaction that creates the asset rows appends, after the notices
  and everything else it writes (only its COMMIT is left out; ``finished_at``, stamped
  by the transition at the start of that work, would leave out 2-2.5 ms), plus the
  hand-off. This process looks for ``rendered`` only every 100 ms: polling the
  database every few ms takes CPU from the render on a small machine (measured: ~25 ms
  per render on two cores), and how often a client polls is not the path's cost;
- the same render through a raw ``pipe()`` loop in this process (same prompt, seed,
  guidance and likeness adapter active), PNG encoding included.

The two are interleaved, alternating which goes first, so both see the same machine. It
prints the medians, the overhead per render (difference of the medians, and the median of
the paired differences), their ratio, and where the path's time goes. The last line is
``RESULT render_overhead_ms=<x> render_overhead_ratio=<y>`` (targets: 25 ms, 1.15).

The production stack is PostgreSQL and Redis: ``DATABASE_URL=postgres:///postgres?host=
/var/run/postgresql .venv/bin/python bench/render_overhead.py --broker redis://127.0.0.1:
6379/9`` measures it; without them it runs on the embedded defaults (SQLite, file broker).

    .venv/bin/python bench/render_overhead.py [--renders 20] [--size 256] [--steps 8] \
        [--broker file|redis://...]
"""

import argparse
import contextlib
import io
import os
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from urllib.parse import urlsplit

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

BENCH_DB = "rightsdesk_bench_render"
POLL_S = 0.1  # how often this process looks for `rendered`; not part of the measured time


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--renders", type=int, default=20)
    parser.add_argument("--size", type=int, default=256)
    parser.add_argument("--steps", type=int, default=8)
    parser.add_argument("--warmup", type=int, default=3)
    parser.add_argument("--keep", action="store_true", help="keep the temporary folder")
    parser.add_argument(
        "--broker",
        default="file",
        help='"file" (the embedded default), or a redis:// URL of a database it may flush',
    )
    return parser.parse_args()


def admin_execute(url: str, sql: str) -> None:
    import psycopg

    with psycopg.connect(url.replace("postgres://", "postgresql://", 1), autocommit=True) as c:
        c.execute(sql)


def prepare_environment(tmp: Path, broker: str = "file") -> str | None:
    """Point this process (and the worker, which inherits it) at the bench's own state.
    Returns the PostgreSQL server URL when a bench database was created there."""
    models = os.environ.get("RIGHTSDESK_MODEL_CACHE") or str(
        Path(os.environ.get("RIGHTSDESK_VAR_DIR", ROOT / "var")) / "models"
    )
    os.environ.update(
        {
            "DJANGO_SETTINGS_MODULE": "rightsdesk.settings",
            "RIGHTSDESK_VAR_DIR": str(tmp),
            "RIGHTSDESK_MODEL_CACHE": models,  # the tiny pipeline is built once, shared
            "CELERY_BROKER_URL": "filesystem://" if broker == "file" else broker,
            "RIGHTSDESK_BROKER_DIR": str(tmp / "broker"),
            "CELERY_TASK_ALWAYS_EAGER": "0",
            "LOG_LEVEL": "WARNING",
        }
    )
    if broker.startswith("redis://"):
        import redis

        redis.Redis.from_url(broker).flushdb()
    url = os.environ.get("DATABASE_URL", "")
    if not url.startswith(("postgres://", "postgresql://")):
        os.environ.pop("DATABASE_URL", None)
        return None
    parts = urlsplit(url)
    if parts.path.strip("/") == BENCH_DB:
        raise SystemExit(f"DATABASE_URL must name another database than {BENCH_DB}")
    server = with_database(url, "postgres")  # the maintenance database
    admin_execute(server, f"DROP DATABASE IF EXISTS {BENCH_DB} WITH (FORCE)")
    admin_execute(server, f"CREATE DATABASE {BENCH_DB}")
    os.environ["DATABASE_URL"] = with_database(url, BENCH_DB)
    return server


def with_database(url: str, name: str) -> str:
    # Spelled out: urlunsplit drops the "//" of a URL with no host (a unix socket).
    parts = urlsplit(url)
    query = f"?{parts.query}" if parts.query else ""
    return f"{parts.scheme}://{parts.netloc}/{name}{query}"


def start_worker(tmp: Path) -> subprocess.Popen:
    script = Path(sys.executable).with_name("celery")
    command = [str(script)] if script.exists() else [sys.executable, "-m", "celery"]
    command += ["-A", "rightsdesk", "worker", "-P", "prefork", "-c", "1", "-Q", "gpu,default"]
    command += ["-n", "bench@localhost", "--without-heartbeat", "--without-gossip"]
    command += ["--without-mingle", "--loglevel=WARNING"]
    log = (tmp / "worker.log").open("wb")
    return subprocess.Popen(
        command, cwd=ROOT, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
    )


def stop_worker(process: subprocess.Popen) -> None:
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
        with contextlib.suppress(subprocess.TimeoutExpired):
            process.wait(timeout=15)
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGKILL)
    process.wait(timeout=15)


def wait_ready(process: subprocess.Popen, tmp: Path) -> None:
    from rightsdesk.celery import app

    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise SystemExit("the worker exited:\n" + (tmp / "worker.log").read_text()[-4000:])
        if app.control.ping(destination=["bench@localhost"], timeout=0.5):
            return
    raise SystemExit("the worker did not answer a ping within 120 s")


def build_world():
    """The test suite's likeness world: a verified talent with a signed-off likeness
    whose adapter was trained on the tiny pipeline and sealed; allowance for the run."""
    from rightsdesk.licensing.models import Licence
    from tests.renders.likeness_world import build_likeness_world

    world = build_likeness_world()
    Licence.objects.filter(pk=world.gate.x.licence.pk).update(draft_allowance=100_000)
    return world


class Path_:
    """Renders through the whole path, timing each part."""

    def __init__(self, world, args, worker: subprocess.Popen, tmp: Path) -> None:
        self.world, self.args, self.worker, self.tmp = world, args, worker, tmp
        self.parts: list[dict[str, float]] = []
        self.phases: list[dict[str, float]] = []  # generation.render's own timings
        self.after_stamp: list[float] = []  # finished_at to the `rendered` audit event

    def render(self, seed: int) -> tuple[float, bytes]:
        from django.core.files.storage import default_storage
        from django.utils import timezone

        from rightsdesk.audit.models import AuditEvent
        from rightsdesk.renders.models import Asset, RenderRequest

        started, wall = time.perf_counter(), timezone.now()
        render_request = self.world.submit(
            width=self.args.size,
            height=self.args.size,
            steps=self.args.steps,
            seed=seed,
            num_drafts=1,
        )
        submitted = time.perf_counter()
        if render_request.status != "queued":
            raise SystemExit(f"the request was {render_request.status}, not queued")
        rows = RenderRequest.objects.filter(pk=render_request.pk)
        while (status := rows.values_list("status", flat=True).get()) != "rendered":
            if status in ("failed", "cancelled") or self.worker.poll() is not None:
                log = (self.tmp / "worker.log").read_text()[-4000:]
                raise SystemExit(f"render {status}:\n{log}")
            time.sleep(POLL_S)
        seen = time.perf_counter()
        asset = Asset.objects.get(render_request_id=render_request.pk)
        with default_storage.open(asset.image.name, "rb") as handle:
            png = handle.read()
        hand_off = time.perf_counter() - seen
        row = rows.values("started_at", "finished_at").get()
        # The end of the worker's part: the `rendered` audit event, appended by the last
        # statement before the commit (after the notices and everything else the
        # transaction writes), not finished_at, which the transition stamps first.
        ended = (
            AuditEvent.objects.filter(
                action="render_request.rendered", target_id=str(render_request.public_id)
            )
            .values_list("created_at", flat=True)
            .get()
        )
        timings = asset.render_metadata["timings"]
        render_s = sum(timings.values())
        provenance_s = asset.render_metadata.get("provenance_s", 0.0)
        self.phases.append(timings)
        until_finished = (ended - wall).total_seconds()
        in_task = (ended - row["started_at"]).total_seconds()
        self.after_stamp.append((ended - row["finished_at"]).total_seconds())
        self.parts.append(
            {
                "submit": submitted - started,
                "to_start": (row["started_at"] - wall).total_seconds() - (submitted - started),
                "render": render_s,
                "provenance": provenance_s,
                "in_worker": in_task - render_s - provenance_s,
                "hand_off": hand_off,
            }
        )
        assert png.startswith(b"\x89PNG")  # the signed file, handed off
        # The renderer's own pixels (before marks and signing) are what the raw loop makes.
        return until_finished + hand_off, asset.render_metadata["render_pixels_sha256"]


class Raw:
    """The same render straight through ``pipe()`` in this process, PNG included."""

    def __init__(self, world, args) -> None:
        import torch

        from generation.spec import AdapterRef
        from rightsdesk.core.worker import adapter_bytes_for, worker_pipeline
        from rightsdesk.renders.selectors import compose_prompt

        self.torch, self.args = torch, args
        self.loaded = worker_pipeline()
        likeness = world.gate.x.likeness
        likeness.refresh_from_db()
        ref = AdapterRef(name="bench", sha256=likeness.adapter_sha256)
        # The likeness adapter is active, as in the worker: its cost belongs to the render.
        self.loaded.adapters.activate(ref, lambda _ref: adapter_bytes_for(likeness))
        from tests.consent.gate_world import BRIEF

        self.prompt = compose_prompt(likeness=likeness, brief=BRIEF)

    def render(self, seed: int) -> tuple[float, bytes]:
        from generation.render import pixels_sha256

        started = time.perf_counter()
        generator = self.torch.Generator(device=self.loaded.device).manual_seed(seed)
        with self.torch.inference_mode():
            image = self.loaded.pipe(
                prompt=self.prompt,
                width=self.args.size,
                height=self.args.size,
                num_inference_steps=self.args.steps,
                guidance_scale=5.0,
                generator=generator,
            ).images[0]
        buffer = io.BytesIO()
        image.save(buffer, format="PNG", compress_level=1)
        elapsed = time.perf_counter() - started
        return elapsed, pixels_sha256(image)


def run(args: argparse.Namespace, tmp: Path) -> None:
    import django

    django.setup()
    import torch
    from django.core.management import call_command

    call_command("migrate", verbosity=0)
    started = time.perf_counter()
    world = build_world()
    print(f"world built (adapter trained and sealed) in {time.perf_counter() - started:.1f} s")
    worker = start_worker(tmp)
    try:
        wait_ready(worker, tmp)
        path, raw = Path_(world, args, worker, tmp), Raw(world, args)
        print(
            f"worker up; {torch.get_num_threads()} torch threads here, "
            f"pipeline {raw.loaded.base_model_id} on {raw.loaded.device}"
        )
        for seed in range(args.warmup):  # the worker's child loads and warms its pipeline
            path.render(1000 + seed)
            raw.render(1000 + seed)
        path.parts.clear()
        path.phases.clear()
        path.after_stamp.clear()
        measure(args, path, raw)
    finally:
        stop_worker(worker)


def measure(args, path: Path_, raw: Raw) -> None:
    path_times, raw_times, same = [], [], 0
    for seed in range(args.renders):
        order = (path, raw) if seed % 2 == 0 else (raw, path)
        results = {}
        for runner in order:
            results[runner] = runner.render(seed)
        path_times.append(results[path][0])
        raw_times.append(results[raw][0])
        same += results[path][1] == results[raw][1]
    path_ms = statistics.median(path_times) * 1000
    raw_ms = statistics.median(raw_times) * 1000
    paired = statistics.median(p - r for p, r in zip(path_times, raw_times, strict=True)) * 1000
    overhead = path_ms - raw_ms
    print(
        f"{args.renders} renders at {args.size}x{args.size}, {args.steps} steps, interleaved; "
        f"{same}/{args.renders} gave identical renderer pixels both ways"
    )
    print(f"raw pipe() + PNG:  median {raw_ms:.1f} ms (min {min(raw_times) * 1000:.1f})")
    print(f"whole path:        median {path_ms:.1f} ms (min {min(path_times) * 1000:.1f})")
    print(f"overhead per render: {overhead:.1f} ms (median of paired differences {paired:.1f})")
    print("where the path's time goes (medians, ms):")
    for part in ("submit", "to_start", "render", "provenance", "in_worker", "hand_off"):
        print(f"  {part:<10} {statistics.median(p[part] for p in path.parts) * 1000:8.1f}")
    provenance_ms = statistics.median(p["provenance"] for p in path.parts) * 1000
    outside = statistics.median(
        sum(v for k, v in part.items() if k != "render") + phases_load
        for part, phases_load in zip(
            path.parts, (t.get("load", 0.0) for t in path.phases), strict=True
        )
    )
    phases = {k: statistics.median(t[k] for t in path.phases) * 1000 for k in path.phases[0]}
    print("  the worker's render: " + ", ".join(f"{k} {v:.1f}" for k, v in phases.items()))
    print(
        "  (submit: the service, gate included, and its commit; to_start: broker pickup and "
        "the claim; render: generation.render in the worker, adapter activation and PNG "
        "included; provenance: label, watermark, C2PA signing and its record (issue 5's "
        "cost, see bench/verify.py); in_worker: the rest of the task (checks, in-task "
        "gate, storing the drafts); hand_off: reading the asset row and the signed PNG here)"
    )
    # The two renders run in different processes and differ by some ms either way; the sum
    # of the path's own parts (adapter activation included) does not depend on that.
    print(f"the path's own parts, summed per render: median {outside * 1000:.1f} ms")
    print(
        "  of which after finished_at (notices, audit, in in_worker): median "
        f"{statistics.median(path.after_stamp) * 1000:.1f} ms"
    )
    print(
        f"without provenance (marks and signing): overhead {overhead - provenance_ms:.1f} ms, "
        f"ratio {(path_ms - provenance_ms) / raw_ms:.3f}"
    )
    print(f"RESULT render_overhead_ms={overhead:.1f} render_overhead_ratio={path_ms / raw_ms:.3f}")


def main() -> None:
    args = parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="rightsdesk-bench-render-"))
    server = prepare_environment(tmp, args.broker)
    try:
        run(args, tmp)
    finally:
        from django.db import connections

        connections.close_all()
        if server:
            admin_execute(server, f"DROP DATABASE IF EXISTS {BENCH_DB} WITH (FORCE)")
        if args.keep:
            print(f"kept {tmp}")
        else:
            shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()

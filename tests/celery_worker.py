"""A real Celery worker process for tests whose behaviour depends on one.

``celery_worker_process`` starts ``celery -A rightsdesk worker -P prefork -c 1`` on all
three queues, as production does, with (PITFALLS.md, "Celery"):

- the TEST database: the worker gets a DATABASE_URL naming it (the PostgreSQL test
  database, or the SQLite test file; an in-memory SQLite test database cannot be shared);
- a private broker namespace: a temporary folder for the file broker, or the Redis
  database of CELERY_BROKER_URL flushed first; this process's Celery app is pointed at the
  same namespace, so ``.delay()`` here reaches that worker and no other;
- readiness proven by a remote-control ping answered through that broker;
- a stop (SIGTERM, then SIGKILL to its process group) before the test database is dropped.

The worker lives for the session and starts only when a test asks for it. Tests that use it
must be ``django_db(transaction=True)``: the worker only sees committed rows.

``WorkerNamespace`` (and the ``celery_worker_factory`` fixture built on it) starts further
workers that a test may kill and restart, with extra environment (short time limits, a
short visibility timeout), in a broker namespace of their own: a fresh folder for the
file broker (``broker="file"`` forces it even when Redis is configured), or the configured
Redis database, with the session worker's consumers paused meanwhile.
"""

import contextlib
import os
import signal
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import quote, urlsplit

import dj_database_url
import pytest
from django.conf import settings
from django.db import connection
from kombu import pools

from rightsdesk.celery import app as celery_app

QUEUES = "default,gpu,training"
START_TIMEOUT_S = 60.0
STOP_TIMEOUT_S = 15.0
_start_seconds: list[float] = []
# The session worker while it runs, so that WorkerNamespace can pause its consumers.
_session_workers: list["WorkerProcess"] = []


@dataclass
class WorkerProcess:
    process: subprocess.Popen
    hostname: str
    broker_url: str
    log_path: Path
    start_seconds: float

    def log_tail(self, chars: int = 4000) -> str:
        return self.log_path.read_text(errors="replace")[-chars:]

    def assert_alive(self) -> None:
        if self.process.poll() is not None:
            pytest.fail(
                f"the Celery worker exited with {self.process.returncode}:\n{self.log_tail()}"
            )

    def pool_pids(self) -> list[int]:
        """The pids of the worker's prefork pool processes (its children)."""
        import psutil

        try:
            return [child.pid for child in psutil.Process(self.process.pid).children()]
        except psutil.NoSuchProcess:
            return []


def worker_database_url() -> str:
    """A DATABASE_URL for the database this process's tests use (after django_db_setup)."""
    current = connection.settings_dict
    name = str(current["NAME"])
    if current["ENGINE"] == "django.db.backends.sqlite3":
        if name == ":memory:" or "mode=memory" in name:
            raise RuntimeError("the SQLite test database is in memory: set TEST NAME to a file")
        return "sqlite:///" + str(Path(name).resolve())
    if not os.environ.get("DATABASE_URL"):
        raise RuntimeError(f"cannot hand {current['ENGINE']} to a worker without DATABASE_URL")
    # Keep everything the configured URL says (user, socket folder, options) but the name.
    url = urlsplit(os.environ["DATABASE_URL"])._replace(path="/" + quote(name)).geturl()
    parsed = dj_database_url.parse(url)
    for key in ("ENGINE", "NAME", "USER", "HOST", "PORT"):
        if str(parsed[key] or "") != str(current[key] or ""):
            raise RuntimeError(f"worker DATABASE_URL {url} disagrees on {key}")
    return url


def _private_broker(broker_dir: Path) -> tuple[dict[str, str], dict[str, object]]:
    """Environment for the worker and conf for this process, sharing one empty namespace."""
    url = celery_app.conf.broker_url
    if url.startswith("filesystem://"):
        folders = {name: broker_dir / name for name in ("in", "processed", "control")}
        for folder in folders.values():
            folder.mkdir(parents=True)
        options = {
            **celery_app.conf.broker_transport_options,
            "data_folder_in": str(folders["in"]),
            "data_folder_out": str(folders["in"]),
            "processed_folder": str(folders["processed"]),
            "control_folder": str(folders["control"]),
        }
        return {"RIGHTSDESK_BROKER_DIR": str(broker_dir)}, {"broker_transport_options": options}
    if url.startswith(("redis://", "rediss://")):
        import redis

        # The database number in CELERY_BROKER_URL is this suite's own (CI: 15).
        client = redis.Redis.from_url(url)
        client.flushdb()
        client.close()
        return {}, {}
    raise RuntimeError(f"no private namespace known for broker {url}")


def _reset_publisher() -> None:
    # Connections opened before the conf changed keep the old transport options.
    celery_app._pool = None
    amqp = celery_app.__dict__.get("amqp")
    if amqp is not None:
        amqp._producer_pool = None
    pools.reset()


@contextlib.contextmanager
def broker_unreachable() -> Iterator[None]:
    """Point this process's Celery connections at a closed port: kombu really connects,
    is refused, retries by its policy and gives up (a broker outage, no stand-in)."""
    with broker_at("redis://127.0.0.1:9/0"):
        assert celery_app.connection_for_write().as_uri() == "redis://:**@127.0.0.1:9/0"
        yield


@contextlib.contextmanager
def broker_at(url: str) -> Iterator[None]:
    """Point this process's Celery connections at ``url`` for a while."""
    # Celery reads CELERY_BROKER_URL from the environment before its configuration, and a
    # write URL (WorkerNamespace sets one) before the broker URL.
    conf = celery_app.conf
    keys = ("broker_url", "broker_write_url", "broker_transport")
    saved_env, saved = os.environ.get("CELERY_BROKER_URL"), {key: conf[key] for key in keys}
    _reset_publisher()
    os.environ["CELERY_BROKER_URL"] = url
    # No transport named: the file broker's, where it is configured, would take the URL.
    conf.update(broker_url=url, broker_write_url=url, broker_transport=None)
    try:
        yield
    finally:
        if saved_env is None:
            del os.environ["CELERY_BROKER_URL"]
        else:
            os.environ["CELERY_BROKER_URL"] = saved_env
        conf.update(saved)
        _reset_publisher()


def _celery_command(hostname: str) -> list[str]:
    script = Path(sys.executable).with_name("celery")
    base = [str(script)] if script.exists() else [sys.executable, "-m", "celery"]
    # prefork -c 1, as in production: time limits and reject_on_worker_lost need it.
    return [
        *base,
        "-A",
        "rightsdesk",
        "worker",
        "-P",
        "prefork",
        "-c",
        "1",
        "-Q",
        QUEUES,
        "-n",
        hostname,
        "--without-heartbeat",
        "--without-gossip",
        "--without-mingle",
        "--loglevel=INFO",
    ]


def _wait_until_ready(worker: WorkerProcess, started: float) -> None:
    deadline = started + START_TIMEOUT_S
    while time.monotonic() < deadline:
        worker.assert_alive()
        # A reply travels worker -> broker -> here: the worker consumes from this namespace.
        if celery_app.control.ping(destination=[worker.hostname], timeout=0.5):
            return
    pytest.fail(f"the Celery worker did not answer within {START_TIMEOUT_S}s:\n{worker.log_tail()}")


def _stop(process: subprocess.Popen) -> None:
    # Warm shutdown takes 2-6 s (the consumer loop and the pool's threads poll); a task
    # still running after STOP_TIMEOUT_S is killed.
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
        with contextlib.suppress(subprocess.TimeoutExpired):
            process.wait(timeout=STOP_TIMEOUT_S)
    # The worker leads its own process group: anything left in it (a pool child whose
    # parent died) would hold a database connection and block dropping the test database.
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGKILL)
    process.wait(timeout=STOP_TIMEOUT_S)


@pytest.fixture(scope="session")
def _celery_worker_session(django_db_setup) -> Iterator[WorkerProcess]:
    # Depending on django_db_setup makes pytest stop the worker before the test database
    # is dropped.
    with tempfile.TemporaryDirectory(prefix="rightsdesk-worker-") as tmp:
        tmp_path = Path(tmp)
        env_broker, conf_broker = _private_broker(tmp_path / "broker")
        env = {
            **os.environ,
            **env_broker,
            "DATABASE_URL": worker_database_url(),
            "DJANGO_SETTINGS_MODULE": "rightsdesk.settings",
            "CELERY_TASK_ALWAYS_EAGER": "0",
            "PYTHONPATH": str(settings.BASE_DIR),
        }
        hostname = f"test-{uuid.uuid4().hex[:8]}@localhost"
        saved_conf = {key: celery_app.conf[key] for key in conf_broker}
        log_path = tmp_path / "worker.log"
        process = None
        try:
            celery_app.conf.update(conf_broker)
            _reset_publisher()
            started = time.monotonic()
            with log_path.open("wb") as log:
                process = subprocess.Popen(
                    _celery_command(hostname),
                    cwd=settings.BASE_DIR,
                    env=env,
                    stdout=log,
                    stderr=subprocess.STDOUT,
                    start_new_session=True,
                )
            worker = WorkerProcess(process, hostname, celery_app.conf.broker_url, log_path, 0.0)
            _wait_until_ready(worker, started)
            worker.start_seconds = time.monotonic() - started
            _start_seconds.append(worker.start_seconds)
            _session_workers.append(worker)
            yield worker
        finally:
            _session_workers.clear()
            if process is not None:
                _stop(process)
            celery_app.conf.update(saved_conf)
            _reset_publisher()


def _is_transactional(request: pytest.FixtureRequest) -> bool:
    if "transactional_db" in request.fixturenames:
        return True
    marker = request.node.get_closest_marker("django_db")
    if marker is None:
        return False
    return bool(marker.kwargs.get("transaction") or (marker.args and marker.args[0]))


@pytest.fixture
def celery_worker_process(request, _celery_worker_session) -> WorkerProcess:
    """A running worker on the test database and a private broker (started once a session).

    The test must be ``django_db(transaction=True)``: in a test wrapped in a transaction the
    worker would wait for rows that are never committed.
    """
    if not _is_transactional(request):
        pytest.fail("celery_worker_process needs @pytest.mark.django_db(transaction=True)")
    _celery_worker_session.assert_alive()
    return _celery_worker_session


def pytest_terminal_summary(terminalreporter) -> None:
    for seconds in _start_seconds:
        terminalreporter.write_line(f"celery worker: started and answered a ping in {seconds:.2f}s")


class WorkerNamespace:
    """Workers a test may kill and restart, in a broker namespace of their own.

    ``broker="configured"`` uses CELERY_BROKER_URL (a fresh folder for the file broker; for
    Redis its database, purged, with the session worker's consumers paused until exit);
    ``broker="file"`` uses a file broker in a fresh folder whatever is configured. While
    the namespace is open, this process's ``.delay()`` reaches its workers and no other.
    ``start(env=...)`` adds environment variables to a worker (time limits, visibility).
    """

    def __init__(self, tmp_path: Path, *, broker: str = "configured") -> None:
        if broker not in ("configured", "file"):
            raise ValueError("broker is 'configured' or 'file'")
        self.tmp_path = Path(tmp_path)
        self.broker = broker
        self.workers: list[WorkerProcess] = []
        self._env: dict[str, str] = {}
        self._saved: dict[str, object] = {}
        self._paused: list[WorkerProcess] = []

    def __enter__(self) -> "WorkerNamespace":
        broker_dir = self.tmp_path / f"broker-{uuid.uuid4().hex[:6]}"
        configured = celery_app.conf.broker_url
        if self.broker == "file" or configured.startswith("filesystem://"):
            self._env, conf = _file_namespace(broker_dir)
        else:
            self._pause_session_workers()
            self._env, conf = _redis_namespace(purge_only=bool(self._paused))
        self._saved = {key: celery_app.conf[key] for key in conf}
        celery_app.conf.update(conf)
        _reset_publisher()
        return self

    def start(self, env: dict[str, str] | None = None, *, name: str = "ns") -> WorkerProcess:
        hostname = f"{name}-{uuid.uuid4().hex[:8]}@localhost"
        log_path = self.tmp_path / f"{hostname.split('@')[0]}.log"
        worker_env = {
            **os.environ,
            **self._env,
            "DATABASE_URL": worker_database_url(),
            "DJANGO_SETTINGS_MODULE": "rightsdesk.settings",
            "CELERY_TASK_ALWAYS_EAGER": "0",
            "PYTHONPATH": str(settings.BASE_DIR),
            **(env or {}),
        }
        started = time.monotonic()
        with log_path.open("wb") as log:
            process = subprocess.Popen(
                _celery_command(hostname),
                cwd=settings.BASE_DIR,
                env=worker_env,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        worker = WorkerProcess(process, hostname, celery_app.conf.broker_url, log_path, 0.0)
        self.workers.append(worker)
        _wait_until_ready(worker, started)
        worker.start_seconds = time.monotonic() - started
        _start_seconds.append(worker.start_seconds)
        return worker

    def __exit__(self, *exc_info) -> None:
        try:
            for worker in self.workers:
                _stop(worker.process)
        finally:
            celery_app.conf.update(self._saved)
            _reset_publisher()
            self._resume_session_workers()

    def _pause_session_workers(self) -> None:
        for worker in _session_workers:
            if worker.process.poll() is None:
                for queue in QUEUES.split(","):
                    celery_app.control.cancel_consumer(
                        queue, destination=[worker.hostname], reply=True, timeout=5
                    )
                self._paused.append(worker)

    def _resume_session_workers(self) -> None:
        for worker in self._paused:
            if worker.process.poll() is None:
                for queue in QUEUES.split(","):
                    celery_app.control.add_consumer(
                        queue, destination=[worker.hostname], reply=True, timeout=5
                    )
        self._paused.clear()


def _file_namespace(broker_dir: Path) -> tuple[dict[str, str], dict[str, object]]:
    folders = {name: broker_dir / name for name in ("in", "processed", "control")}
    for folder in folders.values():
        folder.mkdir(parents=True)
    options = {
        "data_folder_in": str(folders["in"]),
        "data_folder_out": str(folders["in"]),
        "processed_folder": str(folders["processed"]),
        "control_folder": str(folders["control"]),
        "store_processed": False,
        "polling_interval": 0.05,
    }
    env = {"CELERY_BROKER_URL": "filesystem://", "RIGHTSDESK_BROKER_DIR": str(broker_dir)}
    # Celery prefers a CELERY_BROKER_URL in the environment to broker_url; the read and
    # write URLs are asked for first, so they point this process at the folder.
    conf = {
        "broker_url": "filesystem://",
        "broker_read_url": "filesystem://",
        "broker_write_url": "filesystem://",
        "broker_transport": "rightsdesk.filebroker:Transport",  # as settings.py selects it
        "broker_transport_options": options,
    }
    return env, conf


def _redis_namespace(*, purge_only: bool) -> tuple[dict[str, str], dict[str, object]]:
    import redis

    client = redis.Redis.from_url(celery_app.conf.broker_url)
    if purge_only:
        # The paused session worker keeps its bindings in this database: only the queues
        # and the unacknowledged messages go.
        client.delete(*QUEUES.split(","), "unacked", "unacked_index", "unacked_mutex")
    else:
        client.flushdb()
    client.close()
    return {}, {}


@pytest.fixture
def celery_worker_factory(request, django_db_setup, tmp_path) -> Iterator[WorkerNamespace]:
    """A WorkerNamespace on the configured broker for one test; its workers stop after it.
    ``celery_worker_factory.start(env={...})`` starts one."""
    if not _is_transactional(request):
        pytest.fail("celery_worker_factory needs @pytest.mark.django_db(transaction=True)")
    with WorkerNamespace(tmp_path) as namespace:
        yield namespace

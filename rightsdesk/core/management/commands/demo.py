"""``manage.py demo``: seed the demo world, tell its story, then serve it.

The story's generation steps (capture, training, rendering) wait on a Celery worker: the
demo starts one child worker with beat on every queue when the story reaches them (or,
with ``--worker-running``, relies on one already consuming the broker). Serving adds
Django's development server beside it; each child leads its own process group so that
stopping one stops its pool too. Ctrl-C or SIGTERM stops both; if either dies, the other
is stopped and the demo exits non-zero. ``--no-serve`` tells the story to its end and
leaves nothing running; ``--skip-generation`` leaves out the steps that need a worker.
"""

from __future__ import annotations

import contextlib
import ctypes
import os
import signal
import socket
import subprocess
import sys
import textwrap
import time
import urllib.error
import urllib.request
from pathlib import Path
from types import FrameType

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db import connections

from rightsdesk.core.demo_story import (
    DEMO_PASSWORD,
    STORY,
    USERS,
    DemoWorker,
    DemoWorld,
    StepFailed,
)
from rightsdesk.core.errors import ApplicationError

READY_TIMEOUT_S = 60
# A worker finishing a render on SIGTERM (warm shutdown) gets this long before SIGKILL.
STOP_TIMEOUT_S = 20
POLL_S = 0.2


class Command(BaseCommand):
    help = (
        "Seed the demo data (idempotently), tell the demo story, then run the web server "
        "and a Celery worker with beat until Ctrl-C. --no-serve stops after the story."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--no-serve",
            action="store_true",
            help="Tell the story to its end and exit without starting any server.",
        )
        parser.add_argument(
            "--skip-generation",
            action="store_true",
            help="Leave out the steps that need a worker (capture, training, rendering).",
        )
        parser.add_argument(
            "--worker-running",
            action="store_true",
            help="A Celery worker already consumes this broker: start none for the story.",
        )
        parser.add_argument("--host", default="127.0.0.1", help="Web server address.")
        parser.add_argument("--port", type=int, default=8000, help="Web server port.")

    def handle(
        self,
        *args,
        no_serve: bool,
        skip_generation: bool,
        worker_running: bool,
        host: str,
        port: int,
        **options,
    ) -> None:
        if not no_serve:
            _ensure_port_free(host, port)
        children = Children()
        worker = ExistingWorker() if worker_running else StoryWorker(children)
        try:
            world = self.tell_story(worker=worker, skip_generation=skip_generation)
            if no_serve:
                self.stdout.write(self.style.SUCCESS("The story ran to its end."))
                # The last line names the released, signed image the story made.
                if world.released_path:
                    self.stdout.write(world.released_path)
                return
            self.serve(host=host, port=port, children=children)
        finally:
            children.stop_all()

    def tell_story(self, *, worker: DemoWorker, skip_generation: bool) -> DemoWorld:
        world = DemoWorld(worker=worker)
        steps = [step for step in STORY if not (skip_generation and step.needs_worker)]
        for number, step in enumerate(steps, start=1):
            try:
                line = step.run(world)
            except (StepFailed, ApplicationError) as exc:
                raise CommandError(f"step {number} ({step.title}) failed: {exc}")
            self.stdout.write(f"{number}. {self.style.MIGRATE_HEADING(step.title)}")
            self.stdout.write(textwrap.indent(line, "   "))
        if skip_generation:
            self.stdout.write("(capture, training and rendering left out: --skip-generation)")
        return world

    def serve(self, *, host: str, port: int, children: Children) -> None:
        connections.close_all()  # the children have their own; this one would sit idle
        stop_requested: list[int] = []

        def request_stop(signum: int, frame: FrameType | None) -> None:
            stop_requested.append(signum)

        previous = {
            sig: signal.signal(sig, request_stop) for sig in (signal.SIGINT, signal.SIGTERM)
        }
        try:
            if StoryWorker.NAME not in children.processes:
                children.start(StoryWorker.NAME, _worker_command(), log=worker_log())
            children.start("web server", _web_command(host, port))
            url = f"http://{_client_host(host)}:{port}"
            if _wait_until_healthy(url, children, stop_requested):
                self.print_banner(url)
            elif not stop_requested and children.first_exited() is None:
                raise CommandError(f"{url}/healthz did not answer within {READY_TIMEOUT_S} s")
            while not stop_requested and children.first_exited() is None:
                time.sleep(POLL_S)
        finally:
            dead = children.first_exited()
            self.stdout.write("Stopping the web server and the worker...")
            children.stop_all()
            for sig, handler in previous.items():
                signal.signal(sig, handler)
        if dead is not None and not stop_requested:
            name, returncode = dead
            raise CommandError(f"the {name} exited with status {returncode}; stopped the rest")
        self.stdout.write("Stopped.")

    def print_banner(self, url: str) -> None:
        lines = [
            "",
            self.style.SUCCESS("Rightsdesk demo is running."),
            f"  Home        {url}/",
            f"  Log in      {url}/login/",
            f"  API docs    {url}/api/docs/",
            f"  Admin       {url}/admin/  (staff@demo.test)",
            f"  Worker log  {worker_log()}",
            f"  E-mail      {settings.EMAIL_FILE_PATH}  (one file per message)",
            "",
            f"  Demo logins (password: {DEMO_PASSWORD})",
        ]
        lines += [f"    {user.email:<20} {user.role}" for user in USERS]
        lines += [
            "",
            "  The web server is Django's runserver: fine for a demo on this machine,",
            "  not for production (README.md, 'Running for real'). Ctrl-C stops everything.",
            "",
        ]
        self.stdout.write("\n".join(lines))


class Children:
    """Child processes, each leading its own process group (Celery forks a pool)."""

    def __init__(self) -> None:
        self.processes: dict[str, subprocess.Popen] = {}

    def start(self, name: str, command: list[str], *, log: Path | None = None) -> None:
        output = None
        if log is not None:
            log.parent.mkdir(parents=True, exist_ok=True)
            output = log.open("ab")
        self.processes[name] = subprocess.Popen(
            command,
            cwd=settings.BASE_DIR,
            stdout=output,
            stderr=subprocess.STDOUT if output else None,
            # Its own session: Ctrl-C reaches only the demo, which then stops the children
            # in order, rather than every process at once.
            start_new_session=True,
            preexec_fn=_die_with_parent,
        )
        if output is not None:
            output.close()  # the child has its own copy

    def first_exited(self) -> tuple[str, int] | None:
        for name, process in self.processes.items():
            returncode = process.poll()
            if returncode is not None:
                return name, returncode
        return None

    def stop_all(self) -> None:
        # SIGTERM to the leader only: Celery's main process then stops its pool and beat
        # itself (a warm shutdown); the group is killed only if that takes too long.
        for process in self.processes.values():
            if process.poll() is None:
                process.send_signal(signal.SIGTERM)
        deadline = time.monotonic() + STOP_TIMEOUT_S
        for process in self.processes.values():
            try:
                process.wait(timeout=max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                _signal_group(process.pid, signal.SIGKILL)
                process.wait()
            _wait_for_group(process.pid, until=time.monotonic() + 5)


class StoryWorker:
    """The demo's own worker, started when the story first needs one and kept for serving.

    Ready means it answered a remote-control ping through the broker, so the tasks the
    story sends from then on are picked up."""

    NAME = "Celery worker"

    def __init__(self, children: Children) -> None:
        self.children = children

    def ensure(self) -> None:
        if self.NAME in self.children.processes:
            self.check()
            return
        connections.close_all()  # not shared with the child (SQLite's file locks)
        self.children.start(self.NAME, _worker_command(), log=worker_log())
        deadline = time.monotonic() + READY_TIMEOUT_S
        while not _worker_answers():
            self.check()
            if time.monotonic() > deadline:
                raise StepFailed(f"the Celery worker did not answer within {READY_TIMEOUT_S} s")

    def check(self) -> None:
        process = self.children.processes.get(self.NAME)
        if process is not None and process.poll() is not None:
            raise StepFailed(f"the Celery worker exited with status {process.returncode}")


class ExistingWorker:
    """A worker someone else runs on this broker (``--worker-running``)."""

    def ensure(self) -> None:
        if not _worker_answers(timeout=5.0):
            raise StepFailed("--worker-running, but no Celery worker answers on this broker")

    def check(self) -> None:
        return None


def worker_log() -> Path:
    return Path(settings.VAR_DIR) / "logs" / "worker.log"


def _worker_answers(timeout: float = 1.0) -> bool:
    from rightsdesk.celery import app

    return bool(app.control.ping(timeout=timeout))


def _web_command(host: str, port: int) -> list[str]:
    # --insecure serves the admin's and the API docs' static files with DEBUG off.
    manage = str(settings.BASE_DIR / "manage.py")
    return [sys.executable, manage, "runserver", f"{host}:{port}", "--noreload", "--insecure"]


def _worker_command() -> list[str]:
    # One worker for every queue, with beat (-B) for the periodic work; prefork so that
    # time limits work (PITFALLS.md).
    return [
        sys.executable,
        "-m",
        "celery",
        "-A",
        "rightsdesk",
        "worker",
        "-B",
        "-Q",
        "default,gpu,training",
        "-P",
        "prefork",
        "-c",
        "1",
        "--loglevel",
        "INFO",
    ]


def _die_with_parent() -> None:
    """In the child: receive SIGTERM if the demo itself is killed (Linux only)."""
    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG


def _signal_group(pgid: int, sig: int) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.killpg(pgid, sig)


def _wait_for_group(pgid: int, *, until: float) -> None:
    """Wait for the rest of the group (a pool child, beat) to follow its leader out."""
    while time.monotonic() < until:
        try:
            os.killpg(pgid, 0)
        except ProcessLookupError:
            return
        time.sleep(POLL_S)
    _signal_group(pgid, signal.SIGKILL)


def _ensure_port_free(host: str, port: int) -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((host, port))
        except OSError as exc:
            raise CommandError(f"cannot listen on {host}:{port} ({exc}); try --port")


def _client_host(host: str) -> str:
    return "127.0.0.1" if host in ("0.0.0.0", "") else host  # noqa: S104


def _wait_until_healthy(url: str, children: Children, stop_requested: list[int]) -> bool:
    deadline = time.monotonic() + READY_TIMEOUT_S
    while time.monotonic() < deadline and not stop_requested:
        if children.first_exited() is not None:
            return False
        try:
            with urllib.request.urlopen(f"{url}/healthz", timeout=2) as response:  # noqa: S310
                if response.status == 200:
                    return True
        except (urllib.error.URLError, OSError):
            pass
        time.sleep(POLL_S)
    return False

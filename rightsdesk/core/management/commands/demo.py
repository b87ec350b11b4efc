"""``manage.py demo``: seed the demo world, tell its story, then serve it.

Serving starts two children, Django's development server and one Celery worker with beat
on every queue, each in its own process group so that stopping one stops its pool too.
Ctrl-C or SIGTERM stops both; if either dies, the other is stopped and the demo exits
non-zero. ``--no-serve`` tells the story to its end and leaves nothing running.
"""

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
from types import FrameType

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db import connections

from rightsdesk.core.demo_story import DEMO_PASSWORD, STORY, USERS, DemoWorld, StepFailed
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
        parser.add_argument("--host", default="127.0.0.1", help="Web server address.")
        parser.add_argument("--port", type=int, default=8000, help="Web server port.")

    def handle(self, *args, no_serve: bool, host: str, port: int, **options) -> None:
        self.tell_story(serving=not no_serve)
        if no_serve:
            self.stdout.write(self.style.SUCCESS("The story ran to its end."))
            return
        self.serve(host=host, port=port)

    def tell_story(self, *, serving: bool) -> None:
        world = DemoWorld()
        steps = [step for step in STORY if step.when_serving or not serving]
        for number, step in enumerate(steps, start=1):
            try:
                line = step.run(world)
            except (StepFailed, ApplicationError) as exc:
                raise CommandError(f"step {number} ({step.title}) failed: {exc}")
            self.stdout.write(f"{number}. {self.style.MIGRATE_HEADING(step.title)}")
            self.stdout.write(textwrap.indent(line, "   "))

    def serve(self, *, host: str, port: int) -> None:
        _ensure_port_free(host, port)
        connections.close_all()  # the children have their own; this one would sit idle
        stop_requested: list[int] = []

        def request_stop(signum: int, frame: FrameType | None) -> None:
            stop_requested.append(signum)

        previous = {
            sig: signal.signal(sig, request_stop) for sig in (signal.SIGINT, signal.SIGTERM)
        }
        children = Children()
        try:
            children.start("web server", _web_command(host, port))
            children.start("Celery worker", _worker_command())
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

    def start(self, name: str, command: list[str]) -> None:
        self.processes[name] = subprocess.Popen(
            command,
            cwd=settings.BASE_DIR,
            # Its own session: Ctrl-C reaches only the demo, which then stops the children
            # in order, rather than every process at once.
            start_new_session=True,
            preexec_fn=_die_with_parent,
        )

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

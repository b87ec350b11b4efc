"""`manage.py demo`: the story runs to its end, re-running changes nothing, the printed
logins work, the deal (agreement, consents, licences) is seeded through the real services,
and the serving mode starts and stops its web server and worker cleanly."""

import contextlib
import io
import json
import os
import re
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import psutil
import pytest
from django.apps import apps
from django.conf import settings
from django.contrib.auth import authenticate
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db.models import F

from rightsdesk.accounts.models import Organization, User
from rightsdesk.agreements.models import Agreement, AgreementVersion, Signature
from rightsdesk.audit.models import AuditChainHead, AuditEvent
from rightsdesk.consent.models import CreationConsent, GateDecision
from rightsdesk.licensing.memo import deal_memo_render
from rightsdesk.licensing.models import Licence, LicenceOffer
from rightsdesk.renders.models import RenderRequest
from rightsdesk.talent.models import Representation, Talent

DEMO_PASSWORD = "demo-pass-2026"
DEMO_LOGINS = {
    "talent@demo.test": "talent",
    "agent@demo.test": "agent",
    "legal@demo.test": "legal",
    "manager@demo.test": "campaign_manager",
    "staff@demo.test": "staff",
}


@pytest.fixture(autouse=True)
def demo_media(settings, tmp_path):
    # The agreement's document is a file: keep each test's copy out of the shared var/.
    settings.MEDIA_ROOT = tmp_path / "media"


def run_demo() -> str:
    """The story without the steps that wait on a worker (the full story is tested below,
    as `make demo` runs it, in a subprocess with its own worker)."""
    out = io.StringIO()
    call_command("demo", "--no-serve", "--skip-generation", stdout=out)
    return out.getvalue()


def every_row() -> dict[str, list[tuple]]:
    """Every row of every model, so that a second run can be shown to change nothing."""
    return {
        model._meta.label: list(model._default_manager.order_by("pk").values_list())
        for model in apps.get_models(include_auto_created=True)
    }


@pytest.mark.django_db
def test_demo_without_serving_tells_the_story_to_its_end():
    output = run_demo()

    assert "Seed the demo world" in output
    assert "identity" in output
    assert "Demo Models represents Demo Model at 20.00% commission" in output
    assert "Both parties sign the agreement" in output
    assert "consented to train on base model" in output
    assert "buy-out EUR 5,000.00 + EUR 150.00 per released asset" in output
    assert "awaiting the talent's answer" in output
    assert "Gate dry run for licence B" in output
    assert "licence_not_accepted" in output
    assert "audit chain intact" in output
    assert output.rstrip().endswith("The story ran to its end.")


@pytest.mark.django_db
def test_running_the_demo_twice_changes_nothing():
    run_demo()
    first = every_row()
    counts = {label: len(rows) for label, rows in first.items()}

    run_demo()

    assert {label: len(rows) for label, rows in every_row().items()} == counts
    assert every_row() == first
    assert counts["accounts.User"] == 5
    assert counts["talent.Talent"] == 1
    assert counts["talent.Representation"] == 1
    assert counts["accounts.Organization"] == 2
    assert counts["agreements.Agreement"] == 1
    assert counts["agreements.Signature"] == 2
    assert counts["consent.CreationConsent"] == 2
    assert counts["licensing.Licence"] == 2


@pytest.mark.django_db
@pytest.mark.parametrize(("email", "role"), DEMO_LOGINS.items())
def test_each_demo_login_authenticates_with_the_demo_password(email, role):
    run_demo()

    user = authenticate(username=email, password=DEMO_PASSWORD)

    assert user is not None
    assert user.role == role


@pytest.mark.django_db
def test_demo_world_is_a_verified_adult_talent_represented_with_every_power():
    run_demo()

    talent = Talent.objects.get(user__email="talent@demo.test")
    representation = Representation.objects.get(talent=talent)
    staff = User.objects.get(email="staff@demo.test")
    assert talent.stage_name == "Demo Model"
    assert not talent.is_minor()
    assert talent.identity_verified_by == staff
    assert staff.is_staff and staff.is_superuser
    assert representation.agency.name == "Demo Models"
    assert representation.agency.kind == Organization.Kind.AGENCY
    assert representation.commission_bps == 2000
    assert representation.can_negotiate_uses
    assert representation.can_approve_outputs
    assert representation.can_view_earnings
    assert User.objects.get(email="agent@demo.test").organization == representation.agency
    brand = Organization.objects.get(name="Maison Demo")
    assert brand.kind == Organization.Kind.BRAND
    assert set(brand.members.values_list("email", flat=True)) == {
        "legal@demo.test",
        "manager@demo.test",
    }


@pytest.mark.django_db
def test_demo_agreement_is_active_and_signed_by_the_talent_and_brand_legal():
    run_demo()

    agreement = Agreement.objects.get()
    version = agreement.versions.get()
    signatures = {s.party: s for s in version.signatures.select_related("signer")}
    assert agreement.status == Agreement.Status.ACTIVE
    assert version.status == AgreementVersion.Status.ACTIVE
    assert agreement.talent.user.email == "talent@demo.test"
    assert agreement.brand.name == "Maison Demo"
    assert set(signatures) == {Signature.Party.PRINCIPAL, Signature.Party.BRAND_LEGAL}
    assert signatures[Signature.Party.PRINCIPAL].signer.email == "talent@demo.test"
    assert signatures[Signature.Party.BRAND_LEGAL].signer.email == "legal@demo.test"
    for signature in signatures.values():
        assert signature.signed_sha256 == version.content_sha256
        assert signature.authentication_method == "demo"
        assert signature.ip_address == "127.0.0.1"
        assert signature.user_agent == "rightsdesk-demo"


@pytest.mark.django_db
def test_demo_talent_gives_capture_and_train_consents_herself():
    run_demo()

    consents = {c.kind: c for c in CreationConsent.objects.select_related("given_by", "notice")}
    assert set(consents) == {"capture", "train"}
    assert consents["capture"].base_model == ""
    assert consents["train"].base_model  # a training consent names its base model
    for consent in consents.values():
        assert consent.given_by.email == "talent@demo.test"
        assert consent.given_role == "talent"
        assert consent.notice_sha256 == consent.notice.sha256


@pytest.mark.django_db
def test_demo_licence_a_is_accepted_on_its_memo_and_licence_b_awaits_the_talent():
    run_demo()

    accepted = Licence.objects.get(campaign="Spring 2027 e-commerce")
    waiting = Licence.objects.get(campaign="Holiday 2027 out-of-home")
    acceptance = accepted.offers.get(kind=LicenceOffer.Kind.ACCEPTED)
    assert accepted.status == Licence.Status.ACCEPTED
    assert accepted.accepted_by.email == "talent@demo.test"
    assert accepted.deal_memo_sha256 == acceptance.deal_memo_sha256
    assert accepted.deal_memo_sha256 == deal_memo_render(licence=accepted).sha256
    assert (accepted.buyout_minor, accepted.usage_fee_minor) == (500_000, 15_000)
    assert accepted.draft_allowance == 30 and not accepted.brief_approval_required
    assert sorted(accepted.usage_rows.values_list("medium", flat=True)) == [
        "ecommerce_product_page",
        "organic_social",
    ]
    assert waiting.status == Licence.Status.PROPOSED
    assert waiting.deal_memo_sha256 == "" and waiting.accepted_at is None
    assert list(waiting.usage_rows.values_list("territories", flat=True)) == [
        {"include": ["DACH"], "exclude": []}
    ]


@pytest.mark.django_db
def test_demo_gate_dry_runs_store_no_decision():
    output = run_demo()

    assert "Gate dry run for licence A" in output
    assert "dry run: nothing stored" in output
    # The one stored decision is the denied 'never' brief's, a real submission.
    [stored] = GateDecision.objects.all()
    [denied] = RenderRequest.objects.all()
    assert stored.subject_reference == f"render_request:{denied.public_id}"
    assert (denied.status, stored.outcome) == ("denied", "deny")
    assert "category_never" in denied.denial_reasons


def test_demo_story_does_not_import_torch():
    # The web process must never load torch (DESIGN.md, "Boundaries"); the story's base
    # model for the training consent is therefore not read from generation.tiny.
    code = (
        "import sys, django; django.setup(); "
        "import rightsdesk.core.management.commands.demo; "
        "sys.exit('torch' in sys.modules)"
    )
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "rightsdesk.settings"}
    result = subprocess.run(
        [sys.executable, "-c", code],
        cwd=settings.BASE_DIR,
        env=env,
        capture_output=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr.decode()[-2000:]


@pytest.mark.django_db
def test_demo_puts_back_a_changed_demo_password():
    run_demo()
    agent = User.objects.get(email="agent@demo.test")
    agent.set_password("something-else-entirely")
    agent.save()

    run_demo()

    assert authenticate(username="agent@demo.test", password=DEMO_PASSWORD) == agent


@pytest.mark.django_db
def test_demo_fails_naming_the_step_when_the_audit_chain_is_broken():
    run_demo()
    # Pretend later events were deleted: the head records one event more than exists.
    AuditChainHead.objects.filter(pk=1).update(last_sequence=F("last_sequence") + 1)
    events_before = AuditEvent.objects.count()

    with pytest.raises(CommandError, match="Verify the audit chain"):
        run_demo()

    assert AuditEvent.objects.count() == events_before


# Serving mode, in a real subprocess with its own var/ (SQLite, file broker, keys).


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _private_env(var_dir: Path) -> dict[str, str]:
    env = {
        name: value
        for name, value in os.environ.items()
        if name
        not in {
            "DATABASE_URL",
            "CELERY_BROKER_URL",
            "RIGHTSDESK_BROKER_DIR",
            "RIGHTSDESK_MEDIA_ROOT",
            "RIGHTSDESK_ENV",
        }
    }
    env["RIGHTSDESK_VAR_DIR"] = str(var_dir)
    return env


def _get(url: str) -> int:
    with urllib.request.urlopen(url, timeout=10) as response:  # follows the login redirect
        return response.status


def _post_json(url: str, body: dict) -> tuple[int, dict]:
    request = urllib.request.Request(
        url,
        data=json.dumps(body).encode(),
        headers={"Content-Type": "application/json"},
        method="POST",
    )
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read() or b"{}")


def _wait_for(condition, *, demo: subprocess.Popen, log: Path, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if demo.poll() is not None:
            pytest.fail(f"the demo exited with {demo.returncode}:\n{log.read_text()[-4000:]}")
        if condition():
            return
        time.sleep(0.2)
    pytest.fail(f"timed out waiting for the demo:\n{log.read_text()[-4000:]}")


def _healthy(base: str) -> bool:
    try:
        return _get(f"{base}/healthz") == 200
    except (urllib.error.URLError, OSError):
        return False


@dataclass
class ServedDemo:
    process: subprocess.Popen
    base: str
    log: Path

    def children(self) -> list[psutil.Process]:
        """The web server, the worker and the worker's pool and beat processes."""
        return psutil.Process(self.process.pid).children(recursive=True)

    def child(self, word: str) -> psutil.Process:
        return next(c for c in self.children() if word in " ".join(c.cmdline()))

    def log_tail(self) -> str:
        return self.log.read_text()[-4000:]


@pytest.fixture
def served_demo(tmp_path) -> Iterator[ServedDemo]:
    """`manage.py demo --port <free port>` on a migrated private var/, up and ready."""
    env = _private_env(tmp_path / "var")
    manage = [sys.executable, str(settings.BASE_DIR / "manage.py")]
    subprocess.run(
        [*manage, "migrate", "--noinput", "-v0"],
        env=env,
        cwd=settings.BASE_DIR,
        check=True,
        capture_output=True,
        timeout=120,
    )
    port = _free_port()
    log = tmp_path / "demo.log"
    with log.open("w") as log_file:
        process = subprocess.Popen(
            [*manage, "demo", "--port", str(port), "--skip-generation"],
            env=env,
            cwd=settings.BASE_DIR,
            stdout=log_file,
            stderr=subprocess.STDOUT,
        )
    demo = ServedDemo(process=process, base=f"http://127.0.0.1:{port}", log=log)
    seen: list[psutil.Process] = []
    try:
        _wait_for(lambda: _healthy(demo.base), demo=process, log=log, timeout=90)
        worker_log = tmp_path / "var" / "logs" / "worker.log"
        _wait_for(
            lambda: worker_log.exists() and "ready." in worker_log.read_text(),
            demo=process,
            log=log,
            timeout=60,
        )
        seen = demo.children()
        yield demo
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
        for child in seen:
            if child.is_running():
                child.kill()


@pytest.mark.worker
@pytest.mark.timeout(240)
def test_demo_serves_the_site_and_stops_both_children_on_sigterm(served_demo):
    base = served_demo.base
    assert _get(f"{base}/") == 200
    assert _get(f"{base}/api/docs/") == 200
    for email, role in DEMO_LOGINS.items():
        status, body = _post_json(
            f"{base}/api/v1/auth/token/", {"email": email, "password": DEMO_PASSWORD}
        )
        assert status == 200, (email, body)
        assert body["token"] and body["role"] == role
    children = served_demo.children()
    commands = [" ".join(child.cmdline()) for child in children]
    assert any("runserver" in command for command in commands), commands
    assert any("celery" in command for command in commands), commands

    served_demo.process.send_signal(signal.SIGTERM)

    assert served_demo.process.wait(timeout=60) == 0, served_demo.log_tail()
    _, alive = psutil.wait_procs(children, timeout=10)
    assert alive == [], [process.cmdline() for process in alive]


@pytest.mark.worker
@pytest.mark.timeout(240)
def test_demo_stops_the_worker_and_fails_when_the_web_server_dies(served_demo):
    children = served_demo.children()
    web_server = served_demo.child("runserver")

    web_server.kill()

    assert served_demo.process.wait(timeout=60) != 0
    assert "the web server exited" in served_demo.log_tail()
    _, alive = psutil.wait_procs(children, timeout=10)
    assert alive == [], [process.cmdline() for process in alive]


# The whole story, as `make demo` tells it: its own var/ (SQLite, file broker, keys), its
# own Celery worker started by the demo, training and rendering on that worker.


def _story(manage: list[str], env: dict[str, str]) -> list[str]:
    result = subprocess.run(
        [*manage, "demo", "--no-serve"],
        env=env,
        cwd=settings.BASE_DIR,
        capture_output=True,
        text=True,
        timeout=420,
    )
    assert result.returncode == 0, (result.stdout + result.stderr)[-4000:]
    return result.stdout.rstrip().splitlines()


def _rows(database: Path, sql: str) -> list[tuple]:
    import sqlite3

    with contextlib.closing(sqlite3.connect(database)) as connection:
        return connection.execute(sql).fetchall()


@pytest.mark.worker
@pytest.mark.timeout(600)
def test_full_demo_captures_trains_signs_off_and_renders_then_replays(tmp_path):
    from PIL import Image

    var = tmp_path / "var"
    env = _private_env(var)
    manage = [sys.executable, str(settings.BASE_DIR / "manage.py")]
    subprocess.run(
        [*manage, "migrate", "--noinput", "-v0"],
        env=env,
        cwd=settings.BASE_DIR,
        check=True,
        capture_output=True,
        timeout=120,
    )
    database = var / "rightsdesk.sqlite3"

    first = _story(manage, env)

    text = "\n".join(first)
    assert "8 synthetic photos" in text
    assert "trained in" in text and "status awaiting_signoff" in text
    assert "signed likeness v1 off just now" in text
    assert "the gate allowed" in text and "rendered on the worker" in text
    assert "denied: category_never" in text
    assert "The model approved this exact image." in text
    assert "verification: trusted" in text
    assert "verified offline: intact" in text
    assert re.search(r"reconciliation: \d+ checks, clean", text)
    assert "usage    asset:" in text and "net EUR 120.00" in text
    assert "capture  capture_session:" in text and "training likeness:" in text
    image_path = Path(first[-1])
    with Image.open(image_path) as image:
        assert (image.format, image.size) == ("PNG", (256, 256))
    assert _rows(database, "SELECT status FROM renders_asset ORDER BY id") == [
        ("released",),
        ("draft",),
    ]
    # Captures are on disk only as ciphertext.
    sealed = list((var / "media" / "captures").iterdir())
    assert len(sealed) == 8
    assert not any(path.read_bytes().startswith(b"\x89PNG") for path in sealed)
    assert _rows(database, "SELECT status FROM talent_likenessversion") == [("signed_off",)]
    signed_by = _rows(
        database,
        "SELECT u.email FROM talent_likenessversion l "
        "JOIN accounts_user u ON u.id = l.signed_off_by_id",
    )
    assert signed_by == [("talent@demo.test",)]
    requests = "SELECT status, num_drafts FROM renders_renderrequest ORDER BY id"
    assert _rows(database, requests) == [("denied", 1), ("rendered", 2)]
    events = _rows(database, "SELECT COUNT(*) FROM audit_auditevent")

    second = _story(manage, env)

    assert second[-1] == first[-1]
    assert "a replay returns the same request" in "\n".join(second)
    assert _rows(database, "SELECT COUNT(*) FROM audit_auditevent") == events
    assert _rows(database, "SELECT COUNT(*) FROM renders_renderrequest") == [(2,)]
    assert _rows(database, "SELECT COUNT(*) FROM talent_likenessversion") == [(1,)]

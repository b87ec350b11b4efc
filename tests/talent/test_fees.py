"""The brand pays the talent a capture fee when a commissioned session closes (invoiced to
its payable account) and a training fee when a likeness is trained from it: reserved from
its budget at the start (a budget that cannot pay refuses it, before any GPU time), posted
once trained, voided if training fails. The agency's commission comes out of the fee;
reconciliation checks each was paid once."""

import hashlib
import io

import pytest
from django.utils import timezone

from rightsdesk.agreements.models import Agreement, AgreementVersion
from rightsdesk.core.errors import ValidationFailed
from rightsdesk.ledger.checks import ledger_reconcile
from rightsdesk.ledger.errors import BudgetInsufficient
from rightsdesk.ledger.models import Entry, Reservation
from rightsdesk.ledger.services import ledger_budget_top_up
from rightsdesk.ledger.types import TALENT_NET, owner_ref
from rightsdesk.talent.capture import (
    capture_image_upload,
    capture_notice_waive,
    capture_session_close,
    capture_session_schedule,
)
from rightsdesk.talent.models import LikenessVersion
from rightsdesk.talent.training import (
    SampleImage,
    likeness_training_complete,
    likeness_training_fail,
    likeness_training_start,
)
from tests.talent.capture_world import give_capture_consent, give_train_consent
from tests.talent.likeness_world import shape_photo
from tests.talent.test_training import QUICK

pytestmark = pytest.mark.django_db
CAPTURE_FEE, TRAINING_FEE = 300_000, 200_000


def agreement_for(world) -> Agreement:
    now = timezone.now()
    legal = world.users["legal"]
    agreement = Agreement.objects.create(
        talent=world.talent_a,
        brand=world.brand,
        agency=world.agency_a,
        title="Capture and twin",
        status=Agreement.Status.ACTIVE,
        created_by=legal,
    )
    AgreementVersion.objects.create(
        agreement=agreement,
        number=1,
        status=AgreementVersion.Status.ACTIVE,
        document="agreements/fees.pdf",
        document_sha256=hashlib.sha256(b"doc").hexdigest(),
        terms_json="{}",
        content_sha256=hashlib.sha256(b"terms").hexdigest(),
        jurisdiction="FR",
        effective_from=now,
        effective_to=now + timezone.timedelta(days=365),
        max_licence_term_days=365,
        activated_at=now,
        created_by=legal,
        client_agency_fee_bps=1000,
    )
    return agreement


def fund(world, amount: int) -> None:
    ledger_budget_top_up(
        brand=owner_ref("brand", world.brand.public_id),
        currency="EUR",
        amount_minor=amount,
        idempotency_key=f"fees-test:{amount}",
        actor=world.users["staff"],
    )


def commissioned_session(world, *, photos: int = 2):
    talent = world.talent_a
    talent.identity_verified_at = timezone.now()
    talent.identity_verified_by = world.users["staff"]
    talent.identity_verification_method = "document_check"
    talent.save()
    give_capture_consent(talent=talent)
    agent = world.users["agent"]
    session = capture_session_schedule(
        talent=talent,
        studio_name="Studio Fee",
        photographer_name="P. Hotographer",
        photographer_training_licence="for the twin only",
        scheduled_at=timezone.now(),
        actor=agent,
        agreement=agreement_for(world),
        capture_fee_minor=CAPTURE_FEE,
        training_fee_minor=TRAINING_FEE,
    )
    session = capture_notice_waive(session=session, actor=talent.user)
    for index in range(photos):
        capture_image_upload(session=session, file=io.BytesIO(shape_photo(index)), actor=agent)
    return session


def problems() -> list[str]:
    return [problem for outcome in ledger_reconcile() for problem in outcome.problems]


def test_closing_a_commissioned_session_posts_the_capture_fee_once(world):
    fund(world, 10_000_000)
    session = commissioned_session(world)
    agent = world.users["agent"]

    capture_session_close(session=session, actor=agent)
    capture_session_close(session=session, actor=agent)

    [entry] = Entry.objects.filter(reference=f"capture_session:{session.public_id}")
    assert entry.kind == "capture"
    commission = world.talent_a.representations.get().commission_bps
    net = abs(entry.lines.get(role=TALENT_NET).amount_minor)
    assert net == CAPTURE_FEE - CAPTURE_FEE * commission // 10_000
    assert problems() == []


def test_the_capture_fee_is_invoiced_to_the_brand_not_drawn_from_its_budget(world):
    session = commissioned_session(world)  # no budget at all

    capture_session_close(session=session, actor=world.users["agent"])

    [entry] = Entry.objects.filter(kind="capture")
    charge = entry.lines.get(role="charge")
    assert charge.account.kind == "payable" and charge.amount_minor > CAPTURE_FEE


def test_fees_need_an_active_agreement_of_the_talent(world):
    with pytest.raises(ValidationFailed):
        capture_session_schedule(
            talent=world.talent_a,
            studio_name="S",
            photographer_name="P",
            photographer_training_licence="L",
            scheduled_at=timezone.now(),
            actor=world.users["agent"],
            capture_fee_minor=100,
        )


def test_training_reserves_its_fee_posts_it_when_trained_and_voids_it_on_failure(
    world, django_capture_on_commit_callbacks
):
    fund(world, 10_000_000)
    session = commissioned_session(world)
    give_train_consent(talent=world.talent_a, base_model=_base_model())
    agent = world.users["agent"]

    with django_capture_on_commit_callbacks():
        first = likeness_training_start(session=session, actor=agent, **QUICK)
        second = likeness_training_start(session=session, actor=agent, **QUICK)

    held = Reservation.objects.filter(kind="training").order_by("pk")
    assert [(r.reference, r.status) for r in held] == [
        (f"likeness:{first.public_id}", "pending"),
        (f"likeness:{second.public_id}", "pending"),
    ]
    stored = likeness_training_complete(
        likeness=first,
        adapter=b"adapter bytes",
        adapter_sha256=hashlib.sha256(b"adapter bytes").hexdigest(),
        samples=[SampleImage(0, shape_photo(0), 64, 64, 1, "sample")],
        timings={"train": 1.0},
    )
    likeness_training_fail(likeness_id=second.pk, reasons=["render_error"])

    assert stored.status == LikenessVersion.Status.AWAITING_SIGNOFF
    assert [r.status for r in held.all()] == ["posted", "voided"]
    assert Entry.objects.filter(kind="training", reference=f"likeness:{first.public_id}").count()
    assert problems() == []


def test_a_budget_that_cannot_pay_refuses_training_before_any_gpu_time(
    world, django_capture_on_commit_callbacks
):
    fund(world, TRAINING_FEE // 2)  # less than the training fee and its charges
    session = commissioned_session(world)
    capture_session_close(session=session, actor=world.users["agent"])
    give_train_consent(talent=world.talent_a, base_model=_base_model())

    with django_capture_on_commit_callbacks() as callbacks, pytest.raises(BudgetInsufficient):
        likeness_training_start(session=session, actor=world.users["agent"], **QUICK)

    assert callbacks == []
    assert not LikenessVersion.objects.exists()


def _base_model() -> str:
    from rightsdesk.talent.training import current_base_model

    return current_base_model()


def test_a_session_commissioned_through_the_api_carries_its_fees(world, as_user):
    agreement = agreement_for(world)
    give_capture_consent(talent=world.talent_a)
    body = {
        "talent": str(world.talent_a.public_id),
        "studio_name": "Studio API",
        "photographer_name": "P",
        "photographer_training_licence": "twin only",
        "scheduled_at": timezone.now().isoformat(),
        "agreement": str(agreement.public_id),
        "capture_fee_minor": CAPTURE_FEE,
        "training_fee_minor": TRAINING_FEE,
    }
    client = as_user(world.users["agent"])

    made = client.post("/api/v1/capture-sessions/", body, format="json")
    without = client.post("/api/v1/capture-sessions/", {**body, "agreement": None}, format="json")

    assert made.status_code == 201, made.json()
    assert made.json()["agreement"] == str(agreement.public_id)
    assert made.json()["capture_fee_minor"] == CAPTURE_FEE
    assert without.status_code == 400 and without.json()["code"] == "validation_error"


def test_a_training_the_broker_cannot_take_fails_and_gives_its_fee_back(
    world, django_capture_on_commit_callbacks, caplog
):
    from tests.celery_worker import broker_unreachable

    fund(world, 10_000_000)
    session = commissioned_session(world)
    give_train_consent(talent=world.talent_a, base_model=_base_model())

    with (
        broker_unreachable(),
        caplog.at_level("WARNING", logger="rightsdesk.talent.training"),
        django_capture_on_commit_callbacks(execute=True) as callbacks,
    ):
        likeness = likeness_training_start(session=session, actor=world.users["agent"], **QUICK)

    assert len(callbacks) == 1  # the send was tried, after the commit, and did not raise
    likeness.refresh_from_db()
    assert (likeness.status, likeness.failure_reasons) == ("failed", ["broker_unavailable"])
    held = Reservation.objects.get(kind="training", reference=f"likeness:{likeness.public_id}")
    assert held.status == "voided"
    assert "its training task was not sent (broker unreachable)" in caplog.text
    assert problems() == []


def test_a_training_untouched_past_the_hard_limit_and_a_day_is_failed_as_lost(
    world, django_capture_on_commit_callbacks, settings
):
    from datetime import timedelta

    from rightsdesk.talent.tasks import trainings_fail_lost_task
    from rightsdesk.talent.training import likeness_trainings_fail_lost

    fund(world, 10_000_000)
    session = commissioned_session(world)
    give_train_consent(talent=world.talent_a, base_model=_base_model())
    agent = world.users["agent"]
    with django_capture_on_commit_callbacks():  # no task is sent: it is "lost"
        lost = likeness_training_start(session=session, actor=agent, **QUICK)
        running = likeness_training_start(session=session, actor=agent, **QUICK)
    limit = timedelta(seconds=settings.RIGHTSDESK_TRAINING_HARD_LIMIT_S, days=1)
    now = timezone.now()
    LikenessVersion.objects.filter(pk=lost.pk).update(updated_at=now - limit - timedelta(minutes=1))
    # The other wrote its progress a moment ago (as a running training does).
    LikenessVersion.objects.filter(pk=running.pk).update(updated_at=now - limit / 2)

    assert likeness_trainings_fail_lost(now=now) == [lost.pk]
    assert likeness_trainings_fail_lost(now=now) == []  # once
    assert trainings_fail_lost_task() == 0

    lost.refresh_from_db()
    running.refresh_from_db()
    assert (lost.status, lost.failure_reasons) == ("failed", ["training_lost"])
    assert running.status == "training"
    statuses = dict(Reservation.objects.filter(kind="training").values_list("reference", "status"))
    assert statuses == {
        f"likeness:{lost.public_id}": "voided",
        f"likeness:{running.public_id}": "pending",
    }
    assert problems() == []
    scheduled = {entry["task"] for entry in settings.CELERY_BEAT_SCHEDULE.values()}
    assert trainings_fail_lost_task.name in scheduled

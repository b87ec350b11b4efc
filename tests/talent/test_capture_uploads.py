"""Capture sessions and uploads through the services: the notice, the consent, the gate,
encryption at rest. Refusals store nothing: no image row, no key, no file, no audit event."""

import datetime
import hashlib
import io

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.utils import timezone

from rightsdesk.audit.models import AuditEvent
from rightsdesk.consent.models import GateDecision
from rightsdesk.core.errors import (
    IdentityNotVerified,
    NotPrincipal,
    PermissionDenied,
    ValidationFailed,
)
from rightsdesk.core.models import Notification
from rightsdesk.talent.capture import (
    capture_image_upload,
    capture_images_decrypted,
    capture_notice_waive,
    capture_session_close,
)
from rightsdesk.talent.datakeys import talent_data_key_destroy
from rightsdesk.talent.errors import (
    CaptureNoticePeriod,
    CaptureSessionClosed,
    DataKeyDestroyed,
    DuplicateImage,
    NoCaptureConsent,
)
from rightsdesk.talent.models import CaptureImage, CaptureSession, TalentDataKey
from tests.factories import VerifiedTalentFactory
from tests.talent.capture_world import (
    after_notice,
    give_capture_consent,
    image_bytes,
    schedule,
    snapshot,
    withdraw,
)


def upload(capture, data: bytes, *, at=None, actor=None, name="shot.png", session=None):
    return capture_image_upload(
        session=session or capture.session,
        file=SimpleUploadedFile(name, data),
        actor=actor or capture.agent,
        at=at or after_notice(capture.session),
    )


def assert_refused(capture, error, call, **extra):
    before = snapshot(capture.media)
    with pytest.raises(error) as refused:
        call()
    assert snapshot(capture.media) == before
    for key, value in extra.items():
        assert refused.value.extra[key] == value
    return refused.value


@pytest.mark.django_db
def test_scheduling_sends_the_48_hour_notice_to_the_principal_only(capture):
    session = capture.session

    assert session.status == CaptureSession.Status.SCHEDULED
    notices = Notification.objects.filter(kind="capture.scheduled")
    assert [n.user for n in notices] == [capture.principal]
    assert "48-hour notice" in notices[0].body and "Studio Lumière" in notices[0].subject
    event = AuditEvent.objects.get(action="capture_session.scheduled")
    assert event.actor == capture.agent
    assert (
        event.payload["notice_ends_at"]
        == (session.notice_sent_at + datetime.timedelta(hours=48)).isoformat()
    )
    assert "Paz Photographer" not in event.payload_json  # a person's name stays out of the chain


@pytest.mark.django_db
def test_a_guardian_gets_the_notice_for_a_minor(world, media, settings):
    settings.RIGHTSDESK_ALLOW_MINORS = True
    schedule(talent=world.minor_a, actor=world.users["staff"])
    assert list(Notification.objects.values_list("user", flat=True)) == [world.users["guardian"].pk]


@pytest.mark.django_db
@pytest.mark.parametrize("role", ["agency_legal", "agent_b", "legal"])
def test_only_staff_the_principal_or_a_representing_agent_schedule(world, media, role):
    with pytest.raises(PermissionDenied):
        schedule(talent=world.talent_a, actor=world.users[role])
    assert not CaptureSession.objects.exists()
    assert not Notification.objects.exists()


@pytest.mark.django_db
def test_a_session_cannot_be_scheduled_in_the_past(world, media):
    with pytest.raises(ValidationFailed):
        schedule(
            talent=world.talent_a,
            actor=world.users["staff"],
            scheduled_at=timezone.now() - datetime.timedelta(hours=1),
        )
    assert not CaptureSession.objects.exists()


@pytest.mark.django_db
def test_an_image_after_the_notice_is_stored_only_encrypted(capture):
    data = image_bytes("PNG", seed=5)

    image = upload(capture, data)

    assert (image.format, image.width, image.height) == ("PNG", 32, 24)
    assert image.sha256 == hashlib.sha256(data).hexdigest()
    assert image.byte_size == len(data)
    assert len(image.key_id) == 32
    on_disk = (capture.media / image.blob.name).read_bytes()
    assert data not in on_disk and data[8:40] not in on_disk  # ciphertext only
    assert image.blob.name.startswith("captures/") and image.blob.name.endswith(".bin")
    session = CaptureSession.objects.get(pk=capture.session.pk)
    assert session.status == CaptureSession.Status.OPEN
    event = AuditEvent.objects.get(action="capture_image.uploaded")
    assert event.payload["sha256"] == image.sha256
    assert GateDecision.objects.filter(action="capture", outcome="allow").count() == 1
    assert list(capture_images_decrypted(session=session)) == [data]


@pytest.mark.django_db
def test_jpeg_and_webp_are_accepted_and_decrypt_in_upload_order(capture):
    images = [image_bytes(fmt, seed=i) for i, fmt in enumerate(("JPEG", "WEBP", "PNG"))]
    for data in images:
        upload(capture, data)

    assert list(CaptureImage.objects.values_list("format", flat=True).order_by("pk")) == [
        "JPEG",
        "WEBP",
        "PNG",
    ]
    assert list(capture_images_decrypted(session=capture.session)) == images
    assert TalentDataKey.objects.filter(talent=capture.talent).count() == 1


@pytest.mark.django_db
def test_an_upload_is_refused_while_the_identity_is_unverified(world, media):
    talent = world.talent_a  # never verified
    give_capture_consent(talent=talent)
    session = schedule(talent=talent, actor=world.users["agent"])
    before = snapshot(media)

    with pytest.raises(IdentityNotVerified) as refused:
        capture_image_upload(
            session=session,
            file=SimpleUploadedFile("a.png", image_bytes()),
            actor=world.users["agent"],
            at=after_notice(session),
        )

    assert refused.value.code == "identity_not_verified"
    assert snapshot(media) == before


@pytest.mark.django_db
def test_an_upload_is_refused_without_a_capture_consent(world, media):
    talent = VerifiedTalentFactory()
    session = schedule(talent=talent, actor=world.users["staff"])
    before = snapshot(media)

    with pytest.raises(NoCaptureConsent) as refused:
        capture_image_upload(
            session=session,
            file=SimpleUploadedFile("a.png", image_bytes()),
            actor=world.users["staff"],
            at=after_notice(session),
        )

    assert "no_capture_consent" in refused.value.extra["reasons"]
    assert snapshot(media) == before
    # The gate's deny is kept as evidence of the attempt.
    assert GateDecision.objects.get().outcome == "deny"


@pytest.mark.django_db
def test_an_upload_is_refused_once_the_capture_consent_is_withdrawn(capture):
    withdraw(capture.consent)

    refused = assert_refused(capture, NoCaptureConsent, lambda: upload(capture, image_bytes()))
    assert refused.extra["reasons"] == ["withdrawal_effective"]


@pytest.mark.django_db
def test_a_consent_naming_another_session_does_not_cover_this_one(world, media):
    staff = world.users["staff"]
    talent = VerifiedTalentFactory()
    session = schedule(talent=talent, actor=staff)
    other = schedule(talent=talent, actor=staff)
    give_capture_consent(talent=talent, scope_reference=f"capture_session:{other.public_id}")

    with pytest.raises(NoCaptureConsent):
        capture_image_upload(
            session=session,
            file=SimpleUploadedFile("a.png", image_bytes()),
            actor=staff,
            at=after_notice(session),
        )
    image = capture_image_upload(
        session=other,
        file=SimpleUploadedFile("a.png", image_bytes()),
        actor=staff,
        at=after_notice(other),
    )
    assert image.session == other


@pytest.mark.django_db
def test_an_upload_within_the_notice_period_is_refused(capture):
    at = capture.session.notice_sent_at + datetime.timedelta(hours=47, minutes=59)
    ends = capture.session.notice_sent_at + datetime.timedelta(hours=48)

    assert_refused(
        capture,
        CaptureNoticePeriod,
        lambda: upload(capture, image_bytes(), at=at),
        notice_ends_at=ends.isoformat(),
    )


@pytest.mark.django_db
def test_an_upload_is_allowed_from_exactly_48_hours_after_the_notice(capture):
    at = capture.session.notice_sent_at + datetime.timedelta(hours=48)
    assert upload(capture, image_bytes(), at=at).pk


@pytest.mark.django_db
def test_the_principals_waiver_opens_uploads_at_once(capture):
    session = capture_notice_waive(session=capture.session, actor=capture.principal)
    at = timezone.now()

    image = upload(capture, image_bytes(), at=at, session=session)

    assert image.session == session
    assert session.notice_waived_by == capture.principal
    assert AuditEvent.objects.filter(action="capture_session.notice_waived").count() == 1
    # Waiving again changes nothing and records nothing.
    capture_notice_waive(session=session, actor=capture.principal)
    assert AuditEvent.objects.filter(action="capture_session.notice_waived").count() == 1


@pytest.mark.django_db
@pytest.mark.parametrize("role", ["agent", "staff", "agency_legal"])
def test_only_the_principal_may_waive_the_notice(capture, role):
    with pytest.raises(NotPrincipal):
        capture_notice_waive(session=capture.session, actor=capture.world.users[role])
    assert CaptureSession.objects.get(pk=capture.session.pk).notice_waived_at is None


@pytest.mark.django_db
def test_the_same_image_twice_in_a_session_is_refused(capture):
    data = image_bytes(seed=9)
    upload(capture, data)

    assert_refused(capture, DuplicateImage, lambda: upload(capture, data, name="again.png"))
    assert CaptureImage.objects.count() == 1


@pytest.mark.django_db
def test_a_closed_session_takes_no_more_images(capture):
    capture_session_close(session=capture.session, actor=capture.agent)

    assert_refused(capture, CaptureSessionClosed, lambda: upload(capture, image_bytes()))


@pytest.mark.django_db
@pytest.mark.parametrize("role", ["agency_legal", "legal", "agent_b"])
def test_others_may_not_upload(capture, role):
    assert_refused(
        capture,
        PermissionDenied,
        lambda: upload(capture, image_bytes(), actor=capture.world.users[role]),
    )


@pytest.mark.django_db
def test_after_a_shred_the_old_consent_cannot_restart_capture_but_a_new_one_can(capture):
    first = upload(capture, image_bytes(seed=1))
    talent_data_key_destroy(talent=capture.talent, reason="erasure_requested", actor=None)

    assert_refused(capture, DataKeyDestroyed, lambda: upload(capture, image_bytes(seed=2)))

    give_capture_consent(talent=capture.talent)
    second = upload(capture, image_bytes(seed=2), at=timezone.now() + datetime.timedelta(days=3))
    assert second.key_id != first.key_id
    with pytest.raises(DataKeyDestroyed):
        list(capture_images_decrypted(session=capture.session))


@pytest.mark.django_db
def test_reading_an_upload_never_reads_past_the_limit(capture, settings):
    settings.RIGHTSDESK_MAX_CAPTURE_BYTES = 100

    class Unsized(io.BytesIO):
        reads: list[int] = []

        def read(self, n=-1):
            self.reads.append(n)
            return super().read(n)

    source = Unsized(b"x" * 10_000)
    from rightsdesk.talent.errors import ImageTooLarge

    assert_refused(
        capture,
        ImageTooLarge,
        lambda: capture_image_upload(
            session=capture.session,
            file=source,
            actor=capture.agent,
            at=after_notice(capture.session),
        ),
    )
    assert source.reads == [101]


@pytest.mark.django_db
def test_a_shred_between_sealing_and_storing_leaves_no_image_behind(capture, monkeypatch):
    from rightsdesk.talent import capture as capture_module

    real = capture_module.encrypt_for_talent

    def seal_then_shred(**kwargs):
        sealed = real(**kwargs)
        talent_data_key_destroy(talent=kwargs["talent"], reason="erasure_requested", actor=None)
        return sealed

    monkeypatch.setattr(capture_module, "encrypt_for_talent", seal_then_shred)

    with pytest.raises(DataKeyDestroyed):
        upload(capture, image_bytes())
    assert not CaptureImage.objects.exists()
    assert not [p for p in capture.media.rglob("*") if p.is_file()]

"""Capture sessions: scheduling with 48 hours' notice, the talent's waiver, and uploads.

An image is accepted only when the session is not closed, the notice has run out or was
waived, the file passes ``imagecheck`` (format, size, pixels, integrity), it is not already
in the session, and the gate allows a capture (identity verified, not a refused minor, a
live capture consent) under a consent that covers this session: one whose
``scope_reference`` is empty (any session of the talent) or ``capture_session:<uuid>``.
Every refusal comes before anything is written. The image is then sealed under the
talent's data key and only the ciphertext reaches the disk; uploads are held in memory
(see ``capture_apis``), never in a temporary file.

Who arranges a capture (schedules, uploads, closes): staff, the talent's principal, or an
agent of the agency that represents the talent. Only the principal waives the notice.
"""

import hashlib
import uuid
from collections.abc import Iterator
from datetime import datetime, timedelta

from django.conf import settings
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.db import IntegrityError, transaction
from django.utils import timezone

from rightsdesk.accounts.models import User
from rightsdesk.accounts.selectors import user_is_staff
from rightsdesk.audit.services import audit_record
from rightsdesk.consent.gate import evaluate
from rightsdesk.consent.gate_types import CAPTURE, GateQuery
from rightsdesk.consent.models import ConsentKind, CreationConsent, Withdrawal
from rightsdesk.core.errors import (
    EncryptedDataInvalid,
    IdentityNotVerified,
    MinorNotAllowed,
    PermissionDenied,
    ValidationFailed,
)
from rightsdesk.core.notifications import notify
from rightsdesk.talent.datakeys import (
    encrypt_for_talent,
    talent_blob_opener,
    talent_data_key_last_destroyed_at,
)
from rightsdesk.talent.errors import (
    CaptureNotAllowed,
    CaptureNoticePeriod,
    CaptureSessionClosed,
    DataKeyDestroyed,
    DuplicateImage,
    NoCaptureConsent,
)
from rightsdesk.talent.fees import capture_fee_post, session_reference
from rightsdesk.talent.imagecheck import CheckedImage, check_image, read_limited
from rightsdesk.talent.models import CaptureImage, CaptureSession, Talent, TalentDataKey
from rightsdesk.talent.selectors import agent_represents, ensure_principal, talent_principal_users

# DESIGN.md: the talent is told 48 hours ahead of a capture (they may waive it).
NOTICE_PERIOD = timedelta(hours=48)
# A client clock a little behind ours must not make "now" a time in the past.
SCHEDULE_SKEW = timedelta(minutes=5)


def capture_context(image_public_id: uuid.UUID) -> str:
    """The associated data that binds a capture blob to its image row."""
    return f"capture:{image_public_id}"


def capture_notice_ends_at(session: CaptureSession) -> datetime:
    return session.notice_sent_at + NOTICE_PERIOD


def may_arrange_capture(*, user: User, talent: Talent, at: datetime | None = None) -> bool:
    if not (user.is_authenticated and user.is_active):
        return False
    if user_is_staff(user=user) or agent_represents(user=user, talent=talent, at=at):
        return True
    return any(p.pk == user.pk for p in talent_principal_users(talent=talent, at=at))


def _ensure_may_arrange(*, user: User, talent: Talent, at: datetime) -> None:
    if not may_arrange_capture(user=user, talent=talent, at=at):
        raise PermissionDenied(
            "Only staff, the talent's principal or an agent of the representing agency may "
            "arrange a capture."
        )


def _required(**values: str) -> dict[str, str]:
    cleaned = {name: value.strip() for name, value in values.items()}
    missing = {name: ["This field is required."] for name, value in cleaned.items() if not value}
    if missing:
        raise ValidationFailed(fields=missing)
    return cleaned


@transaction.atomic
def capture_session_schedule(
    *,
    talent: Talent,
    studio_name: str,
    photographer_name: str,
    photographer_training_licence: str,
    scheduled_at: datetime,
    actor: User,
    agreement=None,
    capture_fee_minor: int = 0,
    training_fee_minor: int = 0,
    fee_currency: str = "EUR",
) -> CaptureSession:
    """Schedule a capture and send the 48-hour notice to the talent's principals. A brand
    commissioning it names the active agreement it is made under and the capture and
    training fees it pays (``talent.fees``)."""
    now = timezone.now()
    _ensure_may_arrange(user=actor, talent=talent, at=now)
    _check_fees(
        talent=talent,
        agreement=agreement,
        fees=(capture_fee_minor, training_fee_minor),
        currency=fee_currency,
    )
    fields = _required(
        studio_name=studio_name,
        photographer_name=photographer_name,
        photographer_training_licence=photographer_training_licence,
    )
    if timezone.is_naive(scheduled_at) or scheduled_at < now - SCHEDULE_SKEW:
        raise ValidationFailed(fields={"scheduled_at": ["Give a time zone and a future time."]})
    principals = talent_principal_users(talent=talent, at=now)
    if not principals:
        raise ValidationFailed(
            fields={"talent": ["The talent has no principal account to send the notice to."]}
        )
    session = CaptureSession.objects.create(
        talent=talent,
        scheduled_at=scheduled_at,
        notice_sent_at=now,
        created_by=actor,
        agreement=agreement,
        capture_fee_minor=capture_fee_minor,
        training_fee_minor=training_fee_minor,
        fee_currency=fee_currency,
        **fields,
    )
    _notify_principals(session=session, principals=principals)
    licence = fields["photographer_training_licence"].encode("utf-8")
    audit_record(
        actor=actor,
        action="capture_session.scheduled",
        target=session,
        payload={
            "talent": str(talent.public_id),
            "studio_name": session.studio_name,
            # The photographer's name is personal data: the chain keeps neither it nor the
            # licence text, only the licence's hash.
            "photographer_training_licence_sha256": hashlib.sha256(licence).hexdigest(),
            "scheduled_at": scheduled_at.isoformat(),
            "notice_sent_at": now.isoformat(),
            "notice_ends_at": capture_notice_ends_at(session).isoformat(),
            "principals_notified": len(principals),
        },
    )
    return session


def _check_fees(*, talent: Talent, agreement, fees: tuple[int, int], currency: str) -> None:
    if any(type(fee) is not int or fee < 0 for fee in fees):
        raise ValidationFailed(fields={"fees": ["Whole amounts in minor units, 0 or more."]})
    if agreement is None:
        if any(fees):
            raise ValidationFailed(fields={"agreement": ["Fees are paid under an agreement."]})
        return
    if agreement.talent_id != talent.pk or agreement.status != "active":
        raise ValidationFailed(fields={"agreement": ["An active agreement of this talent."]})
    if not (len(currency) == 3 and currency.isalpha() and currency.isupper()):
        raise ValidationFailed(fields={"fee_currency": ["An ISO 4217 code such as EUR."]})


def _notify_principals(*, session: CaptureSession, principals: list[User]) -> None:
    when = session.scheduled_at.strftime("%Y-%m-%d %H:%M UTC")
    ends = capture_notice_ends_at(session).strftime("%Y-%m-%d %H:%M UTC")
    subject = f"Capture session at {session.studio_name} on {when}"
    body = (
        f"A capture session of your likeness is scheduled at {session.studio_name} on {when}, "
        f"photographed by {session.photographer_name}.\n\n"
        f"The photographer's licence for training: {session.photographer_training_licence}\n\n"
        f"This is your 48-hour notice: no image can be uploaded before {ends} unless you "
        "waive the notice. Images are uploaded only under your separate capture consent, "
        "and are stored encrypted.\n"
    )
    for user in principals:
        notify(
            user=user,
            kind="capture.scheduled",
            subject=subject,
            body=body,
            target_reference=session_reference(session),
            dedupe_key=f"{session_reference(session)}:notice",
        )


def _locked(session: CaptureSession) -> CaptureSession:
    return CaptureSession.objects.select_for_update().select_related("talent").get(pk=session.pk)


@transaction.atomic
def capture_notice_waive(*, session: CaptureSession, actor: User) -> CaptureSession:
    """The principal waives the 48-hour notice (idempotent: the first waiver stands)."""
    session = _locked(session)
    ensure_principal(user=actor, talent=session.talent)
    if session.notice_waived_at is not None:
        return session
    if session.status == CaptureSession.Status.CLOSED:
        raise CaptureSessionClosed()
    now = timezone.now()
    session.notice_waived_at = now
    session.notice_waived_by = actor
    session.save(update_fields=["notice_waived_at", "notice_waived_by", "updated_at"])
    audit_record(
        actor=actor,
        action="capture_session.notice_waived",
        target=session,
        payload={
            "waived_at": now.isoformat(),
            "notice_ends_at": capture_notice_ends_at(session).isoformat(),
            "waived_role": actor.role,
        },
    )
    return session


@transaction.atomic
def capture_session_close(*, session: CaptureSession, actor: User) -> CaptureSession:
    """No more images (idempotent). Training reads the images of a session."""
    session = _locked(session)
    _ensure_may_arrange(user=actor, talent=session.talent, at=timezone.now())
    if session.status == CaptureSession.Status.CLOSED:
        return session
    now = timezone.now()
    previous = session.status
    session.status = CaptureSession.Status.CLOSED
    session.closed_at = now
    session.save(update_fields=["status", "closed_at", "updated_at"])
    # The capture is done: the brand that commissioned it pays the capture fee now.
    capture_fee_post(session=session, actor=actor)
    audit_record(
        actor=actor,
        action="capture_session.closed",
        target=session,
        payload={"from": previous, "images": session.images.count()},
    )
    return session


# Uploads


def capture_consent_covering(*, session: CaptureSession, at: datetime) -> CreationConsent | None:
    """The latest capture consent given by ``at``, not withdrawn by then, that covers the
    session (its scope is empty or names this session)."""
    withdrawn = Withdrawal.objects.filter(
        talent_id=session.talent_id, creation_consent__isnull=False, effective_at__lte=at
    ).values("creation_consent_id")
    return (
        CreationConsent.objects.filter(
            talent_id=session.talent_id,
            kind=ConsentKind.CAPTURE,
            answered_at__lte=at,
            scope_reference__in=["", session_reference(session)],
        )
        .exclude(pk__in=withdrawn)
        .order_by("-answered_at", "-pk")
        .first()
    )


def _ensure_notice_over(*, session: CaptureSession, at: datetime) -> None:
    if session.notice_waived_at is not None and session.notice_waived_at <= at:
        return
    ends_at = capture_notice_ends_at(session)
    if at < ends_at:
        raise CaptureNoticePeriod(notice_ends_at=ends_at.isoformat())


def _ensure_capture_allowed(*, session: CaptureSession, at: datetime) -> CreationConsent:
    """Ask the gate (it stores its decision), then find the consent covering the session."""
    decision = evaluate(
        GateQuery(
            action=CAPTURE,
            at=at,
            talents=(session.talent_id,),
            subject_reference=session_reference(session),
        )
    )
    if not decision.allowed:
        codes = decision.codes()
        extra = {"reasons": codes, "gate_decision": decision.decision_id}
        if "identity_not_verified" in codes:
            raise IdentityNotVerified(**extra)
        if "minor_not_allowed" in codes:
            raise MinorNotAllowed(**extra)
        if {"no_capture_consent", "withdrawal_effective"} & set(codes):
            raise NoCaptureConsent(**extra)
        raise CaptureNotAllowed(**extra)
    consent = capture_consent_covering(session=session, at=at)
    if consent is None:
        raise NoCaptureConsent(reasons=["consent_for_another_session"])
    return consent


def capture_image_upload(
    *, session: CaptureSession, file, actor: User, at: datetime | None = None
) -> CaptureImage:
    """Check, encrypt and store one image of the session; every refusal stores nothing.

    ``at`` is the time the rules are judged at (tests pass a fixed clock).
    """
    at = at or timezone.now()
    # Fresh: the caller's copy may predate a waiver or a close.
    session = CaptureSession.objects.select_related("talent").get(pk=session.pk)
    talent = session.talent
    _ensure_may_arrange(user=actor, talent=talent, at=at)
    if session.status == CaptureSession.Status.CLOSED:
        raise CaptureSessionClosed()
    _ensure_notice_over(session=session, at=at)
    checked = check_image(read_limited(file, max_bytes=settings.RIGHTSDESK_MAX_CAPTURE_BYTES))
    if CaptureImage.objects.filter(session=session, sha256=checked.sha256).exists():
        raise DuplicateImage(sha256=checked.sha256)
    consent = _ensure_capture_allowed(session=session, at=at)
    destroyed_at = talent_data_key_last_destroyed_at(talent=talent)
    image_id = uuid.uuid4()
    blob, key_id = encrypt_for_talent(
        talent=talent,
        plaintext=checked.data,
        context=capture_context(image_id),
        renew_after_destruction=destroyed_at is not None and consent.answered_at > destroyed_at,
    )
    name = default_storage.save(f"captures/{image_id.hex}.bin", ContentFile(blob))
    try:
        return _capture_image_record(
            session=session,
            image_id=image_id,
            checked=checked,
            name=name,
            key_id=key_id,
            actor=actor,
        )
    except BaseException:
        default_storage.delete(name)  # a refused row leaves no ciphertext behind either
        raise


@transaction.atomic
def _capture_image_record(
    *,
    session: CaptureSession,
    image_id: uuid.UUID,
    checked: CheckedImage,
    name: str,
    key_id: str,
    actor: User,
) -> CaptureImage:
    session = _locked(session)
    if session.status == CaptureSession.Status.CLOSED:
        raise CaptureSessionClosed()
    # A shred between sealing and here would leave a row its certificate does not list:
    # holding the key row makes the two wait for each other.
    key = (
        TalentDataKey.objects.select_for_update()
        .filter(public_id=uuid.UUID(hex=key_id), talent_id=session.talent_id)
        .first()
    )
    if key is None or key.destroyed_at is not None:
        raise DataKeyDestroyed(key_id=key_id)
    try:
        with transaction.atomic():
            image = CaptureImage.objects.create(
                public_id=image_id,
                session=session,
                sha256=checked.sha256,
                blob=name,
                key_id=key_id,
                width=checked.width,
                height=checked.height,
                format=checked.format,
                byte_size=checked.byte_size,
                uploaded_by=actor,
            )
    except IntegrityError:
        raise DuplicateImage(sha256=checked.sha256)
    if session.status == CaptureSession.Status.SCHEDULED:
        session.status = CaptureSession.Status.OPEN
        session.save(update_fields=["status", "updated_at"])
    audit_record(
        actor=actor,
        action="capture_image.uploaded",
        target=image,
        payload={
            "session": str(session.public_id),
            "sha256": checked.sha256,
            "format": checked.format,
            "width": checked.width,
            "height": checked.height,
            "byte_size": checked.byte_size,
            "data_key": key_id,
        },
    )
    return image


def capture_images_decrypted(*, session: CaptureSession) -> Iterator[bytes]:
    """The session's images as uploaded, decrypted in memory one at a time (for training).

    Raises ``data_key_destroyed`` once the talent's key was shredded, and
    ``encrypted_data_invalid`` if a blob or its hash does not match its row.
    """
    talent = session.talent
    openers = {}
    for image in session.images.order_by("created_at", "pk"):
        if image.key_id not in openers:
            openers[image.key_id] = talent_blob_opener(talent=talent, key_id=image.key_id)
        with image.blob.open("rb") as handle:
            blob = handle.read()
        plaintext = openers[image.key_id](blob, capture_context(image.public_id))
        if hashlib.sha256(plaintext).hexdigest() != image.sha256:
            raise EncryptedDataInvalid("A capture image does not match its recorded SHA-256.")
        yield plaintext

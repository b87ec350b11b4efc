"""Capture fixtures and image makers: agency A's adult talent, identity verified, with a
capture consent and a session scheduled by their agent (the notice sent now). Media go to a
temporary folder so that tests can prove nothing reached the disk."""

import datetime
import io
import struct
import zlib
from dataclasses import dataclass
from pathlib import Path

import pytest
from django.utils import timezone
from PIL import Image

from rightsdesk.accounts.models import User
from rightsdesk.audit.models import AuditEvent
from rightsdesk.consent.models import ConsentKind, CreationConsent
from rightsdesk.consent.notices import consent_notice_current
from rightsdesk.consent.services import creation_consent_give, withdrawal_create
from rightsdesk.talent.capture import capture_session_schedule
from rightsdesk.talent.models import CaptureImage, CaptureSession, Talent, TalentDataKey
from rightsdesk.talent.services import talent_verify_identity
from tests.talent.conftest import World

NOTICE = datetime.timedelta(hours=48)


def image_bytes(
    fmt: str = "PNG", size: tuple[int, int] = (32, 24), seed: int = 1, mode: str = "RGB"
) -> bytes:
    """A small image whose pixels depend on ``seed`` (so hashes differ between seeds)."""
    image = Image.frombytes(
        mode, size, bytes((seed * 31 + i * 7) % 256 for i in range(size[0] * size[1] * len(mode)))
    )
    out = io.BytesIO()
    image.save(out, format=fmt)
    return out.getvalue()


def noisy_png(size: tuple[int, int] = (256, 256), seed: int = 3) -> bytes:
    """A PNG that does not compress much (for truncation and size limits)."""
    import random

    rng = random.Random(seed)
    image = Image.frombytes("RGB", size, rng.randbytes(size[0] * size[1] * 3))
    out = io.BytesIO()
    image.save(out, format="PNG")
    return out.getvalue()


def png_claiming(width: int, height: int) -> bytes:
    """A tiny valid PNG whose IHDR is patched to claim ``width`` x ``height`` (CRC fixed)."""
    data = bytearray(image_bytes("PNG", (8, 8), mode="L"))
    assert data[12:16] == b"IHDR"
    data[16:24] = struct.pack(">II", width, height)
    data[29:33] = struct.pack(">I", zlib.crc32(bytes(data[12:29])) & 0xFFFFFFFF)
    return bytes(data)


def give_capture_consent(*, talent: Talent, scope_reference: str = "", actor: User | None = None):
    notice = consent_notice_current(kind=ConsentKind.CAPTURE)
    return creation_consent_give(
        talent=talent,
        kind=ConsentKind.CAPTURE,
        notice=notice,
        notice_sha256=notice.sha256,
        served_at=timezone.now() - datetime.timedelta(minutes=1),
        scope_reference=scope_reference,
        actor=actor or talent.user,
        method="web",
    )


def give_train_consent(*, talent: Talent, base_model: str = "tiny-sd") -> CreationConsent:
    notice = consent_notice_current(kind=ConsentKind.TRAIN)
    return creation_consent_give(
        talent=talent,
        kind=ConsentKind.TRAIN,
        notice=notice,
        notice_sha256=notice.sha256,
        served_at=timezone.now() - datetime.timedelta(minutes=1),
        base_model=base_model,
        actor=talent.user,
        method="web",
    )


def withdraw(consent: CreationConsent):
    """A withdrawal under data-protection law: it takes effect (and is applied) at once."""
    return withdrawal_create(
        target=consent, kind="data_protection", reason="I withdraw.", actor=consent.talent.user
    )


def after_notice(session: CaptureSession) -> datetime.datetime:
    return session.notice_sent_at + NOTICE + datetime.timedelta(seconds=1)


@dataclass
class Capture:
    world: World
    talent: Talent
    principal: User
    agent: User
    staff: User
    consent: CreationConsent
    session: CaptureSession
    media: Path


@dataclass(frozen=True)
class Snapshot:
    images: int
    keys: int
    audit_events: int
    files: tuple[str, ...]


def snapshot(media: Path) -> Snapshot:
    files = tuple(sorted(str(p) for p in media.rglob("*") if p.is_file())) if media.exists() else ()
    return Snapshot(
        images=CaptureImage.objects.count(),
        keys=TalentDataKey.objects.count(),
        audit_events=AuditEvent.objects.count(),
        files=files,
    )


@pytest.fixture
def media(settings, tmp_path) -> Path:
    settings.MEDIA_ROOT = tmp_path / "media"
    return settings.MEDIA_ROOT


def schedule(*, talent: Talent, actor: User, **overrides) -> CaptureSession:
    values = {
        "studio_name": "Studio Lumière",
        "photographer_name": "Paz Photographer",
        "photographer_training_licence": "Assigned to the talent for likeness training.",
        "scheduled_at": timezone.now() + datetime.timedelta(days=3),
    }
    values.update(overrides)
    return capture_session_schedule(talent=talent, actor=actor, **values)


@pytest.fixture
def capture(world: World, media: Path) -> Capture:
    staff = world.users["staff"]
    talent = talent_verify_identity(talent=world.talent_a, method="document_check", actor=staff)
    consent = give_capture_consent(talent=talent)
    session = schedule(talent=talent, actor=world.users["agent"])
    return Capture(
        world=world,
        talent=talent,
        principal=talent.user,
        agent=world.users["agent"],
        staff=staff,
        consent=consent,
        session=session,
        media=media,
    )

"""The talent's capture sessions page: each session's studio, photographer, date, status,
image count, fees and the agreement it was commissioned under; never an image."""

import hashlib

import pytest
from django.utils import timezone

from rightsdesk.talent.models import CaptureImage, CaptureSession
from tests.consent.gate_world import DAY
from tests.web.helpers import client_for

pytestmark = pytest.mark.django_db


def commissioned_session(world, *, images: int) -> CaptureSession:
    """A closed session for talent X under X's agreement, with ``images`` stored images."""
    now = timezone.now()
    session = CaptureSession.objects.create(
        talent=world.x.talent,
        studio_name="Studio Lumière",
        photographer_name="Paz Photographer",
        photographer_training_licence="Assigned to the talent for likeness training.",
        scheduled_at=now - 10 * DAY,
        notice_sent_at=now - 13 * DAY,
        status=CaptureSession.Status.CLOSED,
        closed_at=now - 9 * DAY,
        created_by=world.legal,
        agreement=world.x.agreement,
        capture_fee_minor=50_000,
        training_fee_minor=20_000,
        fee_currency="EUR",
    )
    for index in range(images):
        CaptureImage.objects.create(
            session=session,
            sha256=hashlib.sha256(f"image {index}".encode()).hexdigest(),
            blob=f"captures/secret-blob-{index}.bin",
            key_id="k1",
            width=1024,
            height=1536,
            format="JPEG",
            byte_size=123_456,
            uploaded_by=world.x.talent.user,
        )
    return session


def test_the_talent_sees_each_session_with_its_fees_and_agreement(world):
    session = commissioned_session(world, images=3)

    body = client_for(world.x.talent.user).get("/capture-sessions/").content.decode()

    assert "Studio Lumière" in body and "Paz Photographer" in body
    assert '<dd class="session-images">3</dd>' in body
    assert '<dd class="session-status">Closed' in body
    assert "EUR 500.00" in body and "EUR 200.00" in body
    assert f'href="/agreements/{world.x.agreement.public_id}/">Linen campaigns</a>' in body
    assert session.scheduled_at.strftime("%Y") in body


def test_the_page_never_exposes_an_image_or_where_its_bytes_are(world):
    commissioned_session(world, images=2)

    body = client_for(world.x.talent.user).get("/capture-sessions/").content.decode()

    assert "<img" not in body and "secret-blob" not in body and "captures/" not in body
    for image in CaptureImage.objects.all():
        assert image.sha256 not in body


def test_another_talent_sees_none_of_them(world):
    commissioned_session(world, images=1)

    body = client_for(world.y.talent.user).get("/capture-sessions/").content.decode()

    assert "Studio Lumière" not in body and "No capture session yet." in body


def test_the_talent_side_has_the_links_and_the_brand_does_not(world):
    talent_home = client_for(world.x.talent.user).get("/").content.decode()
    manager_home = client_for(world.manager).get("/").content.decode()

    # The talent signs agreements too, so their agreements are one click away.
    assert "/capture-sessions/" in talent_home and 'href="/agreements/"' in talent_home
    assert "/capture-sessions/" not in manager_home

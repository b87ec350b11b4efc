"""The capture endpoints: scheduling, waiver, uploads (malformed ones refused with a code and
nothing stored), metadata only in every answer, and scoping (a foreign session is 404)."""

import datetime

import pytest
from django.core.files.uploadedfile import InMemoryUploadedFile, SimpleUploadedFile
from django.utils import timezone

from rightsdesk.talent import capture_apis
from rightsdesk.talent.models import CaptureImage, CaptureSession
from tests.talent.capture_world import (
    image_bytes,
    noisy_png,
    png_claiming,
    snapshot,
)

SESSIONS = "/api/v1/capture-sessions/"


def images_url(session) -> str:
    return f"{SESSIONS}{session.public_id}/images/"


def post_file(client, session, data: bytes, name: str = "shot.png", content_type="image/png"):
    return client.post(
        images_url(session),
        {"file": SimpleUploadedFile(name, data, content_type=content_type)},
        format="multipart",
    )


@pytest.fixture
def open_capture(capture):
    """The capture world with the notice waived by the talent, so uploads are open now."""
    from rightsdesk.talent.capture import capture_notice_waive

    capture.session = capture_notice_waive(session=capture.session, actor=capture.principal)
    return capture


@pytest.mark.django_db
def test_an_agent_schedules_a_session_and_the_talent_sees_it(world, media, as_user):
    scheduled_at = (timezone.now() + datetime.timedelta(days=4)).replace(microsecond=0)
    response = as_user(world.users["agent"]).post(
        SESSIONS,
        {
            "talent": str(world.talent_a.public_id),
            "studio_name": "Studio Nord",
            "photographer_name": "Ines P.",
            "photographer_training_licence": "Assigned to the talent for likeness training.",
            "scheduled_at": scheduled_at.isoformat(),
        },
        format="json",
    )

    assert response.status_code == 201, response.json()
    body = response.json()
    assert body["status"] == "scheduled" and body["image_count"] == 0
    assert body["photographer_training_licence"].startswith("Assigned")
    sent = datetime.datetime.fromisoformat(body["notice_sent_at"])
    assert datetime.datetime.fromisoformat(body["notice_ends_at"]) == sent + datetime.timedelta(
        hours=48
    )
    listed = as_user(world.users["talent"]).get(SESSIONS).json()
    assert [s["public_id"] for s in listed["results"]] == [body["public_id"]]


@pytest.mark.django_db
def test_the_talent_waives_the_notice_and_an_agent_uploads_at_once(capture, api_client):
    api_client.force_authenticate(capture.principal)
    waived = api_client.post(f"{SESSIONS}{capture.session.public_id}/waive-notice/")
    assert waived.status_code == 200 and waived.json()["notice_waived_at"]

    api_client.force_authenticate(capture.agent)
    response = post_file(api_client, capture.session, image_bytes("JPEG"), "a.jpg", "image/jpeg")

    assert response.status_code == 201, response.json()
    body = response.json()
    assert set(body) == {
        "public_id",
        "session",
        "sha256",
        "format",
        "width",
        "height",
        "byte_size",
        "created_at",
    }
    assert body["format"] == "JPEG"
    listed = api_client.get(images_url(capture.session)).json()
    assert [i["sha256"] for i in listed["results"]] == [body["sha256"]]
    detail = api_client.get(f"{SESSIONS}{capture.session.public_id}/").json()
    assert detail["status"] == "open" and detail["image_count"] == 1


@pytest.mark.django_db
def test_an_upload_within_the_notice_period_answers_409_with_when_it_opens(capture, as_user):
    before = snapshot(capture.media)
    response = post_file(as_user(capture.agent), capture.session, image_bytes())

    assert response.status_code == 409
    assert response.json()["code"] == "capture_notice_period"
    assert response.json()["extra"]["notice_ends_at"]
    assert snapshot(capture.media) == before


@pytest.mark.django_db
def test_an_agent_cannot_waive_the_notice(capture, as_user):
    response = as_user(capture.agent).post(f"{SESSIONS}{capture.session.public_id}/waive-notice/")
    assert response.status_code == 403
    assert response.json()["code"] == "not_principal"


def _truncated_png() -> bytes:
    data = noisy_png((128, 128))
    return data[: len(data) // 2]


def _truncated(fmt: str) -> bytes:
    from io import BytesIO

    from PIL import Image

    out = BytesIO()
    Image.open(BytesIO(noisy_png((128, 128)))).save(out, format=fmt)
    return out.getvalue()[: len(out.getvalue()) * 2 // 3]


def _gif() -> bytes:
    return image_bytes("GIF", mode="L")


MALFORMED = {
    "text renamed .png": (b"just some notes, not an image\n" * 20, "unsupported_image_format"),
    "GIF": (_gif(), "unsupported_image_format"),
    "truncated PNG": (_truncated_png(), "image_corrupt"),
    "truncated JPEG": (_truncated("JPEG"), "image_corrupt"),
    "truncated WebP": (_truncated("WEBP"), "image_corrupt"),
    "PNG cut inside its header": (noisy_png((16, 16))[:30], "image_corrupt"),
    "PNG with a broken chunk": (None, "image_corrupt"),
    # 30000 x 30000: above twice Pillow's own limit, so Pillow refuses at open.
    "decompression bomb (Pillow's guard)": (png_claiming(30_000, 30_000), "image_too_many_pixels"),
    # 10000 x 10000 = 100 MP: Pillow would only warn; our header check refuses it.
    "decompression bomb (our guard)": (png_claiming(10_000, 10_000), "image_too_many_pixels"),
    "empty file": (b"", "validation_error"),
}


def _broken_chunk_png() -> bytes:
    data = bytearray(noisy_png((64, 64)))
    data[60] ^= 0xFF  # inside IDAT: its CRC no longer matches
    return bytes(data)


@pytest.mark.django_db
@pytest.mark.parametrize("case", sorted(MALFORMED))
def test_a_malformed_upload_is_refused_with_its_code_and_nothing_is_stored(
    open_capture, as_user, case
):
    data, code = MALFORMED[case]
    if data is None:
        data = _broken_chunk_png()
    before = snapshot(open_capture.media)

    response = post_file(as_user(open_capture.agent), open_capture.session, data)

    assert response.status_code == 400, response.json()
    assert response.json()["code"] == code
    assert snapshot(open_capture.media) == before  # no row, no key, no file, no audit event
    assert CaptureSession.objects.get(pk=open_capture.session.pk).status == "scheduled"


@pytest.mark.django_db
def test_an_oversize_upload_is_refused_before_it_is_read_in_full(open_capture, as_user, settings):
    settings.RIGHTSDESK_MAX_CAPTURE_BYTES = 64 * 1024
    data = noisy_png((256, 256))
    assert len(data) > 3 * settings.RIGHTSDESK_MAX_CAPTURE_BYTES
    before = snapshot(open_capture.media)

    response = post_file(as_user(open_capture.agent), open_capture.session, data)

    assert response.status_code == 400
    assert response.json()["code"] == "image_too_large"
    assert response.json()["extra"]["max_bytes"] == 64 * 1024
    assert snapshot(open_capture.media) == before


@pytest.mark.django_db
def test_a_pixel_limit_below_pillows_own_is_enforced(open_capture, as_user, settings):
    settings.RIGHTSDESK_MAX_CAPTURE_PIXELS = 32 * 24 - 1
    response = post_file(as_user(open_capture.agent), open_capture.session, image_bytes())
    assert response.status_code == 400
    assert response.json()["code"] == "image_too_many_pixels"
    assert not CaptureImage.objects.exists()


@pytest.mark.django_db
def test_an_animated_png_is_refused(open_capture, as_user):
    from io import BytesIO

    from PIL import Image

    frames = [Image.new("RGB", (16, 16), color) for color in ("red", "blue")]
    out = BytesIO()
    frames[0].save(out, format="PNG", save_all=True, append_images=frames[1:])
    response = post_file(as_user(open_capture.agent), open_capture.session, out.getvalue())
    assert response.status_code == 400
    assert response.json()["code"] == "unsupported_image_format"
    assert not CaptureImage.objects.exists()


@pytest.mark.django_db
def test_an_upload_is_held_in_memory_never_in_a_temporary_file(
    open_capture, as_user, settings, monkeypatch
):
    # Django spools uploads above FILE_UPLOAD_MAX_MEMORY_SIZE to a temporary file on disk;
    # a capture's plaintext must not go there.
    settings.FILE_UPLOAD_MAX_MEMORY_SIZE = 1024
    seen = []
    real = capture_apis.capture_image_upload

    def spy(**kwargs):
        seen.append(type(kwargs["file"]))
        return real(**kwargs)

    monkeypatch.setattr(capture_apis, "capture_image_upload", spy)
    data = noisy_png((64, 64))
    assert len(data) > 10 * 1024

    response = post_file(as_user(open_capture.agent), open_capture.session, data)

    assert response.status_code == 201
    assert seen == [InMemoryUploadedFile]


@pytest.mark.django_db
def test_a_json_body_is_not_an_upload(open_capture, as_user):
    response = as_user(open_capture.agent).post(
        images_url(open_capture.session), {"file": "aGVsbG8="}, format="json"
    )
    assert response.status_code == 415
    assert not CaptureImage.objects.exists()


# Scoping


@pytest.mark.django_db
@pytest.mark.parametrize("role", ["agent_b", "legal", "campaign_manager", "guardian"])
def test_a_foreign_session_does_not_exist_for_the_caller(open_capture, as_user, role):
    client = as_user(open_capture.world.users[role])
    session = open_capture.session
    base = f"{SESSIONS}{session.public_id}/"

    assert client.get(base).status_code == 404
    assert client.get(images_url(session)).status_code == 404
    assert client.post(f"{base}waive-notice/").status_code == 404
    assert client.post(f"{base}close/").status_code == 404
    upload = post_file(client, session, image_bytes())
    assert upload.status_code == 404 and upload.json()["code"] == "not_found"
    assert client.get(SESSIONS).json()["results"] == []
    assert not CaptureImage.objects.exists()


@pytest.mark.django_db
def test_a_foreign_talent_cannot_be_scheduled(world, media, as_user):
    response = as_user(world.users["agent_b"]).post(
        SESSIONS,
        {
            "talent": str(world.talent_a.public_id),
            "studio_name": "S",
            "photographer_name": "P",
            "photographer_training_licence": "L",
            "scheduled_at": (timezone.now() + datetime.timedelta(days=3)).isoformat(),
        },
        format="json",
    )
    assert response.status_code == 404
    assert not CaptureSession.objects.exists()


@pytest.mark.django_db
def test_the_capture_endpoints_need_authentication(open_capture, api_client):
    assert api_client.get(SESSIONS).status_code == 401
    response = post_file(api_client, open_capture.session, image_bytes())
    assert response.status_code == 401
    assert not CaptureImage.objects.exists()


@pytest.mark.django_db
@pytest.mark.parametrize("role", ["talent", "agent", "agency_legal", "staff"])
def test_the_talents_side_and_staff_see_the_session(open_capture, as_user, role):
    client = as_user(open_capture.world.users[role])
    assert client.get(f"{SESSIONS}{open_capture.session.public_id}/").status_code == 200
    assert client.get(images_url(open_capture.session)).status_code == 200

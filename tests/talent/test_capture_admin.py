"""No endpoint, admin page or command hands out a capture's (or a data key's) bytes: the
admin shows metadata, read-only; the API and its schema have no field for them."""

import io

import pytest
import yaml
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.management import call_command, get_commands
from django.urls import get_resolver

from rightsdesk.talent.capture import capture_image_upload
from rightsdesk.talent.datakeys import talent_data_key_destroy
from rightsdesk.talent.models import CaptureImage, DestructionCertificate, TalentDataKey
from tests.talent.capture_world import after_notice, image_bytes

BYTES_FIELDS = {"blob", "wrapped_key", "key_id", "data", "content", "bytes", "file"}


@pytest.fixture
def uploaded(capture) -> CaptureImage:
    return capture_image_upload(
        session=capture.session,
        file=SimpleUploadedFile("a.png", image_bytes()),
        actor=capture.agent,
        at=after_notice(capture.session),
    )


@pytest.fixture
def staff_client(client, capture):
    client.force_login(capture.staff)
    return client


@pytest.mark.django_db
def test_the_admin_shows_capture_images_without_their_file(staff_client, uploaded):
    base = "/admin/talent/captureimage/"
    listing = staff_client.get(base)
    page = staff_client.get(f"{base}{uploaded.pk}/change/")

    assert listing.status_code == 200 and page.status_code == 200
    for response in (listing, page):
        html = response.content.decode()
        assert uploaded.sha256[:12] in html
        assert uploaded.blob.name not in html and ".bin" not in html
        assert 'name="blob"' not in html and "key_id" not in html
    assert "delete_selected" not in listing.content.decode()
    assert staff_client.get(f"{base}add/").status_code == 403
    assert staff_client.post(f"{base}{uploaded.pk}/change/", {}).status_code == 403
    assert staff_client.post(f"{base}{uploaded.pk}/delete/", {"post": "yes"}).status_code == 403
    assert CaptureImage.objects.filter(pk=uploaded.pk).exists()


@pytest.mark.django_db
def test_the_admin_never_shows_a_wrapped_key(staff_client, uploaded, capture):
    key = TalentDataKey.objects.get()
    wrapped = bytes(key.wrapped_key)
    page = staff_client.get(f"/admin/talent/talentdatakey/{key.pk}/change/")

    assert page.status_code == 200
    html = page.content.decode()
    assert "wrapped_key" not in html and "Wrapped key" not in html
    assert wrapped.hex() not in html and repr(wrapped)[2:20] not in html

    certificate = talent_data_key_destroy(talent=capture.talent, reason="r", actor=None)
    cert_page = staff_client.get(f"/admin/talent/destructioncertificate/{certificate.pk}/change/")
    assert cert_page.status_code == 200 and certificate.sha256 in cert_page.content.decode()
    assert DestructionCertificate.objects.count() == 1


@pytest.mark.django_db
def test_the_capture_admin_pages_open(staff_client, uploaded):
    for model in ("capturesession", "captureimage", "talentdatakey", "destructioncertificate"):
        assert staff_client.get(f"/admin/talent/{model}/").status_code == 200


@pytest.mark.django_db
def test_the_api_and_its_schema_have_no_field_for_bytes(capture, uploaded, as_user, tmp_path):
    client = as_user(capture.agent)
    listed = client.get(f"/api/v1/capture-sessions/{capture.session.public_id}/images/").json()
    assert not BYTES_FIELDS & set(listed["results"][0])

    out = tmp_path / "schema.yml"
    call_command("spectacular", "--file", str(out))
    schemas = yaml.safe_load(out.read_text())["components"]["schemas"]
    for name in ("CaptureImage", "CaptureSession", "DestructionCertificate"):
        assert not BYTES_FIELDS & set(schemas[name]["properties"]), name
    # The upload form is the only place a file appears, and only going in.
    assert set(schemas["CaptureImageUploadInputRequest"]["properties"]) == {"file"}


def test_no_url_or_command_is_a_way_to_download_captures():
    routes = []

    def walk(patterns, prefix=""):
        for pattern in patterns:
            if hasattr(pattern, "url_patterns"):
                walk(pattern.url_patterns, prefix + str(pattern.pattern))
            else:
                routes.append(prefix + str(pattern.pattern))

    walk(get_resolver().url_patterns)
    capture_routes = sorted(r for r in routes if "capture" in r and r.startswith("api/"))
    assert capture_routes == [
        "api/v1/capture-sessions/",
        "api/v1/capture-sessions/<uuid:public_id>/",
        "api/v1/capture-sessions/<uuid:public_id>/close/",
        "api/v1/capture-sessions/<uuid:public_id>/images/",
        "api/v1/capture-sessions/<uuid:public_id>/waive-notice/",
    ]
    assert not [r for r in routes if r.startswith("media")]
    talent_commands = [n for n, app in get_commands().items() if app == "rightsdesk.talent"]
    assert talent_commands == ["rotate_data_keys"]


@pytest.mark.django_db
def test_rotation_prints_no_key(capture, uploaded, settings):
    out = io.StringIO()
    call_command("rotate_data_keys", stdout=out)
    assert settings.RIGHTSDESK_DATA_KEY not in out.getvalue()
    assert "rewrapped 0 data keys" in out.getvalue()

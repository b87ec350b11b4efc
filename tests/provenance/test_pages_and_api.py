"""The public page /verify/, the status page /verify/a/<uuid>, POST /api/v1/verify/ and
`manage.py verify`."""

import io
import json
from pathlib import Path

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.management import call_command
from django.test import Client

from rightsdesk.provenance.models import ProvenanceRecord
from rightsdesk.provenance.synthetic import photo_like
from tests.provenance.conftest import png_bytes, signed_bytes

pytestmark = pytest.mark.django_db
API = "/api/v1/verify/"


def _upload(data: bytes, name: str = "image.png") -> SimpleUploadedFile:
    return SimpleUploadedFile(name, data, content_type="application/octet-stream")


# The public page


def test_the_page_renders_without_login_and_says_the_upload_is_not_kept():
    response = Client().get("/verify/")

    assert response.status_code == 200
    body = response.content.decode()
    assert 'enctype="multipart/form-data"' in body
    assert 'type="file"' in body and 'name="file"' in body
    assert "it is not kept" in body
    assert 'name="viewport"' in body  # phones
    assert "drop" in body


def test_the_page_accepts_an_upload_and_shows_the_card(sign, deal):
    record = sign()
    before = ProvenanceRecord.objects.count()

    response = Client().post("/verify/", {"file": _upload(signed_bytes(record), "mine.png")})

    assert response.status_code == 200
    body = response.content.decode()
    assert "trusted" in body
    assert f"Published by {deal.licence.brand.name}" in body
    assert "digital twin of a real model" in body
    assert ProvenanceRecord.objects.count() == before  # nothing stored


def test_the_page_is_translated(sign):
    response = Client().get("/verify/", HTTP_ACCEPT_LANGUAGE="fr")

    assert response.status_code == 200
    assert "Vérifier une image" in response.content.decode()


def test_the_page_answers_a_bad_file_with_a_message_not_an_error():
    response = Client().post("/verify/", {"file": _upload(b"plain text, not an image")})

    assert response.status_code == 400
    assert "not an image we can verify" in response.content.decode()


def test_the_page_without_a_file_asks_for_one():
    response = Client().post("/verify/", {})

    assert response.status_code == 400
    assert "Choose an image file" in response.content.decode()


def test_the_status_page_shows_the_card_of_an_asset(sign, deal):
    record = sign()
    asset_id = record.asset_reference.removeprefix("asset:")

    response = Client().get(f"/verify/a/{asset_id}")

    assert response.status_code == 200
    assert f"Published by {deal.licence.brand.name}" in response.content.decode()


def test_the_status_page_of_an_unknown_asset_is_404():
    response = Client().get("/verify/a/00000000-0000-4000-8000-000000000000")

    assert response.status_code == 404


def test_the_page_is_rate_limited_per_client(settings, photo_png):
    settings.RIGHTSDESK_VERIFY_RATE = "2/minute"
    client = Client()

    codes = [client.post("/verify/", {"file": _upload(photo_png)}).status_code for _ in range(3)]

    assert codes == [200, 200, 429]


# The API


def test_the_api_verifies_an_upload_without_authentication(api_client, sign, deal):
    record = sign()

    response = api_client.post(API, {"file": _upload(signed_bytes(record))}, format="multipart")

    assert response.status_code == 200
    body = response.json()
    assert body["state"] == "trusted"
    assert body["card"]["brand"] == deal.licence.brand.name
    assert body["card"]["permission"] == "current"
    assert body["card"]["stage_name"] is None
    assert body["card"]["text"][0].startswith("AI-generated image of a real person")
    assert body["possible_match"] is None


@pytest.mark.parametrize(
    ("data", "code"),
    [
        (b"", "empty_file"),
        (b"hello", "unsupported_format"),
        (b"\xff\xd8\xff\xe0" + b"\x00" * 64, "corrupt_image"),
    ],
)
def test_the_api_refuses_bad_files_with_their_codes(api_client, data, code):
    response = api_client.post(API, {"file": _upload(data)}, format="multipart")

    assert response.status_code == 400
    assert response.json()["code"] == code


def test_the_api_stops_reading_an_upload_past_the_limit(api_client, settings, photo_png):
    settings.RIGHTSDESK_VERIFY_MAX_BYTES = 1000

    response = api_client.post(API, {"file": _upload(photo_png)}, format="multipart")

    assert response.status_code == 400
    assert response.json()["code"] == "image_too_large"


def test_the_api_without_a_file_is_a_validation_error(api_client):
    response = api_client.post(API, {}, format="multipart")

    assert response.status_code == 400
    assert response.json()["code"] == "validation_error"


def test_the_api_is_rate_limited_per_client(api_client, settings, photo_png):
    settings.RIGHTSDESK_VERIFY_RATE = "2/minute"

    codes = [
        api_client.post(API, {"file": _upload(photo_png)}, format="multipart").status_code
        for _ in range(3)
    ]

    assert codes == [200, 200, 429]


def test_a_forged_forwarded_for_header_does_not_evade_the_limit(api_client, settings, photo_png):
    settings.RIGHTSDESK_VERIFY_RATE = "1/minute"

    codes = [
        api_client.post(
            API,
            {"file": _upload(photo_png)},
            format="multipart",
            HTTP_X_FORWARDED_FOR=f"198.51.100.{index}",
        ).status_code
        for index in range(2)
    ]

    assert codes == [200, 429]


def test_the_api_is_in_the_schema(api_client, staff_user):
    api_client.force_authenticate(staff_user)
    schema = api_client.get("/api/schema/", {"format": "json"}).json()

    operation = schema["paths"]["/api/v1/verify/"]["post"]
    assert "multipart/form-data" in operation["requestBody"]["content"]
    assert {"200", "400", "429"} <= set(operation["responses"])
    assert "VerificationReport" in schema["components"]["schemas"]


# The command


def _run(*args) -> tuple[int, str]:
    out = io.StringIO()
    try:
        call_command("verify", *args, stdout=out)
    except SystemExit as exit:
        return exit.code, out.getvalue()
    return 0, out.getvalue()


def test_the_command_exits_0_when_every_file_is_trusted(sign, tmp_path, deal):
    paths = []
    for index in range(2):
        path = tmp_path / f"{index}.png"
        path.write_bytes(signed_bytes(sign()))
        paths.append(str(path))

    status, out = _run(*paths)

    assert status == 0
    assert out.count(": trusted") == 2
    assert f"Published by {deal.licence.brand.name}." in out


def test_the_command_exits_1_when_any_file_is_not_trusted(sign, tmp_path):
    trusted, plain = tmp_path / "t.png", tmp_path / "p.png"
    trusted.write_bytes(signed_bytes(sign()))
    plain.write_bytes(png_bytes(photo_like(256, seed=900)))  # unrelated to what we signed

    status, out = _run(str(trusted), str(plain), "--json")

    assert status == 1
    states = [entry["state"] for entry in json.loads(out)]
    assert states == ["trusted", "no_credentials"]


def test_the_command_exits_2_on_bad_input(sign, tmp_path):
    trusted, text = tmp_path / "t.png", tmp_path / "notes.txt"
    trusted.write_bytes(signed_bytes(sign()))
    text.write_text("not an image")
    missing = str(Path(tmp_path) / "missing.png")

    status, out = _run(str(trusted), str(text), missing, "--json")

    assert status == 2
    results = json.loads(out)
    assert results[0]["state"] == "trusted"
    assert results[1]["error"]["code"] == "unsupported_format"
    assert results[2]["error"]["code"] == "file_unreadable"


# Gaps the audit of issue 5 found untested


def test_one_clients_limit_does_not_throttle_another(api_client, settings, photo_png):
    settings.RIGHTSDESK_VERIFY_RATE = "1/minute"

    def post(address: str):
        return api_client.post(
            API, {"file": _upload(photo_png)}, format="multipart", REMOTE_ADDR=address
        )

    first, again, other = post("198.51.100.1"), post("198.51.100.1"), post("198.51.100.2")

    assert (first.status_code, again.status_code, other.status_code) == (200, 429, 200)
    assert again.json()["code"] == "throttled"
    assert 0 < int(again["Retry-After"]) <= 60


def test_the_page_and_the_api_share_one_budget_per_client(api_client, settings, photo_png):
    settings.RIGHTSDESK_VERIFY_RATE = "2/minute"

    page = Client().post("/verify/", {"file": _upload(photo_png)})
    api = api_client.post(API, {"file": _upload(photo_png)}, format="multipart")
    page_again = Client().post("/verify/", {"file": _upload(photo_png)})

    assert (page.status_code, api.status_code, page_again.status_code) == (200, 200, 429)


def test_no_malformed_file_gets_a_server_error_from_the_api_or_the_page(api_client, photo_png):
    from tests.provenance.test_verification import _malformed_corpus

    for name, (data, code) in _malformed_corpus(photo_png).items():
        api = api_client.post(API, {"file": _upload(data)}, format="multipart")
        page = Client().post("/verify/", {"file": _upload(data)})

        assert (api.status_code, api.json()["code"]) == (400, code), name
        assert page.status_code == 400, name
        assert 'role="alert"' in page.content.decode(), name


def test_the_default_limits_are_25_mib_and_50_megapixels(settings):
    from rightsdesk.provenance import verification
    from rightsdesk.talent.errors import ImageTooLarge
    from tests.provenance.test_verification import _png_claiming

    assert settings.RIGHTSDESK_VERIFY_MAX_BYTES == 25 * 1024 * 1024
    assert settings.RIGHTSDESK_VERIFY_MAX_PIXELS == 50_000_000
    at_limit = b"\x89PNG\r\n\x1a\n" + b"\x00" * (25 * 1024 * 1024 - 8)
    assert verification.sniff(at_limit) == ("image/png", "PNG")
    with pytest.raises(ImageTooLarge):
        verification.sniff(at_limit + b"\x00")
    # Read from the header alone: 10,000 x 5,000 is allowed, one more column is not.
    assert verification.check_header(_png_claiming(10_000, 5_000), "PNG") == (10_000, 5_000)
    with pytest.raises(ImageTooLarge) as caught:
        verification.check_header(_png_claiming(10_001, 5_000), "PNG")
    assert caught.value.extra["max_pixels"] == 50_000_000


def test_the_api_takes_a_file_of_exactly_the_limit_and_refuses_one_byte_more(api_client):
    limit = 25 * 1024 * 1024
    at_limit = b"\xff\xd8\xff\xe0" + b"\x00" * (limit - 4)  # starts like a JPEG, is not one

    taken = api_client.post(API, {"file": _upload(at_limit)}, format="multipart")
    refused = api_client.post(API, {"file": _upload(at_limit + b"\x00")}, format="multipart")

    assert taken.json()["code"] == "corrupt_image"  # read to the end, then judged
    assert refused.status_code == 400
    assert refused.json()["code"] == "image_too_large"
    assert refused.json()["extra"]["max_bytes"] == limit


def _external(name: str) -> bytes:
    from tests.provenance.test_verification import EXTERNAL, _external_absent

    if not EXTERNAL.is_dir():
        _external_absent()
    return (EXTERNAL / name).read_bytes()


def test_the_page_reports_a_remote_manifest_as_such_without_fetching_it(monkeypatch):
    import socket

    data = _external("cloud.jpg")
    monkeypatch.setattr(socket.socket, "connect", lambda *a: pytest.fail("network"))

    response = Client().post("/verify/", {"file": _upload(data, "cloud.jpg")})

    assert response.status_code == 200
    body = response.content.decode()
    assert "stored at a remote address (https://cai-manifests.adobe.com/" in body
    assert "which was not fetched" in body


def test_the_command_reports_a_remote_manifest_and_exits_1(tmp_path):
    path = tmp_path / "cloud.jpg"
    path.write_bytes(_external("cloud.jpg"))

    status, out = _run(str(path))
    _status, as_json = _run(str(path), "--json")

    assert status == 1
    assert "remote address (https://cai-manifests.adobe.com/" in out
    report = json.loads(as_json)[0]
    assert report["findings"] == ["remote_manifest_not_fetched"]
    assert report["remote_manifest_url"].startswith("https://cai-manifests.adobe.com/")


def test_the_command_exits_2_on_a_file_above_the_limit(settings, sign, tmp_path):
    big = tmp_path / "big.png"
    big.write_bytes(signed_bytes(sign()))
    settings.RIGHTSDESK_VERIFY_MAX_BYTES = big.stat().st_size - 1

    status, out = _run(str(big), "--json")

    assert status == 2
    assert json.loads(out)[0]["error"]["code"] == "image_too_large"

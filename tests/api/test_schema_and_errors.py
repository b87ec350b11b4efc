import pytest
from django.core.management import call_command

from rightsdesk.core.errors import ApplicationError, NotFound


@pytest.mark.django_db
def test_openapi_schema_validates_without_warnings(tmp_path):
    # --fail-on-warn turns drf-spectacular's "unable to guess serializer" and component
    # name collisions (PITFALLS.md) into a failure, so the schema keeps telling the truth.
    out = tmp_path / "schema.yml"
    call_command("spectacular", "--validate", "--fail-on-warn", "--file", str(out))
    text = out.read_text()
    assert "/api/v1/auth/token/" in text
    assert "Error:" in text  # the shared error component is referenced


@pytest.mark.django_db
def test_api_errors_share_one_shape(api_client):
    unauthenticated = api_client.get("/api/v1/me/")
    assert unauthenticated.status_code == 401
    assert unauthenticated.json()["code"] == "not_authenticated"

    malformed = api_client.post(
        "/api/v1/auth/token/", data="{not json", content_type="application/json"
    )
    assert malformed.status_code == 400
    assert malformed.json()["code"] == "parse_error"

    invalid = api_client.post("/api/v1/auth/token/", data={"email": "not-an-email"})
    assert invalid.status_code == 400
    body = invalid.json()
    assert body["code"] == "validation_error"
    assert set(body["extra"]["fields"]) == {"email", "password"}


def test_error_codes_are_unique_and_carry_a_status():
    codes = ApplicationError.registry
    assert codes["not_found"] is NotFound
    assert all(100 <= cls.status < 600 for cls in codes.values())
    with pytest.raises(TypeError, match="declared twice"):
        type("Duplicate", (ApplicationError,), {"code": "not_found"})


@pytest.mark.django_db
def test_unknown_url_renders_the_404_page(client):
    response = client.get("/no-such-page/")
    assert response.status_code == 404
    assert b"We could not find that page." in response.content

"""The consumer's verify page explains what "possible match" means when a file's
credentials were stripped, opened when that is the result, and never names the model."""

import io

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from PIL import Image

from rightsdesk.provenance import views
from rightsdesk.provenance.types import PossibleMatch, VerificationReport

pytestmark = pytest.mark.django_db


def png() -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (8, 8), "white").save(out, format="PNG")
    return out.getvalue()


def test_the_page_explains_a_possible_match_before_any_upload():
    body = Client().get("/verify/").content.decode()

    assert "What does “possible match” mean?" in body
    assert "Content Credentials can be stripped" in body
    assert "It is a similarity, not a verification" in body
    assert '<details class="explain" id="possible-match-help">' in body  # closed


def test_a_possible_match_opens_the_explanation_and_names_only_the_brand(monkeypatch):
    report = VerificationReport(
        state="possible_match",
        format="png",
        possible_match=PossibleMatch(brand="Maison Lin", method="perceptual_hash", distance=3),
        filename="copy.png",
    )
    monkeypatch.setattr(views, "verify_image", lambda data, filename: report)

    upload = SimpleUploadedFile("copy.png", png(), content_type="image/png")
    response = Client().post("/verify/", {"file": upload})

    body = response.content.decode()
    assert response.status_code == 200
    assert '<details class="explain" id="possible-match-help" open>' in body
    assert "Maison Lin" in body and "similarity match, not proof" in body

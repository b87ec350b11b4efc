"""RIGHTSDESK_TSA_URL: signing through a real (local) RFC 3161 timestamp authority, with the
real c2pa library, and what the timestamp is worth when the signer's certificate expires."""

import datetime
import io
import json
import logging
import socket
import time

import c2pa
import pytest
from django.utils import timezone

from rightsdesk.audit.models import AuditEvent
from rightsdesk.provenance import credentials, manifests
from rightsdesk.provenance.errors import SigningUnavailable
from rightsdesk.provenance.models import ProvenanceRecord
from rightsdesk.provenance.services import signing_credential_install
from rightsdesk.provenance.verification import verify_image
from tests.provenance.conftest import signed_bytes

pytestmark = pytest.mark.django_db

SERVICES_LOGGER = "rightsdesk.provenance.services"


def _trust_tsa(settings, tmp_path, authority) -> None:
    """What an operator does: the TSA's root in RIGHTSDESK_C2PA_TRUST_ANCHORS."""
    anchors = tmp_path / "anchors.pem"
    anchors.write_text(authority.root_pem)
    settings.RIGHTSDESK_C2PA_TRUST_ANCHORS = str(anchors)


def _signature_results(data: bytes) -> dict:
    with c2pa.Reader("image/png", io.BytesIO(data), context=manifests.reading_context()) as r:
        store = json.loads(r.json())
    active = store["validation_results"]["activeManifest"]
    return {key: {e["code"] for e in active.get(key, [])} for key in ("success", "informational")}


def _closed_port_url() -> str:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    return f"http://127.0.0.1:{port}/tsa"


def test_a_tsa_url_puts_the_authoritys_rfc3161_token_in_the_signature_and_it_reads_trusted(
    settings, tmp_path, sign, timestamp_authority
):
    tsa = timestamp_authority
    tsa.stamped_at = (timezone.now() - datetime.timedelta(hours=1)).replace(microsecond=0)
    _trust_tsa(settings, tmp_path, tsa)
    settings.RIGHTSDESK_TSA_URL = tsa.url

    record = sign()
    data = signed_bytes(record)

    # The library asked once, for a SHA-256 imprint, and embedded the token it was given.
    assert len(tsa.requests) == 1
    imprint = tsa.requests[0]["message_imprint"]
    assert imprint["hash_algorithm"]["algorithm"].native == "sha256"
    assert len(imprint["hashed_message"].native) == 32
    assert tsa.issued[0] in data
    report = verify_image(data)
    assert report.state == "trusted"
    assert {"timeStamp.validated", "timeStamp.trusted"} <= _signature_results(data)["success"]
    # The signature is dated by the authority, not by our clock.
    assert report.signed_at == tsa.stamped_at
    assert report.card.signed_at == tsa.stamped_at != record.created_at


def test_without_a_tsa_url_nothing_is_asked_and_the_signature_has_no_time(
    sign, timestamp_authority
):
    data = signed_bytes(sign())

    assert timestamp_authority.requests == []
    report = verify_image(data)
    assert report.state == "trusted" and report.signed_at is None
    assert not {c for c in _signature_results(data)["success"] if c.startswith("timeStamp")}


def test_a_trusted_timestamp_keeps_an_asset_trusted_after_its_signer_expires(
    settings, tmp_path, sign, timestamp_authority
):
    _trust_tsa(settings, tmp_path, timestamp_authority)
    expires = timezone.now() + datetime.timedelta(seconds=5)  # room for a slow machine
    chain_pem, key_pem = credentials.make_chain(
        organisation="Short-lived Signer",
        now=expires - datetime.timedelta(days=365 * credentials.SIGNER_YEARS),
    )
    credential = signing_credential_install(chain_pem=chain_pem, key_pem=key_pem, source="settings")
    settings.RIGHTSDESK_TSA_URL = timestamp_authority.url
    stamped = signed_bytes(sign(credential=credential))
    settings.RIGHTSDESK_TSA_URL = ""
    plain = signed_bytes(sign(credential=credential))
    manifests.forget_reading_context()  # the credential's root, as another process would
    assert verify_image(stamped).state == verify_image(plain).state == "trusted"

    time.sleep(max(0.0, (credential.not_after - timezone.now()).total_seconds()) + 1.2)

    assert timezone.now() > credential.not_after
    assert verify_image(stamped).state == "trusted"
    expired = verify_image(plain)
    assert expired.state == "invalid"
    assert "signingCredential.expired" in expired.codes


def test_an_untrusted_tsa_still_verifies_and_signing_warns_once(
    settings, sign, timestamp_authority, caplog
):
    settings.RIGHTSDESK_TSA_URL = timestamp_authority.url

    with caplog.at_level(logging.WARNING, logger=SERVICES_LOGGER):
        first, second = sign(), sign()

    warnings = [r.getMessage() for r in caplog.records if r.name == SERVICES_LOGGER]
    assert len(warnings) == 1
    assert "RIGHTSDESK_C2PA_TRUST_ANCHORS" in warnings[0]
    assert len(timestamp_authority.requests) == 2
    for record in (first, second):
        report = verify_image(signed_bytes(record))
        assert report.state == "trusted"
        assert "timeStamp.untrusted" in report.codes


def test_signing_does_not_warn_when_the_tsa_is_trusted(
    settings, tmp_path, sign, timestamp_authority, caplog
):
    _trust_tsa(settings, tmp_path, timestamp_authority)
    settings.RIGHTSDESK_TSA_URL = timestamp_authority.url

    with caplog.at_level(logging.WARNING, logger=SERVICES_LOGGER):
        sign()

    assert [r for r in caplog.records if r.name == SERVICES_LOGGER] == []


@pytest.mark.parametrize("failure", ["unreachable", "garbage"])
def test_a_tsa_without_a_usable_answer_fails_signing_and_stores_nothing(
    settings, sign, timestamp_authority, failure
):
    if failure == "unreachable":
        settings.RIGHTSDESK_TSA_URL = _closed_port_url()
    else:
        timestamp_authority.answer = "garbage"
        settings.RIGHTSDESK_TSA_URL = timestamp_authority.url

    with pytest.raises(SigningUnavailable) as caught:
        sign()

    assert caught.value.code == "signing_unavailable" and caught.value.status == 503
    assert "RIGHTSDESK_TSA_URL" in caught.value.message
    assert ProvenanceRecord.objects.count() == 0
    assert not AuditEvent.objects.filter(action="provenance.signed").exists()
    assert not (settings.MEDIA_ROOT / "provenance").exists() or not any(
        (settings.MEDIA_ROOT / "provenance").iterdir()
    )

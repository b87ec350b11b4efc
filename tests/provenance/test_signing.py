"""Signing a released image: credentials, the marks applied before signing, the manifest
and the record."""

import datetime
import hashlib
import io
import json
import os
import stat

import numpy as np
import pytest
from cryptography import x509
from django.conf import settings
from PIL import Image

from rightsdesk.audit.models import AuditEvent
from rightsdesk.consent.gate_types import Obligation
from rightsdesk.provenance import credentials, manifests, marks, watermark
from rightsdesk.provenance.models import ProvenanceRecord, SigningCredential
from rightsdesk.provenance.services import signing_credential_for, signing_credential_install
from rightsdesk.provenance.verification import verify_image
from tests.provenance.conftest import floor_obligations, signed_bytes

pytestmark = pytest.mark.django_db


def _active_manifest(data: bytes) -> dict:
    import c2pa

    with c2pa.Reader("image/png", io.BytesIO(data), context=manifests.reading_context()) as r:
        store = json.loads(r.json())
    return store["manifests"][store["active_manifest"]]


def _assertion(manifest: dict, label: str) -> dict:
    return next(a["data"] for a in manifest["assertions"] if a["label"] == label)


def test_signed_output_reads_back_trusted_with_the_required_assertions(sign, deal):
    record = sign()
    data = signed_bytes(record)

    report = verify_image(data)

    assert report.state == "trusted"
    assert report.issuer == credentials.DEV_ORGANISATION
    assert report.claim_generator == "Rightsdesk 1.0.0"
    manifest = _active_manifest(data)
    action = _assertion(manifest, "c2pa.actions.v2")["actions"][0]
    assert action["action"] == "c2pa.created"
    assert action["digitalSourceType"] == marks.IPTC_TRAINED_ALGORITHMIC_MEDIA
    assert action["softwareAgent"] == {"name": "Rightsdesk", "version": "1.0.0"}
    entries = _assertion(manifest, "cawg.training-mining")["entries"]
    assert {key: value["use"] for key, value in entries.items()} == {
        "cawg.ai_generative_training": "notAllowed",
        "cawg.ai_training": "notAllowed",
        "cawg.data_mining": "notAllowed",
        "cawg.ai_inference": "notAllowed",
    }
    asset_id = record.asset_reference.removeprefix("asset:")
    disclosure = _assertion(manifest, "com.rightsdesk.disclosure")
    assert disclosure["asset"] == asset_id
    assert disclosure["status_url"] == f"{settings.RIGHTSDESK_BASE_URL}/verify/a/{asset_id}"
    assert disclosure["approved_exact_image"] is True
    assert disclosure["commitment"] == record.commitment
    assert manifest["thumbnail"]["format"] == "image/jpeg"
    assert manifest["label"] == record.manifest_label


def test_manifest_and_file_carry_no_readable_identifier(sign, deal, world):
    record = sign(stage_name="Stage Secret", consent_public_ids=(deal.agreement.public_id,))
    data = signed_bytes(record)

    for secret in (
        str(deal.licence.public_id),
        str(deal.agreement.public_id),
        str(world.talent_a.public_id),
        world.talent_a.legal_name,
        "Stage Secret",
        deal.licence.campaign,
    ):
        assert secret.encode() not in data
        assert secret not in json.dumps(_active_manifest(data))
    # The commitment opens with the salt kept in the record (for the evidence pack).
    body = json.dumps(
        {"consents": [str(deal.agreement.public_id)], "licence": str(deal.licence.public_id)},
        sort_keys=True,
        separators=(",", ":"),
    ).encode()
    opened = hashlib.sha256(bytes.fromhex(record.commitment_salt) + body).hexdigest()
    assert record.commitment == f"sha256:{opened}"


def test_inference_follows_the_agreement(sign):
    record = sign(inference_allowed=True)

    entries = _assertion(_active_manifest(signed_bytes(record)), "cawg.training-mining")
    assert entries["entries"]["cawg.ai_inference"]["use"] == "allowed"
    assert entries["entries"]["cawg.ai_training"]["use"] == "notAllowed"
    xmp = Image.open(io.BytesIO(signed_bytes(record))).info["XML:com.adobe.xmp"]
    assert "DMI-PROHIBITED-AIMLTRAINING" in xmp


def test_record_keeps_file_hashes_watermark_and_perceptual_hash(sign):
    record = sign()
    data = signed_bytes(record)

    assert record.signed_file.name.startswith("provenance/")
    assert record.signed_sha256 == hashlib.sha256(data).hexdigest()
    image = Image.open(io.BytesIO(data))
    xmp = image.info["XML:com.adobe.xmp"]
    assert marks.IPTC_TRAINED_ALGORITHMIC_MEDIA in xmp
    assert "DMI-PROHIBITED" in xmp
    decoded = watermark.decode(image)
    assert decoded.present
    assert watermark.to_signed(decoded.payload) == record.watermark_payload
    assert watermark.to_signed(watermark.perceptual_hash(image)) == record.perceptual_hash
    assert [e["code"] for e in record.obligations] == [o.code for o in floor_obligations()]
    event = AuditEvent.objects.get(action="provenance.signed")
    assert json.loads(event.payload_json)["signed_sha256"] == record.signed_sha256


def test_signing_the_same_asset_twice_returns_the_first_record(sign, deal, disclosure, photo_png):
    from rightsdesk.provenance.services import provenance_sign

    first = sign()
    again = provenance_sign(
        asset_reference=first.asset_reference,
        image_png=photo_png,
        disclosure=disclosure,
        obligations=floor_obligations(),
    )

    assert again.pk == first.pk
    assert ProvenanceRecord.objects.count() == 1


def test_a_signing_that_loses_the_race_for_its_asset_returns_the_winners_record(
    sign, disclosure, photo_png, monkeypatch
):
    from rightsdesk.provenance import selectors
    from rightsdesk.provenance.services import provenance_sign

    # Given a record already made for the asset, which this signing looked for too early.
    first = sign()
    monkeypatch.setattr(selectors, "provenance_record_of", lambda **kwargs: None)

    # When it signs the asset all the same.
    again = provenance_sign(
        asset_reference=first.asset_reference,
        image_png=photo_png,
        disclosure=disclosure,
        obligations=floor_obligations(),
    )

    # Then it gets the first record; its own file and record are not kept, nor audited.
    assert again.pk == first.pk and again.signed_sha256 == first.signed_sha256
    assert ProvenanceRecord.objects.count() == 1
    assert AuditEvent.objects.filter(action="provenance.signed").count() == 1
    folder = os.path.join(settings.MEDIA_ROOT, "provenance")
    assert os.listdir(folder) == [os.path.basename(first.signed_file.name)]


def test_an_obligation_provenance_cannot_apply_is_recorded_as_not_applied(sign):
    record = sign(obligations=[*floor_obligations(), Obligation(code="brand_watermark")])

    assert {"code": "brand_watermark", "applied": False} in record.obligations


# Credentials


def test_development_credential_is_made_once_with_what_the_library_requires():
    first = signing_credential_for()
    second = signing_credential_for()

    assert first.pk == second.pk and first.source == "development" and first.active
    chain = x509.load_pem_x509_certificates(first.certificate_chain_pem.encode())
    leaf = chain[0]
    assert leaf.extensions.get_extension_for_class(x509.BasicConstraints).value.ca is False
    assert leaf.extensions.get_extension_for_class(x509.KeyUsage).value.digital_signature
    eku = leaf.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value
    assert x509.oid.ExtendedKeyUsageOID.EMAIL_PROTECTION in eku
    leaf.extensions.get_extension_for_class(x509.SubjectKeyIdentifier)
    leaf.extensions.get_extension_for_class(x509.AuthorityKeyIdentifier)
    assert first.not_after - first.not_before > datetime.timedelta(days=365 * 19)
    folder = settings.VAR_DIR / "keys" / "c2pa"
    for name in ("signer-chain.pem", "signer-key.pem"):
        assert stat.S_IMODE(os.stat(folder / name).st_mode) == 0o600


def test_private_key_is_stored_only_encrypted():
    credential = signing_credential_for()

    assert b"PRIVATE KEY" not in bytes(credential.private_key_sealed)
    assert manifests.open_private_key(credential).startswith("-----BEGIN PRIVATE KEY-----")
    assert credential.kek_id == settings.RIGHTSDESK_DATA_KEY_ID


def test_rotation_keeps_every_earlier_asset_trusted(sign):
    old = signing_credential_for()
    before = sign()
    chain_pem, key_pem = credentials.make_chain(organisation="Rightsdesk Rotated")
    new = signing_credential_install(chain_pem=chain_pem, key_pem=key_pem, source="settings")
    after = sign()

    old.refresh_from_db()
    assert not old.active and new.active
    assert before.credential_id == old.pk and after.credential_id == new.pk
    manifests.forget_reading_context()
    assert verify_image(signed_bytes(before)).state == "trusted"
    assert verify_image(signed_bytes(after)).state == "trusted"
    assert verify_image(signed_bytes(after)).issuer == "Rightsdesk Rotated"


def test_a_brand_credential_signs_for_its_brand(sign, deal):
    chain_pem, key_pem = credentials.make_chain(organisation="Brand Own CA")
    own = signing_credential_install(
        chain_pem=chain_pem, key_pem=key_pem, source="brand", organization=deal.licence.brand
    )

    record = sign()

    assert record.credential_id == own.pk
    assert verify_image(signed_bytes(record)).issuer == "Brand Own CA"
    assert SigningCredential.objects.filter(organization__isnull=True).count() == 0


def test_a_certificate_authority_cannot_be_installed_as_a_signer():
    from rightsdesk.provenance.errors import SigningUnavailable

    chain_pem, key_pem = credentials.make_chain(organisation="Wrong")
    root_only = chain_pem.split("-----END CERTIFICATE-----\n", 1)[1]

    with pytest.raises(SigningUnavailable):
        signing_credential_install(chain_pem=root_only, key_pem=key_pem, source="settings")
    assert SigningCredential.objects.count() == 0


def test_production_without_signing_files_refuses_to_sign(settings):
    from rightsdesk.provenance.errors import SigningUnavailable

    settings.PRODUCTION = True

    with pytest.raises(SigningUnavailable):
        signing_credential_for()
    assert SigningCredential.objects.count() == 0


def test_changing_the_configured_files_rotates_the_instance_credential(settings, tmp_path):
    first = signing_credential_for()
    chain_pem, key_pem = credentials.make_chain(organisation="Production CA")
    (tmp_path / "chain.pem").write_text(chain_pem)
    (tmp_path / "key.pem").write_text(key_pem)
    settings.RIGHTSDESK_C2PA_CERT_CHAIN = str(tmp_path / "chain.pem")
    settings.RIGHTSDESK_C2PA_PRIVATE_KEY = str(tmp_path / "key.pem")

    current = signing_credential_for()

    assert current.pk != first.pk and current.source == "settings"
    assert signing_credential_for().pk == current.pk
    assert SigningCredential.objects.filter(active=True).count() == 1


# The visible label


def _label_mask(image_png: bytes, sign, **kwargs) -> tuple[Image.Image, "object"]:
    record = sign(image_png=image_png, **kwargs)
    return Image.open(io.BytesIO(signed_bytes(record))).convert("RGB"), record


@pytest.mark.parametrize("size", [(512, 512), (640, 480), (480, 854)])
def test_the_label_stays_inside_every_common_centre_crop(size):
    from rightsdesk.provenance.synthetic import photo_like

    image = photo_like(size[0], seed=3, height=size[1])
    lines = marks.label_lines(obligations=floor_obligations(influence_fr=True), language="fr")
    labelled, box = marks.draw_label(image, lines)

    rows, cols = np.nonzero(np.any(np.asarray(image) != np.asarray(labelled), axis=2))
    assert rows.size
    changed = (cols.min(), rows.min(), cols.max() + 1, rows.max() + 1)
    for aspect in marks.SAFE_ASPECTS:
        crop = marks.centre_crop(*image.size, aspect)
        assert box.inside(crop)
        # Cropping keeps every changed pixel: the whole label survives.
        assert changed[0] >= crop.left and changed[2] <= crop.right
        assert changed[1] >= crop.top and changed[3] <= crop.bottom


def test_label_wording_follows_the_language_and_the_french_influence_rule():
    assert marks.label_lines(obligations=floor_obligations(), language="fr") == [
        "Image générée par IA"
    ]
    assert marks.label_lines(obligations=floor_obligations(), language="de") == [
        "KI-generiertes Bild",
        "Image générée par IA",
    ]
    assert marks.label_lines(obligations=floor_obligations(influence_fr=True), language="fr") == [
        "Image générée par IA",
        "Images virtuelles",
    ]
    assert marks.label_lines(obligations=floor_obligations(label=False), language="en") == []


def test_the_label_is_drawn_only_where_an_obligation_asks(sign, photo_png):
    original = Image.open(io.BytesIO(photo_png)).convert("RGB")
    labelled, record = _label_mask(photo_png, sign)
    plain, _ = _label_mask(photo_png, sign, obligations=floor_obligations(label=False))
    box = marks.safe_area(*original.size)

    def dark_pixels(image):
        region = image.crop((box.left, box.bottom - 40, box.right, box.bottom)).convert("L")
        return int((np.asarray(region) < 60).sum())

    assert dark_pixels(labelled) > dark_pixels(original) + 500
    assert abs(dark_pixels(plain) - dark_pixels(original)) < 50
    assert record.obligations[-1]["label"] == ["Image générée par IA"]


# The watermark


def test_watermark_survives_jpeg_re_encoding_and_halving(sign, photo_png_1024):
    record = sign(image_png=photo_png_1024)
    image = Image.open(io.BytesIO(signed_bytes(record))).convert("RGB")
    payload = watermark.to_unsigned(record.watermark_payload)

    def jpeg(img):
        out = io.BytesIO()
        img.save(out, "JPEG", quality=80)
        return Image.open(io.BytesIO(out.getvalue()))

    def half(img):
        return img.resize((img.width // 2, img.height // 2), Image.LANCZOS)

    for attacked in (jpeg(image), half(image), jpeg(half(image))):
        raw, voted = watermark.raw_bit_errors(attacked, payload)
        assert raw < 0.05 and voted == 0.0
        assert watermark.decode(attacked).payload == payload


def test_unmarked_images_read_as_carrying_no_watermark():
    from rightsdesk.provenance.synthetic import photo_like

    for seed in range(5):
        assert not watermark.decode(photo_like(512, seed=100 + seed)).present


def test_signing_refuses_what_is_not_a_png_and_stores_nothing(sign):
    from rightsdesk.provenance.errors import CorruptImage

    with pytest.raises(CorruptImage):
        sign(image_png=b"not a png")
    assert ProvenanceRecord.objects.count() == 0
    assert not AuditEvent.objects.filter(action="provenance.signed").exists()


# Gaps the audit of issue 5 found untested


def test_the_manifest_thumbnail_is_our_own_small_jpeg(sign, photo_png_1024):
    import c2pa

    data = signed_bytes(sign(image_png=photo_png_1024))

    with c2pa.Reader("image/png", io.BytesIO(data), context=manifests.reading_context()) as r:
        store = json.loads(r.json())
        thumbnail = store["manifests"][store["active_manifest"]]["thumbnail"]
        out = io.BytesIO()
        r.resource_to_stream(thumbnail["identifier"], out)
    image = Image.open(io.BytesIO(out.getvalue()))
    # The library's own is 1024 px on its long edge and costs ~100 ms (PITFALLS.md).
    assert (image.format, image.size) == ("JPEG", (256, 256))


def test_the_development_ca_is_made_once_when_callers_race(settings, tmp_path, monkeypatch):
    import threading
    import time

    settings.VAR_DIR = tmp_path / "var"
    make_chain = credentials.make_chain

    def slow_make_chain(**kwargs):
        time.sleep(0.05)  # a loaded machine: every racer is inside before the first writes
        return make_chain(**kwargs)

    monkeypatch.setattr(credentials, "make_chain", slow_make_chain)
    barrier, results, errors = threading.Barrier(6), [], []

    def make():
        barrier.wait()
        try:
            results.append(credentials.development_chain())
        except Exception as exc:  # noqa: BLE001 (collected for the assertion)
            errors.append(exc)

    threads = [threading.Thread(target=make) for _ in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)

    assert errors == []
    assert len(results) == 6 and len(set(results)) == 1
    folder = settings.VAR_DIR / "keys" / "c2pa"
    assert (folder / "signer-chain.pem").read_text() == results[0][0]


@pytest.mark.parametrize("broken", ["chain only", "key only", "missing files", "foreign key"])
def test_unusable_signing_files_refuse_to_sign_and_install_nothing(settings, tmp_path, broken):
    from rightsdesk.provenance.errors import SigningUnavailable

    chain_pem, key_pem = credentials.make_chain(organisation="Production CA")
    _other_chain, other_key = credentials.make_chain(organisation="Someone Else")
    (tmp_path / "chain.pem").write_text(chain_pem)
    (tmp_path / "key.pem").write_text(other_key if broken == "foreign key" else key_pem)
    chain, key = str(tmp_path / "chain.pem"), str(tmp_path / "key.pem")
    settings.RIGHTSDESK_C2PA_CERT_CHAIN, settings.RIGHTSDESK_C2PA_PRIVATE_KEY = {
        "chain only": (chain, ""),
        "key only": ("", key),
        "missing files": (str(tmp_path / "no-chain.pem"), str(tmp_path / "no-key.pem")),
        "foreign key": (chain, key),
    }[broken]

    with pytest.raises(SigningUnavailable) as caught:
        signing_credential_for()
    assert caught.value.status == 503
    assert SigningCredential.objects.count() == 0


def test_rotating_the_configured_files_keeps_earlier_assets_trusted(settings, tmp_path, sign):
    before = sign()
    chain_pem, key_pem = credentials.make_chain(organisation="Production CA")
    (tmp_path / "chain.pem").write_text(chain_pem)
    (tmp_path / "key.pem").write_text(key_pem)
    settings.RIGHTSDESK_C2PA_CERT_CHAIN = str(tmp_path / "chain.pem")
    settings.RIGHTSDESK_C2PA_PRIVATE_KEY = str(tmp_path / "key.pem")

    after = sign()

    assert after.credential_id != before.credential_id
    for record, issuer in ((before, credentials.DEV_ORGANISATION), (after, "Production CA")):
        report = verify_image(signed_bytes(record))
        assert (report.state, report.issuer) == ("trusted", issuer)
        assert report.card is not None


def test_a_credential_installed_by_another_process_is_trusted_without_a_restart(sign):
    before = sign()
    assert verify_image(signed_bytes(before)).state == "trusted"  # this process's anchors load
    chain_pem, key_pem = credentials.make_chain(organisation="Rotated Elsewhere")
    # In this test's transaction on_commit never runs, so this process keeps its old anchors,
    # as a web process does when a worker installs the new credential.
    signing_credential_install(chain_pem=chain_pem, key_pem=key_pem, source="settings")

    after = sign()
    report = verify_image(signed_bytes(after))

    assert (report.state, report.issuer) == ("trusted", "Rotated Elsewhere")
    assert report.card is not None
    assert verify_image(signed_bytes(before)).state == "trusted"


def test_a_brand_credential_never_signs_for_another_brand(sign, deal, world):
    from tests.consent.conftest import make_agreement, make_licence
    from tests.factories import OrganizationFactory

    chain_pem, key_pem = credentials.make_chain(organisation="Brand Own CA")
    own = signing_credential_install(
        chain_pem=chain_pem, key_pem=key_pem, source="brand", organization=deal.licence.brand
    )
    other_brand = OrganizationFactory(name="Other Brand")
    other_licence = make_licence(agreement=make_agreement(world=world, brand=other_brand))

    record = sign(licence_public_id=other_licence.public_id, brand_name=other_brand.name)

    assert record.credential_id != own.pk
    assert record.credential.organization_id is None
    report = verify_image(signed_bytes(record))
    assert (report.state, report.issuer) == ("trusted", credentials.DEV_ORGANISATION)
    assert report.card.brand == "Other Brand"


def test_a_brand_certificate_cannot_be_taken_over_by_another_owner(deal):
    from rightsdesk.core.errors import ValidationFailed

    chain_pem, key_pem = credentials.make_chain(organisation="Brand Own CA")
    own = signing_credential_install(
        chain_pem=chain_pem, key_pem=key_pem, source="brand", organization=deal.licence.brand
    )

    with pytest.raises(ValidationFailed):
        signing_credential_install(chain_pem=chain_pem, key_pem=key_pem, source="settings")

    own.refresh_from_db()
    assert own.active and own.organization_id == deal.licence.brand.pk
    assert SigningCredential.objects.count() == 1


def test_a_brand_brings_its_own_credential_with_the_install_command(sign, deal, tmp_path):
    from django.core.management import call_command

    chain_pem, key_pem = credentials.make_chain(organisation="Maison Own CA")
    (tmp_path / "chain.pem").write_text(chain_pem)
    (tmp_path / "key.pem").write_text(key_pem)
    out = io.StringIO()

    call_command(
        "signing_credential_install",
        "--chain",
        str(tmp_path / "chain.pem"),
        "--key",
        str(tmp_path / "key.pem"),
        "--organization",
        str(deal.licence.brand.public_id),
        stdout=out,
    )
    record = sign()

    assert f"for {deal.licence.brand.name}" in out.getvalue()
    assert (record.credential.organization_id, record.credential.source) == (
        deal.licence.brand.pk,
        "brand",
    )
    assert verify_image(signed_bytes(record)).issuer == "Maison Own CA"


@pytest.mark.parametrize("problem", ["not a brand", "unknown id", "foreign key", "no file"])
def test_the_install_command_refuses_what_cannot_sign_and_installs_nothing(
    world, tmp_path, problem
):
    from django.core.management import CommandError, call_command

    chain_pem, key_pem = credentials.make_chain(organisation="Maison Own CA")
    _chain, other_key = credentials.make_chain(organisation="Other")
    (tmp_path / "chain.pem").write_text(chain_pem)
    (tmp_path / "key.pem").write_text(other_key if problem == "foreign key" else key_pem)
    organization = {
        "not a brand": str(world.agency_a.public_id),
        "unknown id": "00000000-0000-4000-8000-000000000000",
    }.get(problem, str(world.brand.public_id))
    key = str(tmp_path / ("missing.pem" if problem == "no file" else "key.pem"))

    with pytest.raises(CommandError):
        call_command(
            "signing_credential_install",
            "--chain",
            str(tmp_path / "chain.pem"),
            "--key",
            key,
            "--organization",
            organization,
        )
    assert SigningCredential.objects.count() == 0

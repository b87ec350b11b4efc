"""Verifying files: our own (trusted, with the card), changed ones, foreign ones, the
images of other C2PA tools, stripped copies, and files that cannot be verified at all."""

import datetime
import io
import os
import struct
import zlib
from pathlib import Path

import c2pa
import pytest
from django.conf import settings
from PIL import Image

from rightsdesk.consent.services import withdrawal_create
from rightsdesk.provenance import credentials, manifests, types, verification, watermark
from rightsdesk.provenance.synthetic import photo_like
from rightsdesk.talent.models import Talent
from tests.provenance.conftest import EXTERNAL_STATES, png_bytes, signed_bytes

pytestmark = pytest.mark.django_db

EXTERNAL = Path(settings.BASE_DIR).parent / "shared" / "fixtures" / "external-c2pa"
DAY = datetime.timedelta(days=1)


def _foreign_signed(
    data: bytes, *, disclosure: dict | None = None, organisation: str = "Foreign Studio"
) -> bytes:
    """``data`` (PNG) signed by a CA of the test's own making (not one of our credentials)."""
    chain_pem, key_pem = credentials.make_chain(organisation=organisation)
    return _signed_by(data, chain_pem, key_pem, disclosure=disclosure)


def _signed_by(data: bytes, chain_pem: str, key_pem: str, *, disclosure=None) -> bytes:
    signer = c2pa.Signer.from_info(
        c2pa.C2paSignerInfo(c2pa.C2paSigningAlg.ES256, chain_pem.encode(), key_pem.encode(), None)
    )
    assertions = [
        {
            "label": "c2pa.actions.v2",
            "data": {
                "actions": [
                    {
                        "action": "c2pa.created",
                        "digitalSourceType": (
                            "http://cv.iptc.org/newscodes/digitalsourcetype/digitalCapture"
                        ),
                    }
                ]
            },
        }
    ]
    if disclosure:
        assertions.append({"label": manifests.DISCLOSURE_LABEL, "data": disclosure})
    definition = {
        "claim_generator_info": [{"name": "Foreign Tool", "version": "2.0"}],
        "format": "image/png",
        "assertions": assertions,
    }
    builder = c2pa.Builder(definition, context=manifests.signing_context())
    out = io.BytesIO()
    builder.sign(signer, "image/png", io.BytesIO(data), out)
    return out.getvalue()


def _chunks(png: bytes) -> list[tuple[bytes, bytes]]:
    chunks, at = [], 8
    while at < len(png):
        (length,) = struct.unpack(">I", png[at : at + 4])
        chunks.append((png[at + 4 : at + 8], png[at + 8 : at + 8 + length]))
        at += 12 + length
    return chunks


def _chunk(kind: bytes, body: bytes) -> bytes:
    crc = zlib.crc32(kind + body) & 0xFFFFFFFF
    return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", crc)


def _change_one_pixel_byte(png: bytes) -> bytes:
    """The same PNG, every other chunk kept (the manifest too), with one byte of one pixel
    changed: the image data is written again unfiltered, one byte different."""
    image = Image.open(io.BytesIO(png)).convert("RGB")
    pixels = bytearray(image.tobytes())
    pixels[(100 * image.width + 50) * 3] ^= 0x01  # row 100, pixel 50, red
    stride = image.width * 3
    raw = b"".join(
        b"\x00" + bytes(pixels[row * stride : (row + 1) * stride]) for row in range(image.height)
    )
    out, written = [png[:8]], False
    for kind, body in _chunks(png):
        if kind != b"IDAT":
            out.append(_chunk(kind, body))
        elif not written:
            out.append(_chunk(b"IDAT", zlib.compress(raw, 1)))
            written = True
    return b"".join(out)


def _stripped(data: bytes) -> bytes:
    """Re-encoded as JPEG at quality 80, halved, no metadata at all."""
    image = Image.open(io.BytesIO(data)).convert("RGB")
    half = image.resize((image.width // 2, image.height // 2), Image.LANCZOS)
    out = io.BytesIO()
    half.save(out, "JPEG", quality=80)
    return out.getvalue()


# Our own files


def test_our_signed_file_is_trusted_and_carries_the_card(sign, deal):
    record = sign()

    report = verification.verify_image(signed_bytes(record), filename="ours.png")

    assert report.state == "trusted"
    assert report.format == "image/png"
    card = report.card
    assert card is not None
    assert card.brand == deal.licence.brand.name
    assert card.permission == "current"
    assert card.approved_exact_image is True
    assert card.signed_at == record.created_at  # no timestamp authority: the record's time
    assert card.issuer == credentials.DEV_ORGANISATION
    assert card.report_url is None
    text = " ".join(card.lines())
    assert "digital twin of a real model" in text
    assert f"Published by {deal.licence.brand.name}" in text
    assert "approved this exact image" in text
    assert "Permission current" in text


def test_our_own_manifest_costs_one_database_round_trip(sign, django_assert_num_queries):
    data = signed_bytes(sign())
    verification.verify_image(data)  # loads the trust anchors once per process

    with django_assert_num_queries(1):
        report = verification.verify_image(data)

    assert report.card is not None


def test_one_changed_pixel_byte_makes_it_invalid(sign):
    data = signed_bytes(sign())
    changed = _change_one_pixel_byte(data)
    before = Image.open(io.BytesIO(data)).convert("RGB").tobytes()
    after = Image.open(io.BytesIO(changed)).convert("RGB").tobytes()
    assert sum(a != b for a, b in zip(before, after, strict=True)) == 1

    report = verification.verify_image(changed)

    assert report.state == "invalid"
    assert "assertion.dataHash.mismatch" in report.codes
    assert report.card is None
    assert report.issuer == credentials.DEV_ORGANISATION  # still said, though not trusted


def test_a_foreign_ca_signed_file_is_valid_but_untrusted_and_gets_no_card(sign, photo_png):
    ours = sign()
    asset_id = ours.asset_reference.removeprefix("asset:")
    # A foreign signer copying our disclosure assertion, naming a real asset of ours.
    data = _foreign_signed(photo_png, disclosure={"asset": asset_id, "approved_exact_image": True})

    report = verification.verify_image(data)

    assert report.state == "valid_untrusted"
    assert report.issuer == "Foreign Studio"
    assert report.signer == "Foreign Studio Signer"
    assert report.claim_generator == "Foreign Tool 2.0"
    assert "signingCredential.untrusted" in report.codes
    assert report.card is None
    assert verification.FINDING_UNMATCHED in report.findings


def test_a_configured_external_anchor_is_trusted(settings, tmp_path, photo_png):
    chain_pem, key_pem = credentials.make_chain(organisation="Partner Studio")
    root = chain_pem.split("-----END CERTIFICATE-----\n", 1)[1]
    (tmp_path / "anchors.pem").write_text(root)
    settings.RIGHTSDESK_C2PA_TRUST_ANCHORS = str(tmp_path / "anchors.pem")

    report = verification.verify_image(_signed_by(photo_png, chain_pem, key_pem))

    assert report.state == "trusted"
    assert report.issuer == "Partner Studio"
    assert report.card is None


# The images of other C2PA tools


def _external_absent() -> None:
    message = f"{EXTERNAL} is absent (CI checks out ../shared next to the clone)"
    if os.environ.get("RIGHTSDESK_REQUIRE_SERVICES") == "1":
        pytest.fail(message)  # under CI a skip would hide the foreign-signer tests
    pytest.skip(message)


def test_every_external_fixture_is_tested_for_the_state_its_readme_lists():
    if not EXTERNAL.is_dir():
        _external_absent()
    listed = {}
    for line in (EXTERNAL / "README.md").read_text().splitlines():
        cells = [cell.strip() for cell in line.strip().strip("|").split("|")]
        if len(cells) == 3 and cells[0] not in ("file", "---"):
            state = cells[1].split(",")[0].strip()
            listed.update({name.strip(): state for name in cells[0].split(",")})
    on_disk = {p.name for p in EXTERNAL.iterdir() if p.name != "README.md"}

    assert listed == EXTERNAL_STATES
    assert on_disk == set(EXTERNAL_STATES)


@pytest.mark.parametrize("name", sorted(EXTERNAL_STATES))
def test_external_fixture_gets_the_state_its_readme_lists(name, sign):
    if not EXTERNAL.is_dir():
        _external_absent()
    sign()  # a stored record of ours: none of these may be taken for it

    report = verification.verify_image((EXTERNAL / name).read_bytes(), filename=name)

    assert report.state == EXTERNAL_STATES[name]
    assert report.card is None and report.possible_match is None
    if report.state in ("valid_untrusted", "invalid"):
        assert report.issuer == "C2PA Test Signing Cert"
        assert report.claim_generator
    if name == "XCA.jpg":
        assert "assertion.dataHash.mismatch" in report.codes
    if name == "E-sig-CA.jpg":
        assert "claimSignature.mismatch" in report.codes
    if name == "CIE-sig-CA.jpg":
        assert "claimSignature.mismatch" in report.codes  # the ingredient's
    if name == "cloud.jpg":
        assert verification.FINDING_REMOTE in report.findings
        assert report.remote_manifest_url.startswith("https://cai-manifests.adobe.com/")


def test_a_remote_manifest_is_never_fetched(monkeypatch):
    if not EXTERNAL.is_dir():
        _external_absent()
    import socket

    def no_network(*args, **kwargs):
        raise AssertionError("verification tried to open a connection")

    monkeypatch.setattr(socket, "create_connection", no_network)
    monkeypatch.setattr(socket.socket, "connect", no_network)

    report = verification.verify_image((EXTERNAL / "cloud.jpg").read_bytes())

    assert report.state == "no_credentials"


# Stripped copies


def test_a_stripped_copy_is_a_possible_match_naming_only_the_brand(
    sign, deal, world, photo_png_1024
):
    Talent.objects.filter(pk=world.talent_a.pk).update(stage_name_public=True)
    record = sign(image_png=photo_png_1024, stage_name=world.talent_a.stage_name)

    report = verification.verify_image(_stripped(signed_bytes(record)))

    assert report.state == "possible_match"
    assert report.possible_match == types.PossibleMatch(
        brand=deal.licence.brand.name, method="watermark"
    )
    text = " ".join(report.possible_match.lines())
    assert "similarity match, not proof" in text
    assert f"by {deal.licence.brand.name}" in text
    dumped = str(report.to_json())
    for detail in (world.talent_a.stage_name, world.talent_a.legal_name, record.asset_reference):
        assert detail not in dumped
    assert report.card is None


def test_without_the_watermark_the_perceptual_hash_still_finds_it(
    sign, deal, photo_png_1024, monkeypatch
):
    record = sign(image_png=photo_png_1024)
    monkeypatch.setattr(verification.watermark, "decode", lambda image: watermark.Decoded(0, 0.0))

    report = verification.verify_image(_stripped(signed_bytes(record)))

    assert report.state == "possible_match"
    assert report.possible_match.method == "perceptual_hash"
    assert report.possible_match.distance <= 2
    assert report.possible_match.brand == deal.licence.brand.name


def test_unrelated_images_match_nothing(sign):
    sign()
    for seed in range(3):
        data = png_bytes(photo_like(256, seed=500 + seed))
        assert verification.verify_image(data).state == "no_credentials"


# The card


def test_the_card_of_a_talent_who_did_not_opt_in_carries_no_name(sign, world):
    assert world.talent_a.stage_name_public is False
    # Even if the render path passed it by mistake.
    record = sign(stage_name=world.talent_a.stage_name)

    card = verification.verify_image(signed_bytes(record)).card

    assert card.stage_name is None
    text = " ".join(card.lines())
    assert world.talent_a.stage_name not in text
    assert world.talent_a.legal_name not in text


def test_the_card_names_a_talent_only_while_they_opt_in(sign, world):
    Talent.objects.filter(pk=world.talent_a.pk).update(stage_name_public=True)
    record = sign(stage_name="Alice A.", approved_exact_image=False)
    data = signed_bytes(record)

    card = verification.verify_image(data).card
    assert card.stage_name == "Alice A."
    assert "The model: Alice A." in card.lines()  # the name as given, no added full stop
    assert "The model approved the use, not this exact image." in card.lines()

    Talent.objects.filter(pk=world.talent_a.pk).update(stage_name_public=False)
    assert verification.verify_image(data).card.stage_name is None


def test_a_withdrawn_licence_shows_ending_during_run_off_then_ended(sign, deal, world):
    record = sign()
    withdrawal = withdrawal_create(
        target=deal.licence, kind="for_cause", reason="Seen off-brief", actor=world.talent_a.user
    )
    run_off = withdrawal.run_off_until
    data = signed_bytes(record)

    during = verification.verify_image(data).card
    after = verification.verify_image(data, at=run_off + DAY).card

    assert (during.permission, during.permission_until) == ("ending", run_off)
    assert during.report_url is None
    assert any(line.startswith("Permission ending on") for line in during.lines())
    assert (after.permission, after.permission_until) == ("ended", run_off)
    assert any(line.startswith("Permission ended on") for line in after.lines())
    assert after.report_url.startswith(f"mailto:{settings.RIGHTSDESK_REPORT_EMAIL}")
    # Never licence references, prices or terms.
    dumped = str(after.to_json())
    for detail in (str(deal.licence.public_id), deal.licence.campaign, "withdraw", "for_cause"):
        assert detail not in dumped


# Files that cannot be verified


def _png_claiming(width: int, height: int, idat: bytes = b"") -> bytes:
    chunk = _chunk
    header = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", idat) + chunk(b"IEND", b"")
    )


def _zero_bomb(width: int, height: int) -> bytes:
    """A PNG of width x height grey pixels, all zero: a few hundred kB that decode to
    width x height bytes."""
    compressor = zlib.compressobj(9)
    row = b"\x00" * (width + 1)
    parts = [compressor.compress(row) for _ in range(height)]
    return _png_claiming(width, height, b"".join(parts) + compressor.flush())


def _malformed_corpus(photo_png: bytes) -> dict[str, tuple[bytes, str]]:
    jpeg = io.BytesIO()
    Image.open(io.BytesIO(photo_png)).convert("RGB").save(jpeg, "JPEG", quality=90)
    gif = io.BytesIO()
    Image.new("RGB", (8, 8)).save(gif, "GIF")
    return {
        "empty": (b"", "empty_file"),
        "text": (b"Just some words, nothing else.\n" * 10, "unsupported_format"),
        "zip": (b"PK\x03\x04" + b"\x00" * 200, "unsupported_format"),
        "gif": (gif.getvalue(), "unsupported_format"),
        "pdf": (b"%PDF-1.7\n" + b"\x00" * 100, "unsupported_format"),
        "truncated jpeg": (jpeg.getvalue()[: len(jpeg.getvalue()) // 3], "corrupt_image"),
        "truncated png": (photo_png[: len(photo_png) // 2], "corrupt_image"),
        "jpeg magic only": (b"\xff\xd8\xff\xe0" + b"\x00" * 64, "corrupt_image"),
        "png header only": (photo_png[:8], "corrupt_image"),
        "header claims 10 gigapixels": (_png_claiming(100_000, 100_000), "image_too_large"),
        "decompression bomb": (_zero_bomb(8_000, 7_000), "image_too_large"),
    }


def test_the_malformed_corpus_gets_its_codes_without_decoding(photo_png, monkeypatch):
    from rightsdesk.core.errors import ApplicationError

    corpus = _malformed_corpus(photo_png)
    got = {}
    for name, (data, _code) in corpus.items():
        try:
            verification.verify_image(data)
            got[name] = "no error"
        except ApplicationError as exc:
            got[name] = exc.code
            assert exc.status == 400

    assert got == {name: code for name, (_data, code) in corpus.items()}


def test_oversized_files_are_refused_before_anything_reads_them(settings, photo_png, monkeypatch):
    from rightsdesk.talent.errors import ImageTooLarge

    settings.RIGHTSDESK_VERIFY_MAX_BYTES = len(photo_png) - 1
    monkeypatch.setattr(Image, "open", lambda *a, **k: pytest.fail("opened"))

    with pytest.raises(ImageTooLarge) as caught:
        verification.verify_image(photo_png)
    assert caught.value.extra["max_bytes"] == len(photo_png) - 1


def test_a_bomb_is_refused_from_its_header_never_decoded(monkeypatch):
    from rightsdesk.talent.errors import ImageTooLarge

    monkeypatch.setattr(Image.Image, "load", lambda self: pytest.fail("decoded"))

    with pytest.raises(ImageTooLarge) as caught:
        verification.verify_image(_zero_bomb(8_000, 7_000))
    assert caught.value.extra == {
        "max_pixels": settings.RIGHTSDESK_VERIFY_MAX_PIXELS,
        "width": 8_000,
        "height": 7_000,
    }


def test_a_valid_manifest_is_verified_without_decoding_pixels(sign, monkeypatch):
    data = signed_bytes(sign())
    monkeypatch.setattr(Image.Image, "load", lambda self: pytest.fail("decoded"))

    assert verification.verify_image(data).state == "trusted"


def test_a_truncated_signed_file_is_invalid_or_refused_never_an_error(sign):
    from rightsdesk.core.errors import ApplicationError

    data = signed_bytes(sign())
    for cut in (len(data) // 2, len(data) - 10, 2000, 100):
        try:
            report = verification.verify_image(data[:cut])
        except ApplicationError as exc:
            assert exc.code == "corrupt_image"
        else:
            assert report.state in ("invalid", "no_credentials")

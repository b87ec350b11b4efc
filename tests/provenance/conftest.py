"""Provenance fixtures: the deal of tests/consent (an accepted licence between agency A's
adult talent and the brand), a photo-like image, and a sign() helper that releases it as
the render path will, through ``provenance_sign``."""

import io
import uuid
from dataclasses import replace

import pytest
from django.core.cache import cache

from rightsdesk.consent.gate_types import Obligation
from rightsdesk.consent.obligations import FLOOR
from rightsdesk.provenance import manifests
from rightsdesk.provenance.services import provenance_sign
from rightsdesk.provenance.synthetic import photo_like
from rightsdesk.provenance.types import Disclosure
from tests.consent.conftest import Deal, deal, world  # noqa: F401  (fixtures)
from tests.provenance.tsa import TimestampAuthority

EXTERNAL_STATES = {
    "A.jpg": "no_credentials",
    "libpng-test.png": "no_credentials",
    "sample1.webp": "no_credentials",
    "C.jpg": "valid_untrusted",
    "CA.jpg": "valid_untrusted",
    "CACAE-uri-CA.jpg": "valid_untrusted",
    "boxhash.jpg": "valid_untrusted",
    "C_with_CAWG_data.jpg": "valid_untrusted",
    "XCA.jpg": "invalid",
    "E-sig-CA.jpg": "invalid",
    "CIE-sig-CA.jpg": "invalid",
    "cloud.jpg": "no_credentials",
}


def floor_obligations(*, label: bool = True, influence_fr: bool = False) -> list[Obligation]:
    """The gate's obligations for a licence reaching France (and the EEA's label)."""
    chosen = []
    for rule in FLOOR:
        if rule.code == "visible_label" and not label:
            continue
        if rule.code == "images_virtuelles" and not influence_fr:
            continue
        params = dict(rule.params)
        if rule.code == "visible_label":
            params.update(territories=["FR"], languages=["fr"])
        chosen.append(Obligation(code=rule.code, params=params))
    return chosen


def png_bytes(image) -> bytes:
    out = io.BytesIO()
    image.save(out, "PNG", compress_level=1)
    return out.getvalue()


@pytest.fixture(autouse=True)
def provenance_isolation(settings, tmp_path):
    """Signed files under this test's own media root; no anchors or throttle counts carried
    over from another test."""
    settings.MEDIA_ROOT = tmp_path / "media"
    manifests.forget_reading_context()
    cache.clear()
    yield
    manifests.forget_reading_context()


@pytest.fixture
def timestamp_authority():
    """A running RFC 3161 timestamp authority on 127.0.0.1 (tests/provenance/tsa.py)."""
    with TimestampAuthority() as authority:
        yield authority


@pytest.fixture(scope="session")
def photo_png() -> bytes:
    return png_bytes(photo_like(512, seed=7))


@pytest.fixture(scope="session")
def photo_png_1024() -> bytes:
    return png_bytes(photo_like(1024, seed=11))


@pytest.fixture
def disclosure(deal: Deal) -> Disclosure:  # noqa: F811
    return Disclosure(
        brand_name=deal.licence.brand.name,
        licence_public_id=deal.licence.public_id,
        approved_exact_image=True,
        stage_name=None,
        language="fr",
    )


@pytest.fixture
def sign(deal, disclosure, photo_png):  # noqa: F811
    """sign(**overrides) -> ProvenanceRecord for a fresh asset reference."""

    def _sign(*, image_png: bytes | None = None, obligations=None, credential=None, **changes):
        return provenance_sign(
            asset_reference=f"asset:{uuid.uuid4()}",
            image_png=image_png or photo_png,
            disclosure=replace(disclosure, **changes),
            obligations=floor_obligations() if obligations is None else obligations,
            credential=credential,
        )

    return _sign


def signed_bytes(record) -> bytes:
    with record.signed_file.open("rb") as handle:
        return handle.read()

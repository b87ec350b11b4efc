"""The talent world (tests/talent/conftest.py) plus helpers to draft and sign agreements."""

import datetime
import hashlib

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.utils import timezone

from rightsdesk.agreements.models import Agreement, AgreementVersion
from rightsdesk.agreements.services import agreement_create, agreement_sign
from rightsdesk.agreements.terms import AgreementTerms, ExclusivityTerm
from rightsdesk.core.vocab import TerritorySpec
from tests.talent import conftest as talent_conftest
from tests.talent.conftest import World

DAY = datetime.timedelta(days=1)

# The two-sided world of the talent tests (agency A's talents, agency B, a brand, staff).
world = talent_conftest.world


@pytest.fixture(autouse=True)
def media_in_tmp(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path / "media"


def make_terms(**overrides) -> AgreementTerms:
    now = timezone.now().replace(microsecond=0)
    values = {
        "jurisdiction": "US-NY",
        "talent_had_counsel": True,
        "talent_had_union": False,
        "effective_from": now - DAY,
        "effective_to": now + 365 * DAY,
        "max_licence_term_days": 365,
        "withdrawal_notice_days": 30,
        "run_off_days": 90,
        "client_agency_fee_bps": 2000,
        "approval_window_hours": 72,
        "category_policies": {"fragrance": "allowed", "lingerie": "never"},
        "exclusivities": (
            ExclusivityTerm(
                category="fragrance",
                territories=TerritorySpec(include=("EU",), exclude=("FR",)),
                starts_at=now,
                ends_at=now + 180 * DAY,
            ),
        ),
    }
    return AgreementTerms(**{**values, **overrides})


def document(content: bytes = b"%PDF-1.7 the agreement") -> SimpleUploadedFile:
    return SimpleUploadedFile("agreement.pdf", content, content_type="application/pdf")


def draft(world: World, *, talent=None, actor=None, **terms) -> Agreement:
    return agreement_create(
        talent=talent or world.talent_a,
        brand=world.brand,
        title="Fragrance campaign 2027",
        document=document(),
        terms=make_terms(**terms),
        actor=actor or world.users["legal"],
    )


def sign(version: AgreementVersion, user, *, sha256: str | None = None):
    return agreement_sign(
        version=version,
        actor=user,
        signed_sha256=sha256 or version.content_sha256,
        authentication_method="session",
        ip="203.0.113.7",
        user_agent="pytest",
    )


def sha256_hex(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()

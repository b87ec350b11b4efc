"""The deal memo: every field of the licence in plain words, in the talent's language where
a translation exists, and a hash that moves with any field."""

import datetime

import pytest

from rightsdesk.agreements.models import AgreementVersion
from rightsdesk.agreements.taxonomy import category_get
from rightsdesk.core.vocab import MEDIA, TERRITORY_GROUPS
from rightsdesk.licensing.memo import (
    _group_names,
    _media_names,
    deal_memo_language,
    deal_memo_render,
    money_format,
)
from rightsdesk.licensing.models import Licence, UsageRow
from rightsdesk.talent.models import Talent
from tests.licensing.conftest import propose
from tests.licensing.factories import DAY, licence_terms, usage


@pytest.mark.django_db
def test_the_memo_states_every_field_in_plain_words(deal):
    licence = propose(
        deal,
        terms=licence_terms(
            product_lines=("Eau de Nuit", "Body mist"),
            usage=(
                usage("paid_social", ("EU",), ("FR",), 90, 10),
                usage("out_of_home", ("US",), (), 30, 1),
            ),
            buyout_minor=123_456,
            usage_fee_minor=2_500,
            draft_allowance=20,
            brief_approval_required=True,
        ),
    )

    memo = deal_memo_render(licence=licence)

    text = memo.text
    for expected in (
        str(licence.public_id),
        "Zoe Durand",
        "Maison Alpha",
        "Maison Test Parfums",
        "Eau de Nuit spring",
        "Images of the talent holding the bottle, for social ads.",
        "Advertising the Eau de Nuit fragrance",
        "Eau de Nuit, Body mist",
        "Category: Fragrance",
        "Paid social media advertising, in the European Union (EU), except France (FR): "
        "up to 10 images, each for 90 days from its first publication.",
        "Out-of-home (posters, billboards), in United States (US): up to 1 image, each for 30 days",
        "EUR 1,234.56, due when you accept",
        "EUR 25.00 for each image the brand releases",
        "at most 20 draft images",
        "You approve every brief before any image is made",
        "within 72 hours, the image counts as approved",
        "with 30 days' notice",
        "in use for 90 more days",
        licence.starts_at.strftime("%-d %B %Y, %H:%M UTC"),
        licence.ends_at.strftime("%-d %B %Y, %H:%M UTC"),
        licence.offer_expires_at.strftime("%-d %B %Y"),
        'agreement "Campaign agreement", version 1',
    ):
        assert expected in text, expected
    assert memo.language == "en"
    assert len(memo.sha256) == 64


@pytest.mark.django_db
def test_no_fee_and_no_brief_approval_are_said_plainly(deal):
    licence = propose(
        deal,
        terms=licence_terms(buyout_minor=0, usage_fee_minor=0, brief_approval_required=False),
    )

    text = deal_memo_render(licence=licence).text

    assert "Buy-out: none." in text
    assert "Usage fee per released image: none." in text
    assert "Briefs do not need your approval" in text


@pytest.mark.django_db
def test_the_memo_is_the_same_text_every_time(deal):
    licence = propose(deal)

    first = deal_memo_render(licence=licence)
    again = deal_memo_render(licence=Licence.objects.get(pk=licence.pk))

    assert first == again


def _licence_change(**fields):
    return lambda licence: Licence.objects.filter(pk=licence.pk).update(**fields)


def _row_change(**fields):
    return lambda licence: UsageRow.objects.filter(licence=licence).update(**fields)


def _version_change(**fields):
    return lambda licence: AgreementVersion.objects.filter(pk=licence.agreement_version_id).update(
        **fields
    )


CHANGES = {
    "campaign": _licence_change(campaign="Eau de Nuit autumn"),
    "use_description": _licence_change(use_description="Something else"),
    "purpose": _licence_change(purpose="Another purpose"),
    "advertiser": _licence_change(advertiser="Another advertiser"),
    "product_lines": _licence_change(product_lines=["Eau de Jour"]),
    "currency": _licence_change(currency="USD"),
    "buyout_minor": _licence_change(buyout_minor=500_001),
    "usage_fee_minor": _licence_change(usage_fee_minor=2_501),
    "draft_allowance": _licence_change(draft_allowance=21),
    "brief_approval_required": _licence_change(brief_approval_required=False),
    "starts_at": lambda licence: _licence_change(
        starts_at=licence.starts_at + datetime.timedelta(minutes=1)
    )(licence),
    "ends_at": lambda licence: _licence_change(ends_at=licence.ends_at - DAY)(licence),
    "offer_expires_at": lambda licence: _licence_change(
        offer_expires_at=licence.offer_expires_at + DAY
    )(licence),
    "category": lambda licence: _licence_change(category=category_get("skincare"))(licence),
    "medium": _row_change(medium="print"),
    "territories": _row_change(territories={"include": ["AT"], "exclude": []}),
    "duration_days": _row_change(duration_days=91),
    "quantity": _row_change(quantity=11),
    "withdrawal_notice_days": _version_change(withdrawal_notice_days=31),
    "run_off_days": _version_change(run_off_days=91),
    "approval_window_hours": _version_change(approval_window_hours=48),
    "stage_name": lambda licence: Talent.objects.filter(pk=licence.talent_id).update(
        stage_name="Z. D."
    ),
}


@pytest.mark.django_db
@pytest.mark.parametrize("change", list(CHANGES.values()), ids=list(CHANGES))
def test_the_hash_changes_when_any_field_changes(deal, change):
    licence = propose(deal)
    before = deal_memo_render(licence=licence)

    change(licence)
    after = deal_memo_render(licence=Licence.objects.get(pk=licence.pk))

    assert after.sha256 != before.sha256
    assert after.text != before.text


@pytest.mark.django_db
def test_the_drafts_counter_is_not_part_of_the_memo(deal):
    licence = propose(deal)
    before = deal_memo_render(licence=licence)

    Licence.objects.filter(pk=licence.pk).update(drafts_used=3)

    assert deal_memo_render(licence=Licence.objects.get(pk=licence.pk)) == before


@pytest.mark.django_db
def test_the_memo_follows_the_talents_language_where_a_translation_exists(deal):
    Talent.objects.filter(pk=deal.talent.pk).update(preferred_language="fr")
    licence = Licence.objects.get(pk=propose(deal).pk)

    french = deal_memo_render(licence=licence)

    assert french.language == "fr"
    assert "MÉMO D'ACCORD" in french.text
    assert "Allemagne (DE)" in french.text
    assert "Catégorie : Parfum" in french.text
    assert french.sha256 != deal_memo_render(licence=licence, language="en").sha256


@pytest.mark.django_db
def test_a_language_without_a_translation_falls_back_to_english(deal):
    Talent.objects.filter(pk=deal.talent.pk).update(preferred_language="de")
    licence = Licence.objects.get(pk=propose(deal).pk)

    memo = deal_memo_render(licence=licence)

    assert memo.language == "en"
    assert memo == deal_memo_render(licence=licence, language="en")


@pytest.mark.parametrize(
    ("asked", "language"),
    [
        ("fr", "fr"),
        ("fr-CA", "fr"),
        ("FR", "fr"),
        ("de", "en"),
        ("xx", "en"),
        ("", "en"),
        (None, "en"),
    ],
)
def test_memo_language_choice(asked, language):
    assert deal_memo_language(asked) == language


@pytest.mark.parametrize(
    ("minor", "currency", "text"),
    [
        (123_456, "EUR", "EUR 1,234.56"),
        (5, "USD", "USD 0.05"),
        (0, "GBP", "GBP 0.00"),
        (1_500, "JPY", "JPY 1,500"),
        (1_234, "BHD", "BHD 1.234"),
    ],
)
def test_money_is_formatted_from_minor_units(minor, currency, text):
    assert money_format(minor, currency) == text


def test_every_territory_group_and_medium_has_words():
    assert set(_group_names()) == set(TERRITORY_GROUPS) | {"WORLDWIDE"}
    assert set(_media_names()) == set(MEDIA)

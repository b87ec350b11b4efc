"""The deal memo: the plain-language text the talent's side accepts.

It is rendered from exactly the licence's fields (scope, media and territories, purpose,
rate of pay, duration, allowance, approval mode) and the agreement version's withdrawal
notice and run-off, as the New York Fashion Workers Act asks of a model's engagement
terms. Nothing else goes in: no "now", no viewer, so the same licence and language always
give the same text and the same SHA-256, and any change of a field changes the hash.

The memo is in the talent's language where this app has a translation (its catalogue in
``rightsdesk/licensing/locale``), otherwise English.
"""

import hashlib
import re
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import cache

import pycountry
from django.conf import settings
from django.template.loader import render_to_string
from django.utils import dateformat, translation
from django.utils.translation import gettext, gettext_noop, ngettext

from rightsdesk.core.vocab import MEDIA, TerritorySpec
from rightsdesk.licensing.models import Licence

TEMPLATE = "licensing/deal_memo.txt"
# The memo's title: a language has a memo translation when its catalogue translates it.
TITLE = gettext_noop("USE LICENCE: DEAL MEMO")
FALLBACK_LANGUAGE = "en"

# ISO 4217 minor-unit exponents that are not 2.
_EXPONENTS = {
    **dict.fromkeys(("BHD", "IQD", "JOD", "KWD", "LYD", "OMR", "TND"), 3),
    **dict.fromkeys(
        (
            "BIF", "CLP", "DJF", "GNF", "ISK", "JPY", "KMF", "KRW", "PYG", "RWF", "UGX",
            "UYI", "VND", "VUV", "XAF", "XOF", "XPF",
        ),
        0,
    ),
}  # fmt: skip


# The default taxonomy's names (agreements.taxonomy), for makemessages: a category's name
# comes from the database and is translated where the catalogue has it.
CATEGORY_NAMES = (
    gettext_noop("Beauty"),
    gettext_noop("Fragrance"),
    gettext_noop("Skincare"),
    gettext_noop("Makeup"),
    gettext_noop("Haircare"),
    gettext_noop("Apparel"),
    gettext_noop("Swimwear"),
    gettext_noop("Lingerie"),
    gettext_noop("Sportswear"),
    gettext_noop("Outerwear"),
    gettext_noop("Footwear"),
    gettext_noop("Accessories"),
    gettext_noop("Jewellery"),
    gettext_noop("Eyewear"),
    gettext_noop("Watches"),
    gettext_noop("Bags"),
    gettext_noop("Alcohol"),
    gettext_noop("Tobacco and vaping"),
    gettext_noop("Gambling"),
    gettext_noop("Pharmaceuticals"),
    gettext_noop("Political"),
)


def _group_names() -> dict[str, str]:
    # Translated at render time, under the memo's language.
    return {
        "WORLDWIDE": gettext("worldwide"),
        "EU": gettext("the European Union"),
        "EEA": gettext("the European Economic Area"),
        "DACH": gettext("Germany, Austria and Switzerland"),
        "BENELUX": gettext("Belgium, the Netherlands and Luxembourg"),
        "NORDICS": gettext("the Nordic countries"),
        "UK_IE": gettext("the United Kingdom and Ireland"),
        "NORTH_AMERICA": gettext("North America (United States, Canada, Mexico)"),
        "GCC": gettext("the Gulf Cooperation Council countries"),
        "ANZ": gettext("Australia and New Zealand"),
    }


def _media_names() -> dict[str, str]:
    return {
        "organic_social": gettext("Organic social media posts"),
        "paid_social": gettext("Paid social media advertising"),
        "ecommerce_product_page": gettext("E-commerce product pages"),
        "brand_site": gettext("The brand's website"),
        "email": gettext("E-mail"),
        "display": gettext("Online display advertising"),
        "out_of_home": gettext("Out-of-home (posters, billboards)"),
        "digital_out_of_home": gettext("Digital out-of-home (screens in public places)"),
        "print": gettext("Print advertising"),
        "catalogue_lookbook": gettext("Catalogues and lookbooks"),
        "in_store": gettext("In-store displays"),
        "packaging": gettext("Packaging"),
        "tv_ctv": gettext("TV and connected TV"),
        "pr_editorial": gettext("PR and editorial"),
        "internal_only": gettext("Internal use only (never published)"),
    }


@dataclass(frozen=True)
class DealMemo:
    text: str
    language: str
    sha256: str


@cache
def _country_translation(language: str):
    import gettext as gnu_gettext

    return gnu_gettext.translation(
        "iso3166-1", pycountry.LOCALES_DIR, languages=[language], fallback=True
    )


def _country_name(code: str, language: str) -> str:
    country = pycountry.countries.get(alpha_2=code)
    name = country.name if country is not None else code
    return _country_translation(language).gettext(name)


def _territory_name(name: str, language: str) -> str:
    groups = _group_names()
    if name in groups:
        return f"{groups[name]} ({name})" if name != "WORLDWIDE" else groups[name]
    return f"{_country_name(name, language)} ({name})"


def territories_in_words(spec: TerritorySpec, language: str) -> str:
    included = ", ".join(_territory_name(name, language) for name in spec.include)
    if not spec.exclude:
        return included
    excluded = ", ".join(_territory_name(name, language) for name in spec.exclude)
    return gettext("%(included)s, except %(excluded)s") % {
        "included": included,
        "excluded": excluded,
    }


def money_format(amount_minor: int, currency: str) -> str:
    """``EUR 1,234.56`` from 123456 minor units; integers only, never a float."""
    exponent = _EXPONENTS.get(currency, 2)
    major, minor = divmod(int(amount_minor), 10**exponent)
    fraction = f".{minor:0{exponent}d}" if exponent else ""
    return f"{currency} {major:,}{fraction}"


def _when(value: datetime) -> str:
    # Month names follow the active language; the instant is always shown in UTC.
    return dateformat.format(value.astimezone(UTC), "j F Y, H:i") + " UTC"


@cache
def _has_memo_translation(language: str) -> bool:
    if language == FALLBACK_LANGUAGE:
        return True
    with translation.override(language):
        return gettext(TITLE) != TITLE


def deal_memo_language(language: str | None) -> str:
    """The language the memo will be in: ``language`` when the memo is translated into it
    (or its primary subtag: fr-CA reads the French memo), else English."""
    if not language:
        return FALLBACK_LANGUAGE
    known = {code for code, _ in settings.LANGUAGES}
    for candidate in (language.lower(), language.lower().split("-")[0]):
        if candidate in known and _has_memo_translation(candidate):
            return candidate
    return FALLBACK_LANGUAGE


def _usage_lines(licence: Licence, language: str) -> list[dict[str, str]]:
    media = _media_names()
    lines = []
    for row in licence.usage_rows.order_by("pk"):
        lines.append(
            {
                "medium": media.get(row.medium, MEDIA.get(row.medium, row.medium)),
                "territories": territories_in_words(
                    TerritorySpec.from_json(row.territories), language
                ),
                "quantity": ngettext(
                    "up to %(count)d image", "up to %(count)d images", row.quantity
                )
                % {"count": row.quantity},
                "duration": ngettext("%(count)d day", "%(count)d days", row.duration_days)
                % {"count": row.duration_days},
            }
        )
    return lines


def _context(licence: Licence, language: str) -> dict:
    version = licence.agreement_version
    return {
        "title": gettext(TITLE),
        "reference": str(licence.public_id),
        "talent": licence.talent.stage_name or gettext("the talent"),
        "brand": licence.brand.name,
        "advertiser": licence.advertiser,
        "agreement_title": licence.agreement.title,
        "agreement_version": version.number,
        "campaign": licence.campaign,
        "use_description": licence.use_description,
        "purpose": licence.purpose,
        "product_lines": ", ".join(licence.product_lines) or gettext("none named"),
        "category": gettext(licence.category.name),
        "starts_at": _when(licence.starts_at),
        "ends_at": _when(licence.ends_at),
        "draft_allowance": licence.draft_allowance,
        "usage": _usage_lines(licence, language),
        "buyout": money_format(licence.buyout_minor, licence.currency)
        if licence.buyout_minor
        else "",
        "usage_fee": money_format(licence.usage_fee_minor, licence.currency)
        if licence.usage_fee_minor
        else "",
        "brief_approval_required": licence.brief_approval_required,
        "approval_window_hours": version.approval_window_hours,
        "withdrawal_notice_days": version.withdrawal_notice_days,
        "run_off_days": version.run_off_days,
        "offer_expires_at": _when(licence.offer_expires_at) if licence.offer_expires_at else "",
    }


_BLANK_RUNS = re.compile(r"\n{3,}")


def _tidy(text: str) -> str:
    lines = [line.rstrip() for line in text.strip().splitlines()]
    return _BLANK_RUNS.sub("\n\n", "\n".join(lines)) + "\n"


def deal_memo_render(*, licence: Licence, language: str | None = None) -> DealMemo:
    """The memo for ``licence`` in ``language`` (default: the talent's preferred language),
    falling back to English where this app has no translation."""
    chosen = deal_memo_language(language or licence.talent.preferred_language)
    with translation.override(chosen):
        text = _tidy(render_to_string(TEMPLATE, _context(licence, chosen)))
    return DealMemo(
        text=text, language=chosen, sha256=hashlib.sha256(text.encode("utf-8")).hexdigest()
    )

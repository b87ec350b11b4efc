"""Vocabularies shared by agreements, licences and the gate: territories and media.

Territories are ISO 3166-1 alpha-2 codes (from pycountry, so the list stays current without
code of our own) plus named groups that expand to codes, and exclusions:
``{"include": ["EU", "US"], "exclude": ["FR"]}``. "WORLDWIDE" is every code.
"""

from dataclasses import dataclass
from functools import cache

import pycountry

EU = frozenset(
    {
        "AT", "BE", "BG", "HR", "CY", "CZ", "DK", "EE", "FI", "FR", "DE", "GR", "HU", "IE",
        "IT", "LV", "LT", "LU", "MT", "NL", "PL", "PT", "RO", "SK", "SI", "ES", "SE",
    }
)  # fmt: skip
EEA = EU | {"IS", "LI", "NO"}

TERRITORY_GROUPS: dict[str, frozenset[str]] = {
    "EU": EU,
    "EEA": frozenset(EEA),
    "DACH": frozenset({"DE", "AT", "CH"}),
    "BENELUX": frozenset({"BE", "NL", "LU"}),
    "NORDICS": frozenset({"DK", "FI", "IS", "NO", "SE"}),
    "UK_IE": frozenset({"GB", "IE"}),
    "NORTH_AMERICA": frozenset({"US", "CA", "MX"}),
    "GCC": frozenset({"AE", "BH", "KW", "OM", "QA", "SA"}),
    "ANZ": frozenset({"AU", "NZ"}),
}


@cache
def all_country_codes() -> frozenset[str]:
    return frozenset(c.alpha_2 for c in pycountry.countries)


class UnknownTerritory(ValueError):
    pass


def expand_territory(name: str) -> frozenset[str]:
    code = name.strip().upper()
    if code == "WORLDWIDE":
        return all_country_codes()
    if code in TERRITORY_GROUPS:
        return TERRITORY_GROUPS[code]
    if code in all_country_codes():
        return frozenset({code})
    raise UnknownTerritory(code)


@dataclass(frozen=True)
class TerritorySpec:
    include: tuple[str, ...]
    exclude: tuple[str, ...] = ()

    @classmethod
    def from_json(cls, data: dict) -> "TerritorySpec":
        return cls(include=tuple(data.get("include", ())), exclude=tuple(data.get("exclude", ())))

    def to_json(self) -> dict:
        return {"include": list(self.include), "exclude": list(self.exclude)}

    def codes(self) -> frozenset[str]:
        included: set[str] = set()
        for name in self.include:
            included |= expand_territory(name)
        for name in self.exclude:
            included -= expand_territory(name)
        return frozenset(included)


# Media, aligned with the PLUS Media Matrix's top-level names where it has one.
MEDIA: dict[str, str] = {
    "organic_social": "Organic social",
    "paid_social": "Paid social",
    "ecommerce_product_page": "E-commerce product page",
    "brand_site": "Brand website",
    "email": "E-mail",
    "display": "Display advertising",
    "out_of_home": "Out-of-home",
    "digital_out_of_home": "Digital out-of-home",
    "print": "Print",
    "catalogue_lookbook": "Catalogue and lookbook",
    "in_store": "In-store",
    "packaging": "Packaging",
    "tv_ctv": "TV and connected TV",
    "pr_editorial": "PR and editorial",
    "internal_only": "Internal only",
}

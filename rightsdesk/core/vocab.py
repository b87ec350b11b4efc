"""Vocabularies shared by agreements, licences and the gate: territories and media.

Territories are ISO 3166-1 alpha-2 codes (from pycountry, so the list stays current without
code of our own) plus named groups that expand to codes, and exclusions:
``{"include": ["EU", "US"], "exclude": ["FR"]}``. "WORLDWIDE" is every code.
"""

import re
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


# Common names that are not ISO codes: the United Kingdom is GB in ISO 3166-1.
TERRITORY_ALIASES: dict[str, str] = {"UK": "GB"}


def expand_territory(name: str) -> frozenset[str]:
    code = name.strip().upper()
    code = TERRITORY_ALIASES.get(code, code)
    if code == "WORLDWIDE":
        return all_country_codes()
    if code in TERRITORY_GROUPS:
        return TERRITORY_GROUPS[code]
    if code in all_country_codes():
        return frozenset({code})
    raise UnknownTerritory(code)


class InvalidTerritorySpec(ValueError):
    pass


_EXCEPT = re.compile(r"\s+except\s+", re.IGNORECASE)


def _split(text: str) -> list[str]:
    return [name for name in re.split(r"[,;]", text) if name.strip()]


def _names(value: object, field: str) -> tuple[str, ...]:
    if value is None:
        return ()
    if not isinstance(value, list | tuple) or not all(isinstance(v, str) for v in value):
        raise InvalidTerritorySpec(f"{field} must be a list of territory codes")
    return tuple(v.strip().upper() for v in value if v.strip())


@dataclass(frozen=True)
class TerritorySpec:
    include: tuple[str, ...]
    exclude: tuple[str, ...] = ()

    @classmethod
    def from_json(cls, data: dict) -> "TerritorySpec":
        """Build from ``{"include": [...], "exclude": [...]}``; names are upper-cased.

        Raises InvalidTerritorySpec for a malformed value; unknown names are only found by
        ``codes()`` or ``validated()``.
        """
        if not isinstance(data, dict) or set(data) - {"include", "exclude"}:
            raise InvalidTerritorySpec('expected {"include": [...], "exclude": [...]}')
        return cls(
            include=_names(data.get("include"), "include"),
            exclude=_names(data.get("exclude"), "exclude"),
        )

    @classmethod
    def from_text(cls, text: str) -> "TerritorySpec":
        """Parse "worldwide except US", "EU, UK_IE except FR, DE" or "US"."""
        head, *tail = _EXCEPT.split(text.strip(), maxsplit=1)
        return cls.from_json({"include": _split(head), "exclude": _split(tail[0]) if tail else []})

    def validated(self) -> "TerritorySpec":
        """Self, after checking every name is known and the spec reaches some country.

        Raises UnknownTerritory (its message is the unknown name) or InvalidTerritorySpec.
        """
        if not self.include:
            raise InvalidTerritorySpec("include names no territory")
        if not self.codes():
            raise InvalidTerritorySpec("the exclusions remove every territory")
        return self

    def to_json(self) -> dict:
        return {"include": list(self.include), "exclude": list(self.exclude)}

    def sorted_codes(self) -> list[str]:
        return sorted(self.codes())

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


class UnknownMedium(ValueError):
    pass


def ensure_medium(name: str) -> str:
    """``name`` if it is one of MEDIA, else UnknownMedium."""
    if name not in MEDIA:
        raise UnknownMedium(name)
    return name

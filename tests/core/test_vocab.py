"""Territories (ISO codes, groups, exclusions) and media."""

import pytest

from rightsdesk.core.vocab import (
    EU,
    MEDIA,
    InvalidTerritorySpec,
    TerritorySpec,
    UnknownMedium,
    UnknownTerritory,
    all_country_codes,
    ensure_medium,
    expand_territory,
)


def test_a_group_expands_to_its_iso_codes():
    assert TerritorySpec(include=("DACH",)).codes() == {"DE", "AT", "CH"}
    assert len(TerritorySpec(include=("EU",)).codes()) == 27


def test_exclusions_are_removed_from_the_groups():
    spec = TerritorySpec(include=("EU", "US"), exclude=("FR",))

    assert "FR" not in spec.codes()
    assert {"DE", "US"} <= spec.codes()
    assert spec.codes() == (EU | {"US"}) - {"FR"}


def test_worldwide_except_us_is_every_country_but_the_us():
    spec = TerritorySpec.from_text("worldwide except US")

    assert spec == TerritorySpec(include=("WORLDWIDE",), exclude=("US",))
    assert spec.codes() == all_country_codes() - {"US"}
    assert len(all_country_codes()) > 240  # pycountry's list, not one of ours


def test_text_lists_several_names_on_each_side():
    spec = TerritorySpec.from_text("eu, uk_ie EXCEPT fr; de")

    assert spec.include == ("EU", "UK_IE") and spec.exclude == ("FR", "DE")
    assert "GB" in spec.codes() and "DE" not in spec.codes()


def test_an_unknown_code_is_an_error_naming_it():
    with pytest.raises(UnknownTerritory, match="XX"):
        TerritorySpec.from_json({"include": ["EU", "xx"]}).codes()
    with pytest.raises(UnknownTerritory):
        TerritorySpec.from_json({"include": ["WORLDWIDE"], "exclude": ["ATLANTIS"]}).validated()


def test_uk_is_accepted_as_gb():
    assert expand_territory("uk") == {"GB"}


def test_a_malformed_or_empty_spec_is_refused():
    with pytest.raises(InvalidTerritorySpec):
        TerritorySpec.from_json({"include": "FR"})
    with pytest.raises(InvalidTerritorySpec):
        TerritorySpec.from_json({"include": ["FR"], "countries": ["US"]})
    with pytest.raises(InvalidTerritorySpec):
        TerritorySpec.from_json({"include": []}).validated()
    with pytest.raises(InvalidTerritorySpec):
        TerritorySpec.from_json({"include": ["FR"], "exclude": ["EU"]}).validated()


def test_the_json_form_round_trips():
    spec = TerritorySpec.from_json({"include": ["eea"], "exclude": ["no"]})

    assert spec.to_json() == {"include": ["EEA"], "exclude": ["NO"]}
    assert TerritorySpec.from_json(spec.to_json()) == spec


def test_media_are_a_closed_list():
    assert ensure_medium("paid_social") == "paid_social"
    assert "out_of_home" in MEDIA
    with pytest.raises(UnknownMedium):
        ensure_medium("skywriting")

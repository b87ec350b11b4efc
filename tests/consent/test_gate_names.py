"""The name index the brief screen reads: built when a talent is registered, rebuilt on a
rename, normalised the same way as a brief."""

import datetime

import pytest

from rightsdesk.talent.models import TalentNameGram
from rightsdesk.talent.names import name_grams, normalise_words, word_ngrams
from rightsdesk.talent.services import talent_create, talent_names_index


@pytest.mark.parametrize(
    ("text", "words"),
    [
        ("ZOÉ  Durand", ["zoe", "durand"]),
        ("Zoë-Durand!", ["zoe", "durand"]),
        ("Ǆemila Straße", ["dzemila", "strasse"]),
        ("O'Brien", ["o", "brien"]),
        ("王菲 and Фёдор", ["王菲", "and", "федор"]),
        ("", []),
    ],
)
def test_names_and_briefs_normalise_to_accentless_casefolded_words(text, words):
    assert normalise_words(text) == words


def test_a_name_of_up_to_four_words_is_indexed_whole_and_a_longer_one_twice():
    assert name_grams("Zoé Durand") == ["zoe durand"]
    assert name_grams("Maria del Carmen García López") == [
        "maria del carmen garcia",
        "maria lopez",
    ]
    assert name_grams("   ") == []


def test_a_brief_is_cut_into_runs_of_one_to_four_words():
    grams = word_ngrams(["a", "b", "c", "d", "e"])

    assert {"a", "a b", "a b c", "a b c d", "b c d e"} <= grams
    assert "a b c d e" not in grams


@pytest.mark.django_db
def test_registering_a_talent_indexes_its_legal_and_stage_names():
    talent = talent_create(
        legal_name="Zoé Durand",
        stage_name="Summer",
        date_of_birth=datetime.date(1995, 3, 1),
        jurisdiction="FR",
        actor=None,
    )

    rows = set(TalentNameGram.objects.filter(talent=talent).values_list("gram", "words", "source"))
    assert rows == {("zoe durand", 2, "legal_name"), ("summer", 1, "stage_name")}


@pytest.mark.django_db
def test_reindexing_after_a_rename_drops_the_old_names():
    talent = talent_create(
        legal_name="Zoé Durand",
        stage_name="Summer",
        date_of_birth=datetime.date(1995, 3, 1),
        jurisdiction="FR",
        actor=None,
    )
    talent.stage_name = "Nova"
    talent.stage_name_distinctive = True
    talent.save()

    talent_names_index(talent=talent)

    rows = set(TalentNameGram.objects.filter(talent=talent).values_list("gram", "distinctive"))
    assert rows == {("zoe durand", False), ("nova", True)}

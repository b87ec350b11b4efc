"""The category tree: kept in code, ensured on use, a hierarchy the policies reach down."""

import pytest

from rightsdesk.agreements.models import Category
from rightsdesk.agreements.taxonomy import (
    DEFAULT_TREE,
    category_ensure_defaults,
    category_get,
    category_is_globally_never,
    category_lineage_ids,
    category_list,
    category_overlaps,
    normalise_text,
)
from rightsdesk.core.errors import ValidationFailed

pytestmark = pytest.mark.django_db


def test_ensuring_the_defaults_twice_creates_the_tree_once():
    category_ensure_defaults()
    category_ensure_defaults()

    assert Category.objects.count() == len(DEFAULT_TREE)
    assert category_get("fragrance").parent == category_get("beauty")


def test_a_category_overlaps_itself_its_ancestors_and_its_descendants_only():
    fragrance, beauty, makeup = (
        category_get("fragrance"),
        category_get("beauty"),
        category_get("makeup"),
    )
    swimwear = category_get("swimwear")

    assert category_overlaps(fragrance, fragrance)
    assert category_overlaps(fragrance, beauty) and category_overlaps(beauty, fragrance)
    assert not category_overlaps(fragrance, makeup)  # siblings
    assert not category_overlaps(fragrance, swimwear)


def test_lineage_is_the_category_and_its_ancestors():
    assert category_lineage_ids(category_get("fragrance")) == {
        category_get("fragrance").pk,
        category_get("beauty").pk,
    }


def test_a_global_never_cannot_be_weakened_in_the_database():
    # Given someone relaxed nudity's global policy and re-parented fragrance by hand
    category_ensure_defaults()
    Category.objects.filter(slug="adult_content").update(global_policy="none", keywords=["extra"])
    Category.objects.filter(slug="fragrance").update(parent=None)

    # When the tree is ensured again
    category_ensure_defaults()

    # Then code wins, and the keyword added in the admin is kept
    nudity = category_get("adult_content")
    assert nudity.global_policy == "never" and category_is_globally_never(nudity)
    assert "extra" in nudity.keywords and "nude" in nudity.keywords
    assert category_get("fragrance").parent == category_get("beauty")
    assert category_is_globally_never(category_get("minors"))
    assert not category_is_globally_never(category_get("lingerie"))


def test_an_unknown_category_is_a_validation_error():
    with pytest.raises(ValidationFailed):
        category_get("spaceships")


def test_the_list_puts_parents_before_children():
    slugs = [c.slug for c in category_list()]

    assert slugs.index("beauty") < slugs.index("fragrance")
    assert slugs.index("accessories") < slugs.index("watches")


def test_keywords_are_normalised():
    assert normalise_text("  Eau-de-Toilette  ") == "eau de toilette"
    assert normalise_text("Maillot de Bain été") == "maillot de bain ete"
    assert "maillot de bain" in category_get("swimwear").keywords


@pytest.mark.django_db(transaction=True)
def test_the_tree_comes_back_after_a_transactional_test_truncates_it():
    # Transactional tests flush with TRUNCATE (PITFALLS.md): the tree must not depend on
    # a migration having seeded it.
    assert category_get("beauty").slug == "beauty"

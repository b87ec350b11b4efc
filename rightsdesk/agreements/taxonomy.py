"""The use-category taxonomy: the default tree lives here, in code, and is ensured on use.

Categories form a hierarchy (fragrance inside beauty): an agreement's policy or an
exclusivity on ``beauty`` reaches ``fragrance``, and two categories overlap when one is
the other or an ancestor of it (``category_overlaps``). Categories whose
``global_policy`` is ``never`` (nudity, sexualised minors) are refused whatever an
agreement says.

The rows are in the database (agreements point at them) but are not seeded by a
migration: transactional tests TRUNCATE migrated rows (PITFALLS.md). Services and
selectors that need categories call ``category_ensure_defaults()`` first; it costs one
query when the tree is already there. Code wins for a default category's parent, name and
global policy, so nobody can weaken a global "never" in the admin; keywords added in the
admin are kept, and the defaults are added back if removed. Staff may add categories of
their own.

Keywords are normalised (``normalise_text``: NFKD, accents stripped, casefolded, runs of
anything but letters and digits turned into one space). A screen should normalise the
brief with the same function and match whole word n-grams, not substrings ("ring" must not
match "spring"); plurals are listed as keywords of their own where they matter.
"""

import re
import unicodedata
from dataclasses import dataclass
from typing import Any

from django.db import transaction

from rightsdesk.agreements.models import Category
from rightsdesk.audit.services import audit_record
from rightsdesk.core.errors import ValidationFailed

NEVER = Category.GlobalPolicy.NEVER
NONE = Category.GlobalPolicy.NONE

_NON_WORD = re.compile(r"[^0-9a-z]+")


def normalise_text(text: str) -> str:
    """NFKD, accents stripped, casefolded, punctuation and spaces folded to one space."""
    decomposed = unicodedata.normalize("NFKD", text)
    stripped = "".join(ch for ch in decomposed if not unicodedata.combining(ch))
    return _NON_WORD.sub(" ", stripped.casefold()).strip()


@dataclass(frozen=True)
class CategoryNode:
    slug: str
    name: str
    parent: str | None = None
    global_policy: str = NONE
    keywords: tuple[str, ...] = ()


# Parents before children (category_ensure_defaults relies on it).
DEFAULT_TREE: tuple[CategoryNode, ...] = (
    CategoryNode("beauty", "Beauty", keywords=("beauty", "cosmetics", "cosmetic")),
    CategoryNode(
        "fragrance",
        "Fragrance",
        "beauty",
        keywords=("fragrance", "fragrances", "perfume", "parfum", "eau de toilette", "cologne"),
    ),
    CategoryNode(
        "skincare",
        "Skincare",
        "beauty",
        keywords=("skincare", "skin care", "moisturiser", "moisturizer", "serum", "sunscreen"),
    ),
    CategoryNode(
        "makeup",
        "Makeup",
        "beauty",
        keywords=("makeup", "make up", "lipstick", "mascara", "foundation", "eyeliner"),
    ),
    CategoryNode(
        "haircare",
        "Haircare",
        "beauty",
        keywords=("haircare", "hair care", "shampoo", "conditioner", "hair dye"),
    ),
    CategoryNode("apparel", "Apparel", keywords=("apparel", "clothing", "fashion")),
    CategoryNode(
        "swimwear",
        "Swimwear",
        "apparel",
        keywords=("swimwear", "swimsuit", "bikini", "maillot de bain", "bathing suit"),
    ),
    CategoryNode(
        "lingerie",
        "Lingerie",
        "apparel",
        keywords=("lingerie", "underwear", "bra", "briefs", "negligee"),
    ),
    CategoryNode(
        "sportswear",
        "Sportswear",
        "apparel",
        keywords=("sportswear", "activewear", "athleisure", "leggings", "tracksuit"),
    ),
    CategoryNode(
        "outerwear",
        "Outerwear",
        "apparel",
        keywords=("outerwear", "coat", "jacket", "parka", "trench coat"),
    ),
    CategoryNode(
        "footwear", "Footwear", keywords=("footwear", "shoes", "sneakers", "boots", "heels")
    ),
    CategoryNode("accessories", "Accessories", keywords=("accessories",)),
    CategoryNode(
        "jewellery",
        "Jewellery",
        "accessories",
        keywords=("jewellery", "jewelry", "necklace", "earrings", "bracelet", "ring"),
    ),
    CategoryNode(
        "eyewear", "Eyewear", "accessories", keywords=("eyewear", "sunglasses", "glasses")
    ),
    CategoryNode("watches", "Watches", "accessories", keywords=("watch", "watches", "wristwatch")),
    CategoryNode(
        "bags", "Bags", "accessories", keywords=("bag", "bags", "handbag", "tote", "backpack")
    ),
    CategoryNode(
        "alcohol",
        "Alcohol",
        keywords=("alcohol", "wine", "beer", "spirits", "vodka", "whisky", "champagne", "gin"),
    ),
    CategoryNode(
        "tobacco_vaping",
        "Tobacco and vaping",
        keywords=("tobacco", "cigarette", "cigarettes", "cigar", "vape", "vaping", "e cigarette"),
    ),
    CategoryNode(
        "gambling",
        "Gambling",
        keywords=("gambling", "casino", "betting", "poker", "slot machine", "lottery"),
    ),
    CategoryNode(
        "pharmaceuticals",
        "Pharmaceuticals",
        keywords=("pharmaceutical", "medicine", "medication", "prescription", "drug"),
    ),
    CategoryNode(
        "political",
        "Political",
        keywords=("political", "politics", "election", "campaign rally", "vote for", "party"),
    ),
    CategoryNode(
        "adult_content",
        "Nudity and adult content",
        global_policy=NEVER,
        keywords=("nude", "nudity", "naked", "topless", "explicit", "pornographic", "erotic"),
    ),
    CategoryNode(
        "minors",
        "Sexualised depiction of minors",
        global_policy=NEVER,
        keywords=("child", "children", "kid", "kids", "minor", "underage", "schoolgirl", "teen"),
    ),
)

DEFAULT_SLUGS: frozenset[str] = frozenset(node.slug for node in DEFAULT_TREE)


def _default_keywords(node: CategoryNode) -> list[str]:
    return sorted({normalise_text(word) for word in node.keywords if normalise_text(word)})


def _up_to_date(row: Category | None, node: CategoryNode, parent_ids: dict[str, int]) -> bool:
    if row is None:
        return False
    expected_parent = parent_ids.get(node.parent) if node.parent else None
    return (
        row.name == node.name
        and row.parent_id == expected_parent
        and row.global_policy == node.global_policy
        and set(_default_keywords(node)) <= set(row.keywords or [])
    )


def category_ensure_defaults() -> None:
    """Create or repair the default categories (idempotent; one query when nothing to do)."""
    rows = {c.slug: c for c in Category.objects.filter(slug__in=DEFAULT_SLUGS)}
    ids = {slug: row.pk for slug, row in rows.items()}
    if all(_up_to_date(rows.get(node.slug), node, ids) for node in DEFAULT_TREE):
        return
    with transaction.atomic():
        for node in DEFAULT_TREE:
            _upsert(node, ids)


def _upsert(node: CategoryNode, ids: dict[str, int]) -> None:
    parent_id = ids[node.parent] if node.parent else None
    # ON CONFLICT DO NOTHING: two processes ensuring the tree at once must not fail.
    Category.objects.bulk_create(
        [
            Category(
                slug=node.slug,
                name=node.name,
                parent_id=parent_id,
                global_policy=node.global_policy,
                keywords=_default_keywords(node),
            )
        ],
        ignore_conflicts=True,
    )
    row = Category.objects.select_for_update().get(slug=node.slug)
    if not _up_to_date(row, node, {**ids, node.slug: row.pk}):
        row.name = node.name
        row.parent_id = parent_id
        row.global_policy = node.global_policy
        row.keywords = sorted(set(row.keywords or []) | set(_default_keywords(node)))
        row.save(update_fields=["name", "parent", "global_policy", "keywords"])
    ids[node.slug] = row.pk


def category_list() -> list[Category]:
    """Every category, parents before children, ensured first."""
    category_ensure_defaults()
    by_parent: dict[int | None, list[Category]] = {}
    for category in Category.objects.order_by("name"):
        by_parent.setdefault(category.parent_id, []).append(category)
    ordered: list[Category] = []

    def walk(parent_id: int | None) -> None:
        for category in by_parent.get(parent_id, []):
            ordered.append(category)
            walk(category.pk)

    walk(None)
    return ordered


def category_get(slug: str) -> Category:
    """The category named ``slug`` (ensuring the defaults); ValidationFailed if unknown."""
    category_ensure_defaults()
    category = Category.objects.filter(slug=slug).first()
    if category is None:
        raise ValidationFailed(fields={"category": [f"Unknown category {slug!r}."]})
    return category


def _parent_map() -> dict[int, int | None]:
    return dict(Category.objects.values_list("pk", "parent_id"))


def category_lineage_ids(
    category: Category, *, parents: dict[int, int | None] | None = None
) -> set[int]:
    """``category``'s id and every ancestor's."""
    parents = parents if parents is not None else _parent_map()
    lineage: set[int] = set()
    current: int | None = category.pk
    while current is not None and current not in lineage:  # guards against a cycle
        lineage.add(current)
        current = parents.get(current)
    return lineage


def category_descendant_ids(
    category: Category, *, parents: dict[int, int | None] | None = None
) -> set[int]:
    """``category``'s id and every descendant's."""
    parents = parents if parents is not None else _parent_map()
    children: dict[int | None, list[int]] = {}
    for child, parent in parents.items():
        children.setdefault(parent, []).append(child)
    found: set[int] = set()
    stack = [category.pk]
    while stack:
        current = stack.pop()
        if current in found:
            continue
        found.add(current)
        stack.extend(children.get(current, []))
    return found


def category_overlaps(a: Category, b: Category) -> bool:
    """Whether ``a`` and ``b`` are the same category or one is an ancestor of the other."""
    parents = _parent_map()
    return b.pk in category_lineage_ids(a, parents=parents) or a.pk in category_lineage_ids(
        b, parents=parents
    )


def category_is_globally_never(
    category: Category, *, parents: dict[int, int | None] | None = None
) -> bool:
    """Whether ``category`` or an ancestor is a global "never" (nudity, minors)."""
    lineage = category_lineage_ids(category, parents=parents)
    return Category.objects.filter(pk__in=lineage, global_policy=NEVER).exists()


def _normalised_keywords(keywords: list[str]) -> list[str]:
    return sorted({normalise_text(word) for word in keywords if normalise_text(word)})


@transaction.atomic
def category_create(
    *, slug: str, name: str, parent: Category | None, keywords: list[str], actor: Any
) -> Category:
    """Add a category of this instance's own (the defaults are ensured from code)."""
    category_ensure_defaults()
    if Category.objects.filter(slug=slug).exists():
        raise ValidationFailed(fields={"slug": ["A category with this slug exists."]})
    category = Category.objects.create(
        slug=slug,
        name=name,
        parent=parent,
        # Below a global "never" it is never too: the lineage decides (category_is_globally_never).
        keywords=_normalised_keywords(keywords),
    )
    audit_record(
        actor=actor,
        action="category.created",
        target=category,
        payload={"slug": slug, "parent": parent.slug if parent else None},
    )
    return category


@transaction.atomic
def category_set_keywords(
    *, category: Category, name: str, keywords: list[str], actor: Any
) -> Category:
    """Rename a category or change its screening words (a default's own words come back)."""
    category.name = name if category.slug not in DEFAULT_SLUGS else category.name
    category.keywords = _normalised_keywords(keywords)
    category.save(update_fields=["name", "keywords"])
    category_ensure_defaults()
    category.refresh_from_db()
    audit_record(
        actor=actor,
        action="category.changed",
        target=category,
        payload={"name": category.name, "keywords": category.keywords},
    )
    return category

"""Exclusivity: a licence may not overlap what the talent has promised someone else.

A conflict is an exclusivity of an ACTIVE version of an active agreement between the same
talent and ANOTHER brand, or one of the talent's external commitments (a booking made
outside Rightsdesk), that overlaps the licence in all three dimensions at once:

- category: the same category, or one inside the other (fragrance inside beauty);
- territory: at least one country in common, after groups and exclusions are expanded;
- period: the two half-open intervals [starts_at, ends_at) intersect.

The licence's period for this check is the time its images may be in market: from its
start until its end plus the longest usage duration, because a usage duration runs from
first publication and an image published on the last day stays out for that long.

Who holds a conflicting exclusivity is for the talent's side only (``Conflict.holder``);
``Conflict.redacted()`` is what the brand may be told: the overlapping category,
countries and period, never the other brand, agreement or counterparty.
"""

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from django.db.models import F

from rightsdesk.accounts.models import Organization
from rightsdesk.agreements.models import Agreement, AgreementVersion, Category, Exclusivity
from rightsdesk.agreements.taxonomy import category_descendant_ids, category_lineage_ids
from rightsdesk.licensing.models import ExternalCommitment, Licence
from rightsdesk.talent.models import Talent


@dataclass(frozen=True)
class Conflict:
    source: str  # "exclusivity" or "external_commitment"
    category: str  # the overlapping (narrower) category's slug
    category_name: str
    territory_codes: tuple[str, ...]  # the countries in common, sorted
    starts_at: datetime  # the overlapping period
    ends_at: datetime
    holder: str  # the other brand's name or the counterparty: the talent's side only
    reference: str  # "agreement:<uuid>" or "external_commitment:<uuid>"

    def redacted(self) -> dict[str, Any]:
        """What the brand may be told."""
        return {
            "category": self.category,
            "category_name": self.category_name,
            "territories": list(self.territory_codes),
            "starts_at": self.starts_at.astimezone(UTC).isoformat(),
            "ends_at": self.ends_at.astimezone(UTC).isoformat(),
        }

    def to_json(self) -> dict[str, Any]:
        """Everything, for the talent's side."""
        return {
            **self.redacted(),
            "source": self.source,
            "holder": self.holder,
            "reference": self.reference,
        }


def licence_in_market_period(
    *, starts_at: datetime, ends_at: datetime, max_duration_days: int
) -> tuple[datetime, datetime]:
    return starts_at, ends_at + timedelta(days=max_duration_days)


def _parents() -> dict[int, int | None]:
    return dict(Category.objects.values_list("pk", "parent_id"))


def _conflict(
    *,
    source: str,
    category: Category,
    other: Category,
    lineage: set[int],
    codes: frozenset[str],
    row_codes: list[str],
    period: tuple[datetime, datetime],
    row_period: tuple[datetime, datetime],
    holder: str,
    reference: str,
) -> Conflict | None:
    common = codes & set(row_codes)
    if not common:
        return None
    # The narrower category is the overlap: an exclusivity on beauty and a licence for
    # fragrance overlap in fragrance.
    narrower = category if other.pk in lineage else other
    return Conflict(
        source=source,
        category=narrower.slug,
        category_name=narrower.name,
        territory_codes=tuple(sorted(common)),
        starts_at=max(period[0], row_period[0]),
        ends_at=min(period[1], row_period[1]),
        holder=holder,
        reference=reference,
    )


def exclusivity_conflicts(
    *,
    talent: Talent,
    brand: Organization | None,
    category: Category,
    territory_codes: frozenset[str] | set[str] | list[str],
    starts_at: datetime,
    ends_at: datetime,
) -> list[Conflict]:
    """Every exclusivity of another brand, and every external commitment, that overlaps
    ``category`` x ``territory_codes`` x [starts_at, ends_at) for ``talent``."""
    parents = _parents()
    lineage = category_lineage_ids(category, parents=parents)
    related = lineage | category_descendant_ids(category, parents=parents)
    codes = frozenset(territory_codes)
    period = (starts_at, ends_at)
    exclusivities = (
        Exclusivity.objects.filter(
            version__status=AgreementVersion.Status.ACTIVE,
            version__agreement__status=Agreement.Status.ACTIVE,
            version__agreement__talent=talent,
            category_id__in=related,
            starts_at__lt=ends_at,
            ends_at__gt=starts_at,
        )
        .select_related("category", "version__agreement__brand")
        .order_by("starts_at", "pk")
    )
    if brand is not None:
        exclusivities = exclusivities.exclude(version__agreement__brand=brand)
    found: list[Conflict] = []
    for row in exclusivities:
        agreement = row.version.agreement
        conflict = _conflict(
            source="exclusivity",
            category=category,
            other=row.category,
            lineage=lineage,
            codes=codes,
            row_codes=row.territory_codes,
            period=period,
            row_period=(row.starts_at, row.ends_at),
            holder=agreement.brand.name,
            reference=f"agreement:{agreement.public_id}",
        )
        if conflict is not None:
            found.append(conflict)
    commitments = (
        ExternalCommitment.objects.filter(
            talent=talent,
            category_id__in=related,
            starts_at__lt=ends_at,
            ends_at__gt=starts_at,
        )
        .filter(ends_at__gt=F("starts_at"))  # an ended-before-it-began commitment is empty
        .select_related("category")
        .order_by("starts_at", "pk")
    )
    for row in commitments:
        conflict = _conflict(
            source="external_commitment",
            category=category,
            other=row.category,
            lineage=lineage,
            codes=codes,
            row_codes=row.territory_codes,
            period=period,
            row_period=(row.starts_at, row.ends_at),
            holder=row.counterparty,
            reference=f"external_commitment:{row.public_id}",
        )
        if conflict is not None:
            found.append(conflict)
    return found


def licence_conflicts(*, licence: Licence) -> list[Conflict]:
    """The conflicts of ``licence``'s category, every country its rows reach, and the time
    its images may be in market."""
    rows = list(licence.usage_rows.all())
    codes: set[str] = set()
    for row in rows:
        codes |= set(row.territory_codes)
    starts_at, ends_at = licence_in_market_period(
        starts_at=licence.starts_at,
        ends_at=licence.ends_at,
        max_duration_days=max((row.duration_days for row in rows), default=0),
    )
    return exclusivity_conflicts(
        talent=licence.talent,
        brand=licence.brand,
        category=licence.category,
        territory_codes=codes,
        starts_at=starts_at,
        ends_at=ends_at,
    )


def conflicts_message(conflicts: list[Conflict]) -> str:
    """A refusal's message for the brand: category, countries and period only."""
    parts = [
        f"{c.category_name} in {', '.join(c.territory_codes)} from "
        f"{c.starts_at.astimezone(UTC):%Y-%m-%d} to {c.ends_at.astimezone(UTC):%Y-%m-%d}"
        for c in conflicts
    ]
    return "The talent has already granted an exclusivity that overlaps this licence: " + (
        "; ".join(parts) + "."
    )

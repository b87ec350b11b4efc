"""Reads for verification (and, at the end, the two that signing makes). Verification is
public: these never take a user, and what they return is shaped by ``verification`` into
a card that shows only what may be shown.

One of our own manifests costs one database round trip: the record, its licence, brand,
talent and agreement, and the three facts the permission status needs (the longest usage
row, the earliest withdrawal covering the licence and the earliest end of its run-off) come
back in a single statement (``card_facts``). ``permission_status_of`` then applies, in
Python, the same rules as ``consent.selectors.licence_permission_status`` (which takes
three statements); tests/provenance/test_permission_status.py holds the two to the same
answers.
"""

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from functools import lru_cache

from django.db import connection
from django.db.models import OuterRef, Q, Subquery
from django.utils import timezone
from django.utils.dateparse import parse_datetime

from rightsdesk.consent.models import Withdrawal
from rightsdesk.consent.selectors import PermissionStatus, permission_status_from
from rightsdesk.core import rawsql
from rightsdesk.licensing.models import Licence, UsageRow
from rightsdesk.provenance.models import ProvenanceRecord, SigningCredential
from rightsdesk.provenance.watermark import PHASH_MAX_DISTANCE, hamming, phash_quarters, to_signed


def trust_anchor_pems() -> list[str]:
    """Every root our credentials ever chained to (rows are never deleted)."""
    return list(
        SigningCredential.objects.order_by("trust_anchor_pem")
        .values_list("trust_anchor_pem", flat=True)
        .distinct()
    )


@dataclass(frozen=True)
class CardFacts:
    """What a card needs of a record, its licence, brand, talent and agreement, and the
    three facts of the permission status, from one statement."""

    asset_reference: str
    manifest_label: str
    created_at: datetime
    approved_exact_image: bool
    stage_name: str
    issuer_name: str
    brand_name: str
    stage_name_public: bool
    licence_accepted_at: datetime | None
    licence_status: str
    licence_updated_at: datetime
    licence_ends_at: datetime
    licence_first_published_at: datetime | None
    agreement_terminated_at: datetime | None
    longest_usage_days: int | None
    withdrawal_effective_at: datetime | None
    withdrawal_run_off_until: datetime | None


_CARD_COLUMNS = (
    "asset_reference",
    "manifest_label",
    "created_at",
    "approved_exact_image",
    "stage_name",
    "credential__issuer_name",
    "licence__brand__name",
    "licence__talent__stage_name_public",
    "licence__accepted_at",
    "licence__status",
    "licence__updated_at",
    "licence__ends_at",
    "licence__first_published_at",
    "licence__agreement__terminated_at",
    "longest_usage_days",
    "withdrawal_effective_at",
    "withdrawal_run_off_until",
)
_SENTINEL = "asset:00000000-0000-0000-0000-000000000000"


def _covering_withdrawals():
    return Withdrawal.objects.filter(
        Q(licence_id=OuterRef("licence_id")) | Q(agreement_id=OuterRef("licence__agreement_id"))
    ).order_by()


@lru_cache(maxsize=8)
def _card_statement(vendor: str) -> tuple[str, tuple, int]:
    """The card's SQL, compiled by the ORM once per process and database vendor: compiling
    this queryset costs several times what running it does (bench/verify.py)."""
    longest = UsageRow.objects.filter(licence_id=OuterRef("licence_id")).order_by("-duration_days")
    queryset = (
        ProvenanceRecord.objects.annotate(
            longest_usage_days=Subquery(longest.values("duration_days")[:1]),
            withdrawal_effective_at=Subquery(
                _covering_withdrawals().order_by("effective_at").values("effective_at")[:1]
            ),
            withdrawal_run_off_until=Subquery(
                _covering_withdrawals().order_by("run_off_until").values("run_off_until")[:1]
            ),
        )
        .filter(asset_reference=_SENTINEL)
        .values_list(*_CARD_COLUMNS)
    )
    sql, params = queryset.query.sql_with_params()
    return sql, tuple(params), params.index(_SENTINEL)


def _datetime(value) -> datetime | None:
    """A datetime column as the driver returns it: aware (PostgreSQL), or naive UTC as a
    datetime or an ISO string (SQLite, by declared type or through a subquery)."""
    if value is None:
        return None
    parsed = value if isinstance(value, datetime) else parse_datetime(value)
    return parsed if timezone.is_aware(parsed) else timezone.make_aware(parsed, UTC)


def card_facts(*, asset_reference: str) -> CardFacts | None:
    """The facts of one record's card, in one statement; None if there is no record."""
    sql, params, at = _card_statement(connection.vendor)
    params = (*params[:at], asset_reference, *params[at + 1 :])
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        row = cursor.fetchone()
    if row is None:
        return None
    values = dict(zip(_CARD_COLUMNS, row, strict=True))
    return CardFacts(
        asset_reference=values["asset_reference"],
        manifest_label=values["manifest_label"],
        created_at=_datetime(values["created_at"]),
        approved_exact_image=bool(values["approved_exact_image"]),
        stage_name=values["stage_name"],
        issuer_name=values["credential__issuer_name"],
        brand_name=values["licence__brand__name"],
        stage_name_public=bool(values["licence__talent__stage_name_public"]),
        licence_accepted_at=_datetime(values["licence__accepted_at"]),
        licence_status=values["licence__status"],
        licence_updated_at=_datetime(values["licence__updated_at"]),
        licence_ends_at=_datetime(values["licence__ends_at"]),
        licence_first_published_at=_datetime(values["licence__first_published_at"]),
        agreement_terminated_at=_datetime(values["licence__agreement__terminated_at"]),
        longest_usage_days=values["longest_usage_days"],
        withdrawal_effective_at=_datetime(values["withdrawal_effective_at"]),
        withdrawal_run_off_until=_datetime(values["withdrawal_run_off_until"]),
    )


def permission_status_of(*, facts: CardFacts, at: datetime | None = None) -> PermissionStatus:
    """The licence's permission status from the card's one query, by consent's rule."""
    natural_end = facts.licence_ends_at
    if facts.licence_first_published_at is not None and facts.longest_usage_days is not None:
        natural_end = facts.licence_first_published_at + timedelta(days=facts.longest_usage_days)
    return permission_status_from(
        accepted_at=facts.licence_accepted_at,
        withdrawn_without_record=facts.licence_status == Licence.Status.WITHDRAWN,
        updated_at=facts.licence_updated_at,
        natural_end=natural_end,
        terminated_at=facts.agreement_terminated_at,
        effective_at=facts.withdrawal_effective_at,
        run_off_until=facts.withdrawal_run_off_until,
        at=at,
    )


def provenance_record_by_watermark(*, payload: int) -> ProvenanceRecord | None:
    return (
        ProvenanceRecord.objects.select_related("licence__brand")
        .filter(watermark_payload=to_signed(payload))
        .order_by("pk")
        .first()
    )


def provenance_record_near(*, phash: int) -> tuple[ProvenanceRecord, int] | None:
    """The nearest record within PHASH_MAX_DISTANCE whose hash shares a 16-bit quarter with
    ``phash`` (certain up to distance 3, likely beyond), with its distance; else None."""
    q0, q1, q2, q3 = phash_quarters(phash)
    candidates = (
        ProvenanceRecord.objects.select_related("licence__brand")
        .filter(Q(phash_q0=q0) | Q(phash_q1=q1) | Q(phash_q2=q2) | Q(phash_q3=q3))
        .order_by("pk")[:200]
    )
    best: tuple[ProvenanceRecord, int] | None = None
    for record in candidates:
        distance = hamming(record.perceptual_hash, phash)
        if distance <= PHASH_MAX_DISTANCE and (best is None or distance < best[1]):
            best = (record, distance)
    return best


# Signing. Every image signed makes these two reads: they are written by hand
# (rightsdesk.core.rawsql says why).


def provenance_record_of(*, asset_reference: str) -> ProvenanceRecord | None:
    """The record of an asset's signed file, if it was signed already."""
    cols = rawsql.columns(ProvenanceRecord)
    rows = rawsql.fetch(
        f"SELECT {cols.sql} FROM {ProvenanceRecord._meta.db_table} "  # noqa: S608 - names from the model
        "WHERE asset_reference = %s LIMIT 1",
        [asset_reference],
    )
    return rawsql.build(cols, rows[0]) if rows else None  # type: ignore[return-value]


def active_signing_credentials(
    *, organization_id: int | None
) -> dict[int | None, SigningCredential]:
    """The active credentials of the instance (key None) and of the brand
    ``organization_id``, by organisation id: at most one each (constraints)."""
    cols = rawsql.columns(SigningCredential)
    rows = rawsql.fetch(
        f"SELECT {cols.sql} FROM {SigningCredential._meta.db_table} "  # noqa: S608 - names from the model
        "WHERE active = %s AND (organization_id IS NULL OR organization_id = %s)",
        [True, organization_id],
    )
    credentials = [rawsql.build(cols, row) for row in rows]
    return {credential.organization_id: credential for credential in credentials}

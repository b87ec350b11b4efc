"""Everything the gate reads for one decision, loaded at once.

On PostgreSQL the facts come from ONE statement, a call of the ``consent_gate_facts``
function (``gate_sql``, which says why a function), that returns a single JSON document: the
talents involved with their creation consents (and the earliest withdrawal of each) and
likenesses; the licences with their usage rows, agreement, the licence's version, the
agreement's active version with its category policies, and the earliest withdrawal of the
licence and of the agreement; the category tree; the obligation rule pack; and the brief's
word n-grams that are registered names. Every lookup in it is by a primary key, a foreign
key or a unique index, so its cost does not grow with the tables.

SQLite (the embedded default) gets the same document from one statement of its JSON
functions. Any other database reads the same facts with a dozen plain statements, which
the tests also use to check both single statements. Every path fills the same dataclasses;
the rules in ``gate`` see no difference.

The category tree and the rule pack are kept per process under the taxonomy stamp they were
read with (``gate_sql`` says how the stamp follows every change) and read again only when
the database's stamp differs: on both paths the stamp is read before the tables, so a
change committed in between leaves a newer tree under an older stamp, read again next time,
and never the reverse.
"""

import json
import re
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from uuid import UUID

from django.db import connection

from rightsdesk.accounts.models import Organization
from rightsdesk.agreements.models import Agreement, AgreementVersion, Category, CategoryPolicy
from rightsdesk.consent.gate_sql import CALL_SQL, SQLITE_FACTS_SELECT, STAMP_TABLE
from rightsdesk.consent.models import CreationConsent, ObligationRule, Withdrawal
from rightsdesk.core import rawsql
from rightsdesk.licensing.models import Licence, UsageRow
from rightsdesk.talent.models import LikenessVersion, Talent, TalentNameGram


@dataclass(slots=True)
class ConsentFact:
    kind: str
    base_model: str
    answered_at: datetime
    withdrawn_from: datetime | None  # the earliest withdrawal's effective time


@dataclass(slots=True)
class LikenessFact:
    id: int
    public_id: str
    talent_id: int
    version: int
    status: str
    base_model: str
    appearance_limits: list


@dataclass(slots=True)
class TalentFact:
    id: int
    public_id: str
    date_of_birth: date
    jurisdiction: str
    deceased: bool
    identity_verified_at: datetime | None
    consents: list[ConsentFact] = field(default_factory=list)
    likenesses: list[LikenessFact] = field(default_factory=list)


@dataclass(slots=True)
class UsageFact:
    medium: str
    territory_codes: list[str]
    duration_days: int
    quantity: int
    quantity_used: int


@dataclass(slots=True)
class VersionFact:
    id: int
    effective_from: datetime
    effective_to: datetime
    policies: dict[int, str]  # category id -> allowed | with_approval | never


@dataclass(slots=True)
class LicenceFact:
    id: int
    public_id: str
    talent_id: int
    brand_id: int
    brand_public_id: str
    campaign: str
    status: str
    purpose: str
    category_id: int
    starts_at: datetime
    ends_at: datetime
    draft_allowance: int
    drafts_used: int
    brief_approval_required: bool
    first_published_at: datetime | None
    usage_fee_minor: int
    currency: str
    withdrawn_from: datetime | None
    agreement_status: str
    agreement_terminated_at: datetime | None
    agreement_withdrawn_from: datetime | None
    version_status: str
    active_version: VersionFact | None
    usage: list[UsageFact]


@dataclass(slots=True)
class CategoryFact:
    id: int
    slug: str
    name: str
    parent_id: int | None
    global_policy: str
    keywords: list[str]


@dataclass(slots=True)
class RuleFact:
    code: str
    territories: list[str]
    purposes: list[str]
    params: dict
    active: bool


@dataclass(slots=True)
class NameHit:
    gram: str
    words: int
    talent_id: int
    distinctive: bool


@dataclass(slots=True)
class GateFacts:
    talents: dict[int, TalentFact]
    licences: list[LicenceFact]
    categories: list[CategoryFact]
    rules: list[RuleFact]
    names: list[NameHit]


@dataclass(frozen=True, slots=True)
class Refs:
    """References split into database ids and public ids."""

    ids: tuple[int, ...] = ()
    uuids: tuple[UUID, ...] = ()

    @classmethod
    def parse(cls, refs) -> "Refs":
        ids: list[int] = []
        uuids: list[UUID] = []
        for ref in refs:
            if isinstance(ref, UUID):
                uuids.append(ref)
            elif isinstance(ref, int) and not isinstance(ref, bool):
                ids.append(ref)
            elif isinstance(ref, str) and ref.isdigit():
                ids.append(int(ref))
            else:
                uuids.append(UUID(str(ref)))  # ValueError for anything else: fails closed
        return cls(tuple(ids), tuple(uuids))

    def matches(self, *, id: int, public_id: str) -> bool:  # noqa: A002
        return id in self.ids or UUID(public_id) in self.uuids

    def missing(self, found) -> bool:
        """Whether some reference matches none of ``found`` (objects with id, public_id)."""
        ids = {item.id for item in found}
        uuids = {UUID(item.public_id) for item in found}
        return any(i not in ids for i in self.ids) or any(u not in uuids for u in self.uuids)

    def __bool__(self) -> bool:
        return bool(self.ids or self.uuids)


@dataclass(frozen=True, slots=True)
class FactsRequest:
    talents: Refs
    licences: Refs
    likenesses: Refs
    grams: tuple[str, ...]


def load_facts(request: FactsRequest) -> GateFacts:
    if connection.vendor == "postgresql":
        return _load_postgresql(request)
    if connection.vendor == "sqlite":
        return _load_sqlite(request)
    return _load_portable(request)


# PostgreSQL: one statement.


def _ts(value: str | None) -> datetime | None:
    return None if value is None else datetime.fromisoformat(value)


def _load_postgresql(request: FactsRequest) -> GateFacts:
    held = _taxonomy
    array = rawsql.array
    params = {
        "licence_ids": array(request.licences.ids),
        "licence_uuids": array(request.licences.uuids),
        "likeness_ids": array(request.likenesses.ids),
        "likeness_uuids": array(request.likenesses.uuids),
        "talent_ids": array(request.talents.ids),
        "talent_uuids": array(request.talents.uuids),
        "grams": array(request.grams),
        "stamp": held.stamp if held else None,
    }
    ((document,),) = rawsql.fetch(CALL_SQL, params)
    if isinstance(document, str | bytes):
        document = json.loads(document)
    read = document["taxonomy"]
    if read is None:  # the stamp held is the database's: the tree and rules are unchanged
        taxonomy = held
    else:
        taxonomy = _keep(
            _Taxonomy(
                stamp=document["stamp"],
                categories=tuple(CategoryFact(**row) for row in read["categories"] or ()),
                rules=tuple(RuleFact(**row) for row in read["rules"] or ()),
            )
        )
    return GateFacts(
        talents={row["id"]: _talent(row) for row in document["talents"] or ()},
        licences=[_licence(row) for row in document["licences"] or ()],
        categories=list(taxonomy.categories),
        rules=list(taxonomy.rules),
        names=[NameHit(**row) for row in document["names"] or ()],
    )


@dataclass(frozen=True, slots=True, kw_only=True)
class _Taxonomy:
    stamp: str | None  # None: the database has no stamp, nothing is kept
    categories: tuple[CategoryFact, ...]
    rules: tuple[RuleFact, ...]


# The taxonomy this process holds (replaced whole, so threads see one or the other).
_taxonomy: _Taxonomy | None = None


def _keep(taxonomy: _Taxonomy) -> _Taxonomy:
    global _taxonomy
    _taxonomy = taxonomy if taxonomy.stamp is not None else None
    return taxonomy


def forget_taxonomy() -> None:
    """Drop the kept category tree and rule pack (the next decision reads them)."""
    global _taxonomy
    _taxonomy = None


def _same(value):
    return value


def _talent(row: dict, ts=_ts, uuid=_same) -> TalentFact:
    """A talent of the document; ``ts`` and ``uuid`` read the database's forms of times
    and uuids (PostgreSQL's JSON already has the ones the facts hold)."""
    return TalentFact(
        id=row["id"],
        public_id=uuid(row["public_id"]),
        date_of_birth=date.fromisoformat(row["date_of_birth"]),
        jurisdiction=row["jurisdiction"],
        deceased=bool(row["deceased"]),
        identity_verified_at=ts(row["identity_verified_at"]),
        consents=[
            ConsentFact(
                kind=c["kind"],
                base_model=c["base_model"],
                answered_at=ts(c["answered_at"]),
                withdrawn_from=ts(c["withdrawn_from"]),
            )
            for c in row["consents"] or ()
        ],
        likenesses=[
            LikenessFact(**{**v, "talent_id": row["id"], "public_id": uuid(v["public_id"])})
            for v in row["likenesses"] or ()
        ],
    )


def _licence(row: dict, ts=_ts, uuid=_same) -> LicenceFact:
    version = row["active_version"]
    return LicenceFact(
        **{
            **row,
            **{
                key: ts(row[key])
                for key in (
                    "starts_at",
                    "ends_at",
                    "first_published_at",
                    "withdrawn_from",
                    "agreement_terminated_at",
                    "agreement_withdrawn_from",
                )
            },
            "public_id": uuid(row["public_id"]),
            "brand_public_id": uuid(row["brand_public_id"]),
            "brief_approval_required": bool(row["brief_approval_required"]),
            "active_version": None
            if version is None
            else VersionFact(
                id=version["id"],
                effective_from=ts(version["effective_from"]),
                effective_to=ts(version["effective_to"]),
                policies={int(k): v for k, v in (version["policies"] or {}).items()},
            ),
            "usage": [UsageFact(**u) for u in row["usage"] or ()],
        }
    )


# SQLite: one statement too (gate_sql.SQLITE_FACTS_SELECT).


def _sqlite_ts(value: str | None) -> datetime | None:
    # Django keeps an aware time in SQLite as its UTC wall time, without the offset.
    return None if value is None else datetime.fromisoformat(value).replace(tzinfo=UTC)


def _dashed(value: str) -> str:
    return str(UUID(value))


def _load_sqlite(request: FactsRequest) -> GateFacts:
    taxonomy = _portable_taxonomy()
    lists = {
        "licence_ids": request.licences.ids,
        "licence_uuids": _uuids(Licence, request.licences.uuids),
        "likeness_ids": request.likenesses.ids,
        "likeness_uuids": _uuids(LikenessVersion, request.likenesses.uuids),
        "talent_ids": request.talents.ids,
        "talent_uuids": _uuids(Talent, request.talents.uuids),
        "grams": request.grams,
    }
    placeholders = {name: rawsql.in_list(items)[0] for name, items in lists.items()}
    params = [value for name in _SQLITE_LISTS for value in lists[name]]
    ((document,),) = rawsql.fetch(SQLITE_FACTS_SELECT.format(**placeholders), params)
    document = json.loads(document)
    return GateFacts(
        talents={row["id"]: _talent(row, _sqlite_ts, _dashed) for row in document["talents"] or ()},
        licences=[_licence(row, _sqlite_ts, _dashed) for row in document["licences"] or ()],
        categories=list(taxonomy.categories),
        rules=list(taxonomy.rules),
        names=[
            NameHit(**{**row, "distinctive": bool(row["distinctive"])})
            for row in document["names"] or ()
        ],
    )


# Which list's placeholders come where in the statement, so its parameters go in that order.
_SQLITE_LISTS = tuple(re.findall(r"\{(\w+)\}", SQLITE_FACTS_SELECT))


# Any other database, and the reference the tests hold both single statements to: the same
# facts from plain statements, written by hand (rightsdesk.core.rawsql; through the ORM
# these eleven queries cost ~10 ms of each ask). Rows become model instances through the
# fields' own converters.


def _uuids(model, values) -> list:
    return [rawsql.param(model, "public_id", value) for value in values]


def _models(model, where: str, params: list) -> list:
    cols = rawsql.columns(model, "x")
    sql = f"SELECT {cols.sql} FROM {model._meta.db_table} x WHERE {where} ORDER BY x.id"  # noqa: S608 - names from the model
    return [rawsql.build(cols, row) for row in rawsql.fetch(sql, params)]


def _values(model, names: tuple[str, ...]) -> list[list]:
    cols = rawsql.columns(model, "x", names)
    sql = f"SELECT {cols.sql} FROM {model._meta.db_table} x ORDER BY x.id"  # noqa: S608 - names from the model
    return [rawsql.values(cols, row) for row in rawsql.fetch(sql)]


def _licences(refs: Refs) -> list[Licence]:
    select = rawsql.joined(
        (Licence, "l"), (Agreement, "a"), (AgreementVersion, "v"), (Organization, "b")
    )
    ids, id_params = rawsql.in_list(refs.ids)
    uuids, uuid_params = rawsql.in_list(_uuids(Licence, refs.uuids))
    sql = (
        f"SELECT {select.sql} FROM {Licence._meta.db_table} l "  # noqa: S608 - names from the model
        f"JOIN {Agreement._meta.db_table} a ON a.id = l.agreement_id "
        f"JOIN {AgreementVersion._meta.db_table} v ON v.id = l.agreement_version_id "
        f"JOIN {Organization._meta.db_table} b ON b.id = l.brand_id "
        f"WHERE l.id IN ({ids}) OR l.public_id IN ({uuids}) ORDER BY l.id"
    )
    licences = []
    for row in rawsql.fetch(sql, [*id_params, *uuid_params]):
        licence, agreement, version, brand = select.split(row)
        licence.agreement, licence.agreement_version, licence.brand = agreement, version, brand
        licences.append(licence)
    return licences


def _talents(request: FactsRequest, licences: list[Licence]) -> list[Talent]:
    ids, id_params = rawsql.in_list(
        {*request.talents.ids, *(licence.talent_id for licence in licences)}
    )
    uuids, uuid_params = rawsql.in_list(_uuids(Talent, request.talents.uuids))
    likeness_ids, likeness_id_params = rawsql.in_list(request.likenesses.ids)
    likeness_uuids, likeness_uuid_params = rawsql.in_list(
        _uuids(LikenessVersion, request.likenesses.uuids)
    )
    where = (
        f"x.id IN ({ids}) OR x.public_id IN ({uuids}) OR x.id IN (SELECT talent_id FROM "  # noqa: S608 - names from the model
        f"{LikenessVersion._meta.db_table} WHERE id IN ({likeness_ids}) "
        f"OR public_id IN ({likeness_uuids}))"
    )
    params = [*id_params, *uuid_params, *likeness_id_params, *likeness_uuid_params]
    return _models(Talent, where, params)


def _load_portable(request: FactsRequest) -> GateFacts:
    licences = _licences(request.licences)
    talent_facts = {
        t.pk: TalentFact(
            id=t.pk,
            public_id=str(t.public_id),
            date_of_birth=t.date_of_birth,
            jurisdiction=t.jurisdiction,
            deceased=t.deceased,
            identity_verified_at=t.identity_verified_at,
        )
        for t in _talents(request, licences)
    }
    _attach_consents(talent_facts)
    talent_ids, talent_params = rawsql.in_list(talent_facts)
    for v in _models(LikenessVersion, f"x.talent_id IN ({talent_ids})", talent_params):
        talent_facts[v.talent_id].likenesses.append(
            LikenessFact(
                id=v.pk,
                public_id=str(v.public_id),
                talent_id=v.talent_id,
                version=v.version,
                status=v.status,
                base_model=v.base_model,
                appearance_limits=v.appearance_limits,
            )
        )
    grams, gram_params = rawsql.in_list(request.grams)
    taxonomy = _portable_taxonomy()
    return GateFacts(
        talents=talent_facts,
        licences=_licence_facts(licences),
        categories=list(taxonomy.categories),
        rules=list(taxonomy.rules),
        names=[
            NameHit(gram=gram, words=words, talent_id=talent_id, distinctive=bool(distinctive))
            for gram, words, talent_id, distinctive in rawsql.fetch(
                f"SELECT g.gram, g.words, g.talent_id, t.stage_name_distinctive "  # noqa: S608 - names from the model
                f"FROM {TalentNameGram._meta.db_table} g "
                f"JOIN {Talent._meta.db_table} t ON t.id = g.talent_id "
                f"WHERE g.gram IN ({grams}) ORDER BY g.id",
                gram_params,
            )
        ],
    )


def _portable_taxonomy() -> _Taxonomy:
    held = _taxonomy
    rows = rawsql.fetch(f"SELECT stamp FROM {STAMP_TABLE} WHERE id = 1")  # noqa: S608 - a constant
    stamp = rows[0][0] if rows else None
    if held is not None and stamp is not None and held.stamp == stamp:
        return held
    # Every category and rule, so only the columns the facts hold (no instances).
    return _keep(
        _Taxonomy(
            stamp=stamp,
            categories=tuple(
                CategoryFact(*row)
                for row in _values(
                    Category, ("id", "slug", "name", "parent", "global_policy", "keywords")
                )
            ),
            rules=tuple(
                RuleFact(*row)
                for row in _values(
                    ObligationRule,
                    ("code", "applies_to_territories", "applies_to_purposes", "params", "active"),
                )
            ),
        )
    )


def _attach_consents(talent_facts: dict[int, TalentFact]) -> None:
    ids, params = rawsql.in_list(talent_facts)
    rows = rawsql.fetch(
        "SELECT c.talent_id, c.kind, c.base_model, c.answered_at, "  # noqa: S608 - names from the model
        f"(SELECT MIN(w.effective_at) FROM {Withdrawal._meta.db_table} w "
        "WHERE w.creation_consent_id = c.id) "
        f"FROM {CreationConsent._meta.db_table} c WHERE c.talent_id IN ({ids}) ORDER BY c.id",
        params,
    )
    for talent_id, kind, base_model, answered_at, withdrawn_from in rows:
        talent_facts[talent_id].consents.append(
            ConsentFact(
                kind=kind,
                base_model=base_model,
                answered_at=rawsql.converted(CreationConsent, "answered_at", answered_at),
                withdrawn_from=rawsql.converted(Withdrawal, "effective_at", withdrawn_from),
            )
        )


def _earliest(field_name: str, ids) -> dict[int, datetime]:
    placeholders, params = rawsql.in_list(ids)
    column = Withdrawal._meta.get_field(field_name).column
    rows = rawsql.fetch(
        f"SELECT {column}, MIN(effective_at) FROM {Withdrawal._meta.db_table} "  # noqa: S608 - names from the model
        f"WHERE {column} IN ({placeholders}) GROUP BY {column}",
        params,
    )
    return {key: rawsql.converted(Withdrawal, "effective_at", at) for key, at in rows}


def _licence_facts(licences: list[Licence]) -> list[LicenceFact]:
    agreement_ids = {licence.agreement_id for licence in licences}
    agreements, agreement_params = rawsql.in_list(agreement_ids)
    active = {
        v.agreement_id: v
        for v in _models(
            AgreementVersion,
            f"x.agreement_id IN ({agreements}) AND x.status = %s",
            [*agreement_params, AgreementVersion.Status.ACTIVE.value],
        )
    }
    policies: dict[int, dict[int, str]] = {}
    versions, version_params = rawsql.in_list(v.pk for v in active.values())
    for p in _models(CategoryPolicy, f"x.version_id IN ({versions})", version_params):
        policies.setdefault(p.version_id, {})[p.category_id] = p.policy
    usage: dict[int, list[UsageFact]] = {}
    licence_ids, licence_params = rawsql.in_list(licence.pk for licence in licences)
    for u in _models(UsageRow, f"x.licence_id IN ({licence_ids})", licence_params):
        usage.setdefault(u.licence_id, []).append(
            UsageFact(
                medium=u.medium,
                territory_codes=u.territory_codes,
                duration_days=u.duration_days,
                quantity=u.quantity,
                quantity_used=u.quantity_used,
            )
        )
    by_licence = _earliest("licence_id", [licence.pk for licence in licences])
    by_agreement = _earliest("agreement_id", agreement_ids)
    facts = []
    for licence in licences:
        version = active.get(licence.agreement_id)
        facts.append(
            LicenceFact(
                id=licence.pk,
                public_id=str(licence.public_id),
                talent_id=licence.talent_id,
                brand_id=licence.brand_id,
                brand_public_id=str(licence.brand.public_id),
                campaign=licence.campaign,
                status=licence.status,
                purpose=licence.purpose,
                category_id=licence.category_id,
                starts_at=licence.starts_at,
                ends_at=licence.ends_at,
                draft_allowance=licence.draft_allowance,
                drafts_used=licence.drafts_used,
                brief_approval_required=licence.brief_approval_required,
                first_published_at=licence.first_published_at,
                usage_fee_minor=licence.usage_fee_minor,
                currency=licence.currency,
                withdrawn_from=by_licence.get(licence.pk),
                agreement_status=licence.agreement.status,
                agreement_terminated_at=licence.agreement.terminated_at,
                agreement_withdrawn_from=by_agreement.get(licence.agreement_id),
                version_status=licence.agreement_version.status,
                active_version=None
                if version is None
                else VersionFact(
                    id=version.pk,
                    effective_from=version.effective_from,
                    effective_to=version.effective_to,
                    policies=policies.get(version.pk, {}),
                ),
                usage=usage.get(licence.pk, []),
            )
        )
    return facts

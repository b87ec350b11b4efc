"""Hand-written statements read and write rows exactly as the ORM does, on either
database (the suite runs on SQLite and on PostgreSQL)."""

import uuid

import pytest
from django.db import DataError, IntegrityError, connection, connections, transaction
from django.db.models.fields.files import FieldFile
from django.db.transaction import TransactionManagementError
from django.forms.models import model_to_dict
from django.utils import timezone
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from rightsdesk.accounts.models import Organization, User
from rightsdesk.api.authentication import token_user
from rightsdesk.consent.models import GateDecision
from rightsdesk.core import rawsql
from rightsdesk.renders.models import Asset, RenderRequest
from rightsdesk.talent.models import LikenessVersion
from tests.factories import OrganizationFactory, RenderRequestFactory, UserFactory

pytestmark = pytest.mark.django_db


def _fields(obj) -> dict:
    # An empty file field is None on a new instance and "" once read back, with the ORM too.
    return {
        f.attname: (value.name or "") if isinstance(value, FieldFile) else value
        for f in type(obj)._meta.concrete_fields
        for value in [getattr(obj, f.attname)]
    }


def test_a_row_built_by_hand_equals_the_orms():
    made = RenderRequestFactory(
        denial_reasons=["draft_allowance_exhausted"], idempotency_key="k-1", request_hash="ab"
    )
    cols = rawsql.columns(RenderRequest, "r")
    rows = rawsql.fetch(
        f"SELECT {cols.sql} FROM renders_renderrequest r WHERE r.public_id = %s",
        [rawsql.param(RenderRequest, "public_id", made.public_id)],
    )
    built = rawsql.build(cols, rows[0])
    orm = RenderRequest.objects.get(pk=made.pk)
    assert _fields(built) == _fields(orm)
    # Typed as the ORM types them on either database (SQLite returns text for these).
    assert isinstance(built.public_id, uuid.UUID)
    assert built.created_at.tzinfo is not None
    assert built.denial_reasons == ["draft_allowance_exhausted"]
    assert not built._state.adding


def test_build_reads_a_models_columns_from_an_offset():
    made = RenderRequestFactory()
    request_cols, org_cols = rawsql.columns(RenderRequest, "r"), rawsql.columns(Organization, "o")
    (row,) = rawsql.fetch(
        f"SELECT {request_cols.sql}, {org_cols.sql} FROM renders_renderrequest r "
        "JOIN accounts_organization o ON o.id = r.organization_id WHERE r.id = %s",
        [made.pk],
    )
    org = rawsql.build(org_cols, row, len(request_cols))
    assert model_to_dict(org) == model_to_dict(Organization.objects.get(pk=made.organization_id))


def test_insert_writes_every_field_and_sets_the_key():
    template = RenderRequestFactory()
    fresh = RenderRequest(
        organization=template.organization,
        requester=template.requester,
        brief="A coat in the rain",
        width=64,
        height=64,
        steps=4,
        num_drafts=1,
        denial_reasons=["x"],
    )
    assert rawsql.insert(fresh) is True
    assert fresh.pk is not None and not fresh._state.adding
    assert fresh.created_at is not None and fresh.updated_at is not None  # auto_now filled
    assert _fields(RenderRequest.objects.get(pk=fresh.pk)) == _fields(fresh)


def test_insert_skipping_conflicts_reports_the_twin_and_keeps_the_transaction():
    first = RenderRequestFactory(idempotency_key="same", request_hash="h")
    twin = RenderRequest(
        organization=first.organization,
        requester=first.requester,
        brief="b",
        idempotency_key="same",
        request_hash="h",
    )
    with transaction.atomic():
        assert rawsql.insert(twin, skip_conflicts=True) is False
        assert twin.pk is None and twin._state.adding
        # No savepoint was needed: the transaction goes on.
        assert RenderRequest.objects.filter(idempotency_key="same").count() == 1
    # Without skipping, the same insert is refused by the constraint.
    with pytest.raises(Exception), transaction.atomic():  # noqa: B017 - vendor's class
        rawsql.insert(twin)


def test_token_user_reads_the_user_and_organisation_with_the_token():
    user = UserFactory(role="campaign_manager", organization=OrganizationFactory())
    token = Token.objects.create(user=user)
    found_user, found_token = token_user(token.key)
    assert found_token.key == token.key and found_token.user is found_user
    assert _fields(found_user) == _fields(User.objects.get(pk=user.pk))
    assert _fields(found_user.organization) == _fields(user.organization)
    assert token_user("no-such-key") is None
    loner = UserFactory(organization=None)
    found_loner, _ = token_user(Token.objects.create(user=loner).key)
    assert found_loner.organization_id is None and found_loner.organization is None


def test_token_authentication_accepts_a_token_and_refuses_unknown_and_inactive():
    user = UserFactory()
    token = Token.objects.create(user=user)
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {token.key}")
    assert client.get("/api/v1/me/").status_code == 200
    client.credentials(HTTP_AUTHORIZATION="Token nope")
    refused = client.get("/api/v1/me/")
    assert refused.status_code == 401
    assert refused.json()["code"] == "authentication_failed"
    user.is_active = False
    user.save()
    client.credentials(HTTP_AUTHORIZATION=f"Token {token.key}")
    inactive = client.get("/api/v1/me/")
    assert inactive.status_code == 401
    assert inactive.json()["message"] == "User inactive or deleted."


def test_update_writes_plain_values_where_every_condition_holds():
    made = RenderRequestFactory(status="queued", worker_id="")
    other = RenderRequestFactory(status="queued", worker_id="")
    changed = rawsql.update(
        RenderRequest,
        {"status": "rendering", "worker_id": "w-1", "heartbeat_at": made.created_at},
        {"pk": made.pk, "status": "queued", "finished_at": None},
    )
    assert changed == 1
    made.refresh_from_db()
    assert (made.status, made.worker_id, made.heartbeat_at) == (
        "rendering",
        "w-1",
        made.created_at,
    )
    assert RenderRequest.objects.get(pk=other.pk).status == "queued"  # not matched
    # A condition that no longer holds changes nothing.
    assert rawsql.update(RenderRequest, {"progress": 50}, {"pk": made.pk, "status": "queued"}) == 0
    assert RenderRequest.objects.get(pk=made.pk).progress == 0


def test_joined_splits_a_row_and_gives_none_for_an_outer_join_that_found_nothing():
    made = RenderRequestFactory()  # no likeness, no decision
    select = rawsql.joined((RenderRequest, "r"), (Organization, "o"), (LikenessVersion, "l"))
    (row,) = rawsql.fetch(
        f"SELECT {select.sql} FROM renders_renderrequest r "
        "JOIN accounts_organization o ON o.id = r.organization_id "
        "LEFT JOIN talent_likenessversion l ON l.id = r.likeness_id WHERE r.id = %s",
        [made.pk],
    )
    request, organization, likeness = select.split(row)
    assert _fields(request) == _fields(RenderRequest.objects.get(pk=made.pk))
    assert _fields(organization) == _fields(made.organization)
    assert likeness is None


def _linked_rows(key: str = "", brief: str = "A coat in the rain"):
    template = RenderRequestFactory()
    decision = GateDecision(
        created_at=timezone.now(),
        action="render",
        outcome="allow",
        reasons=[],
        obligations=[{"code": "visible_label", "params": {"texts": {"fr": "Image générée"}}}],
        query={"brief": brief},
        subject_reference="render_request:x",
    )
    request = RenderRequest(
        organization=template.organization,
        requester=template.requester,
        brief=brief,
        idempotency_key=key or None,
        request_hash="h" if key else "",
        draft_ids=["a"],
    )
    asset = Asset(index=0, seed=7)
    rows = (
        rawsql.Linked(decision),
        rawsql.Linked(request, refs=(("decision", 0),), skip_conflicts=True),
        rawsql.Linked(asset, refs=(("render_request", 1),)),
    )
    return template, decision, request, asset, rows


# One statement is PostgreSQL's way; SQLite always goes one by one.
@pytest.mark.parametrize(
    "way", [pytest.param("one statement", marks=pytest.mark.postgres), "one by one"]
)
def test_insert_linked_writes_rows_that_point_at_one_another(way, django_assert_num_queries):
    _, decision, request, asset, rows = _linked_rows()
    insert = rawsql.insert_linked if way == "one statement" else rawsql._insert_linked_one_by_one
    with django_assert_num_queries(1 if way == "one statement" else 3):
        assert insert(*rows) == [True, True, True]
    assert request.decision_id == decision.pk and asset.render_request_id == request.pk
    assert not any(obj._state.adding for obj in (decision, request, asset))
    for obj in (decision, request, asset):
        assert _fields(type(obj).objects.get(pk=obj.pk)) == _fields(obj)


@pytest.mark.parametrize("way", ["one statement", "one by one"])
def test_insert_linked_skips_a_conflict_and_what_points_at_it(way):
    first = RenderRequestFactory(idempotency_key="same", request_hash="h")
    _, decision, request, asset, rows = _linked_rows(key="same")
    request.requester, request.organization = first.requester, first.organization
    insert = rawsql.insert_linked if way == "one statement" else rawsql._insert_linked_one_by_one
    with transaction.atomic():
        assert insert(*rows) == [True, False, False]
        assert request.pk is None and asset.pk is None and request._state.adding
        # The row before the conflict is written; the transaction goes on (no savepoint).
        assert GateDecision.objects.filter(pk=decision.pk).exists()
        assert RenderRequest.objects.filter(idempotency_key="same").count() == 1
        assert not Asset.objects.filter(render_request__idempotency_key="same").exists()


@pytest.mark.postgres  # SQLite does not check a character column's length at all
def test_insert_linked_refuses_an_over_long_value_instead_of_cutting_it():
    # The linked rows' parameters are cast to their columns' types; a character column's
    # to text, so its length is still checked on assignment, as a plain insert's is.
    *_, rows = _linked_rows()
    rows[1].obj.territory = "X" * 33  # max_length 32
    with pytest.raises(DataError), transaction.atomic():
        rawsql.insert_linked(*rows)


def test_insert_linked_refuses_a_row_pointing_forward():
    *_, rows = _linked_rows()
    with pytest.raises(ValueError, match="before it"):
        rawsql.insert_linked(rows[1], rows[0], rows[2])


@pytest.mark.postgres
def test_statements_share_one_psycopg_cursor_when_nothing_is_logged():
    assert not connection.queries_logged
    assert rawsql.fetch("SELECT %s::int", [1]) == [(1,)]
    kept = connections["default"].__dict__.get("_rawsql_cursor")
    assert kept is not None and kept.connection is connection.connection
    assert rawsql.execute("SELECT 1 WHERE %s::int = 2", [1]) == 0
    assert connections["default"].__dict__["_rawsql_cursor"] is kept


@pytest.mark.postgres
def test_the_shared_cursor_raises_djangos_errors():
    first = RenderRequestFactory(idempotency_key="twice", request_hash="h")
    twin = RenderRequest(
        organization=first.organization, requester=first.requester, idempotency_key="twice"
    )
    with pytest.raises(IntegrityError), transaction.atomic():
        rawsql.fetch(*_insert_statement(twin))
    # Django's class, raised from the shared cursor, not psycopg's.
    assert connections["default"].__dict__.get("_rawsql_cursor") is not None


def _insert_statement(obj) -> tuple[str, list]:
    sql, fields = rawsql._insert_sql(type(obj), connection.vendor, False)
    return sql, [f.get_db_prep_save(f.pre_save(obj, True), connection) for f in fields]


@pytest.mark.postgres
def test_a_broken_transaction_refuses_the_statement_as_djangos_cursor_does():
    with transaction.atomic():
        transaction.set_rollback(True)
        with pytest.raises(TransactionManagementError):
            rawsql.fetch("SELECT 1")


@pytest.mark.postgres
def test_logged_queries_go_through_djangos_cursor(django_assert_num_queries):
    with django_assert_num_queries(2) as captured:
        rawsql.fetch("SELECT %s::int", [5])
        rawsql.execute("SELECT 1")
    assert captured.captured_queries[0]["sql"] == "SELECT 5::int"


@pytest.mark.postgres
def test_the_first_statement_of_a_request_runs_the_health_check():
    connection.health_check_done = False  # as at the start of each request
    assert connection.health_check_enabled
    assert rawsql.fetch("SELECT 1") == [(1,)]
    # Only Django's cursor runs (and marks) the check.
    assert connection.health_check_done


@pytest.mark.postgres
def test_array_reads_back_as_the_list_it_was_made_from():
    texts = ['a "quoted" word', "back\\slash", "{braces}, commas", " spaced ", "", "NULL", "é✓"]
    texts += [None, '\\"', "}", "line\nbreak\ttab"]
    ids = [1, -2, 2**62, None]
    uuids = [uuid.uuid4(), uuid.uuid4()]
    now = timezone.now()
    ((text_out, ids_out, uuids_out, times_out, empty),) = rawsql.fetch(
        "SELECT %s::text[], %s::bigint[], %s::uuid[], %s::timestamptz[], %s::bigint[]",
        [rawsql.array(v) for v in (texts, ids, uuids, [now], [])],
    )
    assert text_out == texts
    assert ids_out == ids
    assert uuids_out == uuids
    assert times_out == [now]
    assert empty == []

"""The category tree and the rule pack are kept per process under the taxonomy stamp, and a
decision sees every change to them at once: an edit, a new rule, a rolled-back edit, a
truncation, a missing stamp. On SQLite and on PostgreSQL."""

import pytest
from django.db import connection, transaction
from django.test.utils import CaptureQueriesContext

from rightsdesk.agreements.models import Category
from rightsdesk.consent import gate_facts
from rightsdesk.consent.gate import evaluate
from rightsdesk.consent.gate_sql import STAMP_TABLE
from rightsdesk.consent.gate_types import ALLOW, DENY
from rightsdesk.consent.models import ObligationRule
from rightsdesk.licensing.models import UsageRow
from tests.consent.gate_world import build_gate_world

pytestmark = pytest.mark.django_db

BRIEF = "A model in a linen suit holding a wristwatch on a pier at dawn"


@pytest.fixture
def gw():
    world = build_gate_world()
    gate_facts.forget_taxonomy()
    return world


def _stamp() -> str | None:
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT stamp FROM {STAMP_TABLE} WHERE id = 1")  # noqa: S608 - a constant
        row = cursor.fetchone()
    return row[0] if row else None


def _codes(decision) -> list[str]:
    return [reason.code for reason in decision.reasons]


def _watches_never() -> None:
    Category.objects.filter(slug="watches").update(global_policy="never")


def test_the_second_decision_reuses_the_taxonomy_read_by_the_first(gw):
    first = evaluate(gw.query(brief=BRIEF))
    kept = gate_facts._taxonomy

    with CaptureQueriesContext(connection) as captured:
        second = evaluate(gw.query(brief=BRIEF))

    assert first.outcome == second.outcome == ALLOW
    assert kept is not None and kept.stamp == _stamp()
    assert gate_facts._taxonomy is kept
    read = " ".join(q["sql"] for q in captured.captured_queries)
    assert Category._meta.db_table not in read.replace("agreements_categorypolicy", "")
    assert ObligationRule._meta.db_table not in read


def test_a_category_made_never_denies_the_next_decision(gw):
    assert evaluate(gw.query(brief=BRIEF)).outcome == ALLOW
    before = _stamp()

    _watches_never()

    assert _stamp() != before
    decision = evaluate(gw.query(brief=BRIEF))
    assert decision.outcome == DENY
    assert "global_category" in _codes(decision)


def test_a_new_rule_reaches_the_next_decision(gw):
    UsageRow.objects.filter(licence=gw.x.licence).update(territory_codes=["US"])
    assert "us_disclosure" not in [o.code for o in evaluate(gw.query(territory="US")).obligations]

    ObligationRule.objects.create(
        code="us_disclosure", applies_to_territories=["US"], params={"text": "Virtual model"}
    )

    obligations = evaluate(gw.query(territory="US")).obligations
    assert "us_disclosure" in [o.code for o in obligations]


def test_a_rolled_back_change_is_not_kept(gw):
    evaluate(gw.query(brief=BRIEF))
    before = _stamp()

    with pytest.raises(RuntimeError), transaction.atomic():
        _watches_never()
        assert evaluate(gw.query(brief=BRIEF)).outcome == DENY  # kept under the new stamp
        raise RuntimeError("roll back")

    assert _stamp() == before
    assert evaluate(gw.query(brief=BRIEF)).outcome == ALLOW


def test_a_deleted_rule_and_a_deleted_category_are_seen(gw):
    ObligationRule.objects.create(code="extra_notice", params={"text": "x"})
    assert "extra_notice" in [o.code for o in evaluate(gw.query()).obligations]

    ObligationRule.objects.filter(code="extra_notice").delete()
    assert "extra_notice" not in [o.code for o in evaluate(gw.query()).obligations]

    before = _stamp()
    Category.objects.create(slug="umbrellas", name="Umbrellas", keywords=["umbrella"])
    Category.objects.filter(slug="umbrellas").delete()
    assert _stamp() != before


def test_without_a_stamp_the_taxonomy_is_read_every_time(gw):
    with connection.cursor() as cursor:
        cursor.execute(f"DELETE FROM {STAMP_TABLE}")  # noqa: S608 - a constant
    evaluate(gw.query(brief=BRIEF))
    assert gate_facts._taxonomy is None

    # With no stamp nothing tells a process of a change, so nothing may be kept.
    with connection.cursor() as cursor:
        cursor.execute(f"DELETE FROM {STAMP_TABLE}")  # noqa: S608 - a constant
    Category.objects.filter(slug="watches").update(global_policy="never")
    with connection.cursor() as cursor:
        cursor.execute(f"DELETE FROM {STAMP_TABLE}")  # noqa: S608 - a constant

    assert evaluate(gw.query(brief=BRIEF)).outcome == DENY
    assert gate_facts._taxonomy is None


@pytest.mark.postgres
def test_truncating_a_watched_table_changes_the_stamp(gw):
    before = _stamp()
    with connection.cursor() as cursor:
        cursor.execute(f"TRUNCATE {ObligationRule._meta.db_table}")

    assert _stamp() not in (None, before)

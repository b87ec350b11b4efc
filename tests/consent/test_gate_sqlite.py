"""SQLite: the gate reads its facts in one statement with SQLite's JSON functions, and they
are the facts the portable statements read (the same world as test_gate_sql's)."""

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from rightsdesk.consent import gate_facts
from rightsdesk.consent.gate import evaluate
from rightsdesk.consent.gate_facts import FactsRequest, Refs
from rightsdesk.consent.gate_types import ALLOW, DENY
from tests.consent.gate_world import build_gate_world, withdraw
from tests.consent.test_gate_sql import facts_equal_to_portable

pytestmark = pytest.mark.django_db


@pytest.fixture
def gw():
    if connection.vendor != "sqlite":
        pytest.skip("SQLite's statement")
    return build_gate_world()


def test_the_one_statement_reads_the_same_facts_as_the_portable_statements(gw):
    one_statement = facts_equal_to_portable(gw, gate_facts._load_sqlite)

    licence = next(f for f in one_statement.licences if f.id == gw.x.licence.pk)
    assert licence.withdrawn_from is not None and licence.withdrawn_from.tzinfo is not None
    assert licence.active_version is not None and licence.usage


def test_nothing_found_is_empty_facts(gw):
    request = FactsRequest(
        talents=Refs.parse([]), licences=Refs.parse([10**9]), likenesses=Refs.parse([]), grams=()
    )

    facts = gate_facts._load_sqlite(request)

    assert facts.talents == {} and facts.licences == [] and facts.names == []


def test_a_decision_reads_its_facts_in_one_statement(gw):
    evaluate(gw.query())  # the taxonomy kept

    with CaptureQueriesContext(connection) as captured:
        decision = evaluate(gw.query())

    assert decision.outcome == ALLOW
    # The stamp, the facts, and the decision's insert (and, in a transaction, the
    # savepoint around the reads).
    statements = [q["sql"] for q in captured.captured_queries if "SAVEPOINT" not in q["sql"]]
    assert len(statements) == 3
    withdraw(talent=gw.x.talent, by=gw.x.talent.user, effective_at=gw.now, licence=gw.x.licence)
    assert evaluate(gw.query()).outcome == DENY

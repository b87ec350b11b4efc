"""PostgreSQL: the gate reads everything in one statement through the consent_gate_facts
function, which must be the one the code expects, and gives the same facts as the
portable statements; a stored decision takes at most five statements."""

import dataclasses

import pytest
from django.db import connection

from rightsdesk.consent import gate_facts, gate_sql
from rightsdesk.consent.gate import evaluate
from rightsdesk.consent.gate_facts import FactsRequest, Refs
from rightsdesk.consent.gate_types import ALLOW
from rightsdesk.consent.screening import Brief
from tests.consent.gate_world import build_gate_world, withdraw

pytestmark = [pytest.mark.django_db, pytest.mark.postgres]


@pytest.fixture
def gw():
    return build_gate_world()


def test_the_database_function_is_the_one_the_code_expects():
    with connection.cursor() as cursor:
        cursor.execute("SELECT prosrc FROM pg_proc WHERE proname = %s", [gate_sql.FUNCTION_NAME])
        (source,) = cursor.fetchone()

    assert source == gate_sql.FUNCTION_BODY, (
        "gate_sql changed: add a consent migration that runs the new FUNCTION_SQL"
    )


def test_a_stored_decision_takes_at_most_five_statements(gw, django_assert_max_num_queries):
    query = gw.query(
        licences=(gw.x.licence.public_id, gw.y.licence.public_id),
        brief="Lena Moss and a friend in a bikini, styled like Summer",
    )

    with django_assert_max_num_queries(5):  # SAVEPOINT, the SELECT, RELEASE, INSERT
        decision = evaluate(query)

    assert decision.decision_id is not None


def _normalised(facts):
    data = dataclasses.asdict(facts)
    for talent in data["talents"].values():
        talent["consents"].sort(key=repr)
        talent["likenesses"].sort(key=lambda v: v["id"])
    data["licences"].sort(key=lambda licence: licence["id"])
    for licence in data["licences"]:
        licence["usage"].sort(key=repr)
    for key in ("categories", "rules", "names"):
        data[key].sort(key=repr)
    return data


def withdrawn_facts_request(gw) -> FactsRequest:
    """X's licence and Y's training consent withdrawn; a question naming three talents by
    every kind of reference, and a brief with three registered names."""
    withdraw(talent=gw.x.talent, by=gw.x.talent.user, effective_at=gw.now, licence=gw.x.licence)
    withdraw(
        talent=gw.y.talent, by=gw.y.talent.user, effective_at=gw.now, creation_consent=gw.y.train
    )
    return FactsRequest(
        talents=Refs.parse([gw.summer.public_id]),
        licences=Refs.parse([gw.x.licence.public_id, gw.y.licence.pk]),
        likenesses=Refs.parse([gw.x.likeness.pk, gw.y.likeness.public_id]),
        grams=tuple(Brief.of("zoé durand and summer by nova").grams),
    )


def facts_equal_to_portable(gw, load):
    """The facts ``load`` reads for ``withdrawn_facts_request``, checked against the
    portable statements' (each one-statement loader's test)."""
    request = withdrawn_facts_request(gw)

    one_statement = load(request)
    portable = gate_facts._load_portable(request)

    assert _normalised(one_statement) == _normalised(portable)
    assert len(one_statement.talents) == 3 and len(one_statement.licences) == 2
    assert {hit.gram for hit in one_statement.names} == {"zoe durand", "summer", "nova"}
    return one_statement


def test_the_one_statement_reads_the_same_facts_as_the_portable_statements(gw):
    facts_equal_to_portable(gw, gate_facts._load_postgresql)


def test_the_gate_allows_the_baseline_through_the_function(gw):
    assert evaluate(gw.query()).outcome == ALLOW

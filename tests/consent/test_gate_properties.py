"""No combination of withdrawn, expired, unaccepted, out-of-term or out-of-scope inputs ever
gets an allow; with none of them, the same world is allowed (so the property is not met by
a gate that refuses everything).

One world per test; each Hypothesis example breaks it inside its own savepoint and rolls
back (Hypothesis examples otherwise share the test's transaction: PITFALLS.md).
"""

import datetime

import pytest
from django.db import transaction
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from rightsdesk.agreements.models import Agreement, AgreementVersion
from rightsdesk.consent.gate import evaluate
from rightsdesk.consent.gate_types import ALLOW, RELEASE, RENDER
from rightsdesk.licensing.models import Licence
from tests.consent.gate_world import build_gate_world, withdraw

pytestmark = pytest.mark.django_db
HOUR = datetime.timedelta(hours=1)
DAY = datetime.timedelta(days=1)

LICENCE_STATUSES = [s for s, _ in Licence.Status.choices]
AGREEMENT_STATUSES = [s for s, _ in Agreement.Status.choices]
VERSION_STATUSES = [s for s, _ in AgreementVersion.Status.choices]

inputs = st.fixed_dictionaries(
    {
        "action": st.sampled_from([RENDER, RELEASE]),
        "licence_status": st.sampled_from(LICENCE_STATUSES),
        "agreement_status": st.sampled_from(AGREEMENT_STATUSES),
        "version_status": st.sampled_from(VERSION_STATUSES),
        "licence_withdrawn": st.booleans(),
        "agreement_withdrawn": st.booleans(),
        "training_withdrawn": st.booleans(),
        "when": st.sampled_from(["in_term", "before_start", "after_end"]),
        "territory": st.sampled_from(["FR", "DE", "US", "JP", "EU"]),
        "medium": st.sampled_from(["paid_social", "print", "tv_ctv"]),
    }
)


def is_bad(case: dict) -> bool:
    return (
        case["licence_status"] != "accepted"
        or case["agreement_status"] != "active"
        or case["version_status"] != "active"
        or case["licence_withdrawn"]
        or case["agreement_withdrawn"]
        or case["training_withdrawn"]
        or case["when"] != "in_term"
        or (case["medium"], case["territory"]) not in {("paid_social", "FR"), ("paid_social", "DE")}
    )


def break_world(gw, case: dict):
    licence = gw.x.licence
    Licence.objects.filter(pk=licence.pk).update(status=case["licence_status"])
    Agreement.objects.filter(pk=gw.x.agreement.pk).update(status=case["agreement_status"])
    AgreementVersion.objects.filter(pk=gw.x.version.pk).update(status=case["version_status"])
    effective = gw.now - 10 * DAY  # before every time asked about
    who = {"talent": gw.x.talent, "by": gw.x.talent.user, "effective_at": effective}
    if case["licence_withdrawn"]:
        withdraw(licence=licence, **who)
    if case["agreement_withdrawn"]:
        withdraw(agreement=gw.x.agreement, **who)
    if case["training_withdrawn"]:
        withdraw(creation_consent=gw.x.train, **who)
    return {
        "in_term": gw.now,
        "before_start": licence.starts_at - HOUR,
        "after_end": licence.ends_at + HOUR,
    }[case["when"]]


@pytest.fixture
def gw():
    return build_gate_world()


@settings(
    max_examples=80,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(case=inputs)
def test_no_withdrawn_expired_unaccepted_out_of_term_or_out_of_scope_input_is_allowed(gw, case):
    with transaction.atomic():
        at = break_world(gw, case)
        decision = evaluate(
            gw.query(
                action=case["action"],
                at=at,
                territory=case["territory"],
                medium=case["medium"],
                dry_run=True,
            )
        )
        transaction.set_rollback(True)

    if is_bad(case):
        assert decision.outcome != ALLOW, case
        assert decision.reasons, case
    else:
        assert decision.outcome == ALLOW, (case, decision.reasons)

"""The gate's behaviours beyond one reason at a time: brands and campaigns, group shots,
approvals, names, obligations, failing closed and dry runs."""

import datetime
import json
import uuid

import pytest
from django.db import connection

from rightsdesk.consent import gate
from rightsdesk.consent.gate import evaluate
from rightsdesk.consent.gate_types import (
    ALLOW,
    CAPTURE,
    DENY,
    NEEDS_APPROVAL,
    RELEASE,
    TRAIN,
    GateQuery,
)
from rightsdesk.consent.models import GateDecision, ObligationRule
from rightsdesk.licensing.models import Licence, UsageRow
from tests.consent.gate_world import GateWorld, build_gate_world, withdraw

pytestmark = pytest.mark.django_db
DAY = datetime.timedelta(days=1)


@pytest.fixture
def gw() -> GateWorld:
    return build_gate_world()


def codes_by_talent(decision) -> set[tuple[str, str | None]]:
    return {(reason.code, reason.talent) for reason in decision.reasons}


# Brands and campaigns.


def test_another_brand_cannot_render_under_a_licence_it_does_not_hold(gw):
    decision = evaluate(gw.query(brand=gw.other_brand.pk))

    assert decision.outcome == DENY
    assert decision.codes() == ["licence_not_found"]
    # The refusal reveals nothing of the holder's deal.
    text = json.dumps(GateDecision.objects.get(pk=decision.decision_id).reasons)
    for secret in (gw.brand.name, gw.x.licence.campaign, str(gw.brand.public_id)):
        assert secret not in text


def test_a_licence_accepted_for_campaign_a_does_not_let_campaign_b_render(gw):
    allowed = evaluate(gw.query(campaign="Linen SS27"))
    refused = evaluate(gw.query(campaign="Wool AW27"))

    assert allowed.outcome == ALLOW
    assert refused.outcome == DENY
    assert refused.codes() == ["licence_wrong_campaign"]


def test_the_brand_may_be_named_by_its_public_id(gw):
    assert evaluate(gw.query(brand=gw.brand.public_id)).outcome == ALLOW
    assert evaluate(gw.query(brand=gw.other_brand.public_id)).outcome == DENY


# Group shots: the AND of every talent.


def test_a_group_shot_is_allowed_only_when_every_talent_is(gw):
    both = (gw.x.licence.public_id, gw.y.licence.public_id)

    assert evaluate(gw.query(licences=both)).outcome == ALLOW

    Licence.objects.filter(pk=gw.y.licence.pk).update(status="proposed")
    decision = evaluate(gw.query(licences=both))

    assert decision.outcome == DENY
    assert codes_by_talent(decision) == {("licence_not_accepted", str(gw.y.talent.public_id))}


def test_a_group_shot_needs_approval_when_one_talent_asks_for_it(gw):
    Licence.objects.filter(pk=gw.y.licence.pk).update(brief_approval_required=True)
    both = (gw.x.licence.public_id, gw.y.licence.public_id)

    pending = evaluate(gw.query(licences=both))
    approved_by_y = evaluate(
        gw.query(licences=both, approvals_given=frozenset({f"brief@{gw.y.talent.public_id}"}))
    )
    approved_by_x_only = evaluate(
        gw.query(licences=both, approvals_given=frozenset({f"brief@{gw.x.talent.public_id}"}))
    )

    assert pending.outcome == NEEDS_APPROVAL
    assert [(r.code, r.approval) for r in pending.reasons] == [("brief_approval_required", "brief")]
    assert approved_by_y.outcome == ALLOW
    assert approved_by_x_only.outcome == NEEDS_APPROVAL


def test_a_talent_named_in_a_group_shot_without_a_licence_is_refused(gw):
    decision = evaluate(gw.query(talents=(gw.x.talent.pk, gw.y.talent.pk)))

    assert codes_by_talent(decision) == {("licence_not_found", str(gw.y.talent.public_id))}


def test_two_licences_for_one_talent_are_refused(gw):
    second = Licence.objects.get(pk=gw.x.licence.pk)
    second.pk, second.public_id = None, uuid.uuid4()
    second.save()  # a copy: another accepted licence for the same talent

    decision = evaluate(
        gw.query(licences=(gw.x.licence.public_id, second.public_id), territory=None, medium=None)
    )

    assert decision.codes() == ["licence_wrong_talent"]


# Approvals lift what asks for them, and only that.


def test_a_category_approval_lifts_only_that_category(gw):
    brief = "A model in a striped bikini on a pier at dawn"

    pending = evaluate(gw.query(brief=brief))
    approved = evaluate(gw.query(brief=brief, approvals_given=frozenset({"category:swimwear"})))
    other = evaluate(gw.query(brief=brief, approvals_given=frozenset({"category:lingerie"})))

    assert pending.reasons[0].approval == "category:swimwear"
    assert (pending.outcome, approved.outcome, other.outcome) == (
        NEEDS_APPROVAL,
        ALLOW,
        NEEDS_APPROVAL,
    )


def test_an_approval_never_lifts_a_deny(gw):
    decision = evaluate(
        gw.query(
            brief="A naked model in lingerie",
            approvals_given=frozenset({"brief", "category:lingerie", "category:adult_content"}),
        )
    )

    assert decision.outcome == DENY
    assert set(decision.codes()) == {"global_category", "category_never"}


def test_a_parent_categorys_policy_reaches_its_children_and_silence_allows(gw):
    # The agreement says "with approval" for swimwear only; apparel (the parent) is allowed,
    # so a child of apparel without its own policy is allowed, and beauty says nothing.
    assert evaluate(gw.query(brief="A model in a trench coat and leggings")).outcome == ALLOW
    assert evaluate(gw.query(brief="A model holding a bottle of perfume")).outcome == ALLOW


# Names.


@pytest.mark.parametrize(
    ("brief", "outcome"),
    [
        ("A model next to ZOÉ durand on a pier", DENY),
        ("A model next to zoe DURAND on a pier", DENY),
        ("A model next to Zoe-Durand on a pier", DENY),
        ("A model next to Durand on a pier", ALLOW),  # a surname alone names nobody
        ("A model next to Helena Mossberg, reading", ALLOW),  # the talent's own legal name
        ("Lena Moss in a linen suit on a pier", ALLOW),  # the talent's own stage name
        ("A model in a linen suit, styled like Summer", NEEDS_APPROVAL),
        ("A model in a linen suit, styled like NOVA", DENY),
        ("A model in a linen suit, styled like Sarah Jones", DENY),
    ],
)
def test_the_brief_screen_finds_other_talents_names_whatever_the_case_and_accents(
    gw, brief, outcome
):
    decision = evaluate(gw.query(brief=brief))

    assert decision.outcome == outcome, decision.reasons
    assert set(decision.codes()) <= {"other_talent_named"}


def test_an_approved_one_word_stage_name_is_allowed_and_the_reason_names_no_talent(gw):
    brief = "A model in a linen suit, styled like Summer"
    pending = evaluate(gw.query(brief=brief))

    approved = evaluate(gw.query(brief=brief, approvals_given=frozenset({"name:summer"})))

    assert pending.reasons[0].talent is None
    assert pending.reasons[0].approval == "name:summer"
    assert approved.outcome == ALLOW


def test_a_talent_in_the_request_may_be_named_in_the_brief(gw):
    decision = evaluate(
        gw.query(
            licences=(gw.x.licence.public_id, gw.y.licence.public_id),
            brief="Lena Moss and Zoé Durand on a pier at dawn",
        )
    )

    assert decision.outcome == ALLOW


def test_marking_a_stage_name_distinctive_turns_approval_into_deny_at_once(gw):
    brief = "A model in a linen suit, styled like Summer"
    assert evaluate(gw.query(brief=brief)).outcome == NEEDS_APPROVAL

    type(gw.summer).objects.filter(pk=gw.summer.pk).update(stage_name_distinctive=True)

    assert evaluate(gw.query(brief=brief)).outcome == DENY


# Obligations.


def test_a_licence_reaching_germany_carries_the_visible_label_whatever_the_rule_pack_says(gw):
    UsageRow.objects.filter(licence=gw.x.licence).update(territory_codes=["DE"])
    # Staff switch the label's row off and the agreement says nothing of labels.
    ObligationRule.objects.create(code="visible_label", active=False, params={})

    decision = evaluate(gw.query(territory="DE"))

    label = next(o for o in decision.obligations if o.code == "visible_label")
    assert label.params["territories"] == ["DE"]
    assert label.params["languages"] == ["de"]
    assert label.params["texts"]["de"]


def test_a_licence_outside_the_eea_carries_no_visible_label(gw):
    UsageRow.objects.filter(licence=gw.x.licence).update(territory_codes=["US"])

    decision = evaluate(gw.query(territory="US", medium=None))

    assert decision.outcome == ALLOW
    assert [o.code for o in decision.obligations] == [
        "c2pa_manifest",
        "iptc_digital_source_type",
        "invisible_watermark",
    ]
    iptc = decision.obligations[1].params
    assert iptc["uri"].endswith("/trainedAlgorithmicMedia")


def test_french_commercial_influence_carries_images_virtuelles(gw):
    Licence.objects.filter(pk=gw.x.licence.pk).update(purpose="Commercial influence")
    influence = evaluate(gw.query())

    UsageRow.objects.filter(licence=gw.x.licence).update(territory_codes=["DE"])
    outside_france = evaluate(gw.query(territory="DE"))

    assert "images_virtuelles" in [o.code for o in influence.obligations]
    assert "images_virtuelles" not in [o.code for o in outside_france.obligations]


def test_staff_can_extend_the_rule_pack(gw):
    ObligationRule.objects.create(
        code="visible_label", applies_to_territories=["US"], params={"texts": {"en": "AI"}}
    )
    ObligationRule.objects.create(
        code="us_disclosure", applies_to_territories=["US"], params={"text": "Virtual model"}
    )
    UsageRow.objects.filter(licence=gw.x.licence).update(territory_codes=["US"])

    decision = evaluate(gw.query(territory="US"))

    by_code = {o.code: o.params for o in decision.obligations}
    assert by_code["visible_label"]["texts"] == {"en": "AI"}
    assert by_code["us_disclosure"] == {"text": "Virtual model", "territories": ["US"]}


# Capture, training and release.


def test_capture_and_training_need_their_own_consents_not_a_licence(gw):
    talents = (gw.x.talent.public_id,)

    assert evaluate(GateQuery(action=CAPTURE, at=gw.now, talents=talents)).outcome == ALLOW
    train = GateQuery(action=TRAIN, at=gw.now, talents=talents, likenesses=(gw.x.likeness.pk,))
    assert evaluate(train).outcome == ALLOW
    assert evaluate(GateQuery(action=CAPTURE, at=gw.now)).codes() == ["talent_not_found"]


def test_a_consent_given_after_the_time_asked_about_does_not_count(gw):
    earlier = gw.now - 60 * DAY

    decision = evaluate(GateQuery(action=CAPTURE, at=earlier, talents=(gw.x.talent.pk,)))

    assert decision.codes() == ["no_capture_consent"]


def test_a_withdrawal_counts_from_its_effective_time_not_before(gw):
    withdraw(
        talent=gw.x.talent,
        by=gw.x.talent.user,
        effective_at=gw.now + 30 * DAY,
        licence=gw.x.licence,
    )

    before = evaluate(gw.query())
    after = evaluate(gw.query(at=gw.now + 31 * DAY))

    assert before.outcome == ALLOW
    assert after.codes() == ["withdrawal_effective"]


def test_release_counts_the_assets_of_the_usage_row_in_scope(gw):
    UsageRow.objects.filter(licence=gw.x.licence, medium="print").update(quantity_used=5)

    print_release = evaluate(gw.query(action=RELEASE, territory="US", medium="print"))
    social_release = evaluate(gw.query(action=RELEASE))

    assert print_release.codes() == ["quantity_exhausted"]
    assert social_release.outcome == ALLOW


def test_a_render_asking_for_more_drafts_than_remain_is_refused(gw):
    Licence.objects.filter(pk=gw.x.licence.pk).update(drafts_used=8)

    assert evaluate(gw.query(drafts=2)).outcome == ALLOW
    assert evaluate(gw.query(drafts=3)).codes() == ["draft_allowance_exhausted"]


def test_minors_are_allowed_when_the_instance_allows_them(gw, settings):
    type(gw.x.talent).objects.filter(pk=gw.x.talent.pk).update(
        date_of_birth=gw.now.date().replace(year=gw.now.year - 15)
    )
    settings.RIGHTSDESK_ALLOW_MINORS = True

    assert evaluate(gw.query()).outcome == ALLOW


# Failing closed, storing, dry runs.


def test_an_error_inside_the_gate_is_a_deny_that_is_still_stored(gw, monkeypatch):
    def explode(request):
        raise RuntimeError("injected")

    monkeypatch.setattr(gate, "load_facts", explode)

    decision = evaluate(gw.query())

    assert (decision.outcome, decision.codes()) == (DENY, ["gate_error"])
    assert decision.obligations == ()
    assert GateDecision.objects.filter(pk=decision.decision_id, outcome=DENY).exists()


def test_a_database_error_inside_the_gate_is_a_stored_deny_and_leaves_the_transaction_usable(
    gw, monkeypatch
):
    def broken_statement(request):
        with connection.cursor() as cursor:
            cursor.execute("SELECT * FROM gate_no_such_table")

    monkeypatch.setattr(gate, "load_facts", broken_statement)

    decision = evaluate(gw.query())

    assert decision.codes() == ["gate_error"]
    assert GateDecision.objects.filter(pk=decision.decision_id).exists()  # the same transaction


def test_a_malformed_reference_is_a_stored_gate_error(gw):
    decision = evaluate(gw.query(licences=("not-a-licence",)))

    assert decision.codes() == ["gate_error"]
    assert decision.decision_id is not None


def test_an_unknown_action_is_a_gate_error(gw):
    assert evaluate(gw.query(action="publish")).codes() == ["gate_error"]


def test_a_dry_run_stores_nothing(gw):
    before = GateDecision.objects.count()

    decision = evaluate(gw.query(dry_run=True))

    assert decision.outcome == ALLOW
    assert decision.decision_id is None
    assert GateDecision.objects.count() == before


def test_the_stored_decision_holds_the_question_and_the_answer(gw):
    decision = evaluate(gw.query(subject_reference="render_request:abc"))

    stored = GateDecision.objects.get(pk=decision.decision_id)
    assert stored.action == "render"
    assert stored.query["licences"] == [str(gw.x.licence.public_id)]
    assert stored.query["brief"] == gw.query().brief
    assert [o["code"] for o in stored.obligations] == [o.code for o in decision.obligations]
    assert stored.subject_reference == "render_request:abc"

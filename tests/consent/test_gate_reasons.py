"""One row per reason code: from a world the gate allows, break exactly one thing and the
gate answers exactly that code with its outcome, and stores the decision."""

import datetime
import uuid
from collections.abc import Callable

import pytest

from rightsdesk.agreements.models import Agreement, AgreementVersion
from rightsdesk.consent import gate
from rightsdesk.consent.gate import evaluate
from rightsdesk.consent.gate_types import (
    ALLOW,
    CAPTURE,
    DENY,
    NEEDS_APPROVAL,
    REASON_CATALOGUE,
    RELEASE,
    TRAIN,
)
from rightsdesk.consent.models import GateDecision
from rightsdesk.licensing.models import Licence, UsageRow
from rightsdesk.talent.models import LikenessVersion, Talent
from tests.consent.gate_world import GateWorld, build_gate_world, withdraw

pytestmark = pytest.mark.django_db
DAY = datetime.timedelta(days=1)


@pytest.fixture
def gw() -> GateWorld:
    return build_gate_world()


def _update(model, pk, **fields) -> dict:
    model.objects.filter(pk=pk).update(**fields)
    return {}


# Each row: (id, break the world and return query overrides, code, outcome).
ROWS: list[tuple[str, Callable[[GateWorld], dict], str, str]] = [
    (
        "identity not verified",
        lambda w: _update(
            Talent, w.x.talent.pk, identity_verified_at=None, identity_verified_by=None
        ),
        "identity_not_verified",
        DENY,
    ),
    (
        "minor",
        lambda w: _update(
            Talent, w.x.talent.pk, date_of_birth=w.now.date().replace(year=w.now.year - 15)
        ),
        "minor_not_allowed",
        DENY,
    ),
    (
        "no capture consent (capture)",
        # Consents are append-only (a trigger refuses DELETE): Summer never gave one.
        lambda w: {"action": CAPTURE, "talents": (w.summer.public_id,), "licences": ()},
        "no_capture_consent",
        DENY,
    ),
    (
        "talent not found (capture)",
        lambda w: {"action": CAPTURE, "talents": (w.x.talent.pk, uuid.uuid4()), "licences": ()},
        "talent_not_found",
        DENY,
    ),
    (
        "likeness trained on a base model the consent does not cover",
        lambda w: _update(LikenessVersion, w.x.likeness.pk, base_model="sdxl-base"),
        "no_train_consent",
        DENY,
    ),
    (
        "train consent for another base model (train)",
        lambda w: {
            "action": TRAIN,
            "talents": (w.x.talent.pk,),
            "licences": (),
            "base_model": "sdxl-base",
        },
        "no_train_consent",
        DENY,
    ),
    (
        "likeness not signed off",
        lambda w: _update(LikenessVersion, w.x.likeness.pk, status="revoked"),
        "likeness_not_signed_off",
        DENY,
    ),
    (
        "likeness not found",
        lambda w: {"likenesses": (w.x.likeness.public_id, uuid.uuid4())},
        "likeness_not_found",
        DENY,
    ),
    (
        "licence not accepted",
        lambda w: _update(Licence, w.x.licence.pk, status="proposed"),
        "licence_not_accepted",
        DENY,
    ),
    (
        "licence not found",
        lambda w: {"licences": (w.x.licence.public_id, uuid.uuid4())},
        "licence_not_found",
        DENY,
    ),
    (
        "licence of another talent",
        lambda w: {
            "talents": (w.x.talent.public_id,),
            "licences": (w.x.licence.public_id, w.y.licence.public_id),
        },
        "licence_wrong_talent",
        DENY,
    ),
    (
        "licence of another campaign",
        lambda w: {"campaign": "Wool AW27"},
        "licence_wrong_campaign",
        DENY,
    ),
    (
        "licence term over",
        lambda w: _update(Licence, w.x.licence.pk, starts_at=w.now - 30 * DAY, ends_at=w.now - DAY),
        "licence_outside_term",
        DENY,
    ),
    (
        "licence expired",
        lambda w: _update(Licence, w.x.licence.pk, status="expired"),
        "licence_outside_term",
        DENY,
    ),
    (
        "usage period from first publication over (release)",
        lambda w: (
            _update(Licence, w.x.licence.pk, first_published_at=w.now - 400 * DAY)
            or {"action": RELEASE}
        ),
        "licence_outside_term",
        DENY,
    ),
    (
        "territory not licensed",
        lambda w: {"territory": "JP"},
        "territory_not_licensed",
        DENY,
    ),
    (
        "territory licensed for another medium only",
        lambda w: {"territory": "US"},
        "territory_not_licensed",
        DENY,
    ),
    (
        "medium not licensed",
        lambda w: {"medium": "tv_ctv"},
        "medium_not_licensed",
        DENY,
    ),
    (
        "draft allowance used up",
        lambda w: _update(Licence, w.x.licence.pk, drafts_used=10),
        "draft_allowance_exhausted",
        DENY,
    ),
    (
        "asset quantity used up (release)",
        lambda w: (
            UsageRow.objects.filter(licence=w.x.licence).update(quantity_used=20, quantity=20)
            and {"action": RELEASE}
        ),
        "quantity_exhausted",
        DENY,
    ),
    (
        "licence withdrawn (row)",
        lambda w: (
            withdraw(
                talent=w.x.talent, by=w.x.talent.user, effective_at=w.now - DAY, licence=w.x.licence
            )
            and {}
        ),
        "withdrawal_effective",
        DENY,
    ),
    (
        "licence withdrawn (status)",
        lambda w: _update(Licence, w.x.licence.pk, status="withdrawn"),
        "withdrawal_effective",
        DENY,
    ),
    (
        "agreement withdrawn",
        lambda w: (
            withdraw(
                talent=w.x.talent,
                by=w.x.talent.user,
                effective_at=w.now - DAY,
                agreement=w.x.agreement,
            )
            and {}
        ),
        "withdrawal_effective",
        DENY,
    ),
    (
        "training consent withdrawn",
        lambda w: (
            withdraw(
                talent=w.x.talent,
                by=w.x.talent.user,
                effective_at=w.now - DAY,
                creation_consent=w.x.train,
            )
            and {}
        ),
        "withdrawal_effective",
        DENY,
    ),
    (
        "agreement terminated",
        lambda w: _update(Agreement, w.x.agreement.pk, status="terminated"),
        "agreement_inactive",
        DENY,
    ),
    (
        "agreement version expired",
        lambda w: _update(AgreementVersion, w.x.version.pk, status="expired"),
        "agreement_inactive",
        DENY,
    ),
    (
        "agreement version past its end",
        lambda w: _update(
            AgreementVersion,
            w.x.version.pk,
            effective_from=w.now - 90 * DAY,
            effective_to=w.now - DAY,
        ),
        "agreement_inactive",
        DENY,
    ),
    (
        "brief in a never category",
        lambda w: {"brief": "A model in silk lingerie on a pier at dawn"},
        "category_never",
        DENY,
    ),
    (
        "brief in a with-approval category",
        lambda w: {"brief": "A model in a striped bikini on a pier at dawn"},
        "category_needs_approval",
        NEEDS_APPROVAL,
    ),
    (
        "brief asks for nudity",
        lambda w: {"brief": "A naked model on a pier at dawn"},
        "global_category",
        DENY,
    ),
    (
        "brief asks for a child",
        lambda w: {"brief": "A model holding hands with a child on a pier"},
        "global_category",
        DENY,
    ),
    (
        "negative prompt asks to leave clothes out",
        lambda w: {"negative_prompt": "clothes, blur"},
        "global_category",
        DENY,
    ),
    (
        "brief breaks an appearance limit",
        lambda w: {"brief": "A model in a linen suit, make her look slimmer"},
        "appearance_limit",
        DENY,
    ),
    (
        "brief names another talent in full",
        lambda w: {"brief": "A model in a linen suit next to ZOÉ durand"},
        "other_talent_named",
        DENY,
    ),
    (
        "brief names a distinctive one-word stage name",
        lambda w: {"brief": "A model in a linen suit, styled like Nova"},
        "other_talent_named",
        DENY,
    ),
    (
        "brief names a one-word stage name",
        lambda w: {"brief": "A model in a linen suit, styled like Summer"},
        "other_talent_named",
        NEEDS_APPROVAL,
    ),
    (
        "brief approval required",
        lambda w: _update(Licence, w.x.licence.pk, brief_approval_required=True),
        "brief_approval_required",
        NEEDS_APPROVAL,
    ),
]


def test_the_baseline_world_is_allowed_with_its_obligations(gw):
    decision = evaluate(gw.query())

    assert decision.outcome == ALLOW, decision.reasons
    assert decision.reasons == ()
    assert {o.code for o in decision.obligations} == {
        "c2pa_manifest",
        "iptc_digital_source_type",
        "invisible_watermark",
        "visible_label",
    }
    assert GateDecision.objects.get(pk=decision.decision_id).outcome == ALLOW


@pytest.mark.parametrize(("name", "breaks", "code", "outcome"), ROWS, ids=[r[0] for r in ROWS])
def test_breaking_one_thing_gives_exactly_its_reason(gw, name, breaks, code, outcome):
    overrides = breaks(gw) or {}

    decision = evaluate(gw.query(**overrides))

    assert decision.codes() == [code], decision.reasons
    assert decision.outcome == outcome
    reason = decision.reasons[0]
    assert reason.message and reason.fix
    stored = GateDecision.objects.get(pk=decision.decision_id)
    assert stored.outcome == outcome
    assert [r["code"] for r in stored.reasons] == [code]
    if outcome == DENY:
        assert decision.obligations == ()


def test_an_error_inside_the_gate_is_a_stored_deny(gw, monkeypatch):
    def broken(request):
        raise RuntimeError("injected")

    monkeypatch.setattr(gate, "load_facts", broken)

    decision = evaluate(gw.query(subject_reference="render_request:test"))

    assert decision.outcome == DENY
    assert decision.codes() == ["gate_error"]
    stored = GateDecision.objects.get(pk=decision.decision_id)
    assert (stored.outcome, stored.subject_reference) == (DENY, "render_request:test")


def test_every_catalogued_code_is_exercised_by_the_table():
    exercised = {row[2] for row in ROWS} | {"gate_error"}

    assert exercised == set(REASON_CATALOGUE)

"""After the render: selection, the talent's output approval, release with its fee,
publication, expiry, withdrawal, brief approval and the talent's twin in market. Drafts are
rendered in this process on the worker's pipeline (64 px, one step)."""

from datetime import timedelta

import pytest
from django.core import mail
from django.utils import timezone

from rightsdesk.accounts.models import Organization
from rightsdesk.agreements.models import Agreement
from rightsdesk.audit.models import AuditEvent
from rightsdesk.consent.services import withdrawal_apply
from rightsdesk.core.errors import GateDenied, InvalidTransition, PermissionDenied
from rightsdesk.core.models import Notification
from rightsdesk.ledger.models import Entry, Reservation
from rightsdesk.ledger.types import TALENT_NET
from rightsdesk.licensing.models import Licence, UsageRow
from rightsdesk.provenance.models import ProvenanceRecord
from rightsdesk.renders.fees import reservation_key
from rightsdesk.renders.market import twin_in_market
from rightsdesk.renders.models import Asset, RenderRequest
from rightsdesk.renders.outputs import (
    asset_release,
    asset_report_publication,
    assets_approve,
    assets_deem_approved,
    assets_expire,
    assets_reject,
    assets_select,
)
from rightsdesk.renders.services import render_request_approve_brief, render_request_reject_brief
from rightsdesk.renders.worker_render import render_request_run
from tests.consent.gate_world import withdraw
from tests.factories import OrganizationFactory, RepresentationFactory, UserFactory
from tests.renders.likeness_world import build_likeness_world

pytestmark = pytest.mark.django_db
FEE = 25_000  # the gate world's usage fee


@pytest.fixture(autouse=True)
def _one_torch_thread(one_torch_thread):
    return None


@pytest.fixture
def world(django_capture_on_commit_callbacks):
    return build_likeness_world()


def rendered(world, drafts: int = 2, **spec) -> list[Asset]:
    render_request = world.submit(num_drafts=drafts, steps=1, **spec)
    assert render_request.status == "queued", render_request.denial_reasons
    assert render_request_run(render_request_id=render_request.pk) == "rendered"
    return list(Asset.objects.filter(render_request=render_request).order_by("index"))


def reservation(asset: Asset) -> Reservation:
    return Reservation.objects.get(idempotency_key=reservation_key(asset.reference))


def statuses(assets) -> list[str]:
    return [Asset.objects.get(pk=asset.pk).status for asset in assets]


def test_an_approved_request_reserves_each_drafts_fee_under_its_asset_id(world):
    assets = rendered(world)

    for asset in assets:
        held = reservation(asset)
        assert (held.status, held.fee_minor, held.reference) == ("pending", FEE, asset.reference)
        assert held.expires_at == asset.expires_at == asset.render_request.drafts_expire_at


def test_selecting_asks_the_talent_side_to_approve_within_the_window(
    world, django_capture_on_commit_callbacks
):
    assets = rendered(world)

    with django_capture_on_commit_callbacks(execute=True):
        selected = assets_select(assets=assets[:1], actor=world.manager)

    assert statuses(assets) == ["awaiting_output_approval", "draft"]
    window = selected[0].approval_due_at - timezone.now()
    assert timedelta(hours=71) < window <= timedelta(hours=72)
    talent_user = world.gate.x.talent.user
    assert Notification.objects.filter(user=talent_user, kind="output_approval_requested").exists()
    assert any(talent_user.email in message.to for message in mail.outbox)


def test_only_a_manager_of_the_brand_selects(world):
    assets = rendered(world)
    other_manager = UserFactory(role="campaign_manager", organization=world.gate.other_brand)

    for actor in (world.gate.legal, other_manager, world.gate.x.talent.user):
        with pytest.raises(PermissionDenied):
            assets_select(assets=assets, actor=actor)

    assert statuses(assets) == ["draft", "draft"]


def test_the_talent_approves_a_batch_and_the_card_says_she_approved_this_image(world):
    assets = rendered(world)
    assets_select(assets=assets, actor=world.manager)

    assets_approve(assets=assets, actor=world.gate.x.talent.user, note="Lovely")

    assert statuses(assets) == ["approved", "approved"]
    for asset in assets:
        assert ProvenanceRecord.objects.get(asset_reference=asset.reference).approved_exact_image
    assert Notification.objects.filter(user=world.manager, kind="output_approved").exists()


def test_someone_without_the_power_cannot_decide_and_nothing_changes(world):
    assets = rendered(world)
    assets_select(assets=assets, actor=world.manager)
    events = AuditEvent.objects.count()

    stranger = UserFactory(role="agent", organization=OrganizationFactory(kind="agency"))
    for actor in (world.manager, world.gate.legal, stranger):
        with pytest.raises(PermissionDenied):
            assets_approve(assets=assets, actor=actor)

    assert statuses(assets) == ["awaiting_output_approval"] * 2
    assert AuditEvent.objects.count() == events


def test_rejecting_needs_a_reason_and_releases_the_fees(world):
    assets = rendered(world)
    assets_select(assets=assets, actor=world.manager)

    assets_reject(assets=assets[:1], actor=world.gate.x.talent.user, reason="Not my jawline")

    assert statuses(assets) == ["rejected", "awaiting_output_approval"]
    assert reservation(assets[0]).status == "voided"
    assert reservation(assets[1]).status == "pending"


def test_silence_past_the_window_counts_as_approval_and_says_so(world):
    assets = rendered(world, drafts=1)
    assets_select(assets=assets, actor=world.manager)
    due = Asset.objects.get(pk=assets[0].pk).approval_due_at

    assert assets_deem_approved(now=due - timedelta(seconds=1)) == 0
    assert assets_deem_approved(now=due) == 1

    assert statuses(assets) == ["deemed_approved"]
    event = AuditEvent.objects.filter(action="asset.deemed_approved").get()
    assert '"approval_window_elapsed"' in event.payload_json


def represent(world, *, commission_bps: int, approve_outputs: bool = True) -> Organization:
    """Give talent X an agency (on the agreement too) that takes ``commission_bps``."""
    agency = OrganizationFactory(kind="agency", name="Agence Lin")
    x = world.gate.x
    RepresentationFactory(
        talent=x.talent,
        agency=agency,
        commission_bps=commission_bps,
        can_approve_outputs=approve_outputs,
        valid_from=timezone.now() - timedelta(days=1),
    )
    Agreement.objects.filter(pk=x.licence.agreement_id).update(agency=agency)
    return agency


def test_release_counts_the_use_posts_the_fee_once_and_opens_the_download(world, as_user):
    represent(world, commission_bps=2000)
    [asset] = rendered(world, drafts=1)
    assets_select(assets=[asset], actor=world.manager)
    assets_approve(assets=[asset], actor=world.gate.x.talent.user)
    client = as_user(world.manager)
    assert client.get(f"/api/v1/assets/{asset.public_id}/download/").status_code == 404

    released = asset_release(asset=asset, actor=world.manager)

    assert released.status == "released" and released.released_at is not None
    row = UsageRow.objects.get(licence=world.gate.x.licence, medium="paid_social")
    assert row.quantity_used == 1
    [entry] = Entry.objects.filter(reference=asset.reference)
    assert entry.kind == "usage"
    assert reservation(asset).status == "posted"
    # The agency's 20 % commission comes out of the talent's fee, never on top of it.
    assert abs(entry.lines.get(role=TALENT_NET).amount_minor) == FEE * 8 // 10
    response = client.get(f"/api/v1/assets/{asset.public_id}/download/")
    assert response.status_code == 200
    assert b"".join(response.streaming_content).startswith(b"\x89PNG")
    with pytest.raises(InvalidTransition):
        asset_release(asset=Asset.objects.get(pk=asset.pk), actor=world.manager)
    assert Entry.objects.filter(reference=asset.reference).count() == 1


def test_an_unapproved_draft_cannot_be_released(world):
    [asset] = rendered(world, drafts=1)

    with pytest.raises(InvalidTransition):
        asset_release(asset=asset, actor=world.manager)

    assert statuses([asset]) == ["draft"]
    assert not Entry.objects.filter(reference=asset.reference).exists()


def test_release_after_a_withdrawal_took_effect_is_denied_and_posts_nothing(world):
    [asset] = rendered(world, drafts=1)
    assets_select(assets=[asset], actor=world.manager)
    assets_approve(assets=[asset], actor=world.gate.x.talent.user)
    x = world.gate.x
    withdraw(
        licence=x.licence,
        talent=x.talent,
        by=x.talent.user,
        effective_at=timezone.now() - timedelta(seconds=1),
    )

    with pytest.raises(GateDenied) as denied:
        asset_release(asset=asset, actor=world.manager)

    assert "withdrawal_effective" in denied.value.extra["reasons"]
    assert statuses([asset]) == ["approved"]
    assert not Entry.objects.filter(reference=asset.reference).exists()


def test_a_withdrawal_taking_effect_withdraws_every_unreleased_image_and_keeps_released_ones(
    world,
):
    released, approved, draft = rendered(world, drafts=3)
    assets_select(assets=[released, approved], actor=world.manager)
    assets_approve(assets=[released, approved], actor=world.gate.x.talent.user)
    asset_release(asset=released, actor=world.manager)
    queued = world.submit(num_drafts=1, steps=1)
    x = world.gate.x
    withdrawal = withdraw(
        licence=x.licence,
        talent=x.talent,
        by=x.talent.user,
        effective_at=timezone.now() - timedelta(seconds=1),
    )

    assert withdrawal_apply(withdrawal=withdrawal)

    assert statuses([released, approved, draft]) == ["released", "withdrawn", "withdrawn"]
    assert reservation(approved).status == reservation(draft).status == "voided"
    queued.refresh_from_db()
    assert (queued.status, queued.cancel_reason) == ("cancelled", "withdrawal")
    [row] = twin_in_market(talent=x.talent)
    assert row["asset"] == released.public_id and row["permission"] == "ending"


def test_drafts_past_their_deadline_expire_and_release_their_fees(world):
    assets = rendered(world)
    deadline = assets[0].expires_at

    assert assets_expire(now=deadline - timedelta(seconds=1)) == 0
    assert assets_expire(now=deadline) == 2

    assert statuses(assets) == ["expired", "expired"]
    assert {reservation(asset).status for asset in assets} <= {"voided", "expired"}


def test_first_publication_starts_the_licence_durations(world):
    [asset] = rendered(world, drafts=1)
    assets_select(assets=[asset], actor=world.manager)
    assets_approve(assets=[asset], actor=world.gate.x.talent.user)
    asset = asset_release(asset=asset, actor=world.manager)
    published = timezone.now()

    asset_report_publication(asset=asset, actor=world.manager, published_at=published)

    assert Asset.objects.get(pk=asset.pk).first_published_at == published
    assert Licence.objects.get(pk=world.gate.x.licence.pk).first_published_at == published


def test_a_brief_held_for_approval_is_queued_once_the_talent_approves_it(world):
    Licence.objects.filter(pk=world.gate.x.licence.pk).update(brief_approval_required=True)
    render_request = world.submit(num_drafts=2, steps=1)
    assert render_request.status == "awaiting_brief_approval"
    assert not Reservation.objects.exists()

    with pytest.raises(PermissionDenied):
        render_request_approve_brief(render_request=render_request, actor=world.manager)
    approved = render_request_approve_brief(
        render_request=render_request, actor=world.gate.x.talent.user
    )

    assert approved.status == "queued"
    approved.refresh_from_db()
    assert len(approved.draft_ids) == 2
    assert Reservation.objects.filter(status="pending").count() == 2
    assert Licence.objects.get(pk=world.gate.x.licence.pk).drafts_used == 2


def test_a_rejected_brief_ends_with_the_reason_and_takes_nothing(world):
    Licence.objects.filter(pk=world.gate.x.licence.pk).update(brief_approval_required=True)
    render_request = world.submit(num_drafts=2, steps=1)

    rejected = render_request_reject_brief(
        render_request=render_request, actor=world.gate.x.talent.user, reason="Not this season"
    )

    assert rejected.status == "rejected"
    assert Licence.objects.get(pk=world.gate.x.licence.pk).drafts_used == 0
    assert Notification.objects.filter(user=world.manager, kind="brief_rejected").exists()


@pytest.mark.parametrize("drafts", [1, 2])  # one: given back by hand; two: a savepoint
def test_a_request_the_budget_cannot_cover_is_denied_and_takes_nothing(world, drafts):
    Licence.objects.filter(pk=world.gate.x.licence.pk).update(usage_fee_minor=10**12)

    render_request = world.submit(num_drafts=drafts, steps=1)

    assert (render_request.status, render_request.denial_reasons) == (
        "denied",
        ["budget_insufficient"],
    )
    assert Licence.objects.get(pk=world.gate.x.licence.pk).drafts_used == 0
    assert not Reservation.objects.exists()
    # The row was first written queued; what is stored now is the denial, nothing held
    stored = RenderRequest.objects.get(pk=render_request.pk)
    assert (stored.status, stored.draft_ids, stored.drafts_expire_at) == ("denied", [], None)
    assert stored.finished_at is not None and not stored.spec_sha256
    assert [link.drafts_taken for link in stored.licence_links.all()] == [0]
    event = AuditEvent.objects.get(
        action="render_request.submitted", target_id=str(stored.public_id)
    )
    assert '"path":["submitted","denied"]' in event.payload_json
    assert not AuditEvent.objects.filter(action="ledger.reserved").exists()


def test_the_twin_in_market_shows_what_each_released_image_earned(world, as_user):
    represent(world, commission_bps=1500)
    [asset] = rendered(world, drafts=1)
    assets_select(assets=[asset], actor=world.manager)
    assets_approve(assets=[asset], actor=world.gate.x.talent.user)
    asset_release(asset=asset, actor=world.manager)
    talent = world.gate.x.talent

    response = as_user(talent.user).get(f"/api/v1/talents/{talent.public_id}/market/")

    assert response.status_code == 200
    [row] = response.json()
    assert row["asset"] == str(asset.public_id)
    assert row["brand"] == world.gate.brand.name
    assert row["permission"] == "current" and row["approved_exact_image"] is True
    assert row["earned_gross_minor"] == FEE
    assert row["earned_net_minor"] == FEE - FEE * 15 // 100
    assert (
        as_user(world.manager).get(f"/api/v1/talents/{talent.public_id}/market/").status_code == 404
    )


def test_an_agent_without_the_earnings_power_sees_the_market_but_not_its_earnings(world, as_user):
    # Given a released image and two agents of the talent's agency, one of whom may read
    # the talent's earnings
    agency = represent(world, commission_bps=1500)
    [asset] = rendered(world, drafts=1)
    assets_select(assets=[asset], actor=world.manager)
    assets_approve(assets=[asset], actor=world.gate.x.talent.user)
    asset_release(asset=asset, actor=world.manager)
    talent = world.gate.x.talent
    RepresentationFactory(talent=talent, agency=agency, can_view_earnings=True)
    reader = UserFactory(role="agent", organization=agency)
    other = OrganizationFactory(kind="agency", name="Second agency")
    RepresentationFactory(talent=talent, agency=other, can_view_earnings=False)
    blind = UserFactory(role="agent", organization=other)

    # When each reads the twin in market
    url = f"/api/v1/talents/{talent.public_id}/market/"
    [seen] = as_user(reader).get(url).json()
    [hidden] = as_user(blind).get(url).json()

    # Then both see the image, and only the one with the power what it earned
    assert seen["asset"] == hidden["asset"] == str(asset.public_id)
    assert seen["earned_gross_minor"] == FEE
    assert hidden["earned_gross_minor"] is None and hidden["earned_net_minor"] is None


def test_the_workflow_through_the_api_with_batches_and_foreign_ids(world, as_user):
    assets = rendered(world)
    ids = [str(asset.public_id) for asset in assets]
    manager = as_user(world.manager)

    selected = manager.post("/api/v1/assets/select/", {"assets": ids}, format="json")
    foreign = as_user(UserFactory(role="campaign_manager", organization=world.gate.other_brand))
    hidden = foreign.post("/api/v1/assets/select/", {"assets": ids}, format="json")
    talent = as_user(world.gate.x.talent.user)
    no_reason = talent.post("/api/v1/assets/reject/", {"assets": ids[:1]}, format="json")
    decided = talent.post("/api/v1/assets/approve/", {"assets": ids}, format="json")

    assert selected.status_code == 200
    assert [a["status"] for a in selected.json()] == ["awaiting_output_approval"] * 2
    assert hidden.status_code == 404 and hidden.json()["code"] == "not_found"
    assert no_reason.status_code == 400 and no_reason.json()["code"] == "validation_error"
    assert decided.status_code == 200
    manager = as_user(world.manager)
    release = manager.post(f"/api/v1/assets/{ids[0]}/release/")
    again = manager.post(f"/api/v1/assets/{ids[0]}/release/")
    preview = manager.get(f"/api/v1/assets/{ids[1]}/preview/")
    assert release.status_code == 200 and release.json()["status"] == "released"
    assert again.status_code == 409 and again.json()["code"] == "invalid_transition"
    assert preview.status_code == 200 and preview.content.startswith(b"\x89PNG")
    assert RenderRequest.objects.get(pk=assets[0].render_request_id).status == "rendered"


def test_a_pending_brief_asks_the_talent_side_and_the_requester_hears_of_the_render(world):
    Licence.objects.filter(pk=world.gate.x.licence.pk).update(brief_approval_required=True)
    held = world.submit(num_drafts=1, steps=1)
    talent_user = world.gate.x.talent.user

    assert Notification.objects.filter(user=talent_user, kind="brief_approval_requested").exists()
    render_request_approve_brief(render_request=held, actor=talent_user)
    assert render_request_run(render_request_id=held.pk) == "rendered"

    kinds = set(Notification.objects.filter(user=world.manager).values_list("kind", flat=True))
    assert {"brief_approved", "render_request_rendered"} <= kinds

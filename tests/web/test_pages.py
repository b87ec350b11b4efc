"""The server-rendered pages through Django's test client: each calls the same services
and selectors as the API, a refusal is a message with nothing changed, a foreign object is
the 404 page. No rendering here (the gate world has no trained adapter); the browser tests
in test_browser.py go through drafts."""

import pytest
from django.test import Client
from django.utils import timezone

from rightsdesk.consent.models import Withdrawal
from rightsdesk.licensing.memo import deal_memo_render
from rightsdesk.licensing.models import Licence, LicenceOffer
from rightsdesk.renders.models import RenderRequest
from tests.consent.gate_world import DAY, build_gate_world
from tests.factories import PASSWORD, UserFactory

pytestmark = pytest.mark.django_db
BRIEF = "A model in a linen suit on a pier at dawn"


@pytest.fixture
def world(django_capture_on_commit_callbacks):
    return build_gate_world()


def client_for(user) -> Client:
    client = Client()
    assert client.login(username=user.email, password=PASSWORD)
    return client


def proposed_licence(world, **fields) -> Licence:
    """A second offer to talent X under X's agreement, waiting for the talent's answer."""
    accepted = world.x.licence
    licence = Licence.objects.create(
        agreement=accepted.agreement,
        agreement_version=accepted.agreement_version,
        talent=accepted.talent,
        brand=accepted.brand,
        campaign="Linen AW27",
        status=Licence.Status.PROPOSED,
        use_description="Autumn linen product images",
        purpose="advertising",
        advertiser=accepted.advertiser,
        category=accepted.category,
        usage_fee_minor=30_000,
        currency="EUR",
        draft_allowance=5,
        starts_at=world.now,
        ends_at=world.now + 90 * DAY,
        offer_expires_at=world.now + 14 * DAY,
        proposed_by=world.legal,
        **fields,
    )
    for row in accepted.usage_rows.all():
        row.pk = None
        row.licence = licence
        row.save()
    return licence


def request_form(world, **overrides) -> dict:
    return {
        "licence": str(world.x.licence.public_id),
        "brief": BRIEF,
        "territory": "FR",
        "medium": "paid_social",
        "width": 64,
        "height": 64,
        "steps": 2,
        "num_drafts": 2,
        "idempotency_key": "page-test-1",
        **overrides,
    }


def messages_of(response) -> list[str]:
    return [str(message) for message in response.context["messages"]]


def test_pages_ask_for_a_login_first(world):
    for path in ("/inbox/", "/licences/", "/market/", "/requests/new/"):
        response = Client().get(path)
        assert response.status_code == 302 and response["Location"].startswith("/login/")


def test_each_role_sees_its_own_navigation(world):
    talent_page = client_for(world.x.talent.user).get("/").content.decode()
    manager_page = client_for(world.manager).get("/").content.decode()

    assert "/inbox/" in talent_page and "/requests/new/" not in talent_page
    assert "/requests/new/" in manager_page and "/inbox/" not in manager_page
    assert "vendor/htmx-2.0.3.min.js" in manager_page and "web.css" in manager_page


def test_the_talent_reads_the_deal_memo_in_plain_words_and_accepts_it(world):
    licence = proposed_licence(world)
    client = client_for(world.x.talent.user)

    page = client.get(f"/licences/{licence.public_id}/")
    memo = deal_memo_render(licence=licence)
    assert memo.sha256 in page.content.decode()
    assert "Linen AW27" in page.content.decode()

    response = client.post(
        f"/licences/{licence.public_id}/accept/",
        {"deal_memo_sha256": memo.sha256, "language": memo.language},
        follow=True,
    )

    licence.refresh_from_db()
    assert licence.status == Licence.Status.ACCEPTED
    assert licence.deal_memo_sha256 == memo.sha256
    offer = LicenceOffer.objects.get(licence=licence, kind=LicenceOffer.Kind.ACCEPTED)
    assert offer.authentication_method == "session" and offer.deal_memo_text == memo.text
    assert any("Licence accepted" in text for text in messages_of(response))


def test_a_stale_memo_hash_is_refused_and_the_offer_stays_open(world):
    licence = proposed_licence(world)

    response = client_for(world.x.talent.user).post(
        f"/licences/{licence.public_id}/accept/",
        {"deal_memo_sha256": "0" * 64, "language": "en"},
        follow=True,
    )

    licence.refresh_from_db()
    assert licence.status == Licence.Status.PROPOSED
    assert not LicenceOffer.objects.filter(licence=licence, kind="accepted").exists()
    assert messages_of(response)  # the service's refusal, shown on the page


def test_another_talents_licence_is_the_404_page(world):
    licence = proposed_licence(world)

    response = client_for(world.y.talent.user).get(f"/licences/{licence.public_id}/")

    assert response.status_code == 404
    assert b"not found" in response.content.lower() or b"404" in response.content


def test_the_talent_declines_with_a_note(world):
    licence = proposed_licence(world)

    client_for(world.x.talent.user).post(
        f"/licences/{licence.public_id}/decline/", {"reason": "Not this season"}
    )

    licence.refresh_from_db()
    assert licence.status == Licence.Status.DECLINED


def test_the_dry_run_shows_the_decision_the_fee_and_the_drafts_left(world):
    client = client_for(world.manager)

    fragment = client.post("/requests/check/", request_form(world), HTTP_HX_REQUEST="true")
    full = client.post("/requests/check/", request_form(world))

    body = fragment.content.decode()
    assert fragment.status_code == 200 and "<html" not in body
    assert "outcome-allow" in body and "250.00" in body
    assert 'id="dry-run-remaining">10<' in body
    assert "<html" in full.content.decode() and "outcome-allow" in full.content.decode()
    assert RenderRequest.objects.count() == 0  # a dry run stores nothing


def test_the_dry_run_is_for_a_brands_campaign_manager_only(world):
    response = client_for(world.x.talent.user).post("/requests/check/", request_form(world))
    assert response.status_code == 404

    stranger = UserFactory(role="campaign_manager", organization=world.other_brand)
    response = client_for(stranger).post(
        "/requests/check/", request_form(world), HTTP_HX_REQUEST="true"
    )
    assert response.status_code == 404  # another brand's licence is not found


def test_the_manager_submits_a_request_and_a_resubmission_replays_it(world):
    client = client_for(world.manager)

    first = client.post("/requests/new/", request_form(world))
    again = client.post("/requests/new/", request_form(world))

    render_request = RenderRequest.objects.get()
    assert render_request.status == "queued"
    assert first["Location"] == again["Location"] == f"/requests/{render_request.public_id}/"
    detail = client.get(first["Location"]).content.decode()
    assert "Queued" in detail and 'hx-trigger="every 2s"' in detail  # progress refreshes
    world.x.licence.refresh_from_db()
    assert world.x.licence.drafts_used == 2


def test_a_brief_held_for_approval_is_in_the_inbox_and_the_talent_approves_it(world):
    client_for(world.manager).post(
        "/requests/new/", request_form(world, brief="Swimwear on a linen beach towel")
    )
    render_request = RenderRequest.objects.get()
    assert render_request.status == "awaiting_brief_approval"
    talent = client_for(world.x.talent.user)

    inbox = talent.get("/inbox/").content.decode()
    assert "Swimwear on a linen beach towel" in inbox and "outcome-needs_approval" in inbox

    talent.post(f"/inbox/briefs/{render_request.public_id}/", {"decision": "approve"})
    render_request.refresh_from_db()
    assert render_request.status == "queued"


def test_rejecting_a_brief_needs_a_reason(world):
    client_for(world.manager).post(
        "/requests/new/", request_form(world, brief="Swimwear on a linen beach towel")
    )
    render_request = RenderRequest.objects.get()
    talent = client_for(world.x.talent.user)
    path = f"/inbox/briefs/{render_request.public_id}/"

    talent.post(path, {"decision": "reject", "reason": ""})
    render_request.refresh_from_db()
    assert render_request.status == "awaiting_brief_approval"

    talent.post(path, {"decision": "reject", "reason": "Not in swimwear"})
    render_request.refresh_from_db()
    assert render_request.status == "rejected"


def test_rejecting_images_without_a_reason_changes_nothing(world):
    response = client_for(world.x.talent.user).post(
        "/inbox/outputs/",
        {"decision": "reject", "assets": ["00000000-0000-0000-0000-000000000000"]},
        follow=True,
    )
    assert any("Say why" in text for text in messages_of(response))


def test_after_the_talent_withdraws_the_managers_next_request_is_denied(world):
    talent = client_for(world.x.talent.user)
    talent.post(
        f"/licences/{world.x.licence.public_id}/withdraw/",
        {"kind": "for_cause", "reason": "The brand misused an image"},
    )
    withdrawal = Withdrawal.objects.get(licence=world.x.licence)
    assert withdrawal.effective_at <= timezone.now()

    response = client_for(world.manager).post("/requests/new/", request_form(world), follow=True)

    render_request = RenderRequest.objects.get()
    assert render_request.status == "denied"
    assert "outcome-deny" in response.content.decode()
    world.x.licence.refresh_from_db()
    assert world.x.licence.drafts_used == 0  # a denial gives its allowance back


def test_the_market_page_lists_the_talents_twin(world):
    response = client_for(world.x.talent.user).get("/market/")

    assert response.status_code == 200
    assert "No released image yet." in response.content.decode()

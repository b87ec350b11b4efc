"""The server-rendered pages through Django's test client: each calls the same services
and selectors as the API, a refusal is a message with nothing changed, a foreign object is
the 404 page. No rendering here (the gate world has no trained adapter); the browser tests
in test_browser.py go through drafts."""

import json

import pytest
from django.test import Client
from django.utils import timezone

from rightsdesk.consent.models import Withdrawal
from rightsdesk.licensing.memo import deal_memo_render
from rightsdesk.licensing.models import Licence, LicenceOffer
from rightsdesk.renders.models import RenderRequest
from tests.consent.gate_world import DAY
from tests.factories import UserFactory
from tests.web.helpers import client_for, messages_of, request_form
from tests.web.offers import accept_on_the_page, proposed_licence

pytestmark = pytest.mark.django_db


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
    body = response.content.decode()
    # Another brand's licence is not among the choices: no decision, no fee, no count.
    assert "outcome-" not in body and "250.00" not in body


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


def test_the_market_page_lists_the_twin_and_links_this_months_statement(world):
    client = client_for(world.x.talent.user)

    response = client.get("/market/")

    assert response.status_code == 200
    body = response.content.decode()
    assert "No released image yet." in body
    period = timezone.now().strftime("%Y-%m")
    link = f"/api/v1/ledger/statement/?talent={world.x.talent.public_id}&period={period}&format=csv"
    assert link.replace("&", "&amp;") in body
    statement = client.get(link)
    assert statement.status_code == 200 and statement["Content-Type"].startswith("text/csv")


def test_without_chromium_browser_tests_are_skipped_with_the_reason(monkeypatch):
    from tests.web import conftest

    class Item:
        def __init__(self, marked: bool):
            self.marked, self.markers = marked, []

        def get_closest_marker(self, name):
            return self.marked if name == "browser" else None

        def add_marker(self, marker):
            self.markers.append(marker)

    browser, plain = Item(True), Item(False)
    monkeypatch.setattr(conftest, "CHROMIUM", "/nonexistent/chromium")

    conftest.pytest_collection_modifyitems(None, [browser, plain])

    assert plain.markers == []
    (skip,) = browser.markers
    assert "chromium" in skip.kwargs["reason"] and "apt-get install" in skip.kwargs["reason"]


def test_a_pending_brief_is_among_the_talents_notices_and_only_theirs(world):
    client_for(world.manager).post(
        "/requests/new/", request_form(world, brief="Swimwear on a linen beach towel")
    )

    mine = client_for(world.x.talent.user).get("/notices/").content.decode()
    theirs = client_for(world.y.talent.user).get("/notices/").content.decode()

    assert "card" in mine and "No notice yet." not in mine
    assert "No notice yet." in theirs


def test_the_talent_withdraws_training_consent_from_the_consents_page(world):
    client = client_for(world.x.talent.user)
    train = world.x.train

    page = client.get("/consents/").content.decode()
    assert f"/consents/{train.public_id}/withdraw/" in page
    response = client.post(
        f"/consents/{train.public_id}/withdraw/", {"reason": "I no longer want a twin"}, follow=True
    )

    withdrawal = Withdrawal.objects.get(creation_consent=train)
    assert withdrawal.effective_at <= timezone.now()
    assert any("Consent withdrawn" in text for text in messages_of(response))
    assert "Withdrawn on" in response.content.decode()


def test_another_talents_consent_cannot_be_withdrawn(world):
    response = client_for(world.y.talent.user).post(
        f"/consents/{world.x.train.public_id}/withdraw/", {"reason": "not mine"}
    )

    assert response.status_code == 404
    assert not Withdrawal.objects.exists()


def awaiting_signoff(world):
    from rightsdesk.talent.models import LikenessVersion

    likeness = world.x.likeness
    LikenessVersion.objects.filter(pk=likeness.pk).update(
        status=LikenessVersion.Status.AWAITING_SIGNOFF, signed_off_at=None, signed_off_by=None
    )
    return likeness


def test_the_talent_signs_off_the_twin_with_appearance_limits(world):
    likeness = awaiting_signoff(world)
    client = client_for(world.x.talent.user)
    assert "Sign off this twin" in client.get("/twin/").content.decode()

    client.post(
        f"/twin/{likeness.public_id}/",
        {"decision": "sign_off", "appearance_limits": ["skin_tone", "age_change"]},
    )

    likeness.refresh_from_db()
    assert likeness.status == "signed_off"
    assert likeness.appearance_limits == ["age_change", "skin_tone"]


def test_rejecting_the_twin_needs_a_reason_and_only_the_principal_decides(world):
    likeness = awaiting_signoff(world)
    path = f"/twin/{likeness.public_id}/"

    client_for(world.x.talent.user).post(path, {"decision": "reject", "reason": ""})
    likeness.refresh_from_db()
    assert likeness.status == "awaiting_signoff"
    assert client_for(world.y.talent.user).post(path, {"decision": "reject"}).status_code == 404

    client_for(world.x.talent.user).post(path, {"decision": "reject", "reason": "Not my nose"})
    likeness.refresh_from_db()
    assert likeness.status == "rejected"


def test_the_talent_counters_with_a_higher_fee_and_the_rest_as_proposed(world):
    licence = proposed_licence(world)
    client = client_for(world.x.talent.user)
    assert "Send counter-offer" in client.get(f"/licences/{licence.public_id}/").content.decode()

    client.post(
        f"/licences/{licence.public_id}/counter/",
        {"usage_fee": "400.00", "buyout": "1000", "draft_allowance": 5, "note": "More, please"},
    )

    licence.refresh_from_db()
    assert licence.status == Licence.Status.COUNTERED
    offer = LicenceOffer.objects.get(licence=licence, kind="countered")
    assert offer.note == "More, please"
    terms = json.loads(offer.terms_json)
    assert (terms["usage_fee_minor"], terms["buyout_minor"], terms["draft_allowance"]) == (
        40_000,
        100_000,
        5,
    )
    assert terms["campaign"] == "Linen AW27" and len(terms["usage"]) == 2


def test_the_market_page_charts_this_months_net_earnings_from_the_statement(world):
    client = client_for(world.x.talent.user)
    accept_on_the_page(client, proposed_licence(world, buyout_minor=500_000))

    body = client.get("/market/").content.decode()

    period = timezone.now().strftime("%Y-%m")
    assert "<svg" in body and f"<title>{period}: EUR 5,000.00</title>" in body
    assert f"<td>{period}</td><td>EUR 5,000.00</td>" in body  # the chart's text twin
    assert 'height="100"' in body  # the best month fills the chart


def test_another_talent_sees_no_chart_of_someone_elses_earnings(world):
    body = client_for(world.y.talent.user).get("/market/").content.decode()

    assert str(world.x.talent) not in body


def signed(world, *, by, party: str, ip: str):
    from rightsdesk.agreements.models import Signature

    return Signature.objects.create(
        version=world.x.version,
        party=party,
        signer=by,
        signer_role=by.role,
        signed_sha256=world.x.version.content_sha256,
        authentication_method="session",
        ip_address=ip,
        user_agent="TestBrowser/1.0",
        signed_at=world.now - 30 * DAY,
    )


def test_legal_lists_agreements_and_flags_one_expiring_within_thirty_days(world):
    from rightsdesk.agreements.models import AgreementVersion

    AgreementVersion.objects.filter(pk=world.y.version.pk).update(
        effective_to=timezone.now() + 10 * DAY
    )

    body = client_for(world.legal).get("/agreements/").content.decode()

    assert body.count("Linen campaigns") == 2
    assert body.count("expiring soon") == 1


def test_signature_evidence_is_shown_to_its_signer_only(world):
    signed(world, by=world.x.talent.user, party="principal", ip="203.0.113.7")
    signed(world, by=world.legal, party="brand_legal", ip="198.51.100.9")
    path = f"/agreements/{world.x.agreement.public_id}/"

    legal_page = client_for(world.legal).get(path).content.decode()
    manager_page = client_for(world.manager).get(path).content.decode()

    assert "198.51.100.9" in legal_page and "203.0.113.7" not in legal_page
    assert "Version 1" in manager_page and "Signatures" not in manager_page
    assert world.x.version.document_sha256 not in manager_page  # a summary only


def test_another_brands_agreement_is_the_404_page(world):
    stranger = UserFactory(role="legal", organization=world.other_brand)

    response = client_for(stranger).get(f"/agreements/{world.x.agreement.public_id}/")

    assert response.status_code == 404

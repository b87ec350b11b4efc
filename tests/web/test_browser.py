"""The issue's scenarios in a real browser (chromium, phone-sized), against the live
server on a transactional database. Drafts are rendered in this process on the worker's
pipeline (64 px, one step), as tests/renders/test_outputs.py does; everything else goes
through the pages. Each test saves screenshots with the ``screenshot`` fixture, into its
folder of the run's output (tests/web/conftest.py)."""

import pytest
from django.utils import timezone

from rightsdesk.consent.models import Withdrawal
from rightsdesk.licensing.models import Licence, LicenceOffer
from rightsdesk.renders.models import Asset, RenderRequest
from rightsdesk.renders.outputs import assets_approve, assets_select
from tests.consent.gate_world import build_gate_world
from tests.web.offers import proposed_licence

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def expect():
    from playwright.sync_api import expect

    return expect


@pytest.fixture
def likeness_world():
    import torch

    from tests.renders.likeness_world import build_likeness_world

    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # two cores, shared with the live server thread
    yield build_likeness_world()
    torch.set_num_threads(threads)


def rendered(world, drafts: int = 2) -> list[Asset]:
    from unittest import mock

    from rightsdesk.renders.worker_render import render_request_run

    # Rendered here, not by the broker: on this transactional database the commit would
    # otherwise send the task to any worker still consuming the queue, which could claim
    # the request first (seen once in CI as "not_ours").
    with mock.patch("rightsdesk.renders.services._send_render_task"):
        render_request = world.submit(num_drafts=drafts, steps=1)
    assert render_request.status == "queued", render_request.denial_reasons
    assert render_request_run(render_request_id=render_request.pk) == "rendered"
    return list(Asset.objects.filter(render_request=render_request).order_by("index"))


def fits_the_phone(page) -> bool:
    """Nothing wider than the phone's screen: no sideways scrolling of the page itself."""
    return page.evaluate("() => document.documentElement.scrollWidth <= window.innerWidth")


def statuses(assets) -> list[str]:
    return [Asset.objects.get(pk=asset.pk).status for asset in assets]


def test_a_talent_accepts_a_licence_from_its_deal_memo(open_as, expect, screenshot):
    world = build_gate_world()
    licence = proposed_licence(world)
    page = open_as(world.x.talent.user)

    page.get_by_role("link", name="Licences").first.click()
    page.get_by_role("link", name="Linen AW27").click()
    expect(page.locator("pre.memo")).to_be_visible()
    assert fits_the_phone(page)
    page.get_by_role("button", name="Accept this deal memo").click()

    expect(page.locator(".msg-success")).to_contain_text("Licence accepted")
    expect(page.locator("#licence-status")).to_have_text("Accepted")
    screenshot(page, "licence-accepted")
    licence.refresh_from_db()
    assert licence.status == Licence.Status.ACCEPTED
    offer = LicenceOffer.objects.get(licence=licence, kind="accepted")
    assert offer.deal_memo_sha256 == licence.deal_memo_sha256 and offer.user_agent


def test_a_manager_selects_drafts_and_the_talent_approves_them_in_one_batch(
    likeness_world, open_as, expect, screenshot
):
    world = likeness_world
    assets = rendered(world)
    manager = open_as(world.manager)

    manager.goto(manager.url.rstrip("/") + f"/requests/{assets[0].render_request.public_id}/")
    for box in manager.get_by_role("checkbox", name="Select").all():
        box.check()
    manager.get_by_role("button", name="Send selected drafts for approval").click()
    expect(manager.locator(".msg-success")).to_contain_text("Sent to the talent")
    assert statuses(assets) == ["awaiting_output_approval"] * 2

    talent = open_as(world.gate.x.talent.user)
    talent.get_by_role("link", name="Inbox").first.click()
    expect(talent.locator(".sheet img")).to_have_count(2)
    for image in talent.locator(".sheet img").all():
        image.scroll_into_view_if_needed()  # they load lazily, as a long sheet should
    # The previews really load (the page streams them through the asset preview endpoint).
    talent.wait_for_function(
        "() => [...document.querySelectorAll('.sheet img')]"
        ".every(i => i.complete && i.naturalWidth > 0)"
    )
    expect(talent.get_by_text("silence counts as approval").first).to_be_visible()
    assert fits_the_phone(talent)
    screenshot(talent, "contact-sheet")
    talent.get_by_label("Reason (required to reject) or note").fill("Both lovely")
    talent.get_by_role("button", name="Approve ticked images").click()

    expect(talent.locator(".msg-success")).to_contain_text("2 image(s) approved")
    screenshot(talent, "batch-approved")
    assert statuses(assets) == ["approved", "approved"]


def test_the_manager_releases_and_a_consumer_verifies_the_released_image(
    likeness_world, open_as, expect, screenshot, tmp_path
):
    world = likeness_world
    assets = rendered(world, drafts=1)
    assets_select(assets=assets, actor=world.manager)
    assets_approve(assets=assets, actor=world.gate.x.talent.user)
    manager = open_as(world.manager)

    manager.goto(manager.url.rstrip("/") + f"/requests/{assets[0].render_request.public_id}/")
    manager.get_by_role("button", name="Release").click()
    expect(manager.locator(".msg-success")).to_contain_text("Released")
    manager.get_by_label("First publication date").fill(timezone.now().date().isoformat())
    manager.get_by_role("button", name="Record").click()
    expect(manager.locator(".msg-success")).to_contain_text("First publication recorded")
    with manager.expect_download() as download:
        manager.get_by_role("link", name="Download signed image").click()
    signed = tmp_path / "signed-image.png"
    download.value.save_as(signed)
    screenshot(manager, "released")
    asset = Asset.objects.get(pk=assets[0].pk)
    assert asset.status == "released" and asset.first_published_at is not None

    consumer = open_as(None)
    consumer.goto(manager.url.split("/requests/")[0] + "/verify/")
    consumer.set_input_files("#file", signed)
    consumer.get_by_role("button", name="Verify").click()

    expect(consumer.locator(".state")).to_have_text("trusted")
    expect(consumer.locator(".card").first).to_contain_text(world.gate.brand.name)
    screenshot(consumer, "verified")


def test_the_talent_withdraws_and_the_managers_next_request_is_denied(open_as, expect, screenshot):
    world = build_gate_world()
    talent = open_as(world.x.talent.user)

    talent.goto(talent.url.rstrip("/") + f"/licences/{world.x.licence.public_id}/")
    talent.get_by_label("How").select_option("for_cause")
    talent.get_by_label("Why").fill("The brand used an image outside the licence")
    talent.get_by_role("button", name="Withdraw").click()
    expect(talent.locator(".msg-success")).to_contain_text("Withdrawal recorded")
    expect(talent.locator("#withdrawal-recorded")).to_contain_text("Withdrawn with effect from")
    screenshot(talent, "withdrawn")
    assert Withdrawal.objects.get(licence=world.x.licence).effective_at <= timezone.now()

    manager = open_as(world.manager)
    manager.get_by_role("link", name="New request").first.click()
    manager.get_by_label("Licence").select_option(str(world.x.licence.public_id))
    manager.get_by_label("Medium").select_option("paid_social")
    manager.get_by_label("Brief").fill("A model in a linen suit on a pier at dawn")
    # htmx asks the gate as the brief is typed: the dry run already says no.
    expect(manager.locator("#dry-run .outcome")).to_have_text("deny")
    manager.get_by_role("button", name="Submit request").click()

    expect(manager.locator("#request-status")).to_have_text("Denied")
    screenshot(manager, "denied")
    render_request = RenderRequest.objects.get()
    assert render_request.status == "denied"
    assert render_request.denial_reasons == ["withdrawal_effective"]


def test_a_consumer_uses_the_verify_page_from_the_keyboard_on_a_phone(
    open_as, expect, screenshot, live_server
):
    consumer = open_as(None)
    consumer.goto(f"{live_server.url}/verify/")

    reached = []
    for _ in range(8):
        consumer.keyboard.press("Tab")
        reached.append(
            consumer.evaluate(
                "() => { const e = document.activeElement;"
                " return e.id || e.textContent.trim() || e.tagName; }"
            )
        )
    assert reached[0] == "Skip to content"
    assert {"file", "Verify", "What does “possible match” mean?"} <= set(reached)

    consumer.locator("#possible-match-help summary").focus()
    consumer.keyboard.press("Enter")  # a <details> opens from the keyboard
    expect(consumer.locator("#possible-match-help")).to_have_attribute("open", "")
    expect(consumer.get_by_text("It is a similarity, not a verification")).to_be_visible()
    assert fits_the_phone(consumer)
    screenshot(consumer, "verify-keyboard")


def test_a_french_visitor_reads_the_verify_page_in_french(open_as, expect, screenshot, live_server):
    consumer = open_as(None, locale="fr-FR")
    consumer.goto(f"{live_server.url}/verify/")

    expect(consumer.locator("html")).to_have_attribute("lang", "fr")
    expect(consumer.get_by_role("heading", name="Vérifier une image")).to_be_visible()
    summary = consumer.locator("#possible-match-help summary")
    expect(summary).to_contain_text("Que signifie")
    expect(summary).to_contain_text("correspondance possible")
    summary.click()
    expect(consumer.get_by_text("C'est une ressemblance, pas une vérification")).to_be_visible()
    screenshot(consumer, "verify-fr")

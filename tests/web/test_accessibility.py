"""Every page, as each role sees it, is usable with a keyboard, a screen reader and a phone:
the viewport set, one h1 and no skipped heading level, every form control labelled, every
image described, nothing taken out of or forced into the tab order, and no fixed width in
the stylesheet. Read from the HTML the server sends; the browser tests drive it on a
phone-sized screen."""

import re
from dataclasses import dataclass, field
from html.parser import HTMLParser
from pathlib import Path

import pytest
from django.conf import settings

from rightsdesk.renders.models import Asset, RenderRequest
from rightsdesk.renders.states import AssetStatus
from tests.web.helpers import client_for, request_form
from tests.web.offers import proposed_licence

pytestmark = pytest.mark.django_db
UNLABELLED_TYPES = {"hidden", "submit", "button", "reset", "image"}


@dataclass
class Page(HTMLParser):
    """What the checks need from one page."""

    viewport: bool = False
    headings: list[int] = field(default_factory=list)
    controls: list[dict] = field(default_factory=list)  # attributes, and inside a <label>
    label_for: set[str] = field(default_factory=set)
    images_without_alt: list[str] = field(default_factory=list)
    positive_tabindex: list[str] = field(default_factory=list)
    empty_buttons: int = 0
    _labels_open: int = 0
    _button_text: list[str] | None = None

    def __post_init__(self):
        super().__init__()

    def handle_starttag(self, tag, attrs):
        attrs = {name: value or "" for name, value in attrs}
        if tag == "meta" and attrs.get("name") == "viewport":
            self.viewport = "width=device-width" in attrs.get("content", "")
        if re.fullmatch(r"h[1-6]", tag):
            self.headings.append(int(tag[1]))
        if tag == "label":
            self._labels_open += 1
            if attrs.get("for"):
                self.label_for.add(attrs["for"])
        if tag in ("input", "select", "textarea") and attrs.get("type") not in UNLABELLED_TYPES:
            self.controls.append({**attrs, "_in_label": self._labels_open > 0, "_tag": tag})
        if tag == "img" and "alt" not in attrs:
            self.images_without_alt.append(attrs.get("src", ""))
        if attrs.get("tabindex", "").isdigit() and int(attrs["tabindex"]) > 0:
            self.positive_tabindex.append(tag)
        if tag == "button":
            self._button_text = []

    def handle_endtag(self, tag):
        if tag == "label":
            self._labels_open -= 1
        if tag == "button" and self._button_text is not None:
            self.empty_buttons += not "".join(self._button_text).strip()
            self._button_text = None

    def handle_data(self, data):
        if self._button_text is not None:
            self._button_text.append(data)

    def unlabelled(self) -> list[str]:
        return [
            control.get("name") or control["_tag"]
            for control in self.controls
            if not (
                control["_in_label"]
                or control.get("id") in self.label_for
                or control.get("aria-label")
                or control.get("aria-labelledby")
            )
        ]


def problems(html: str) -> list[str]:
    page = Page()
    page.feed(html)
    found = []
    if not page.viewport:
        found.append("no viewport meta")
    if page.headings.count(1) != 1:
        found.append(f"{page.headings.count(1)} h1")
    skips = [(a, b) for a, b in zip(page.headings, page.headings[1:], strict=False) if b > a + 1]
    if skips:
        found.append(f"heading levels skipped: {skips}")
    found += [f"unlabelled control {name}" for name in page.unlabelled()]
    found += [f"image without alt: {src}" for src in page.images_without_alt]
    found += [f"positive tabindex on {tag}" for tag in page.positive_tabindex]
    if page.empty_buttons:
        found.append(f"{page.empty_buttons} button(s) without text")
    return found


@pytest.fixture
def world(world):
    """The page tests' world (tests/web/conftest.py), with an offer waiting for the talent
    and a brief held for the talent's approval, so that their pages have something to show."""
    world.offer = proposed_licence(world)
    brief = "Swimwear on a linen beach towel"  # held for the talent's approval
    client_for(world.manager).post(
        "/requests/new/", request_form(world, brief=brief, idempotency_key="accessibility")
    )
    world.held = RenderRequest.objects.get(brief=brief)
    assert world.held.status == "awaiting_brief_approval"
    return world


def pages(world) -> list[tuple[object, str]]:
    agreement = f"/agreements/{world.x.agreement.public_id}/"
    talent, legal, manager = world.x.talent.user, world.legal, world.manager
    return [
        (None, "/login/"),
        (None, "/verify/"),
        (None, "/no-such-page/"),
        (talent, "/"),
        (talent, "/inbox/"),
        (talent, "/licences/"),
        (talent, f"/licences/{world.offer.public_id}/"),
        (talent, f"/licences/{world.x.licence.public_id}/"),
        (talent, "/market/"),
        (talent, "/twin/"),
        (talent, "/consents/"),
        (talent, "/capture-sessions/"),
        (talent, "/notices/"),
        (talent, agreement),
        (legal, "/agreements/"),
        (legal, agreement),
        (legal, agreement + "amend/"),
        (legal, agreement + "licences/new/"),
        (manager, "/requests/"),
        (manager, "/requests/new/"),
        (manager, f"/requests/{world.held.public_id}/"),
    ]


def test_every_page_is_labelled_headed_and_set_for_a_phone(world):
    found = {}
    for user, path in pages(world):
        response = client_for(user).get(path)
        assert response.status_code in (200, 404), (path, response.status_code)
        if issues := problems(response.content.decode()):
            found[path] = issues

    assert found == {}


def test_a_contact_sheet_with_drafts_is_labelled_too(world):
    for index in range(2):
        Asset.objects.create(
            render_request=world.held, index=index, status=AssetStatus.AWAITING_OUTPUT_APPROVAL
        )

    inbox = client_for(world.x.talent.user).get("/inbox/").content.decode()
    request_page = client_for(world.manager).get(f"/requests/{world.held.public_id}/")

    assert problems(inbox) == []
    assert problems(request_page.content.decode()) == []


def test_the_checks_catch_an_unlabelled_field_and_a_skipped_heading():
    html = (
        '<meta name="viewport" content="width=device-width"><h1>A</h1><h3>B</h3>'
        '<input name="q"><label>Name <input name="name"></label><img src="x.png">'
    )

    assert problems(html) == [
        "heading levels skipped: [(1, 3)]",
        "unlabelled control q",
        "image without alt: x.png",
    ]


def test_the_stylesheet_sets_no_fixed_width_a_phone_cannot_fit():
    css = (Path(settings.BASE_DIR) / "static" / "web.css").read_text()

    fixed = re.findall(r"(?<![-\w])(?:min-)?width:\s*(\d+)px", css)

    assert [int(px) for px in fixed if int(px) > 320] == []

"""What the page tests share: a test client logged in as someone, the messages a page
shows, and the form a campaign manager fills in to request renders under X's licence."""

from django.test import Client

from tests.factories import PASSWORD

BRIEF = "A model in a linen suit on a pier at dawn"


def client_for(user) -> Client:
    """A test client logged in as ``user`` through the login form's backend (``None``:
    anonymous)."""
    client = Client()
    if user is not None:
        assert client.login(username=user.email, password=PASSWORD)
    return client


def messages_of(response) -> list[str]:
    return [str(message) for message in response.context["messages"]]


def request_form(world, **overrides) -> dict:
    """The new-request form for talent X's licence: two small drafts for paid social in FR."""
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

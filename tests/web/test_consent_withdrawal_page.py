"""The consents page says what withdrawing a creation consent does, and it does that: from
now, for good, the data key is destroyed and with it every twin; uses already licensed go
on only as their licences allow, which is why the page points to withdrawing from them."""

import html

import pytest

from rightsdesk.licensing.models import Licence
from rightsdesk.talent.models import LikenessVersion
from tests.web.helpers import client_for

pytestmark = pytest.mark.django_db


def test_the_page_says_what_withdrawing_stops_from_when_and_what_stays(world):
    body = html.unescape(client_for(world.x.talent.user).get("/consents/").content.decode())

    assert "takes effect at once and cannot be undone" in body
    assert "every twin trained from them can no longer be read" in body
    assert '<a href="/licences/">withdraw from the licences</a>' in body


def test_withdrawing_training_consent_ends_the_twin_and_leaves_the_licence_to_its_terms(world):
    client = client_for(world.x.talent.user)

    client.post(f"/consents/{world.x.train.public_id}/withdraw/", {"reason": "No more twin"})

    world.x.likeness.refresh_from_db()
    assert world.x.likeness.status in (
        LikenessVersion.Status.DESTROYED,
        LikenessVersion.Status.REVOKED,
    )
    world.x.licence.refresh_from_db()
    assert world.x.licence.status == Licence.Status.ACCEPTED  # its own withdrawal ends it

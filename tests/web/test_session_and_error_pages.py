"""Logging in and out each leave a message, like every other action; 403, 404 and 500
are plain pages that say what happened and lead back to the start."""

import logging

import pytest
from django.test import Client

from tests.factories import PASSWORD
from tests.web.helpers import messages_of

pytestmark = pytest.mark.django_db


def test_logging_in_and_out_each_say_so(world):
    client = Client()
    user = world.x.talent.user

    logged_in = client.post("/login/", {"username": user.email, "password": PASSWORD}, follow=True)
    assert logged_in.redirect_chain[-1][0] == "/"
    assert messages_of(logged_in) == [f"You are logged in as {user.email}."]

    logged_out = client.post("/logout/", follow=True)

    assert logged_out.redirect_chain[-1][0] == "/login/"
    assert messages_of(logged_out) == ["You are logged out."]
    assert client.get("/inbox/").status_code == 302  # the session is gone


def test_a_wrong_password_is_said_plainly_and_logs_no_one_in(world):
    client = Client()

    response = client.post("/login/", {"username": world.x.talent.user.email, "password": "x"})

    assert response.status_code == 200
    assert "did not match" in response.content.decode() and messages_of(response) == []
    assert "_auth_user_id" not in client.session


def test_the_403_page_says_so_in_the_sites_layout(world):
    client = Client()
    client.force_login(world.x.talent.user)

    response = client.get(f"/agreements/{world.x.agreement.public_id}/amend/")

    body = response.content.decode()
    assert response.status_code == 403
    assert "<h1>403</h1>" in body and "You may not see this page." in body
    assert 'name="viewport"' in body and "Back to the start" in body


def test_the_404_page_says_so_in_the_sites_layout():
    response = Client().get("/no-such-page/")

    body = response.content.decode()
    assert response.status_code == 404
    assert "We could not find that page." in body and 'name="viewport"' in body


@pytest.mark.urls("tests.web.failing_urls")
def test_a_failing_page_is_the_500_page_and_is_logged(caplog):
    client = Client(raise_request_exception=False)

    with caplog.at_level(logging.ERROR, logger="django.request"):
        response = client.get("/failing-page/")

    body = response.content.decode()
    assert response.status_code == 500
    assert "Something went wrong on our side" in body and 'name="viewport"' in body
    assert "a bug in a page" not in body  # nothing of the error reaches the visitor
    assert any("failing-page" in record.getMessage() for record in caplog.records)

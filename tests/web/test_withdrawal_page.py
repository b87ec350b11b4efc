"""Withdrawing from a licence on its page: before, the form says from when each kind takes
effect and how long the run-off lasts, by the agreement's terms; after, the message and
the page give the recorded withdrawal's dates, whether it is still to come or in effect."""

import html
from datetime import UTC, timedelta

import pytest
from django.test import Client
from django.utils import dateformat, timezone

from rightsdesk.consent.models import Withdrawal
from rightsdesk.licensing.models import Licence
from tests.consent.gate_world import build_gate_world
from tests.factories import PASSWORD

pytestmark = pytest.mark.django_db


@pytest.fixture
def world(django_capture_on_commit_callbacks):
    return build_gate_world()


def client_for(user) -> Client:
    client = Client()
    assert client.login(username=user.email, password=PASSWORD)
    return client


def day(value) -> str:
    return dateformat.format(value.astimezone(UTC), "j M Y")


def minute(value) -> str:
    return dateformat.format(value.astimezone(UTC), "j M Y, H:i") + " UTC"


def licence_path(world, suffix: str = "") -> str:
    return f"/licences/{world.x.licence.public_id}/{suffix}"


def messages_of(response) -> list[str]:
    return [str(message) for message in response.context["messages"]]


def test_the_form_says_from_when_each_kind_takes_effect_and_how_long_the_run_off_lasts(world):
    version = world.x.licence.agreement_version

    response = client_for(world.x.talent.user).get(licence_path(world))

    body = html.unescape(response.content.decode())
    notice = version.withdrawal_notice_days
    contractual_from = timezone.now() + timedelta(days=notice)
    assert f"After {notice} days' notice: from {day(contractual_from)}" in body
    assert f"{version.run_off_days} days from the effective time" in body
    assert "At once." in body
    assert 'id="withdrawal-recorded"' not in body  # nothing recorded yet


def test_a_contractual_withdrawal_is_shown_to_come_with_its_dates(world):
    client = client_for(world.x.talent.user)

    response = client.post(
        licence_path(world, "withdraw/"),
        {"kind": "contractual", "reason": "I am changing agencies"},
        follow=True,
    )

    withdrawal = Withdrawal.objects.get(licence=world.x.licence)
    assert withdrawal.effective_at > timezone.now()  # after the notice period
    world.x.licence.refresh_from_db()
    assert world.x.licence.status == Licence.Status.ACCEPTED  # in use until then
    (message,) = messages_of(response)
    assert f"From {minute(withdrawal.effective_at)} nothing new is rendered" in message
    body = response.content.decode()
    assert f"A withdrawal takes effect on {minute(withdrawal.effective_at)}" in body
    assert "can still bring the recorded one forward" in body  # for cause stays on offer


def test_a_withdrawal_for_cause_is_in_effect_at_once_and_the_form_is_gone(world):
    client = client_for(world.x.talent.user)

    response = client.post(
        licence_path(world, "withdraw/"),
        {"kind": "for_cause", "reason": "Used outside the licence"},
        follow=True,
    )

    withdrawal = Withdrawal.objects.get(licence=world.x.licence)
    world.x.licence.refresh_from_db()
    assert world.x.licence.status == Licence.Status.WITHDRAWN
    body = response.content.decode()
    assert f"Withdrawn with effect from {minute(withdrawal.effective_at)}" in body
    assert "may stay in market until" in body
    assert licence_path(world, "withdraw/") not in body


def test_brand_legal_reads_the_recorded_withdrawal_but_is_offered_no_form(world):
    client_for(world.x.talent.user).post(
        licence_path(world, "withdraw/"), {"kind": "contractual", "reason": "Changing agencies"}
    )

    body = client_for(world.legal).get(licence_path(world)).content.decode()

    assert 'id="withdrawal-recorded"' in body and "A withdrawal takes effect on" in body
    assert licence_path(world, "withdraw/") not in body

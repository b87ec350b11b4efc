"""Withdrawing from a licence on its page: before, the form says from when each kind takes
effect and how long the run-off lasts, by the agreement's terms; after, the message and
the page give the recorded withdrawal's dates, whether it is still to come or in effect."""

import html
from datetime import UTC, timedelta

import pytest
from django.utils import dateformat, timezone

from rightsdesk.consent.models import Withdrawal
from rightsdesk.licensing.models import Licence
from tests.web.helpers import client_for, messages_of

pytestmark = pytest.mark.django_db


def day(value) -> str:
    return dateformat.format(value.astimezone(UTC), "j M Y")


def minute(value) -> str:
    return dateformat.format(value.astimezone(UTC), "j M Y, H:i") + " UTC"


def licence_path(world, suffix: str = "") -> str:
    return f"/licences/{world.x.licence.public_id}/{suffix}"


def withdraw(world, *, kind: str, reason: str):
    """The talent withdraws from X's licence on its page: the page it lands on, and the
    withdrawal recorded."""
    response = client_for(world.x.talent.user).post(
        licence_path(world, "withdraw/"), {"kind": kind, "reason": reason}, follow=True
    )
    world.x.licence.refresh_from_db()
    return response, Withdrawal.objects.get(licence=world.x.licence)


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
    response, withdrawal = withdraw(world, kind="contractual", reason="I am changing agencies")

    assert withdrawal.effective_at > timezone.now()  # after the notice period
    assert world.x.licence.status == Licence.Status.ACCEPTED  # in use until then
    (message,) = messages_of(response)
    assert f"From {minute(withdrawal.effective_at)} nothing new is rendered" in message
    body = response.content.decode()
    assert f"A withdrawal takes effect on {minute(withdrawal.effective_at)}" in body
    assert "can still bring the recorded one forward" in body  # for cause stays on offer


def test_a_withdrawal_for_cause_is_in_effect_at_once_and_the_form_is_gone(world):
    response, withdrawal = withdraw(world, kind="for_cause", reason="Used outside the licence")

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

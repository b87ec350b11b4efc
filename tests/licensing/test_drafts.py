"""The draft allowance renders take: a conditional UPDATE on the licence's own row."""

import threading

import pytest
from django.db import connections, transaction

from rightsdesk.licensing.models import Licence
from rightsdesk.licensing.selectors import licence_list_visible_to
from rightsdesk.licensing.services import licence_return_drafts, licence_take_drafts
from tests.licensing.conftest import accept, propose


def _used(licence: Licence) -> int:
    return Licence.objects.get(pk=licence.pk).drafts_used


@pytest.mark.django_db
def test_drafts_are_taken_up_to_the_allowance_and_never_beyond(deal):
    licence = accept(propose(deal, draft_allowance=5), deal.users["talent"])

    assert licence_take_drafts(licence=licence, count=3) is True
    assert licence_take_drafts(licence=licence, count=3) is False
    assert _used(licence) == 3
    assert licence_take_drafts(licence=licence, count=2) is True
    assert licence_take_drafts(licence=licence, count=1) is False
    assert _used(licence) == 5


@pytest.mark.django_db
@pytest.mark.parametrize("status", ["proposed", "countered", "declined", "expired", "withdrawn"])
def test_a_licence_that_is_not_accepted_gives_no_drafts(deal, status):
    licence = propose(deal)
    Licence.objects.filter(pk=licence.pk).update(status=status)

    assert licence_take_drafts(licence=licence, count=1) is False
    assert _used(licence) == 0


@pytest.mark.django_db
def test_a_licence_accepted_for_campaign_a_does_not_serve_campaign_b(deal):
    # Given campaign A's licence is accepted and campaign B's is only proposed.
    licence_a = accept(propose(deal, campaign="Campaign A"), deal.users["talent"])
    licence_b = propose(deal, campaign="Campaign B")

    # Then B's allowance cannot be taken, and taking A's touches only A's row.
    assert licence_take_drafts(licence=licence_b, count=1) is False
    assert licence_take_drafts(licence=licence_a, count=2) is True
    assert (_used(licence_a), _used(licence_b)) == (2, 0)
    # And the brand's campaign manager sees (and so can render under) only A's licence.
    visible = licence_list_visible_to(user=deal.users["manager_a"])
    assert list(visible.values_list("campaign", flat=True)) == ["Campaign A"]


@pytest.mark.django_db
def test_returned_drafts_never_go_below_zero(deal):
    licence = accept(propose(deal, draft_allowance=5), deal.users["talent"])
    licence_take_drafts(licence=licence, count=2)

    licence_return_drafts(licence=licence, count=1)
    assert _used(licence) == 1
    licence_return_drafts(licence=licence, count=5)
    assert _used(licence) == 0


@pytest.mark.django_db
@pytest.mark.parametrize("count", [0, -1, 1.0, True])
def test_a_count_must_be_a_positive_whole_number(deal, count):
    licence = accept(propose(deal), deal.users["talent"])

    with pytest.raises(ValueError):
        licence_take_drafts(licence=licence, count=count)
    with pytest.raises(ValueError):
        licence_return_drafts(licence=licence, count=count)


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_twenty_threads_never_take_more_than_the_allowance(deal):
    # Given an allowance of 20 and twenty requests of 3 drafts each, all at once.
    licence = accept(propose(deal, draft_allowance=20), deal.users["talent"])
    barrier = threading.Barrier(20)
    results: list[bool] = []
    lock = threading.Lock()

    def take() -> None:
        try:
            barrier.wait(timeout=20)
            with transaction.atomic():
                took = licence_take_drafts(licence=licence, count=3)
            with lock:
                results.append(took)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=take) for _ in range(20)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)

    # Then exactly six took their drafts, and the counter is 18 of 20.
    assert len(results) == 20
    assert results.count(True) == 6
    assert _used(licence) == 18

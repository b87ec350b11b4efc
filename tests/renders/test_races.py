"""Races the workflow must win on real PostgreSQL row locks: the draft quota and the
budget under concurrent submissions, and releases racing a withdrawal's effective time."""

import threading
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta

import pytest
from django.db import connections
from django.utils import timezone

from rightsdesk.core.errors import ApplicationError
from rightsdesk.ledger.models import Reservation
from rightsdesk.licensing.models import Licence
from rightsdesk.renders.models import Asset, RenderRequest
from rightsdesk.renders.outputs import asset_release, assets_approve, assets_select
from rightsdesk.renders.worker_render import render_request_run
from tests.consent.gate_world import withdraw
from tests.renders.likeness_world import build_likeness_world

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]


@pytest.fixture(autouse=True)
def no_task_messages(monkeypatch):
    # These tests commit, so each queued request would send its render task after commit,
    # to whatever worker the suite has running; they render in-process instead.
    monkeypatch.setattr("rightsdesk.renders.services._send_render_task", lambda pk: None)


SUBMISSIONS = 50
DRAFTS_LEFT = 10


def _threads(count: int, work) -> list:
    barrier = threading.Barrier(count)

    def run(index: int):
        try:
            barrier.wait(timeout=30)
            return work(index)
        except ApplicationError as error:
            return error
        finally:
            connections.close_all()

    with ThreadPoolExecutor(max_workers=count) as pool:
        return list(pool.map(run, range(count)))


def test_fifty_concurrent_submissions_against_ten_drafts_left_create_exactly_ten():
    world = build_likeness_world()
    licence = world.gate.x.licence
    Licence.objects.filter(pk=licence.pk).update(draft_allowance=DRAFTS_LEFT)

    results = _threads(
        SUBMISSIONS,
        lambda i: world.submit(num_drafts=1, idempotency_key=f"race-{i}", seed=i).status,
    )

    assert results.count("queued") == DRAFTS_LEFT
    assert results.count("denied") == SUBMISSIONS - DRAFTS_LEFT
    assert Licence.objects.get(pk=licence.pk).drafts_used == DRAFTS_LEFT
    assert RenderRequest.objects.filter(status="queued").count() == DRAFTS_LEFT
    # Each queued draft holds exactly one reservation; the denied ones hold none.
    assert Reservation.objects.filter(status="pending").count() == DRAFTS_LEFT
    denied = RenderRequest.objects.filter(status="denied")
    assert {tuple(r.denial_reasons) for r in denied} == {("draft_allowance_exhausted",)}


def test_no_image_is_released_at_or_after_a_withdrawals_effective_time():
    world = build_likeness_world()
    x = world.gate.x
    requests = [world.submit(num_drafts=4, steps=1, seed=seed) for seed in (1, 2)]
    for render_request in requests:
        assert render_request_run(render_request_id=render_request.pk) == "rendered"
    assets = list(Asset.objects.order_by("pk"))
    for render_request in requests:
        mine = [a for a in assets if a.render_request_id == render_request.pk]
        assets_select(assets=mine, actor=world.manager)
        assets_approve(assets=mine, actor=x.talent.user)
    # The withdrawal takes effect while the releases are under way.
    effective_at = timezone.now() + timedelta(milliseconds=150)
    withdraw(licence=x.licence, talent=x.talent, by=x.talent.user, effective_at=effective_at)

    def release(index: int) -> str:
        asset = Asset.objects.get(pk=assets[index].pk)
        while timezone.now() < effective_at - timedelta(milliseconds=100):
            pass  # start close to the effective time, from every thread at once
        return asset_release(asset=asset, actor=world.manager).status

    results = _threads(len(assets), release)

    released = Asset.objects.filter(status="released")
    assert all(asset.released_at < effective_at for asset in released)
    refused = [r for r in results if isinstance(r, ApplicationError)]
    assert {error.code for error in refused} <= {"gate_denied"}
    assert len(refused) + released.count() == len(assets)
    # Whatever was refused is still unreleased and paid nothing.
    for asset in Asset.objects.exclude(status="released"):
        assert not asset.released_at

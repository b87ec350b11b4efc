"""Evidence packs of rendered assets: a render really runs in this process (the likeness
world of tests/renders, 64 px), the manager selects a draft, the talent approves it and the
manager releases it through the renders services. The asset's pack must then hold its
signed image, the request's gate decisions (submission, in-task, release), the release and
its fee, and every event about the asset, while the other draft stays out of it."""

import io
import json

import pytest
from django.core.management import call_command

from rightsdesk.agreements.models import AgreementVersion
from rightsdesk.agreements.terms import content_sha256
from rightsdesk.audit.evidence_check import (
    GATE_DECISIONS,
    LEDGER,
    PROVENANCE,
    RENDERS,
    evidence_check,
)
from rightsdesk.provenance.models import ProvenanceRecord
from rightsdesk.renders.outputs import asset_release, assets_approve, assets_select
from rightsdesk.renders.worker_render import render_request_run
from tests.audit.evidence_world import event_lines, json_member, members, pack
from tests.factories import UserFactory
from tests.renders.likeness_world import build_likeness_world

pytestmark = pytest.mark.django_db

URL = "/api/v1/evidence-packs/"


@pytest.fixture(autouse=True)
def _one_torch_thread(one_torch_thread):
    return None


@pytest.fixture
def world(django_capture_on_commit_callbacks, settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path / "media"
    world = build_likeness_world()
    # The gate world writes placeholder hashes on its ORM-made versions; make them what
    # the agreements service would have written, so the pack's own checks apply.
    for version in AgreementVersion.objects.all():
        version.content_sha256 = content_sha256(
            document_sha256=version.document_sha256, terms_json=version.terms_json
        )
        version.save(update_fields=["content_sha256"])
    return world


@pytest.fixture
def released(world):
    """Request X's two drafts; draft 0 selected, approved by the talent and released."""
    render_request = world.submit(num_drafts=2)
    assert render_request_run(render_request_id=render_request.pk) == "rendered"
    render_request.refresh_from_db()
    chosen, other = render_request.assets.order_by("index")
    assets_select(assets=[chosen], actor=world.manager)
    assets_approve(assets=[chosen], actor=world.gate.x.talent.user)
    chosen.refresh_from_db()
    asset_release(asset=chosen, actor=world.manager)
    chosen.refresh_from_db()
    assert chosen.status == "released"
    return render_request, chosen, other


def test_asset_pack_holds_the_signed_image_decisions_release_and_events(released):
    render_request, asset, other = released

    data = pack(asset)

    report = evidence_check(io.BytesIO(data))
    assert report.intact, report.problems
    files = members(data)
    [record] = json_member(data, PROVENANCE)["records"]
    assert record["asset_reference"] == asset.reference
    stored = ProvenanceRecord.objects.get(asset_reference=asset.reference)
    assert files[record["signed_file_path"]] == stored.signed_file.open("rb").read()
    opened = json.loads(record["commitment_opening"]["body"])
    assert opened == {
        "licence": str(render_request.licence_links.get().licence.public_id),
        "consents": [opened["consents"][0]],
    }
    renders = json_member(data, RENDERS)
    assert [a["id"] for a in renders["assets"]] == [str(asset.public_id)]
    assert renders["assets"][0]["status"] == "released"
    decisions = json_member(data, GATE_DECISIONS)["gate_decisions"]
    assert [d["action"] for d in decisions] == ["render", "render", "release"]
    assert decisions[-1]["subject_reference"] == asset.reference
    ledger = json_member(data, LEDGER)
    assert [r["reference"] for r in ledger["reservations"]] == [asset.reference]
    assert [e["reference"] for e in ledger["entries"]] == [asset.reference]
    actions = [line["action"] for line in event_lines(data) if line["kind"] == "event"]
    for action in ("render_request.submitted", "asset.selected", "asset.approved"):
        assert action in actions
    assert actions[-2:] == ["asset.released", "asset.release_recorded"]
    full_targets = {line["target_id"] for line in event_lines(data) if line["kind"] == "event"}
    assert str(other.public_id) not in full_targets


def test_licence_pack_lists_every_asset_but_carries_no_image(released, world):
    render_request, asset, other = released

    data = pack(world.gate.x.licence)

    assert evidence_check(io.BytesIO(data)).intact
    assert not [name for name in members(data) if name.startswith("assets/")]
    assets = json_member(data, RENDERS)["assets"]
    assert {a["id"] for a in assets} == {str(asset.public_id), str(other.public_id)}
    records = json_member(data, PROVENANCE)["records"]
    assert len(records) == 2 and {r["signed_file_path"] for r in records} == {None}


def test_asset_pack_through_the_command_and_the_api(released, world, tmp_path, as_user):
    _, asset, _ = released
    path = tmp_path / "asset.zip"

    call_command(
        "evidence_pack", "--asset", str(asset.public_id), "-o", str(path), stdout=io.StringIO()
    )
    call_command("evidence_verify", str(path), stdout=io.StringIO())

    query = {"asset": str(asset.public_id)}
    assert as_user(world.gate.legal).get(URL, query).status_code == 200
    assert as_user(world.manager).get(URL, query).status_code == 403
    rival_legal = UserFactory(role="legal", organization=world.gate.other_brand)
    assert as_user(rival_legal).get(URL, query).status_code == 404

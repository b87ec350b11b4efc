"""What an evidence pack for a licence holds: the exact texts, the records, the audit
segment (relevant events in full, other people's redacted) and the check of the live
chain made when it was built; and the operator's command that writes it."""

import hashlib
import io
import json
from pathlib import Path

import pytest
from django.core.management import CommandError, call_command
from django.db import connection
from django.test.utils import CaptureQueriesContext

from rightsdesk.audit.evidence_check import (
    AGREEMENTS,
    CONSENTS,
    LEDGER,
    LICENCES,
    VERIFICATION,
    evidence_check,
)
from rightsdesk.audit.models import AuditEvent
from rightsdesk.audit.services import audit_record
from rightsdesk.consent.services import withdrawal_create
from rightsdesk.licensing.memo import deal_memo_render
from tests.audit.evidence_world import (
    DOCUMENT,
    LEGAL_IP,
    TALENT_IP,
    build_deal_world,
    event_lines,
    json_member,
    members,
    pack,
)
from tests.audit.test_verify import tampering

RELEVANT_ACTIONS = [
    "creation_consent.given",
    "creation_consent.given",
    "agreement.created",
    "agreement.signed",
    "agreement.signed",
    "agreement.version_activated",
    "licence.proposed",
    "ledger.fee_posted",
    "licence.accepted",
]


@pytest.fixture(autouse=True)
def media_in_tmp(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path / "media"


@pytest.fixture
def world(db):
    return build_deal_world()


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def check(data: bytes):
    return evidence_check(io.BytesIO(data))


@pytest.mark.django_db
def test_licence_pack_verifies_and_holds_each_exact_text(world):
    data = pack(world.licence)

    report = check(data)
    assert report.intact, report.problems
    assert report.notes == []
    files = members(data)
    licence = json_member(data, LICENCES)["licences"][0]
    accepted = [offer for offer in licence["offers"] if offer["kind"] == "accepted"]
    assert len(accepted) == 1
    memo = files[accepted[0]["deal_memo_file"]]
    assert memo.decode() == deal_memo_render(licence=world.licence).text
    assert sha256(memo) == world.licence.deal_memo_sha256 == licence["deal_memo_sha256"]
    for given, record in zip(
        world.consents, json_member(data, CONSENTS)["creation_consents"], strict=True
    ):
        assert files[record["notice"]["text_file"]].decode() == given.notice.text
        assert sha256(files[record["notice"]["text_file"]]) == given.notice_sha256
    version = json_member(data, AGREEMENTS)["agreements"][0]["versions"][0]
    assert files[version["document_file"]] == DOCUMENT
    assert {s["party"] for s in version["signatures"]} == {"principal", "brand_legal"}


@pytest.mark.django_db
def test_licence_pack_carries_the_buyout_posted_on_acceptance(world):
    ledger = json_member(pack(world.licence), LEDGER)

    [entry] = ledger["entries"]
    assert entry["reference"] == f"licence:{world.licence.public_id}"
    assert entry["kind"] == "buyout"
    assert sum(line["amount_minor"] for line in entry["lines"]) == 0
    assert max(line["amount_minor"] for line in entry["lines"]) >= 500_000


@pytest.mark.django_db
def test_segment_gives_the_relevant_events_in_full_and_redacts_the_rest(world):
    data = pack(world.licence)

    lines = event_lines(data)
    full = [line for line in lines if line["kind"] == "event"]
    assert [line["action"] for line in full] == RELEVANT_ACTIONS
    first, last = full[0]["sequence"], full[-1]["sequence"]
    between = AuditEvent.objects.filter(sequence__gte=first, sequence__lte=last)
    unrelated = between.filter(action="test.unrelated").count()
    assert unrelated == 8  # the noise made between the first consent and the acceptance
    redacted = [line for line in lines if line["kind"] == "redacted"]
    assert sum(r["to_sequence"] - r["from_sequence"] + 1 for r in redacted) == unrelated
    assert set(redacted[0]) == {"kind", "from_sequence", "to_sequence", "prev_hash", "hash"}
    manifest = json_member(data, "manifest.json")
    assert manifest["audit"]["relevant_sequences"] == [line["sequence"] for line in full]
    verification = json_member(data, VERIFICATION)
    assert verification["intact"] is True
    assert verification["events_checked"] == last - first + 1


@pytest.mark.django_db
def test_others_network_evidence_is_withheld_except_from_staff(world):
    def signatures(viewer) -> dict[str, dict]:
        version = json_member(pack(world.licence, viewer=viewer), AGREEMENTS)["agreements"][0]
        return {s["party"]: s for s in version["versions"][0]["signatures"]}

    brand_view = signatures(world.users["legal"])
    assert brand_view["brand_legal"]["ip_address"] == LEGAL_IP  # their own
    assert brand_view["principal"]["ip_address"] is None
    assert brand_view["principal"]["network_evidence_withheld"] is True
    talent_view = signatures(world.users["talent"])
    assert talent_view["principal"]["ip_address"] == TALENT_IP
    assert talent_view["brand_legal"]["ip_address"] is None
    for viewer in (world.users["staff"], None):
        assert signatures(viewer)["principal"]["ip_address"] == TALENT_IP
    consents = json_member(pack(world.licence, viewer=world.users["legal"]), CONSENTS)
    assert {c["ip_address"] for c in consents["creation_consents"]} == {None}
    assert TALENT_IP.encode() not in b"".join(
        members(pack(world.licence, viewer=world.users["legal"])).values()
    )


@pytest.mark.django_db
def test_a_withdrawal_and_its_event_join_the_pack(world):
    withdrawal = withdrawal_create(
        target=world.licence, kind="contractual", reason="Changed my mind", actor=world.talent.user
    )

    data = pack(world.licence)

    [record] = json_member(data, CONSENTS)["withdrawals"]
    assert record["id"] == str(withdrawal.public_id)
    assert record["target"] == {"licence": str(world.licence.public_id)}
    assert event_lines(data)[-1]["action"] == "withdrawal.created"
    assert check(data).intact


@pytest.mark.django_db
def test_the_same_records_make_the_same_files(world):
    def hashes(data: bytes) -> dict[str, str]:
        listed = json_member(data, "manifest.json")["files"]
        return {f["path"]: f["sha256"] for f in listed if f["path"] != VERIFICATION}

    assert hashes(pack(world.licence)) == hashes(pack(world.licence))


@pytest.mark.django_db
def test_a_chain_broken_inside_a_redacted_run_is_packed_and_reported(world):
    lines = event_lines(pack(world.licence))
    hidden = next(line for line in lines if line["kind"] == "redacted")["from_sequence"]
    if connection.vendor == "postgresql":
        # Fire the deferred triggers the world's writes left pending, or ALTER TABLE refuses.
        with connection.cursor() as cursor:
            cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")
    with tampering() as cursor:
        cursor.execute(
            "UPDATE audit_auditevent SET payload_json = %s WHERE sequence = %s",
            ['{"secret":"rewritten"}', hidden],
        )

    data = pack(world.licence)

    verification = json_member(data, VERIFICATION)
    assert verification["intact"] is False
    assert f"event #{hidden}" in verification["first_break"]
    assert "hash mismatch" in verification["first_break"]
    # Offline the redacted run cannot be re-hashed: only the build-time result shows it.
    assert check(data).codes() == ["audit_broken_at_build"]


@pytest.mark.django_db
def test_command_writes_a_pack_the_verifier_accepts(world, tmp_path):
    path = tmp_path / "licence.zip"
    out = io.StringIO()

    call_command(
        "evidence_pack", "--licence", str(world.licence.public_id), "-o", str(path), stdout=out
    )

    lines = out.getvalue().splitlines()
    assert lines[-1] == str(path)
    assert f"licence:{world.licence.public_id}" in lines[0] and "chain intact" in lines[0]
    manifest = json_member(path.read_bytes(), "manifest.json")
    assert manifest["prepared_for"] == "operator"
    assert TALENT_IP in json.dumps(json_member(path.read_bytes(), AGREEMENTS))
    call_command("evidence_verify", str(path), stdout=io.StringIO())


@pytest.mark.django_db
@pytest.mark.parametrize("argument", ["00000000-0000-0000-0000-000000000000", "not-a-uuid"])
def test_command_refuses_an_unknown_licence_and_writes_nothing(world, tmp_path, argument):
    path = tmp_path / "none.zip"

    with pytest.raises(CommandError, match="No such licence"):
        call_command("evidence_pack", "--licence", argument, "-o", str(path))

    assert not Path(path).exists()


@pytest.mark.django_db(transaction=True)
def test_pack_reads_one_snapshot_on_postgres(world):
    audit_record(actor=None, action="test.after", target=world.licence, payload={})

    with CaptureQueriesContext(connection) as queries:
        data = pack(world.licence)

    snapshot = [q["sql"] for q in queries if "REPEATABLE READ" in q["sql"]]
    assert len(snapshot) == (1 if connection.vendor == "postgresql" else 0)
    assert event_lines(data)[-1]["action"] == "test.after"
    assert check(data).intact

"""``evidence_verify`` checks a pack offline and names what was tampered with.

Two kinds of tampering: a careless one that edits the zip and leaves the manifest as it was
(the manifest's hashes and signature catch it), and a forger who also rewrites the
manifest's hashes and signs it again with a key of their own (``forge``): then the audit
chain's own hashes and links, the exact texts' hashes and the pinned key must catch it.
Every check runs without the database (``django_assert_num_queries(0)``).
"""

import io
import json
import zipfile

import pytest
from django.core.management import CommandError, call_command

from rightsdesk.audit.evidence import evidence_public_keys
from rightsdesk.audit.evidence_check import EVENTS, LICENCES, evidence_check
from tests.audit.evidence_world import build_deal_world, event_lines, forge, members, pack, rewrite

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def media_in_tmp(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path / "media"


@pytest.fixture
def world():
    return build_deal_world()


@pytest.fixture
def data(world) -> bytes:
    return pack(world.licence)


def check(data: bytes, *, trusted: tuple[str, ...] = ()):
    return evidence_check(io.BytesIO(data), trusted_keys=trusted)


def verify_command(tmp_path, data: bytes, *args: str) -> tuple[str, str, CommandError | None]:
    path = tmp_path / "pack.zip"
    path.write_bytes(data)
    out, err = io.StringIO(), io.StringIO()
    try:
        call_command("evidence_verify", str(path), *args, stdout=out, stderr=err)
    except CommandError as exc:
        return out.getvalue(), err.getvalue(), exc
    return out.getvalue(), err.getvalue(), None


def _lines(files: dict[str, bytes]) -> list[bytes]:
    return files[EVENTS].splitlines(keepends=True)


def _full_index(files: dict[str, bytes], action: str) -> int:
    return next(
        i for i, line in enumerate(_lines(files)) if json.loads(line).get("action") == action
    )


# --- intact -----------------------------------------------------------------------------------


def test_an_untouched_pack_verifies_without_the_database(data, tmp_path, django_assert_num_queries):
    own = next(iter(evidence_public_keys()))

    with django_assert_num_queries(0):
        out, err, failure = verify_command(tmp_path, data, "--trusted-key", own)

    assert failure is None, err
    assert out.strip().endswith("evidence pack intact")
    assert f"signed by {own}: this instance's key" in out
    assert "live chain at build: intact" in out


def test_print_key_shows_the_fingerprint_packs_are_signed_with(data):
    out = io.StringIO()

    call_command("evidence_pack", "--print-key", stdout=out)

    fingerprint = out.getvalue().splitlines()[0].removeprefix("fingerprint ")
    assert json.loads(members(data)["manifest.json"])["signing"]["fingerprint"] == fingerprint
    assert check(data, trusted=(fingerprint,)).intact


# --- a careless edit: the manifest catches it ---------------------------------------------------


def test_an_edited_record_fails_its_file_hash(data, tmp_path):
    def lower_the_fee(files):
        files[LICENCES] = files[LICENCES].replace(b'"buyout_minor": 500000', b'"buyout_minor": 5')

    tampered = rewrite(data, lower_the_fee)

    report = check(tampered)
    assert report.codes() == ["file_hash_mismatch"]
    assert LICENCES in str(report.problems[0])
    _, err, failure = verify_command(tmp_path, tampered)
    assert failure is not None and "NOT intact: 1 problem" in str(failure)
    assert f"problem file_hash_mismatch: {LICENCES}" in err


def test_an_edited_manifest_fails_its_signature(data):
    def claim_another_subject(files):
        manifest = json.loads(files["manifest.json"])
        manifest["subject"]["reference"] = "licence:00000000-0000-0000-0000-000000000000"
        files["manifest.json"] = json.dumps(manifest, indent=2).encode()

    assert check(rewrite(data, claim_another_subject)).codes() == ["signature_invalid"]


def test_a_dropped_event_breaks_the_segment_and_its_hash(data):
    def drop_a_signature(files):
        lines = _lines(files)
        del lines[_full_index(files, "agreement.signed")]
        files[EVENTS] = b"".join(lines)

    codes = set(check(rewrite(data, drop_a_signature)).codes())

    assert {"file_hash_mismatch", "audit_sequence_gap", "audit_event_missing"} <= codes


def test_an_added_or_duplicated_member_is_named(data):
    extra = rewrite(data, lambda files: files.update({"records/extra.json": b"{}"}))
    assert check(extra).codes() == ["file_unlisted"]

    doubled = io.BytesIO()
    with zipfile.ZipFile(doubled, "w") as archive:
        for name, content in members(data).items():
            archive.writestr(name, content)
        with pytest.warns(UserWarning, match="Duplicate name"):
            # A second entry under a listed name: most readers take the last one.
            archive.writestr(LICENCES, b'{"licences": []}')
    assert "file_duplicated" in check(doubled.getvalue()).codes()


def test_something_that_is_not_a_pack_is_refused(tmp_path):
    assert check(b"not a zip at all").codes() == ["not_a_zip"]
    _, _, failure = verify_command(tmp_path, b"")
    assert failure is not None


# --- a forger: the chain and the texts catch it ------------------------------------------------


def test_a_forged_pack_is_refused_when_the_instance_key_is_pinned(data):
    own = next(iter(evidence_public_keys()))
    unchanged = forge(data, lambda files: None)

    assert check(unchanged).intact  # signed, but by someone else's key
    assert check(unchanged, trusted=(own,)).codes() == ["signing_key_untrusted"]


def test_a_dropped_event_is_caught_even_with_the_manifest_rehashed(data):
    def drop(files):
        lines = _lines(files)
        del lines[_full_index(files, "licence.proposed")]
        files[EVENTS] = b"".join(lines)

    codes = check(forge(data, drop)).codes()

    assert "audit_sequence_gap" in codes and "audit_link_broken" in codes
    assert "audit_event_missing" in codes
    assert "file_hash_mismatch" not in codes  # the forger fixed those


def test_reordered_events_are_caught_even_with_the_manifest_rehashed(data):
    def swap(files):
        lines = _lines(files)
        lines[0], lines[1] = lines[1], lines[0]
        files[EVENTS] = b"".join(lines)

    codes = set(check(forge(data, swap)).codes())

    assert {"audit_out_of_order", "audit_link_broken"} <= codes


def test_an_edited_event_payload_fails_its_own_hash(data):
    def rewrite_memo_hash(files):
        lines = _lines(files)
        index = _full_index(files, "licence.accepted")
        event = json.loads(lines[index])
        payload = json.loads(event["payload_json"])
        payload["deal_memo_language"] = "fr"
        event["payload_json"] = json.dumps(payload, sort_keys=True, separators=(",", ":"))
        lines[index] = (json.dumps(event) + "\n").encode()
        files[EVENTS] = b"".join(lines)

    report = check(forge(data, rewrite_memo_hash))

    assert report.codes() == ["audit_hash_mismatch"]
    assert "event #" in str(report.problems[0])


def test_a_relevant_event_passed_off_as_redacted_is_missing(data):
    def redact(files):
        lines = _lines(files)
        index = _full_index(files, "licence.accepted")
        event = json.loads(lines[index])
        stub = {
            "kind": "redacted",
            "from_sequence": event["sequence"],
            "to_sequence": event["sequence"],
            "prev_hash": event["prev_hash"],
            "hash": event["hash"],
        }
        lines[index] = (json.dumps(stub) + "\n").encode()
        files[EVENTS] = b"".join(lines)

    assert check(forge(data, redact)).codes() == ["audit_event_missing"]


def test_an_edited_deal_memo_no_longer_matches_what_was_accepted(data, world):
    memo_name = next(name for name in members(data) if name.startswith("texts/deal-memo-"))

    def soften(files):
        files[memo_name] = files[memo_name].replace(b"EUR 5,000.00", b"EUR 50,000.00")

    report = check(forge(data, soften))

    assert report.codes() == ["deal_memo_mismatch"]
    assert world.licence.deal_memo_sha256 in str(report.problems[0])


def test_an_edited_consent_notice_no_longer_matches_what_was_answered(data):
    notice = next(name for name in members(data) if name.startswith("texts/notice-train"))

    def reword(files):
        files[notice] = files[notice].replace(b"separate consent", b"general consent")

    assert check(forge(data, reword)).codes() == ["notice_text_mismatch"]


def test_a_consent_record_pointing_at_another_notice_contradicts_the_chain(data):
    def repoint(files):
        records = json.loads(files["records/consents.json"])
        consent = records["creation_consents"][0]
        consent["notice_sha256"] = consent["notice"]["sha256"] = "0" * 64
        files["records/consents.json"] = json.dumps(records).encode()

    codes = check(forge(data, repoint)).codes()

    assert "audit_record_mismatch" in codes
    assert "notice_text_mismatch" in codes


def test_the_redacted_runs_do_not_reveal_other_peoples_events(data):
    text = members(data)[EVENTS]

    assert b"someone else" not in text and b"test.unrelated" not in text
    assert any(line["kind"] == "redacted" for line in event_lines(data))


def test_a_section_dropped_with_its_manifest_entry_is_missing(data):
    def drop_the_ledger(files):
        del files["records/ledger.json"]
        manifest = json.loads(files["manifest.json"])
        manifest["files"] = [f for f in manifest["files"] if f["path"] != "records/ledger.json"]
        files["manifest.json"] = json.dumps(manifest).encode()

    report = check(forge(data, drop_the_ledger))

    assert report.codes() == ["file_missing"]
    assert "records/ledger.json" in str(report.problems[0])


def test_a_record_of_the_wrong_shape_is_reported_not_a_crash(data):
    def mangle(files):
        files[LICENCES] = b'{"licences": [{"offers": 7}]}'
        files["records/agreements.json"] = b"[1, 2, 3]"

    codes = check(forge(data, mangle)).codes()

    assert codes == ["record_unreadable", "record_unreadable"]

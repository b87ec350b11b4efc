"""Checking an evidence pack offline: no database, no Django, only the zip.

The pack's layout and the reasoning behind it are in ``evidence.py``. This module is the
other half: it opens the zip and reports every problem it finds, each with a stable code,
so ``manage.py evidence_verify`` (and a test) can name what is wrong. It imports nothing
but the standard library, ``cryptography`` and the audit chain's canonical forms, so it
can run on a machine that has never seen the instance.

What a clean report proves, and what it does not:

- every file is the one the manifest lists (SHA-256), and the manifest is the one that
  the Ed25519 key in the pack signed. Whether that key is the instance's is a separate
  question: pass its fingerprint (``--trusted-key``) to make a foreign key a problem;
- every audit event given in full hashes to its stored hash, the events and redacted runs
  follow each other without a gap, each links to the one before by its previous hash, and
  every event the manifest calls relevant is there in full;
- each exact text (consent notice, deal memo) hashes to what the consent or acceptance
  recorded, and to what the audit chain recorded at the time; agreement versions,
  signatures, offers, provenance commitments and ledger entries are internally coherent.

Redacted runs cannot be re-hashed (their content is not in the pack); they are checked
against the live chain only when the pack was built (``audit/verification.json``).
"""

import base64
import binascii
import hashlib
import json
import zipfile
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import IO, Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from rightsdesk.audit.canonical import GENESIS_HASH, event_hash

FORMAT = "rightsdesk-evidence-pack/1"
MANIFEST = "manifest.json"
SIGNATURE = "manifest.sig"
EVENTS = "audit/events.jsonl"
VERIFICATION = "audit/verification.json"
AGREEMENTS = "records/agreements.json"
LICENCES = "records/licences.json"
CONSENTS = "records/consents.json"
GATE_DECISIONS = "records/gate_decisions.json"
RENDERS = "records/renders.json"
PROVENANCE = "records/provenance.json"
LEDGER = "records/ledger.json"

FULL = "event"
REDACTED = "redacted"

# Problem codes: stable, listed in README.md ("Evidence packs").
NOT_A_ZIP = "not_a_zip"
MANIFEST_MISSING = "manifest_missing"
MANIFEST_UNREADABLE = "manifest_unreadable"
SIGNATURE_MISSING = "signature_missing"
SIGNATURE_INVALID = "signature_invalid"
SIGNING_KEY_UNTRUSTED = "signing_key_untrusted"
FILE_MISSING = "file_missing"
FILE_HASH_MISMATCH = "file_hash_mismatch"
FILE_UNLISTED = "file_unlisted"
FILE_DUPLICATED = "file_duplicated"
RECORD_UNREADABLE = "record_unreadable"
AUDIT_LINE_UNREADABLE = "audit_line_unreadable"
AUDIT_SEQUENCE_GAP = "audit_sequence_gap"
AUDIT_OUT_OF_ORDER = "audit_out_of_order"
AUDIT_LINK_BROKEN = "audit_link_broken"
AUDIT_HASH_MISMATCH = "audit_hash_mismatch"
AUDIT_EVENT_MISSING = "audit_event_missing"
AUDIT_EVENT_UNLISTED = "audit_event_unlisted"
AUDIT_SEGMENT_BOUNDS = "audit_segment_bounds"
AUDIT_BROKEN_AT_BUILD = "audit_broken_at_build"
AUDIT_RECORD_MISMATCH = "audit_record_mismatch"
NOTICE_TEXT_MISMATCH = "notice_text_mismatch"
DEAL_MEMO_MISMATCH = "deal_memo_mismatch"
LICENCE_TERMS_MISMATCH = "licence_terms_mismatch"
AGREEMENT_CONTENT_MISMATCH = "agreement_content_mismatch"
SIGNATURE_HASH_MISMATCH = "signature_hash_mismatch"
DOCUMENT_HASH_MISMATCH = "document_hash_mismatch"
COMMITMENT_MISMATCH = "commitment_mismatch"
SIGNED_FILE_MISMATCH = "signed_file_mismatch"
LEDGER_ENTRY_UNBALANCED = "ledger_entry_unbalanced"

# Every pack has these; one missing from the manifest is a section a forger dropped.
REQUIRED = (EVENTS, VERIFICATION, AGREEMENTS, LICENCES, CONSENTS, GATE_DECISIONS, RENDERS,
            PROVENANCE, LEDGER)  # fmt: skip

_CHUNK = 1 << 16


@dataclass(frozen=True)
class Problem:
    code: str
    detail: str

    def __str__(self) -> str:
        return f"{self.code}: {self.detail}"


@dataclass
class EvidenceReport:
    """What the check found. ``problems`` empty means intact; ``notes`` never fail it."""

    problems: list[Problem] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    subject: dict[str, Any] = field(default_factory=dict)
    generated_at: str = ""
    key_fingerprint: str = ""
    files_checked: int = 0
    events_in_full: int = 0
    events_redacted: int = 0
    segment: tuple[int, int] | None = None
    verified_at_build: bool | None = None

    @property
    def intact(self) -> bool:
        return not self.problems

    def codes(self) -> list[str]:
        return [problem.code for problem in self.problems]

    def problem(self, code: str, detail: str) -> None:
        self.problems.append(Problem(code, detail))


def sha256_hex(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def key_fingerprint(public_key_raw: bytes) -> str:
    """How a signing key is named: the SHA-256 of its 32 raw bytes, in hex."""
    return sha256_hex(public_key_raw)


def commitment_body(*, licence: str, consents: Iterable[str]) -> str:
    """The text provenance commits to (``provenance_commitment``): salt + this, hashed."""
    return json.dumps(
        {"licence": licence, "consents": sorted(consents)}, sort_keys=True, separators=(",", ":")
    )


def event_line_hash(line: dict[str, Any]) -> str:
    """The hash an event given in full must have (the chain's own formula)."""
    return event_hash(
        sequence=line["sequence"],
        created_at=datetime.fromisoformat(line["created_at"]),
        actor_id=line["actor_id"],
        actor_label=line["actor_label"],
        action=line["action"],
        target_type=line["target_type"],
        target_id=line["target_id"],
        payload_json=line["payload_json"],
        prev_hash=line["prev_hash"],
    )


class _Pack:
    """The zip's members, read through the manifest's list (duplicates are a problem)."""

    def __init__(self, archive: zipfile.ZipFile, report: EvidenceReport) -> None:
        self.archive = archive
        self.report = report
        self.listed: dict[str, str] = {}

    def raw(self, name: str) -> bytes | None:
        try:
            return self.archive.read(name)
        except KeyError:
            return None

    def digest(self, name: str) -> str | None:
        """SHA-256 of a listed member's bytes; None (and a problem) if it is not listed."""
        if name not in self.listed:
            self.report.problem(FILE_MISSING, f"{name} is not in the manifest")
            return None
        data = self.raw(name)
        return None if data is None else sha256_hex(data)

    def json(self, name: str) -> Any:
        if name not in self.listed:
            return None  # a section the pack does not have; its absence is checked elsewhere
        try:
            return json.loads(self.raw(name) or b"null")
        except (ValueError, UnicodeDecodeError) as exc:
            self.report.problem(RECORD_UNREADABLE, f"{name}: {exc}")
            return None


def _hash_member(archive: zipfile.ZipFile, name: str) -> str:
    digest = hashlib.sha256()
    with archive.open(name) as handle:
        while chunk := handle.read(_CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


# --- manifest and files ---------------------------------------------------------------------


def _read_manifest(pack: _Pack) -> tuple[dict[str, Any], bytes] | None:
    report = pack.report
    raw = pack.raw(MANIFEST)
    if raw is None:
        report.problem(MANIFEST_MISSING, f"the pack has no {MANIFEST}")
        return None
    try:
        manifest = json.loads(raw)
        files = manifest.get("files")
        if manifest.get("format") != FORMAT or not isinstance(files, list):
            raise ValueError(f"not a {FORMAT} manifest")
        if not all(isinstance(f, dict) and {"path", "sha256"} <= set(f) for f in files):
            raise ValueError("a file entry lacks its path or SHA-256")
    except (ValueError, AttributeError) as exc:
        report.problem(MANIFEST_UNREADABLE, str(exc))
        return None
    report.subject = manifest.get("subject") or {}
    report.generated_at = str(manifest.get("generated_at", ""))
    return manifest, raw


def _check_signature(
    pack: _Pack, manifest: dict[str, Any], raw: bytes, trusted_keys: frozenset[str]
) -> None:
    report = pack.report
    signing = manifest.get("signing") or {}
    try:
        public_raw = base64.b64decode(signing.get("public_key", ""), validate=True)
        public_key = Ed25519PublicKey.from_public_bytes(public_raw)
    except (ValueError, binascii.Error, TypeError):
        report.problem(SIGNATURE_INVALID, "the manifest names no readable Ed25519 public key")
        return
    report.key_fingerprint = key_fingerprint(public_raw)
    if signing.get("fingerprint") != report.key_fingerprint:
        report.problem(SIGNATURE_INVALID, "the manifest's key fingerprint is not its key's")
    signature = pack.raw(SIGNATURE)
    if signature is None:
        report.problem(SIGNATURE_MISSING, f"the pack has no {SIGNATURE}")
    else:
        try:
            public_key.verify(base64.b64decode(signature.strip(), validate=True), raw)
        except (InvalidSignature, ValueError, binascii.Error):
            report.problem(SIGNATURE_INVALID, f"{SIGNATURE} does not verify {MANIFEST}")
    if trusted_keys and report.key_fingerprint not in trusted_keys:
        report.problem(
            SIGNING_KEY_UNTRUSTED,
            f"signed by key {report.key_fingerprint}, which is not among the trusted keys",
        )


def _check_files(pack: _Pack, manifest: dict[str, Any]) -> None:
    report = pack.report
    names = pack.archive.namelist()
    for name, count in Counter(names).items():
        if count > 1:
            report.problem(FILE_DUPLICATED, f"{name} is in the zip {count} times")
    present = set(names)
    for entry in manifest["files"]:
        name, expected = entry.get("path"), entry.get("sha256")
        pack.listed[name] = expected
        if name not in present:
            report.problem(FILE_MISSING, f"{name} is listed in the manifest but not in the zip")
            continue
        actual = _hash_member(pack.archive, name)
        report.files_checked += 1
        if actual != expected:
            report.problem(FILE_HASH_MISMATCH, f"{name}: SHA-256 {actual}, manifest {expected}")
    for name in sorted(present - set(pack.listed) - {MANIFEST, SIGNATURE}):
        report.problem(FILE_UNLISTED, f"{name} is in the zip but not in the manifest")
    for name in REQUIRED:
        if name not in pack.listed:
            report.problem(FILE_MISSING, f"every pack lists {name}; this one does not")


# --- the audit segment ----------------------------------------------------------------------


def _segment_lines(pack: _Pack) -> list[dict[str, Any]] | None:
    data = pack.raw(EVENTS) if EVENTS in pack.listed else None
    if data is None:
        return None  # reported with the other files the manifest must list
    lines = []
    for number, line in enumerate(data.splitlines(), start=1):
        try:
            item = json.loads(line)
            if item.get("kind") not in (FULL, REDACTED):
                raise ValueError("neither an event nor a redacted run")
            lines.append(item)
        except (ValueError, AttributeError) as exc:  # UnicodeDecodeError is a ValueError
            pack.report.problem(AUDIT_LINE_UNREADABLE, f"line {number}: {exc}")
    return lines


def _span(item: dict[str, Any]) -> tuple[int, int]:
    if item["kind"] == FULL:
        return item["sequence"], item["sequence"]
    return item["from_sequence"], item["to_sequence"]


def _check_item(report: EvidenceReport, item: dict[str, Any], expected: int, prev: str) -> None:
    first, last = _span(item)
    where = f"event #{first}" if first == last else f"redacted events #{first}-#{last}"
    if first > expected:
        report.problem(AUDIT_SEQUENCE_GAP, f"{where}: expected #{expected} next")
    elif first < expected:
        report.problem(AUDIT_OUT_OF_ORDER, f"{where}: expected #{expected} next")
    if last < first:
        report.problem(AUDIT_SEQUENCE_GAP, f"{where}: the run ends before it starts")
    if item["prev_hash"] != prev:
        report.problem(AUDIT_LINK_BROKEN, f"{where} does not link to the item before it")
    if item["kind"] == FULL:
        report.events_in_full += 1
        try:
            recomputed = event_line_hash(item)
        except (KeyError, TypeError, ValueError) as exc:
            report.problem(AUDIT_LINE_UNREADABLE, f"{where}: {exc}")
            return
        if recomputed != item["hash"]:
            report.problem(AUDIT_HASH_MISMATCH, f"{where}: its fields do not give its hash")
    else:
        report.events_redacted += max(0, last - first + 1)


def _check_segment(pack: _Pack, manifest: dict[str, Any]) -> dict[str, list[dict[str, Any]]]:
    """Check the segment; return its full events by target (``"app.model:id"``)."""
    report = pack.report
    audit = manifest.get("audit") or {}
    lines = _segment_lines(pack)
    if lines is None:
        return {}
    first, last = audit.get("first_sequence"), audit.get("last_sequence")
    report.segment = (first, last) if first is not None else None
    try:
        expected = int(first) if first is not None else 1
        prev = str(audit["previous_hash"]) if first is not None else GENESIS_HASH
        if first == 1 and prev != GENESIS_HASH:
            report.problem(AUDIT_LINK_BROKEN, "event #1 must follow the genesis hash")
        for item in lines:
            _check_item(report, item, expected, prev)
            expected, prev = _span(item)[1] + 1, item["hash"]
        if first is None and lines:
            report.problem(AUDIT_SEGMENT_BOUNDS, "the manifest says the segment is empty")
        if first is not None and (not lines or expected - 1 != last):
            report.problem(AUDIT_SEGMENT_BOUNDS, f"the segment does not end at #{last}")
        return _relevant_events(report, audit, lines)
    except (KeyError, TypeError, ValueError) as exc:
        report.problem(AUDIT_LINE_UNREADABLE, f"the segment cannot be read: {exc}")
        return {}


def _relevant_events(
    report: EvidenceReport, audit: dict[str, Any], lines: list[dict[str, Any]]
) -> dict[str, list[dict[str, Any]]]:
    full = {item["sequence"]: item for item in lines if item["kind"] == FULL}
    relevant = set(audit.get("relevant_sequences") or [])
    for sequence in sorted(relevant - set(full)):
        report.problem(AUDIT_EVENT_MISSING, f"relevant event #{sequence} is not given in full")
    for sequence in sorted(set(full) - relevant):
        report.problem(AUDIT_EVENT_UNLISTED, f"event #{sequence} is given in full unlisted")
    by_target: dict[str, list[dict[str, Any]]] = {}
    for item in full.values():
        target = f"{item.get('target_type')}:{item.get('target_id')}"
        by_target.setdefault(target, []).append(item)
    return by_target


def _check_build_result(pack: _Pack) -> None:
    result = pack.json(VERIFICATION)
    if not isinstance(result, dict):
        return
    pack.report.verified_at_build = bool(result.get("intact"))
    if not result.get("intact"):
        pack.report.problem(
            AUDIT_BROKEN_AT_BUILD,
            f"the live chain was broken when the pack was built: {result.get('first_break')}",
        )


# --- the records ----------------------------------------------------------------------------


def _payloads(events: dict[str, list], target: str, action: str) -> list[dict[str, Any]]:
    """The payloads of ``target``'s full events of ``action`` (unreadable ones skipped:
    their hash check already failed)."""
    found = []
    for item in events.get(target, []):
        if item.get("action") != action:
            continue
        try:
            payload = json.loads(item["payload_json"])
        except (KeyError, TypeError, ValueError):
            continue
        if isinstance(payload, dict):
            found.append(payload)
    return found


def _section(pack: _Pack, name: str, key: str) -> list[dict[str, Any]]:
    """The list ``key`` of the record file ``name``; a wrong shape is a problem."""
    value = pack.json(name)
    items = value.get(key) if isinstance(value, dict) else None
    if value is not None and (
        not isinstance(items, list) or not all(isinstance(item, dict) for item in items)
    ):
        pack.report.problem(RECORD_UNREADABLE, f"{name}: no list of {key}")
        return []
    return items or []


def _check_text(pack: _Pack, name: str | None, expected: str, code: str, what: str) -> None:
    """An exact text (its bytes, as UTF-8) must hash to what was recorded when it was shown."""
    if name and pack.digest(name) not in (None, expected):
        pack.report.problem(code, f"{what}: {name} does not hash to {expected}")


def _check_consents(pack: _Pack, events: dict[str, list]) -> None:
    report = pack.report
    for consent in _section(pack, CONSENTS, "creation_consents"):
        notice, answered = consent.get("notice") or {}, consent.get("notice_sha256")
        what = f"consent {consent.get('id')}"
        if notice.get("sha256") != answered:
            report.problem(NOTICE_TEXT_MISMATCH, f"{what}: answered another notice's hash")
        _check_text(pack, notice.get("text_file"), answered, NOTICE_TEXT_MISMATCH, what)
        target = f"consent.creationconsent:{consent.get('id')}"
        given = _payloads(events, target, "creation_consent.given")
        if not given:
            report.notes.append(f"{what}: no creation_consent.given event in the segment")
        for payload in given:
            if (payload.get("notice") or {}).get("sha256") != answered:
                report.problem(AUDIT_RECORD_MISMATCH, f"{what}: the chain names another notice")


def _check_offers(pack: _Pack, licence: dict[str, Any], what: str) -> str:
    """Check each offer's terms and memo text; return the accepted memo's hash."""
    accepted_memo = ""
    for offer in licence.get("offers", []):
        offer_what = f"{what} offer {offer.get('sequence')}"
        terms = (offer.get("terms_json") or "").encode("utf-8")
        if sha256_hex(terms) != offer.get("terms_sha256"):
            pack.report.problem(LICENCE_TERMS_MISMATCH, f"{offer_what}: terms do not hash")
        memo = offer.get("deal_memo_sha256") or ""
        _check_text(pack, offer.get("deal_memo_file"), memo, DEAL_MEMO_MISMATCH, offer_what)
        if offer.get("kind") == "accepted":
            accepted_memo = memo
    return accepted_memo


def _check_licences(pack: _Pack, events: dict[str, list]) -> None:
    report = pack.report
    for licence in _section(pack, LICENCES, "licences"):
        what = f"licence {licence.get('id')}"
        accepted_memo = _check_offers(pack, licence, what)
        memo = licence.get("deal_memo_sha256")
        if memo and memo != accepted_memo:
            report.problem(DEAL_MEMO_MISMATCH, f"{what}: no accepted offer has its memo hash")
        target = f"licensing.licence:{licence.get('id')}"
        for payload in _payloads(events, target, "licence.accepted"):
            if payload.get("deal_memo_sha256") != memo:
                report.problem(AUDIT_RECORD_MISMATCH, f"{what}: the chain names another memo")


def _check_version(pack: _Pack, version: dict[str, Any], what: str) -> None:
    report, content = pack.report, version.get("content_sha256")
    body = f"{version.get('document_sha256')}\n{version.get('terms_json')}".encode()
    if sha256_hex(body) != content:
        report.problem(AGREEMENT_CONTENT_MISMATCH, f"{what}: the content hash differs")
    for signature in version.get("signatures", []):
        if signature.get("signed_sha256") != content:
            party = signature.get("party")
            report.problem(SIGNATURE_HASH_MISMATCH, f"{what}: {party} signed another hash")
    document = version.get("document_file")
    if not document:
        report.notes.append(f"{what}: document not in the pack ({version.get('document_note')})")
    elif pack.digest(document) not in (None, version.get("document_sha256")):
        report.problem(DOCUMENT_HASH_MISMATCH, f"{what}: {document} differs")


def _check_agreements(pack: _Pack) -> None:
    for agreement in _section(pack, AGREEMENTS, "agreements"):
        for version in agreement.get("versions", []):
            what = f"agreement {agreement.get('id')} v{version.get('number')}"
            _check_version(pack, version, what)


def _opens(opening: dict[str, Any], commitment: str | None) -> bool:
    try:
        digest = sha256_hex(bytes.fromhex(opening["salt_hex"]) + opening["body"].encode())
    except (KeyError, TypeError, ValueError, AttributeError):
        return False
    return f"sha256:{digest}" == commitment


def _check_provenance(pack: _Pack) -> None:
    report = pack.report
    for record in _section(pack, PROVENANCE, "records"):
        what = f"provenance record of {record.get('asset_reference')}"
        opening = record.get("commitment_opening")
        if opening is None:
            report.notes.append(f"{what}: commitment not opened ({record.get('commitment_note')})")
        elif not _opens(opening, record.get("commitment")):
            report.problem(COMMITMENT_MISMATCH, f"{what}: the opening does not give it")
        signed = record.get("signed_file_path")
        if signed and pack.digest(signed) not in (None, record.get("signed_sha256")):
            report.problem(SIGNED_FILE_MISMATCH, f"{what}: {signed} differs")


def _check_ledger(pack: _Pack) -> None:
    for entry in _section(pack, LEDGER, "entries"):
        totals: Counter[str] = Counter()
        for line in entry.get("lines", []):
            totals[line.get("currency", "")] += int(line.get("amount_minor", 0))
        if any(totals.values()):
            pack.report.problem(
                LEDGER_ENTRY_UNBALANCED, f"entry {entry.get('id')} sums to {dict(totals)}"
            )


# --- entry point ----------------------------------------------------------------------------


def evidence_check(
    source: str | Path | IO[bytes], *, trusted_keys: Iterable[str] = ()
) -> EvidenceReport:
    """Check the pack at ``source`` (a path or a binary file object)."""
    report = EvidenceReport()
    try:
        archive = zipfile.ZipFile(source)
    except (zipfile.BadZipFile, OSError) as exc:
        report.problem(NOT_A_ZIP, str(exc))
        return report
    with archive:
        pack = _Pack(archive, report)
        read = _read_manifest(pack)
        if read is None:
            return report
        manifest, raw = read
        _check_signature(pack, manifest, raw, frozenset(k.lower() for k in trusted_keys))
        _check_files(pack, manifest)
        events = _check_segment(pack, manifest)
        _check_build_result(pack)
        _check_records(pack, events)
    return report


def _check_records(pack: _Pack, events: dict[str, list]) -> None:
    checks = [
        (CONSENTS, lambda: _check_consents(pack, events)),
        (LICENCES, lambda: _check_licences(pack, events)),
        (AGREEMENTS, lambda: _check_agreements(pack)),
        (PROVENANCE, lambda: _check_provenance(pack)),
        (LEDGER, lambda: _check_ledger(pack)),
    ]
    for name, check in checks:
        try:
            check()
        except (AttributeError, KeyError, TypeError, ValueError) as exc:
            # A record of an unexpected shape (a forged pack): say so rather than crash.
            pack.report.problem(RECORD_UNREADABLE, f"{name}: {type(exc).__name__}: {exc}")

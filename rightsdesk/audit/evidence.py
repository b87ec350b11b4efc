"""Evidence packs: everything that shows a licence or an asset was used as agreed, in one
zip that can be checked offline (``evidence_check.py``; ``manage.py evidence_verify``).

A pack holds the agreement versions (exact terms JSON, the document, each signature), the
licence with every offer and the exact deal memo accepted, the talent's creation consents
with the exact notice texts, withdrawals, the render requests, assets and likenesses, the
gate decisions, the provenance records (with the opening of each hash commitment), the
ledger entries and reservations whose reference is the licence or an asset, and the audit
segment. ``manifest.json`` lists every file with its SHA-256; ``manifest.sig`` is an
Ed25519 signature of the manifest's exact bytes.

The audit segment. Offline, a chain can only be checked as a contiguous run: each event's
hash is re-computed from its stored canonical text and must be what the next one names as
its previous hash. The segment is therefore every event from the first to the last one
whose target is an object in the pack (the "relevant" events, given in full). Between them
lie other people's events, whose payloads, actors and targets are personal data or other
brands' deals; they are redacted. An event's hash covers its payload text itself, so a
redacted event cannot be re-hashed offline whatever we keep of it: a stub would only repeat
the hashes the chain claims. We therefore collapse each run of unrelated events into one
line (first and last sequence, the previous hash of the first, the hash of the last). The
checks are the same as with one stub per event (sequences continue, every link matches)
and the pack stays small however busy the instance was between two relevant events.

What the offline check cannot see, the pack states and the instance signs: that the
redacted runs hold no relevant event, and that they hash as claimed. When the pack is built
every event of the segment, redacted ones included, is re-hashed from the database and the
segment's link to the event before it is checked; the result is ``audit/verification.json``
(a broken chain is still packed, and ``evidence_verify`` reports it). Anyone with database
access can later hold a pack against the live chain: each full event and each run boundary
must carry the same hash at the same sequence, and ``audit_verify`` covers the rest.

Signing. The key is Ed25519, derived with HKDF-SHA256 from the instance's key-encryption
key (``RIGHTSDESK_DATA_KEY``) under its own label, so there is no new secret to store, and
production, which must set that key, always signs with the same evidence key. The pack
carries the public key; its fingerprint (SHA-256 of the raw key) is what a recipient pins
(``evidence_verify --trusted-key``, ``evidence_pack --print-key``). Rotating the KEK
rotates the evidence key; older keys stay recognisable while their KEK is listed in
``RIGHTSDESK_DATA_KEYS_OLD``. The C2PA signer is not reused: its certificate is issued for
content credentials, and one key should serve one purpose. Ed25519 signatures are
deterministic, so the same manifest always gets the same signature.

Reads. On PostgreSQL the pack is read in one REPEATABLE READ, READ ONLY transaction, so
its records and its audit segment are one snapshot. SQLite's transactions here take the
write lock (IMMEDIATE), so there the reads run outside one; an event appended meanwhile
only makes the segment end earlier than the newest record.

A pack taken through the API is audited (``evidence.exported`` on its subject, with the
manifest's hash), so the next pack for that subject shows who took the earlier ones. The
operator's command, run by someone who already holds the database, is not.
"""

import base64
import hashlib
import json
import tempfile
import zipfile
from collections import defaultdict
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC
from typing import IO, Any

from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from django.conf import settings
from django.db import connection, transaction
from django.db.models import Q
from django.http import FileResponse
from django.utils import timezone

from rightsdesk.accounts.models import User
from rightsdesk.audit.canonical import GENESIS_HASH, canonical_json
from rightsdesk.audit.evidence_check import (
    EVENTS,
    FORMAT,
    FULL,
    MANIFEST,
    REDACTED,
    SIGNATURE,
    VERIFICATION,
    key_fingerprint,
)
from rightsdesk.audit.evidence_selectors import (
    EvidenceSubject,
    evidence_content_gather,
)
from rightsdesk.audit.models import AuditChainHead, AuditEvent
from rightsdesk.audit.services import audit_record
from rightsdesk.audit.verify import SEQUENCE_GAP, ChainBreak, _check_event
from rightsdesk.core.crypto import key_ring

SIGNING_KEY_INFO = b"rightsdesk evidence-pack signing key v1"
# Fixed member times: the same records make the same zip bytes (generated_at aside).
ZIP_DATE = (1980, 1, 1, 0, 0, 0)
BATCH_SIZE = 2000
# A pack to download is spooled in memory up to this size, then to a temporary file.
EVIDENCE_SPOOL_BYTES = 16 * 1024 * 1024

README_TEXT = """\
Rightsdesk evidence pack
========================

manifest.json lists every other file with its SHA-256 and says what the pack is about.
manifest.sig is an Ed25519 signature (base64) of manifest.json's exact bytes, made with
the public key given in manifest.json ("signing"); compare its fingerprint with the one
the instance publishes.

records/*.json  agreements (versions, exact terms, signatures), licences (offers, deal
                memos), creation consents and withdrawals, gate decisions, render requests,
                assets and likenesses, provenance records, ledger entries and reservations
texts/          the exact consent notices and deal memos shown, as UTF-8: their SHA-256
                is the hash the consent or acceptance recorded
documents/      the agreement documents; assets/ the signed image (asset packs)
audit/events.jsonl
                the audit segment, one JSON object a line. "event" lines are given in
                full: the SHA-256 of the canonical JSON array [sequence, created_at (UTC
                ISO 8601), actor_id, actor_label, action, target_type, target_id,
                payload_json, prev_hash] (sorted keys, no spaces, UTF-8) is its hash.
                "redacted" lines stand for a run of other people's events: only the
                previous hash of the first and the hash of the last are given. Each line's
                prev_hash is the hash of the line before it.
audit/verification.json
                the check of the whole segment against the live chain when the pack was
                built, redacted events included

To check it: python manage.py evidence_verify <this zip> [--trusted-key <fingerprint>]
"""


# --- the signing key ------------------------------------------------------------------------


def evidence_signing_key(*, kek_id: str | None = None) -> tuple[str, Ed25519PrivateKey]:
    """``(kek id, key)``: the evidence key derived from the current (or named) KEK."""
    ring = key_ring()
    kek_id = kek_id or ring.current_id
    seed = HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=SIGNING_KEY_INFO).derive(
        ring.get(kek_id)
    )
    return kek_id, Ed25519PrivateKey.from_private_bytes(seed)


def public_key_raw(key: Ed25519PrivateKey) -> bytes:
    """The 32 raw bytes of the public half of ``key``."""
    return key.public_key().public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)


def evidence_public_keys() -> dict[str, str]:
    """Fingerprint -> KEK id for every evidence key this instance can sign or has signed
    with (the current KEK's and those of ``RIGHTSDESK_DATA_KEYS_OLD``)."""
    found = {}
    for kek_id in key_ring().keys:
        _, key = evidence_signing_key(kek_id=kek_id)
        found[key_fingerprint(public_key_raw(key))] = kek_id
    return found


# --- writing the zip ------------------------------------------------------------------------


class _PackWriter:
    def __init__(self, out: IO[bytes]) -> None:
        self.zip = zipfile.ZipFile(out, "w", compression=zipfile.ZIP_DEFLATED)
        self.listed: list[dict[str, Any]] = []

    @staticmethod
    def _info(path: str) -> zipfile.ZipInfo:
        info = zipfile.ZipInfo(path, date_time=ZIP_DATE)
        info.compress_type = zipfile.ZIP_DEFLATED
        info.external_attr = 0o644 << 16
        return info

    def add(self, path: str, data: bytes, *, listed: bool = True) -> None:
        self.zip.writestr(self._info(path), data)
        if listed:
            digest = hashlib.sha256(data).hexdigest()
            self.listed.append({"path": path, "sha256": digest, "bytes": len(data)})

    @contextmanager
    def stream(self, path: str) -> Iterator[Callable[[bytes], None]]:
        """Write a member piece by piece (the audit segment may be long)."""
        digest, size = hashlib.sha256(), 0

        with self.zip.open(self._info(path), "w", force_zip64=True) as handle:

            def write(data: bytes) -> None:
                nonlocal size
                digest.update(data)
                size += len(data)
                handle.write(data)

            yield write
        self.listed.append({"path": path, "sha256": digest.hexdigest(), "bytes": size})

    def close(self) -> None:
        self.zip.close()


def _json_bytes(value: Any) -> bytes:
    return (json.dumps(value, indent=2, sort_keys=True, ensure_ascii=False) + "\n").encode()


# --- the audit segment ----------------------------------------------------------------------


@dataclass(frozen=True)
class Segment:
    first: int | None
    last: int | None
    previous_hash: str | None
    relevant: list[int]
    redacted: int
    events_checked: int
    first_break: ChainBreak | None


def _relevant_sequences(targets: set[tuple[str, str]]) -> list[int]:
    by_type: dict[str, set[str]] = defaultdict(set)
    for target_type, target_id in targets:
        by_type[target_type].add(target_id)
    if not by_type:
        return []
    where = Q()
    for target_type, ids in sorted(by_type.items()):
        where |= Q(target_type=target_type, target_id__in=sorted(ids))
    return list(
        AuditEvent.objects.filter(where).order_by("sequence").values_list("sequence", flat=True)
    )


def _full_line(event: AuditEvent) -> dict[str, Any]:
    return {
        "kind": FULL,
        "sequence": event.sequence,
        "created_at": event.created_at.astimezone(UTC).isoformat(),
        "actor_id": event.actor_id,
        "actor_label": event.actor_label,
        "action": event.action,
        "target_type": event.target_type,
        "target_id": event.target_id,
        "payload_json": event.payload_json,
        "prev_hash": event.prev_hash,
        "hash": event.hash,
    }


class _SegmentCheck:
    """Re-hash every event of the range from the database as it streams past."""

    def __init__(self, first: int, before: str | None) -> None:
        self.expected, self.prev, self.checked = first, before, 0
        self.first_break: ChainBreak | None = None
        if before is None:
            detail = "the event before the segment is missing"
            self.first_break = ChainBreak(first - 1, None, SEQUENCE_GAP, detail)

    def see(self, event: AuditEvent) -> None:
        if self.first_break is None:
            # verify.py's own per-event rule, so the pack and audit_verify agree.
            self.first_break = _check_event(event, self.expected, self.prev)
        if self.first_break is None:
            self.checked += 1
        self.expected, self.prev = event.sequence + 1, event.hash


def _write_segment(writer: _PackWriter, targets: set[tuple[str, str]]) -> Segment:
    relevant = _relevant_sequences(targets)
    if not relevant:
        writer.add(EVENTS, b"")
        return Segment(None, None, None, [], 0, 0, None)
    first, last, wanted = relevant[0], relevant[-1], set(relevant)
    before = (
        GENESIS_HASH
        if first == 1
        else AuditEvent.objects.filter(sequence=first - 1).values_list("hash", flat=True).first()
    )
    check, run, redacted, previous_hash = _SegmentCheck(first, before), None, 0, None
    events = AuditEvent.objects.filter(sequence__gte=first, sequence__lte=last)
    with writer.stream(EVENTS) as write:
        for event in events.order_by("sequence").iterator(chunk_size=BATCH_SIZE):
            check.see(event)
            previous_hash = event.prev_hash if previous_hash is None else previous_hash
            if event.sequence in wanted:
                if run is not None:
                    write((canonical_json(run) + "\n").encode())
                    run = None
                write((canonical_json(_full_line(event)) + "\n").encode())
                continue
            redacted += 1
            if run is None:
                run = {"kind": REDACTED, "from_sequence": event.sequence}
                run["prev_hash"] = event.prev_hash
            run |= {"to_sequence": event.sequence, "hash": event.hash}
    return Segment(first, last, previous_hash, relevant, redacted, check.checked, check.first_break)


def _verification(segment: Segment) -> dict[str, Any]:
    head = AuditChainHead.objects.filter(pk=1).first()
    return {
        "checked_at": timezone.now().astimezone(UTC).isoformat(),
        "method": (
            "every event of the segment, redacted ones included, re-hashed from the live "
            "chain, and the segment's link to the event before it"
        ),
        "first_sequence": segment.first,
        "last_sequence": segment.last,
        "events_checked": segment.events_checked,
        "intact": segment.first_break is None,
        "first_break": str(segment.first_break) if segment.first_break else None,
        "chain_head": {
            "sequence": head.last_sequence if head else 0,
            "hash": head.last_hash if head else GENESIS_HASH,
        },
    }


# --- the pack -------------------------------------------------------------------------------


@dataclass(frozen=True)
class EvidencePack:
    """What was written: enough to audit the export and to report it."""

    subject: str
    manifest_sha256: str
    key_fingerprint: str
    files: int
    first_sequence: int | None
    last_sequence: int | None
    relevant_events: int
    redacted_events: int
    intact_at_build: bool


@contextmanager
def _one_snapshot() -> Iterator[None]:
    if connection.vendor == "postgresql" and not connection.in_atomic_block:
        with transaction.atomic():
            with connection.cursor() as cursor:
                cursor.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY")
            yield
    else:
        yield


def _manifest(
    *, subject: EvidenceSubject, viewer: User | None, writer: _PackWriter, segment: Segment,
    targets: set[tuple[str, str]], public_raw: bytes, kek_id: str,
) -> dict[str, Any]:  # fmt: skip
    return {
        "format": FORMAT,
        "generated_at": timezone.now().astimezone(UTC).isoformat(),
        "instance": settings.RIGHTSDESK_BASE_URL,
        "subject": {
            "kind": subject.kind,
            "id": str(subject.target.public_id),
            "reference": subject.reference,
        },
        "prepared_for": viewer.get_username() if viewer is not None else "operator",
        "files": sorted(writer.listed, key=lambda entry: entry["path"]),
        "audit": {
            "first_sequence": segment.first,
            "last_sequence": segment.last,
            "previous_hash": segment.previous_hash,
            "relevant_sequences": segment.relevant,
            "redacted_events": segment.redacted,
            "targets": sorted([list(target) for target in targets]),
        },
        "signing": {
            "algorithm": "Ed25519",
            "public_key": base64.b64encode(public_raw).decode(),
            "fingerprint": key_fingerprint(public_raw),
            "key_id": f"kek:{kek_id}",
        },
    }


def evidence_pack_write(
    *, subject: EvidenceSubject, viewer: User | None, out: IO[bytes]
) -> EvidencePack:
    """Write the pack for ``subject`` to ``out``; reads only. ``viewer`` None is the
    operator, who gets the network evidence of everyone (see evidence_selectors)."""
    kek_id, key = evidence_signing_key()
    public_raw = public_key_raw(key)
    writer = _PackWriter(out)
    with _one_snapshot():
        content = evidence_content_gather(subject=subject, viewer=viewer)
        for path, value in sorted(content.records.items()):
            writer.add(path, _json_bytes(value))
        for path, data in sorted(content.files.items()):
            writer.add(path, data)
        segment = _write_segment(writer, content.audit_targets)
        writer.add(VERIFICATION, _json_bytes(_verification(segment)))
    writer.add("README.txt", README_TEXT.encode())
    manifest = _json_bytes(
        _manifest(
            subject=subject,
            viewer=viewer,
            writer=writer,
            segment=segment,
            targets=content.audit_targets,
            public_raw=public_raw,
            kek_id=kek_id,
        )
    )
    writer.add(MANIFEST, manifest, listed=False)
    writer.add(SIGNATURE, base64.b64encode(key.sign(manifest)) + b"\n", listed=False)
    writer.close()
    return EvidencePack(
        subject=subject.reference,
        manifest_sha256=hashlib.sha256(manifest).hexdigest(),
        key_fingerprint=key_fingerprint(public_raw),
        files=len(writer.listed),
        first_sequence=segment.first,
        last_sequence=segment.last,
        relevant_events=len(segment.relevant),
        redacted_events=segment.redacted,
        intact_at_build=segment.first_break is None,
    )


def evidence_pack_export(*, subject: EvidenceSubject, viewer: User, out: IO[bytes]) -> EvidencePack:
    """Write the pack for a user and audit that they took it (after the slow part: the
    chain lock is never held while the zip is written)."""
    pack = evidence_pack_write(subject=subject, viewer=viewer, out=out)
    with transaction.atomic():
        audit_record(
            actor=viewer,
            action="evidence.exported",
            target=subject.target,
            payload={
                "subject": pack.subject,
                "manifest_sha256": pack.manifest_sha256,
                "key_fingerprint": pack.key_fingerprint,
                "segment": [pack.first_sequence, pack.last_sequence],
            },
        )
    return pack


def evidence_pack_download(*, subject: EvidenceSubject, viewer: User) -> FileResponse:
    """The pack exported for ``viewer`` (audited, as evidence_pack_export) as a zip
    attachment, ``X-Evidence-Manifest-SHA256`` the hash recorded: what the API and the
    agreement page both send. An ApplicationError from the export reaches the caller."""
    # Not a context manager: FileResponse closes it once the body is sent.
    spool = tempfile.SpooledTemporaryFile(max_size=EVIDENCE_SPOOL_BYTES)  # noqa: SIM115
    try:
        pack = evidence_pack_export(subject=subject, viewer=viewer, out=spool)
    except BaseException:
        spool.close()
        raise
    spool.seek(0)
    response = FileResponse(
        spool,
        as_attachment=True,
        filename=f"evidence-{subject.kind}-{subject.target.public_id}.zip",
        content_type="application/zip",
    )
    response["X-Evidence-Manifest-SHA256"] = pack.manifest_sha256
    return response

from pathlib import Path

from django.core.management.base import BaseCommand, CommandError, CommandParser

from rightsdesk.audit.evidence import evidence_pack_write, evidence_signing_key, public_key_raw
from rightsdesk.audit.evidence_check import key_fingerprint
from rightsdesk.audit.evidence_selectors import evidence_subject_get
from rightsdesk.core.errors import NotFound


class Command(BaseCommand):
    help = (
        "Write the evidence pack (a zip) of an asset or a licence, for the operator: "
        "records, exact texts and the audit segment, signed. Reads only; not audited."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        subject = parser.add_mutually_exclusive_group(required=True)
        subject.add_argument("--asset", help="The asset's public id")
        subject.add_argument("--licence", help="The licence's public id")
        subject.add_argument(
            "--print-key",
            action="store_true",
            help="Print this instance's evidence signing key (fingerprint, public key)",
        )
        parser.add_argument(
            "--output", "-o", help="Where to write the zip (default: evidence-<kind>-<id>.zip)"
        )

    def handle(self, *args, **options) -> None:
        if options["print_key"]:
            kek_id, key = evidence_signing_key()
            raw = public_key_raw(key)
            self.stdout.write(f"fingerprint {key_fingerprint(raw)}")
            self.stdout.write(f"public key (Ed25519, raw, hex) {raw.hex()}")
            self.stdout.write(f"derived from key-encryption key {kek_id}")
            return
        try:
            subject = evidence_subject_get(asset=options["asset"], licence=options["licence"])
        except NotFound as exc:
            raise CommandError(exc.message)
        default = f"evidence-{subject.kind}-{subject.target.public_id}.zip"
        path = Path(options["output"] or default)
        # Written aside and renamed, so a failure never leaves half a pack under its name.
        partial = path.with_name(path.name + ".partial")
        try:
            with partial.open("wb") as out:
                pack = evidence_pack_write(subject=subject, viewer=None, out=out)
            partial.replace(path)
        finally:
            partial.unlink(missing_ok=True)
        segment = (
            f"audit events #{pack.first_sequence}-#{pack.last_sequence}: "
            f"{pack.relevant_events} in full, {pack.redacted_events} redacted"
            if pack.first_sequence is not None
            else "no audit events"
        )
        state = "intact" if pack.intact_at_build else "BROKEN (see audit/verification.json)"
        self.stdout.write(f"{pack.subject}: {pack.files} files, {segment}; chain {state}")
        self.stdout.write(f"manifest sha256 {pack.manifest_sha256}")
        self.stdout.write(f"signed by {pack.key_fingerprint}")
        self.stdout.write(str(path))

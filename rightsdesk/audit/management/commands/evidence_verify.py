from django.core.management.base import BaseCommand, CommandError, CommandParser

from rightsdesk.audit.evidence import evidence_public_keys
from rightsdesk.audit.evidence_check import evidence_check


class Command(BaseCommand):
    help = (
        "Check an evidence pack offline (no database): the manifest's signature and file "
        "hashes, the audit segment's hashes and links, and the exact texts. Exit 0 when "
        "intact, 1 listing every problem."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("zip", help="The evidence pack")
        parser.add_argument(
            "--trusted-key",
            action="append",
            default=[],
            metavar="FINGERPRINT",
            help="A signing key fingerprint to accept (repeatable); any other is a problem",
        )

    def handle(self, *args, **options) -> None:
        report = evidence_check(options["zip"], trusted_keys=options["trusted_key"])
        subject = report.subject or {}
        if subject:
            self.stdout.write(
                f"evidence pack for {subject.get('reference')}, made {report.generated_at}"
            )
        if report.key_fingerprint:
            own = evidence_public_keys().get(report.key_fingerprint)
            whose = f"this instance's key (KEK {own})" if own else "not a key of this instance"
            self.stdout.write(f"signed by {report.key_fingerprint}: {whose}")
        self.stdout.write(f"{report.files_checked} files checked")
        if report.segment is not None:
            first, last = report.segment
            build = {True: "intact", False: "broken", None: "not recorded"}
            self.stdout.write(
                f"audit segment #{first}-#{last}: {report.events_in_full} events in full, "
                f"{report.events_redacted} redacted; live chain at build: "
                f"{build[report.verified_at_build]}"
            )
        for note in report.notes:
            self.stdout.write(f"note: {note}")
        if report.problems:
            for problem in report.problems:
                self.stderr.write(f"problem {problem}")
            raise CommandError(f"evidence pack NOT intact: {len(report.problems)} problem(s)")
        self.stdout.write("evidence pack intact")

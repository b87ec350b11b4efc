"""``manage.py verify FILE... [--json]``: the verification report of each file.

Exit status: 0 when every file is trusted, 1 when any is not (valid but untrusted, invalid,
without credentials, a possible match), 2 when any file could not be verified at all
(missing, unreadable, empty, not an image, corrupt, too large).
"""

import json
from pathlib import Path

from django.conf import settings
from django.core.management.base import BaseCommand

from rightsdesk.core.errors import ApplicationError
from rightsdesk.provenance import types, wording
from rightsdesk.provenance.verification import FINDING_REMOTE, verify_image
from rightsdesk.talent.errors import ImageTooLarge

EXIT_TRUSTED, EXIT_NOT_TRUSTED, EXIT_BAD_INPUT = 0, 1, 2


class Command(BaseCommand):
    help = "Verify the Content Credentials (C2PA) of image files, as /verify/ does."

    def add_arguments(self, parser) -> None:
        parser.add_argument("files", nargs="+", metavar="FILE")
        parser.add_argument("--json", action="store_true", help="one JSON array on stdout")

    def handle(self, *args, files: list[str], json: bool = False, **options) -> None:
        results, status = [], EXIT_TRUSTED
        for name in files:
            try:
                report = verify_image(_read(Path(name)), filename=name)
            except ApplicationError as exc:
                results.append({"filename": name, "error": exc.as_dict()})
                status = EXIT_BAD_INPUT
                continue
            except OSError as exc:
                error = {"code": "file_unreadable", "message": f"Cannot read it: {exc.strerror}."}
                results.append({"filename": name, "error": error})
                status = EXIT_BAD_INPUT
                continue
            results.append(report)
            if report.state != types.TRUSTED and status == EXIT_TRUSTED:
                status = EXIT_NOT_TRUSTED
        if json:
            self.stdout.write(_dumps([_as_json(result) for result in results]))
        else:
            for result in results:
                self.stdout.write(_as_text(result))
        if status != EXIT_TRUSTED:
            raise SystemExit(status)


def _read(path: Path) -> bytes:
    """The file's bytes, refused before reading when it is above the size limit."""
    max_bytes = settings.RIGHTSDESK_VERIFY_MAX_BYTES
    size = path.stat().st_size
    if size > max_bytes:
        raise ImageTooLarge(max_bytes=max_bytes, byte_size=size)
    with path.open("rb") as handle:
        return handle.read(max_bytes + 1)


def _dumps(value) -> str:
    return json.dumps(value, indent=2, ensure_ascii=False)


def _as_json(result) -> dict:
    return result.to_json() if isinstance(result, types.VerificationReport) else result


def _as_text(result) -> str:
    if not isinstance(result, types.VerificationReport):
        error = result["error"]
        return f"{result['filename']}: error {error['code']}: {error['message']}\n"
    lines = [f"{result.filename}: {result.state}", f"  {result.summary()}"]
    for label, value in (
        ("issuer", result.issuer),
        ("signer", result.signer),
        ("claim generator", result.claim_generator),
        ("signed at", result.signed_at.isoformat() if result.signed_at else None),
        ("codes", ", ".join(result.codes) or None),
    ):
        if value:
            lines.append(f"  {label}: {value}")
    if FINDING_REMOTE in result.findings:
        lines.append("  " + wording.remote_manifest_finding(result.remote_manifest_url))
    if result.card:
        lines += [f"  {line}" for line in result.card.lines()]
        if result.card.report_url:
            lines.append(f"  {wording.report_prompt()} {result.card.report_url}")
    if result.possible_match:
        lines += [f"  {line}" for line in result.possible_match.lines()]
    return "\n".join(lines) + "\n"

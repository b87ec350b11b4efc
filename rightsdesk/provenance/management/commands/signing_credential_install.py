"""``manage.py signing_credential_install --chain FILE --key FILE [--organization ID]``.

How a brand brings its own C2PA signing credential: an operator installs the PEM chain
(signer first) and ES256 key the brand supplied, for the brand's public id. From then on
the brand's images are signed with it; its previous one (if any) stays as a trust anchor,
so earlier assets stay verifiable. Without ``--organization`` it installs the instance's
credential, as changing RIGHTSDESK_C2PA_CERT_CHAIN and RIGHTSDESK_C2PA_PRIVATE_KEY does.
The key is stored only encrypted; the files can be destroyed afterwards.
"""

from pathlib import Path
from uuid import UUID

from django.core.management.base import BaseCommand, CommandError

from rightsdesk.accounts.models import Organization
from rightsdesk.core.errors import ApplicationError
from rightsdesk.provenance.models import SigningCredential
from rightsdesk.provenance.services import signing_credential_install


class Command(BaseCommand):
    help = (
        "Install a C2PA signing credential (PEM chain and ES256 key) for a brand or the instance."
    )

    def add_arguments(self, parser) -> None:
        parser.add_argument("--chain", required=True, help="PEM certificate chain, signer first")
        parser.add_argument("--key", required=True, help="PEM ES256 (P-256) private key")
        parser.add_argument("--organization", help="the brand's public id; omit for the instance")

    def handle(self, *args, chain: str, key: str, organization: str | None, **options) -> None:
        brand = _brand(organization) if organization else None
        try:
            chain_pem, key_pem = Path(chain).read_text(), Path(key).read_text()
        except OSError as exc:
            raise CommandError(f"Cannot read {exc.filename}: {exc.strerror}.")
        source = SigningCredential.Source.BRAND if brand else SigningCredential.Source.SETTINGS
        try:
            credential = signing_credential_install(
                chain_pem=chain_pem, key_pem=key_pem, source=source, organization=brand
            )
        except ApplicationError as exc:
            raise CommandError(f"{exc.code}: {exc.message} {exc.extra or ''}".strip())
        owner = brand.name if brand else "the instance"
        self.stdout.write(
            f"Installed {credential.subject_common_name} for {owner} "
            f"(certificate sha256 {credential.certificate_sha256}, "
            f"valid until {credential.not_after.date().isoformat()})."
        )


def _brand(public_id: str) -> Organization:
    try:
        brand = Organization.objects.filter(public_id=UUID(public_id)).first()
    except ValueError:
        brand = None
    if brand is None or brand.kind != Organization.Kind.BRAND:
        raise CommandError(f"No brand has the public id {public_id}.")
    return brand

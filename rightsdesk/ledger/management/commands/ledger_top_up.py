from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError

from rightsdesk.core.errors import ApplicationError
from rightsdesk.ledger.services import ledger_budget_top_up
from rightsdesk.ledger.types import owner_ref


class Command(BaseCommand):
    help = "Credit a brand's budget with money received (staff). Safe to rerun with --key."

    def add_arguments(self, parser) -> None:
        parser.add_argument("--brand", required=True, help="the brand organisation's public id")
        parser.add_argument("--currency", required=True, help="ISO 4217, e.g. EUR")
        parser.add_argument("--amount-minor", type=int, required=True, help="in minor units")
        parser.add_argument("--key", required=True, help="idempotency key (e.g. the bank ref)")
        parser.add_argument("--staff", required=True, help="e-mail of the staff user acting")
        parser.add_argument("--note", default="")

    def handle(self, *args, **options) -> None:
        actor = get_user_model().objects.filter(email=options["staff"]).first()
        if actor is None:
            raise CommandError(f"no user {options['staff']}")
        try:
            entry = ledger_budget_top_up(
                brand=owner_ref("brand", options["brand"]),
                currency=options["currency"],
                amount_minor=options["amount_minor"],
                idempotency_key=options["key"],
                actor=actor,
                note=options["note"],
            )
        except ApplicationError as error:
            raise CommandError(f"{error.code}: {error.message} {error.extra}")
        self.stdout.write(f"top-up entry {entry.public_id}")

import sys

from django.core.management.base import BaseCommand, CommandError

from rightsdesk.core.errors import ApplicationError
from rightsdesk.ledger.selectors import ledger_statement
from rightsdesk.ledger.types import owner_ref


class Command(BaseCommand):
    help = (
        "Write a talent's statement for a UTC month (canonical JSON, or CSV) to stdout. "
        "For a closed month it is checked against the SHA-256 stored when it closed."
    )

    def add_arguments(self, parser) -> None:
        parser.add_argument("--talent", required=True, help="the talent's public id")
        parser.add_argument("--period", required=True, help="YYYY-MM")
        parser.add_argument("--format", choices=["json", "csv"], default="json")

    def handle(self, *args, **options) -> None:
        try:
            view = ledger_statement(
                owner=owner_ref("talent", options["talent"]), period=options["period"]
            )
        except ApplicationError as error:
            raise CommandError(f"{error.code}: {error.message} {error.extra}")
        statement = view.statement
        data = statement.csv_bytes() if options["format"] == "csv" else statement.json_bytes()
        if view.matches_stored is False:
            raise CommandError(
                f"the statement for closed month {options['period']} differs from the one "
                "hashed when it closed"
            )
        stream = getattr(self.stdout, "_out", sys.stdout)
        if hasattr(stream, "buffer"):
            stream.flush()
            stream.buffer.write(data)
            stream.buffer.flush()
        else:
            stream.write(data.decode("utf-8"))
        if options["format"] == "json":
            stream.write("\n")

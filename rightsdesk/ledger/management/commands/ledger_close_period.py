from django.core.management.base import BaseCommand, CommandError

from rightsdesk.core.errors import ApplicationError
from rightsdesk.ledger.services import ledger_close_due_periods, ledger_period_close


class Command(BaseCommand):
    help = "Close a UTC month (--period YYYY-MM), or every ended month not closed yet."

    def add_arguments(self, parser) -> None:
        parser.add_argument("--period", help="YYYY-MM; default: every month that is due")

    def handle(self, *args, **options) -> None:
        try:
            if options["period"]:
                closed = [ledger_period_close(period=options["period"]).period]
            else:
                closed = ledger_close_due_periods()
        except ApplicationError as error:
            raise CommandError(f"{error.code}: {error.message} {error.extra}")
        self.stdout.write(f"closed: {', '.join(closed) or 'nothing due'}")

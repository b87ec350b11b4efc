from django.core.management.base import BaseCommand

from rightsdesk.ledger.models import Remittance
from rightsdesk.ledger.selectors import remittances_overdue


class Command(BaseCommand):
    help = "List remittances owed to talents (--overdue: only those past their due date)."

    def add_arguments(self, parser) -> None:
        parser.add_argument("--overdue", action="store_true")

    def handle(self, *args, **options) -> None:
        if options["overdue"]:
            remittances = remittances_overdue()
        else:
            remittances = (
                Remittance.objects.filter(status=Remittance.Status.PENDING)
                .select_related("account")
                .order_by("due_on", "pk")
            )
        count = 0
        for r in remittances:
            count += 1
            self.stdout.write(
                f"{r.public_id}  due {r.due_on}  {r.amount_minor} {r.currency}  "
                f"from {r.payer} to {r.account.owner}"
            )
        self.stdout.write(f"{count} remittance(s)")

from django.core.management.base import BaseCommand, CommandError

from rightsdesk.ledger.checks import ledger_reconcile


class Command(BaseCommand):
    help = (
        "Run the ledger's checks and those the apps register; exit 0 when clean, "
        "non-zero with the list of problems otherwise."
    )

    def handle(self, *args, **options) -> None:
        outcomes = ledger_reconcile()
        problems = 0
        for outcome in outcomes:
            if outcome.ok:
                self.stdout.write(f"ok      {outcome.name}")
                continue
            self.stdout.write(f"FAILED  {outcome.name}")
            for problem in outcome.problems:
                problems += 1
                self.stdout.write(f"        - {problem}")
        if problems:
            raise CommandError(f"ledger reconciliation found {problems} problem(s)")
        self.stdout.write(f"ledger reconciled: {len(outcomes)} checks passed")

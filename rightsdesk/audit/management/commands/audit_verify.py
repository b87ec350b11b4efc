from django.core.management.base import BaseCommand, CommandError

from rightsdesk.audit.verify import verify_chain


class Command(BaseCommand):
    help = "Walk the audit hash chain; exit 1 naming the first broken event."

    def handle(self, *args, **options) -> None:
        result = verify_chain()
        if result.first_break is not None:
            raise CommandError(f"audit chain broken at {result.first_break}")
        self.stdout.write(f"audit chain intact: {result.events_checked} events")

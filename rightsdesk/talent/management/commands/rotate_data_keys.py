from django.core.management.base import BaseCommand, CommandError

from rightsdesk.core.crypto import key_ring
from rightsdesk.talent.datakeys import data_keys_wrapped_by_old_keks, talent_data_keys_rotate


class Command(BaseCommand):
    help = (
        "Rewrap every live talent data key under the current key-encryption key "
        "(RIGHTSDESK_DATA_KEY / RIGHTSDESK_DATA_KEY_ID). The old keys must still be listed in "
        "RIGHTSDESK_DATA_KEYS_OLD; once this succeeds they can be removed. Prints no key."
    )

    def handle(self, *args, **options) -> None:
        current = key_ring().current_id
        rewrapped = talent_data_keys_rotate()
        left = data_keys_wrapped_by_old_keks()
        if left:
            raise CommandError(f"still wrapped by old keys: {left}")
        self.stdout.write(
            f"rewrapped {rewrapped} data keys under {current}; no live key needs an old "
            "key-encryption key any more"
        )

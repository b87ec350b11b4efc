from django.apps import AppConfig


class TalentConfig(AppConfig):
    name = "rightsdesk.talent"
    label = "talent"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        # consent cannot import talent's key services (they import consent): when a `train`
        # or `capture` consent withdrawal takes effect, the data key is destroyed through
        # this callback, registered here and nowhere else (no signals).
        from rightsdesk.consent.hooks import on_withdrawal_effective
        from rightsdesk.ledger.checks import ledger_register_check
        from rightsdesk.talent.datakeys import data_key_destroy_on_withdrawal
        from rightsdesk.talent.fees import TALENT_CHECKS

        on_withdrawal_effective(data_key_destroy_on_withdrawal)
        # The ledger imports nothing from talent: the fee reconciliation is registered.
        for name, check in TALENT_CHECKS.items():
            ledger_register_check(name, check)

from django.apps import AppConfig


class RendersConfig(AppConfig):
    name = "rightsdesk.renders"
    label = "renders"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        # consent and the ledger import nothing from renders: renders tells them what to
        # do when a withdrawal takes effect, and what the reconciliation must check.
        from rightsdesk.consent.hooks import on_withdrawal_effective
        from rightsdesk.ledger.checks import ledger_register_check
        from rightsdesk.renders.ledger_checks import RENDERS_CHECKS
        from rightsdesk.renders.outputs import renders_apply_withdrawal

        on_withdrawal_effective(renders_apply_withdrawal)
        for name, check in RENDERS_CHECKS.items():
            ledger_register_check(name, check)

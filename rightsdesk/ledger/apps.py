from django.apps import AppConfig


class LedgerConfig(AppConfig):
    name = "rightsdesk.ledger"
    label = "ledger"
    verbose_name = "Royalty ledger"

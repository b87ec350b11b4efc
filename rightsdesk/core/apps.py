from django.apps import AppConfig


class CoreConfig(AppConfig):
    name = "rightsdesk.core"
    label = "core"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from rightsdesk.core import pgtypes

        pgtypes.connect()

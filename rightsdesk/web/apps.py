from django.apps import AppConfig


class WebConfig(AppConfig):
    name = "rightsdesk.web"
    label = "web"
    verbose_name = "Web pages"

    def ready(self) -> None:
        from rightsdesk.web import signals  # noqa: F401  (connects the receivers)

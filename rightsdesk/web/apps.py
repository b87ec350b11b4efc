from django.apps import AppConfig


class WebConfig(AppConfig):
    name = "rightsdesk.web"
    label = "web"
    verbose_name = "Web pages"

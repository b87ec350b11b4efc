from django.apps import AppConfig


class ProvenanceConfig(AppConfig):
    name = "rightsdesk.provenance"
    label = "provenance"
    verbose_name = "Provenance"

from django.db import migrations

from rightsdesk.core.migration_ops import drop_pattern_indexes


class Migration(migrations.Migration):
    dependencies = [
        ("provenance", "0001_initial"),
    ]

    operations = [
        drop_pattern_indexes(
            "provenance",
            [
                ("provenancerecord", "asset_reference"),
                ("provenancerecord", "manifest_label"),
                ("signingcredential", "certificate_sha256"),
            ],
        ),
    ]

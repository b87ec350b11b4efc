from django.db import migrations

from rightsdesk.core.migration_ops import drop_pattern_indexes


class Migration(migrations.Migration):
    dependencies = [
        ("ledger", "0003_fk_index_covered_by_unique"),
    ]

    operations = [
        drop_pattern_indexes(
            "ledger",
            [
                ("account", "key"),
                ("entry", "idempotency_key"),
                ("entry", "reference"),
                ("entry", "period"),
                ("period", "period"),
                ("reservation", "idempotency_key"),
                ("reservation", "reference"),
            ],
        ),
    ]

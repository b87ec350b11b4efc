from django.db import migrations

from rightsdesk.core.migration_ops import drop_pattern_indexes


class Migration(migrations.Migration):
    dependencies = [
        ("audit", "0003_append_function"),
    ]

    operations = [
        drop_pattern_indexes(
            "audit",
            [
                ("auditevent", "hash"),
            ],
        ),
    ]

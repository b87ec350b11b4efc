from django.db import migrations

from rightsdesk.core.migration_ops import drop_pattern_indexes


class Migration(migrations.Migration):
    dependencies = [
        ("accounts", "0001_initial"),
    ]

    operations = [
        drop_pattern_indexes(
            "accounts",
            [
                ("user", "email"),
            ],
        ),
    ]

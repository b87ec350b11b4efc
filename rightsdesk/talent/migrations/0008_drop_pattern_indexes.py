from django.db import migrations

from rightsdesk.core.migration_ops import drop_pattern_indexes


class Migration(migrations.Migration):
    dependencies = [
        ("talent", "0007_fk_index_covered_by_unique"),
    ]

    operations = [
        drop_pattern_indexes(
            "talent",
            [
                ("talentnamegram", "gram"),
            ],
        ),
    ]

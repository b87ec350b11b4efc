"""Migration operations more than one app uses."""

from django.db import migrations


def drop_pattern_indexes(app_label: str, fields: list[tuple[str, str]]) -> migrations.RunPython:
    """PostgreSQL: drop the ``varchar_pattern_ops`` copy (``<table>_<column>_<hash>_like``)
    that Django adds beside the index of each unique or indexed character column named
    in ``fields`` (``(model name, field name)`` pairs).

    Such an index serves only ``LIKE 'prefix%'`` queries, and none of ours makes one:
    lookups on these columns are by equality, which the plain index serves. Yet every
    insert wrote it: four of a render submission's index entries were these (its two audit
    events' hashes, its reservation's key and reference). Reversed, each is made again as
    Django makes it. ``tests/core/test_schema.py`` fails if one comes back. Other
    databases have no such index.
    """

    def name_of(schema_editor, model, field) -> str:
        return schema_editor._create_index_name(
            model._meta.db_table, [field.column], suffix="_like"
        )

    def each(apps):
        for model_name, field_name in fields:
            model = apps.get_model(app_label, model_name)
            yield model, model._meta.get_field(field_name)

    def forward(apps, schema_editor) -> None:
        if schema_editor.connection.vendor != "postgresql":
            return
        for model, field in each(apps):
            # DROP INDEX IF EXISTS: a database made before the column had one is fine.
            schema_editor.execute(
                schema_editor._delete_index_sql(model, name_of(schema_editor, model, field))
            )

    def backward(apps, schema_editor) -> None:
        if schema_editor.connection.vendor != "postgresql":
            return
        for model, field in each(apps):
            statement = schema_editor._create_like_index_sql(model, field)
            if statement is not None:
                schema_editor.execute(statement)

    return migrations.RunPython(forward, backward)

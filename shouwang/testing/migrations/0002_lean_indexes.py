"""Fewer indexes on the tables that get a row per person of a round (a million for a county), one for coverage.

- PersonRound: (round, area, state) answers coverage per area from the index alone, and the totals by state; it
  replaces (round, state). round and area alone are not indexed ((round, person) and the new index lead with them).
- TubeMember: round and person alone are not indexed ((round, purpose, person) and (person, round) lead with them);
  removed_by only where it is set (a few rows).
- Tube: round alone is not indexed ((round, state) leads with it).

The single-column foreign-key indexes are dropped by name as the database reports them, not by AlterField: on SQLite
AlterField copies the whole table (three times for TubeMember), which a million-row table should not pay.
"""

import django.db.models.deletion
from django.conf import settings
from django.db import migrations, models

DROPPED = [("personround", "round"), ("personround", "area"), ("tube", "round"), ("tubemember", "round"),
           ("tubemember", "person"), ("tubemember", "removed_by")]


def _single_column_indexes(schema_editor, model, column: str) -> list[str]:
    with schema_editor.connection.cursor() as cursor:
        constraints = schema_editor.connection.introspection.get_constraints(cursor, model._meta.db_table)
    return [name for name, c in constraints.items()
            if c["index"] and not c["unique"] and not c["primary_key"] and c["columns"] == [column]
            and not c.get("check")]


def drop_fk_indexes(apps, schema_editor):
    for model_name, field_name in DROPPED:
        model = apps.get_model("testing", model_name)
        column = model._meta.get_field(field_name).column
        for name in _single_column_indexes(schema_editor, model, column):
            schema_editor.execute(schema_editor._delete_index_sql(model, name))


def create_fk_indexes(apps, schema_editor):
    for model_name, field_name in DROPPED:
        model = apps.get_model("testing", model_name)
        field = model._meta.get_field(field_name)
        if not _single_column_indexes(schema_editor, model, field.column):
            schema_editor.execute(schema_editor._create_index_sql(model, fields=[field]))


class Migration(migrations.Migration):

    dependencies = [
        ('areas', '0002_area_code_length'),
        ('people', '0002_partial_merged_index'),
        ('testing', '0001_initial'),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.RemoveIndex(
            model_name='personround',
            name='testing_per_round_i_4b5086_idx',
        ),
        migrations.SeparateDatabaseAndState(
            database_operations=[migrations.RunPython(drop_fk_indexes, create_fk_indexes)],
            state_operations=[
                migrations.AlterField(
                    model_name='personround',
                    name='area',
                    field=models.ForeignKey(db_index=False, on_delete=django.db.models.deletion.PROTECT,
                                            related_name='+', to='areas.area'),
                ),
                migrations.AlterField(
                    model_name='personround',
                    name='round',
                    field=models.ForeignKey(db_index=False, on_delete=django.db.models.deletion.CASCADE,
                                            related_name='people', to='testing.testinground'),
                ),
                migrations.AlterField(
                    model_name='tube',
                    name='round',
                    field=models.ForeignKey(db_index=False, on_delete=django.db.models.deletion.PROTECT,
                                            related_name='tubes', to='testing.testinground'),
                ),
                migrations.AlterField(
                    model_name='tubemember',
                    name='person',
                    field=models.ForeignKey(db_index=False, on_delete=django.db.models.deletion.PROTECT,
                                            related_name='+', to='people.person'),
                ),
                migrations.AlterField(
                    model_name='tubemember',
                    name='removed_by',
                    field=models.ForeignKey(db_index=False, null=True, on_delete=django.db.models.deletion.PROTECT,
                                            related_name='+', to=settings.AUTH_USER_MODEL),
                ),
                migrations.AlterField(
                    model_name='tubemember',
                    name='round',
                    field=models.ForeignKey(db_index=False, on_delete=django.db.models.deletion.PROTECT,
                                            related_name='+', to='testing.testinground'),
                ),
            ],
        ),
        migrations.AddIndex(
            model_name='personround',
            index=models.Index(fields=['round', 'area', 'state'], name='person_round_area_state'),
        ),
        migrations.AddIndex(
            model_name='tubemember',
            index=models.Index(condition=models.Q(('removed_by__isnull', False)), fields=['removed_by'],
                               name='tube_member_removed_by'),
        ),
    ]

"""The scan log is append-only in the database itself: tracers rely on it as evidence."""

from django.db import migrations

SQLITE = [
    """CREATE TRIGGER venues_scan_no_update BEFORE UPDATE ON venues_scan
       BEGIN SELECT RAISE(ABORT, 'scan log is append-only'); END""",
    """CREATE TRIGGER venues_scan_no_delete BEFORE DELETE ON venues_scan
       BEGIN SELECT RAISE(ABORT, 'scan log is append-only'); END""",
]
SQLITE_DROP = ["DROP TRIGGER IF EXISTS venues_scan_no_update", "DROP TRIGGER IF EXISTS venues_scan_no_delete"]
POSTGRES = [
    """CREATE OR REPLACE FUNCTION venues_scan_append_only() RETURNS trigger AS $$
       BEGIN RAISE EXCEPTION 'scan log is append-only'; END; $$ LANGUAGE plpgsql""",
    """CREATE TRIGGER venues_scan_no_change BEFORE UPDATE OR DELETE ON venues_scan
       FOR EACH ROW EXECUTE FUNCTION venues_scan_append_only()""",
    """CREATE TRIGGER venues_scan_no_truncate BEFORE TRUNCATE ON venues_scan
       FOR EACH STATEMENT EXECUTE FUNCTION venues_scan_append_only()""",
]
POSTGRES_DROP = [
    "DROP TRIGGER IF EXISTS venues_scan_no_change ON venues_scan",
    "DROP TRIGGER IF EXISTS venues_scan_no_truncate ON venues_scan",
    "DROP FUNCTION IF EXISTS venues_scan_append_only()",
]


def _run(statements_by_vendor):
    def run(apps, schema_editor):
        for sql in statements_by_vendor.get(schema_editor.connection.vendor, []):
            schema_editor.execute(sql)

    return run


class Migration(migrations.Migration):
    dependencies = [("venues", "0001_initial")]
    operations = [
        migrations.RunPython(_run({"sqlite": SQLITE, "postgresql": POSTGRES}),
                             _run({"sqlite": SQLITE_DROP, "postgresql": POSTGRES_DROP})),
    ]

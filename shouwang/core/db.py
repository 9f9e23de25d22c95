"""Database-level guards shared by migrations."""

from django.db import migrations


def append_only(table: str, message: str) -> migrations.RunPython:
    """A migration operation that makes `table` refuse UPDATE and DELETE (and TRUNCATE on PostgreSQL) in the
    database itself, not only in the application."""
    sqlite = [
        f"""CREATE TRIGGER {table}_no_update BEFORE UPDATE ON {table}
           BEGIN SELECT RAISE(ABORT, '{message}'); END""",
        f"""CREATE TRIGGER {table}_no_delete BEFORE DELETE ON {table}
           BEGIN SELECT RAISE(ABORT, '{message}'); END""",
    ]
    sqlite_drop = [f"DROP TRIGGER IF EXISTS {table}_no_update", f"DROP TRIGGER IF EXISTS {table}_no_delete"]
    postgres = [
        f"""CREATE OR REPLACE FUNCTION {table}_append_only() RETURNS trigger AS $$
           BEGIN RAISE EXCEPTION '{message}'; END; $$ LANGUAGE plpgsql""",
        f"""CREATE TRIGGER {table}_no_change BEFORE UPDATE OR DELETE ON {table}
           FOR EACH ROW EXECUTE FUNCTION {table}_append_only()""",
        f"""CREATE TRIGGER {table}_no_truncate BEFORE TRUNCATE ON {table}
           FOR EACH STATEMENT EXECUTE FUNCTION {table}_append_only()""",
    ]
    postgres_drop = [
        f"DROP TRIGGER IF EXISTS {table}_no_change ON {table}",
        f"DROP TRIGGER IF EXISTS {table}_no_truncate ON {table}",
        f"DROP FUNCTION IF EXISTS {table}_append_only()",
    ]

    def run(statements):
        def apply(apps, schema_editor):
            for sql in statements.get(schema_editor.connection.vendor, []):
                schema_editor.execute(sql)

        return apply

    return migrations.RunPython(run({"sqlite": sqlite, "postgresql": postgres}),
                                run({"sqlite": sqlite_drop, "postgresql": postgres_drop}))

"""Database-level guards shared by migrations, and the driver-level statement of the busiest requests."""

import zlib

from django.db import DEFAULT_DB_ALIAS, connection, connections, migrations


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


_DRIVER_SQL: dict[str, str] = {}


def fetch_one(sql: str, params) -> tuple | None:
    """Run one prepared statement (%s placeholders, no literal %) and return its first row, on the driver's own
    cursor: Django's cursor wrapper costs about 10 µs a statement, as much as an indexed SQLite lookup, and the door
    scan runs four. Driver errors still become Django's (IntegrityError and the rest). When queries are being
    recorded (DEBUG, or a test counting them) the statement goes through Django's cursor so that it is counted."""
    conn = connections[DEFAULT_DB_ALIAS]  # the thread's connection, looked up once (the proxy resolves it per use)
    if conn.queries_logged:
        with conn.cursor() as cursor:
            cursor.execute(sql, params)
            return cursor.fetchone()
    driver_sql = _DRIVER_SQL.get(sql)
    if driver_sql is None:
        driver_sql = _DRIVER_SQL[sql] = sql.replace("%s", "?") if conn.vendor == "sqlite" else sql
    conn.ensure_connection()
    conn.validate_no_broken_transaction()
    with conn.wrap_database_errors:
        cursor = conn.connection.cursor()
        try:
            cursor.execute(driver_sql, params)
            return cursor.fetchone()
        finally:
            cursor.close()


def chunks(items, size: int):
    """Consecutive slices of at most `size` items (ids per IN (...) under SQLite's variable limit)."""
    items = list(items)
    for i in range(0, len(items), size):
        yield items[i:i + size]


def serialise(name: str) -> None:
    """Inside a transaction: wait for any other transaction holding the same named lock (PostgreSQL advisory
    transaction lock, released at commit). SQLite already serialises writing transactions."""
    if connection.vendor != "postgresql":
        return
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_advisory_xact_lock(%s)", [zlib.crc32(name.encode())])

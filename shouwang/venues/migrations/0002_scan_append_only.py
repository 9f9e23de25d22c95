"""The scan log is append-only in the database itself: tracers rely on it as evidence."""

from django.db import migrations

from shouwang.core.db import append_only


class Migration(migrations.Migration):
    dependencies = [("venues", "0001_initial")]
    operations = [append_only("venues_scan", "scan log is append-only")]

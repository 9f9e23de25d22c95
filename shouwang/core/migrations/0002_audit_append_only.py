"""Refuse UPDATE and DELETE on the audit log in the database itself, not only in the application."""

from django.db import migrations

from shouwang.core.db import append_only


class Migration(migrations.Migration):
    dependencies = [("core", "0001_initial")]
    operations = [append_only("core_auditevent", "audit log is append-only")]

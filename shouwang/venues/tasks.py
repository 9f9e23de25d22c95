"""Background work of the venues domain, run by `manage.py db_worker` (django-tasks)."""

from django_tasks import task

from shouwang.venues.companions import default_engine


@task()
def companion_index_refresh() -> int:
    """Take the scans stored since the last refresh into the companion index (incremental, one writer at a time),
    so the tracers' next query does not pay for a large upload. Answers the rows taken in."""
    return default_engine().refresh()

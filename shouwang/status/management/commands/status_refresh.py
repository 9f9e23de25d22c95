"""`manage.py status_refresh` (`shouwang status-refresh`): the daily run that brings every stored status to today.

A person's colour is materialised in PersonStatus for the day it was computed and refreshed whenever a fact about
them is published or withdrawn. Facts also begin and end with the calendar (a quarantine ends on its `until`), so
once a day, shortly after midnight, this recomputes every row not computed for today. A scan finding a stale row
recomputes it anyway; the cron run keeps that off the door's path and keeps lists by colour right.
"""

import datetime as dt

from django.core.management.base import BaseCommand, CommandError

from shouwang.core import clock
from shouwang.status.models import PersonStatus
from shouwang.status.services import status_refresh, status_refresh_stale


class Command(BaseCommand):
    help = "重算过期的健康状态 Recompute the stored statuses not computed for today (run daily from cron)."

    def add_arguments(self, parser):
        parser.add_argument("--all", action="store_true",
                            help="recompute every stored status, also today's (after policy_sync changed the rules)")
        parser.add_argument("--batch", type=int, default=2000, help="people per transaction (default 2000)")

    def handle(self, *args, **options):
        if options["batch"] < 1:
            raise CommandError("--batch must be at least 1")
        on: dt.date = clock.today()
        if options["all"]:
            ids = list(PersonStatus.objects.order_by("person_id").values_list("person_id", flat=True))
            for i in range(0, len(ids), options["batch"]):
                status_refresh(ids[i:i + options["batch"]], on=on)
            done = len(ids)
        else:
            done = status_refresh_stale(on=on, batch=options["batch"])
        left = PersonStatus.objects.count()
        self.stdout.write(f"{on.isoformat()}：重算 {done} 人，现存非默认状态 {left} 人 "
                          f"recomputed {done}, stored statuses now {left}")

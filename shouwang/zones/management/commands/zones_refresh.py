"""`manage.py zones_refresh [--day YYYY-MM-DD]`: every zone in force's clock recomputed and stored for the day (HQ's
daily list reads it), an eligible date that moved written to the zone's history. Levels never change here: HQ
decides. Run from cron just after midnight, after status_refresh (docs/operations.md)."""

import datetime as dt

from django.core.management.base import BaseCommand, CommandError

from shouwang.core import clock
from shouwang.zones.services import zones_refresh


class Command(BaseCommand):
    help = "风险区每日计算：重新计算在管风险区的降级/解除日期 Recompute every zone in force's clock (run from cron)."

    def add_arguments(self, parser):
        parser.add_argument("--day", help="the day (YYYY-MM-DD); default today")

    def handle(self, *args, **options):
        day: dt.date = clock.today()
        if options["day"]:
            try:
                day = dt.date.fromisoformat(options["day"])
            except ValueError:
                raise CommandError("--day must be a date such as 2022-07-15") from None
        report = zones_refresh(today=day)
        self.stdout.write(f"{day.isoformat()}：风险区 {report.zones} 个，可降级/解除日期变动 {len(report.moved)} 个 "
                          f"zones: {report.zones}, eligible dates moved: {len(report.moved)}")

"""`manage.py quarantine_flag_missing [--day YYYY-MM-DD]`: MISSING alerts for the daily monitoring entries not made.

The rule is in shouwang/quarantine/monitoring.py: a day before today owes both temperatures and the daily report;
today owes the morning temperature after 10:00 and the afternoon one after 18:00. Idempotent: one alert per stay
and day (an open one keeps its detail up to date). The day sheet computes the same flags on read, so a missed run
only delays the alerts. Run it from cron, e.g.

    15 0 * * *  cd /srv/shouwang && .venv/bin/python manage.py quarantine_flag_missing --day $(date -d yesterday +\\%F)
    30 10,18 * * * cd /srv/shouwang && .venv/bin/python manage.py quarantine_flag_missing
"""

import datetime as dt

from django.core.management.base import BaseCommand, CommandError

from shouwang.core import clock
from shouwang.quarantine.monitoring import flag_missing


class Command(BaseCommand):
    help = ("健康监测漏报提醒：为当日未按时填报体温或日报的管控人员生成漏报预警 Raise MISSING alerts for the daily "
            "monitoring entries not made (run from cron).")

    def add_arguments(self, parser):
        parser.add_argument("--day", help="the day to check (YYYY-MM-DD); default today")

    def handle(self, *args, **options):
        day: dt.date = clock.today()
        if options["day"]:
            try:
                day = dt.date.fromisoformat(options["day"])
            except ValueError:
                raise CommandError("--day must be a date such as 2022-07-15") from None
        created = flag_missing(day=day)
        self.stdout.write(f"{day.isoformat()}：新增漏报预警 {created} 条 MISSING alerts raised: {created}")

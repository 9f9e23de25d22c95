"""`manage.py testing_overdue` (`shouwang testing-overdue`): the daily run of key-group periodic testing.

Flags every key-group person overdue for their periodic PCR test (status fact flag key_person_untested, source
testing.key_group; V9: K6, yellow) and withdraws the flag from those tested since, untagged, or no longer asked to
test by the policy in force (V10). Idempotent: a second run the same day changes nothing. Run it from cron after
status_refresh, e.g. `10 0 * * *  cd /srv/shouwang && .venv/bin/python manage.py testing_overdue`.
"""

import datetime as dt

from django.core.management.base import BaseCommand, CommandError

from shouwang.core import clock
from shouwang.testing.keygroups import key_person_flags_refresh


class Command(BaseCommand):
    help = ("重点人群定期检测：标记逾期未检者并撤销已检者的标记 Flag key-group people overdue for their periodic test "
            "and clear the others (run daily from cron).")

    def add_arguments(self, parser):
        parser.add_argument("--date", help="the business day (YYYY-MM-DD); default today")

    def handle(self, *args, **options):
        on: dt.date = clock.today()
        if options["date"]:
            try:
                on = dt.date.fromisoformat(options["date"])
            except ValueError:
                raise CommandError("--date must be a date such as 2022-07-15") from None
        r = key_person_flags_refresh(on)
        self.stdout.write(f"{on.isoformat()}：重点人群逾期未检 {r.overdue} 人，新标记 {r.flagged} 人，"
                          f"保持 {r.unchanged} 人，撤销 {r.cleared} 人 "
                          f"key-group people overdue {r.overdue}: flagged {r.flagged}, unchanged {r.unchanged}, "
                          f"cleared {r.cleared}")

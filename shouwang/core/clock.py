"""The one place that reads the business clock, so tests, scenarios and the demo can fix the date.

`SHOUWANG_TODAY` (settings, from the environment) pins the business date: the demo runs on 2022-07-15, under
the 9th edition of the protocol. `now()` then keeps the real time of day on that date, or, with `SHOUWANG_TIME`
(HH:MM), starts at that time of day when the process starts and runs on from there: the demo and the browser
tests live in the afternoon whatever the hour outside (a round that opened at 06:00 is sampling, a lab time of
11:00 is not in the future). Technical timestamps (created_at, sessions, audit times) still use the real clock.
"""

import datetime as dt

from django.conf import settings
from django.utils import timezone


def _pinned() -> dt.date | None:
    value = getattr(settings, "SHOUWANG_TODAY", "")
    return dt.date.fromisoformat(value) if value else None


_STARTED = timezone.now()


def now() -> dt.datetime:
    real = timezone.now()
    pinned = _pinned()
    if pinned is None:
        return real
    fixed = getattr(settings, "SHOUWANG_TIME", "")
    if fixed:
        start = timezone.make_aware(dt.datetime.combine(pinned, dt.time.fromisoformat(fixed)))
        return start + (real - _STARTED)
    local = timezone.localtime(real)
    return local.replace(year=pinned.year, month=pinned.month, day=pinned.day)


def today() -> dt.date:
    return _pinned() or timezone.localdate()

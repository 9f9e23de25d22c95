"""The one place that reads the business clock, so tests, scenarios and the demo can fix the date.

`SHOUWANG_TODAY` (settings, from the environment) pins the business date: the demo runs on 2022-07-15, under
the 9th edition of the protocol. `now()` then keeps the real time of day on that date. Technical timestamps
(created_at, sessions, audit times) still use the real clock.
"""

import datetime as dt

from django.conf import settings
from django.utils import timezone


def _pinned() -> dt.date | None:
    value = getattr(settings, "SHOUWANG_TODAY", "")
    return dt.date.fromisoformat(value) if value else None


def now() -> dt.datetime:
    real = timezone.now()
    pinned = _pinned()
    if pinned is None:
        return real
    local = timezone.localtime(real)
    return local.replace(year=pinned.year, month=pinned.month, day=pinned.day)


def today() -> dt.date:
    return _pinned() or timezone.localdate()

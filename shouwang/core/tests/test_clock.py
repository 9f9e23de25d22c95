import datetime as dt

from shouwang.core import clock


def test_the_business_date_can_be_pinned(settings):
    settings.SHOUWANG_TODAY = "2022-07-15"
    assert clock.today() == dt.date(2022, 7, 15)
    assert clock.now().date() == dt.date(2022, 7, 15)
    assert str(clock.now().tzinfo) == "Asia/Shanghai"
    settings.SHOUWANG_TODAY = ""
    assert clock.today() != dt.date(2022, 7, 15)


def test_a_fixed_time_of_day_starts_the_business_clock_there_and_it_runs_on(settings, monkeypatch):
    from django.utils import timezone

    settings.SHOUWANG_TODAY, settings.SHOUWANG_TIME = "2022-07-15", "15:40"
    started = timezone.now()
    monkeypatch.setattr(clock, "_STARTED", started)
    monkeypatch.setattr(clock.timezone, "now", lambda: started + dt.timedelta(minutes=5, seconds=3))
    assert timezone.localtime(clock.now()).replace(tzinfo=None) == dt.datetime(2022, 7, 15, 15, 45, 3)
    settings.SHOUWANG_TIME = ""  # without it: the real time of day on the pinned date
    assert timezone.localtime(clock.now()).time() == timezone.localtime(started + dt.timedelta(minutes=5,
                                                                                             seconds=3)).time()

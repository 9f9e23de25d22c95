import datetime as dt

from shouwang.core import clock


def test_the_business_date_can_be_pinned(settings):
    settings.SHOUWANG_TODAY = "2022-07-15"
    assert clock.today() == dt.date(2022, 7, 15)
    assert clock.now().date() == dt.date(2022, 7, 15)
    assert str(clock.now().tzinfo) == "Asia/Shanghai"
    settings.SHOUWANG_TODAY = ""
    assert clock.today() != dt.date(2022, 7, 15)

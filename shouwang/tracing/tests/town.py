"""The small outbreak setting the tracing tests share (service, API and page tests): 病例甲 living with 家属乙 and
家属丙 in 1-101; 同场丁 scanned the market exactly 30 minutes after her (a companion) and lives with 同户戊 in 1-102;
晚到己 came 31 minutes before (not a companion); 窗外庚 was with her on 07-09, before the window (onset 07-12,
2 days back = 07-10); 东村辛 and the `extra` people live in the other township."""

import datetime as dt

from django.utils import timezone

from shouwang.areas.services import household_get_or_create
from shouwang.venues.enums import VenueCategory
from shouwang.venues.services import VenueInput, scan_record, venue_create


def at(day, hour, minute=0):
    return timezone.make_aware(dt.datetime(2022, 7, day, hour, minute))


def build_town(county, *, extra: tuple[str, ...] = ()) -> dict:
    home = county.household_a
    flat_2 = household_get_or_create(area=county.building_a, room="1-102")
    people = {
        "病例甲": county.person(name="病例甲", area=county.building_a, household=home, seq=1),
        "家属乙": county.person(name="家属乙", area=county.building_a, household=home, seq=2),
        "家属丙": county.person(name="家属丙", area=county.building_a, household=home, seq=3),
        "同场丁": county.person(name="同场丁", area=county.building_a, household=flat_2, seq=4),
        "同户戊": county.person(name="同户戊", area=county.building_a, household=flat_2, seq=5),
        "晚到己": county.person(name="晚到己", seq=6),
        "窗外庚": county.person(name="窗外庚", seq=7),
        "东村辛": county.person(name="东村辛", area=county.grid_b, seq=8),
    }
    for i, name in enumerate(extra):
        people[name] = county.person(name=name, area=county.grid_b, seq=9 + i)
    market = venue_create(actor=county.hq, data=VenueInput(name="城关农贸市场", category=VenueCategory.MARKET,
                                                           area_id=county.grid_a.id))
    token = market.codes.get().token
    for name, when in (("病例甲", at(12, 10)), ("同场丁", at(12, 10, 30)), ("晚到己", at(12, 9, 29)),
                       ("病例甲", at(9, 18)), ("窗外庚", at(9, 18, 5))):
        scan_record(venue_token=token, person=people[name], method="self", scanned_at=when)
    return {"p": people, "market": market, "hq": county.hq, "county": county}

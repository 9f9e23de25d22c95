"""Quarantine on the site manager's phone: a close contact (placed under measure, given a room and picked up by
the transfer team, through the services in the live site's database) arrives; the site manager marks the run
arrived on the transfers page, admits the person to the reserved room from the site's page, opens today's
monitoring sheet, records the afternoon temperature on the person's card (htmx) and a fever with a cough on the
full entry form; the fever and the symptom are on the alerts page for the doctor."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from tests.browser.conftest import live_query, login, menu, shot

pytestmark = pytest.mark.browser

# A close contact of the demo's fresh case's township, not a case or under a measure yet, placed in the demo's
# active site of the "quarantine" manager: stay started, room reserved, transfer requested and picked up.
ARRIVING = """
import datetime as dt
import json
from shouwang.accounts.models import User
from shouwang.core import clock
from shouwang.people.models import Person
from shouwang.quarantine.models import Site, Stay
from shouwang.quarantine.services import StayInput, allocate_rooms, stay_start, transfer_pickup, transfer_request
from shouwang.tracing.models import Case
hq = User.objects.get(username="hq")
manager = User.objects.get(username="quarantine")
site = (Site.objects.filter(state="active", manager=manager).order_by("id").first()
        or Site.objects.filter(state="active").order_by("id").first())
busy = set(Stay.objects.values_list("person_id", flat=True)) | set(Case.objects.values_list("person_id", flat=True))
person = (Person.objects.active().filter(area__path__startswith=site.area.path.split(".")[0], household__isnull=True)
          .exclude(id__in=busy).order_by("id").first()
          or Person.objects.active().exclude(id__in=busy).order_by("id").first())
stay = stay_start(actor=hq, data=StayInput(person_id=person.id, category="close_contact",
                                           anchor_date=clock.today() - dt.timedelta(days=1), source_case="浏览器测试"))
placed = allocate_rooms(actor=hq, stay_ids=[stay.id], site_ids=[site.id], apply=True).placed[0]
run = transfer_request(actor=hq, stay_ids=[stay.id], site_id=site.id, pickup_address="城关镇幸福小区3号楼",
                       vehicle="car", plate="晋L·Q0001", driver="赵师傅", escort="护士钱")
transfer_pickup(actor=hq, transfer_id=run.id)
print(json.dumps({"stay": stay.id, "site": site.id, "room": placed.number, "code": run.code, "name": person.name}))
"""


def test_a_site_manager_admits_an_arrival_and_records_the_day_on_a_phone(live_site, live_env, phone):
    arriving = live_query(live_env, ARRIVING)
    login(phone, live_site, "quarantine")
    menu(phone, "quarantine", "转运")
    phone.wait_for_url(live_site + "/quarantine/transfers/")
    card = phone.locator(f"[data-testid=transfer-row][data-code='{arriving['code']}']")
    expect(card).to_be_visible()
    shot(phone, "quarantine-transfers-phone")
    card.locator("[data-testid=arrive-save]").click()
    expect(phone.locator("body")).to_contain_text(f"转运 {arriving['code']} 已送达（闭环），请办理入住")

    phone.goto(f"{live_site}/quarantine/sites/{arriving['site']}/")
    row = phone.locator(f"[data-testid=incoming-row][data-stay='{arriving['stay']}']")
    expect(row.locator("[data-testid=admit-room]")).to_have_value(arriving["room"])  # the reserved room
    shot(phone, "quarantine-site-incoming-phone")
    row.locator("[data-testid=admit-save]").click()
    tile = phone.locator(f"[data-testid=room-tile][data-room='{arriving['room']}']")
    expect(tile).to_have_attribute("data-state", "occupied")
    expect(phone.locator(f"[data-testid=person-row][data-stay='{arriving['stay']}']")).to_be_visible()
    shot(phone, "quarantine-site-admitted-phone")

    phone.click("[data-testid=site-day]")
    phone.wait_for_url(f"{live_site}/quarantine/sites/{arriving['site']}/day/")
    card = phone.locator(f"[data-testid=sheet-row][data-stay='{arriving['stay']}']")
    expect(card.locator("[data-testid=row-day]")).to_have_text("第 1 天")
    card.locator("[data-testid=quick-pm]").fill("36.6")
    card.locator("[data-testid=quick-save]").click()
    card = phone.locator(f"[data-testid=sheet-row][data-stay='{arriving['stay']}']")
    expect(card.locator("[data-testid=row-saved]")).to_be_visible()
    expect(card.locator("[data-testid=row-pm]")).to_have_text("36.6℃")
    shot(phone, "quarantine-day-sheet-phone")
    assert phone.evaluate("document.documentElement.scrollWidth") <= 390  # nothing scrolls sideways

    card.locator("[data-testid=row-check]").click()
    phone.fill("[data-testid=temp-pm]", "37.8")
    phone.check("[data-testid=symptoms] input[value=cough]")
    phone.check("[data-testid=reported]")
    shot(phone, "quarantine-check-form-phone")
    phone.click("[data-testid=check-save]")
    phone.wait_for_url(f"{live_site}/quarantine/sites/{arriving['site']}/day/**")
    card = phone.locator(f"[data-testid=sheet-row][data-stay='{arriving['stay']}']")
    expect(card.locator("[data-testid=row-pm]")).to_have_text("37.8℃")
    expect(card.locator("[data-testid=row-alert]")).to_have_text(["发热", "出现症状"])

    phone.goto(f"{live_site}/quarantine/alerts/")
    expect(phone.locator("body")).to_contain_text("发热：下午体温37.8℃")
    expect(phone.locator("body")).to_contain_text("症状：咳嗽")
    shot(phone, "quarantine-alerts-phone")

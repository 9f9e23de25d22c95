"""Mass testing capacity end to end: a township official opens the sampling sites from the menu, is told what is
missing in the site form (in both languages), sets up a temporary site, looks at the door-to-door teams and the labs'
queues, and computes a plan for a round of the township from its own numbers."""

from __future__ import annotations

import re
import uuid

import pytest
from playwright.sync_api import expect

from tests.browser.conftest import live_query, login, menu, shot

pytestmark = pytest.mark.browser

# A lab of the township that tests 2 tubes a day, with 3 tubes received and waiting: 1.5 days of queue.
BUSY_LAB = """
import datetime as dt
import json
from django.utils import timezone
from shouwang.accounts.models import User
from shouwang.areas.models import Area
from shouwang.core import clock
from shouwang.people.models import Person
from shouwang.testing.services import RoundInput, batch_pack, batch_receive, lab_create, round_create, tube_fill
hq, sampler, lab_user = (User.objects.get(username=u) for u in ("hq", "sampler", "lab"))
town = sampler.jurisdiction
grid = next(g for g in Area.objects.subtree(town.path).filter(level="grid").order_by("-path")
            if Person.objects.active().filter(area__path__startswith=g.path).count() >= 3)
start = timezone.localtime(clock.now()).replace(hour=0, minute=0, second=0, microsecond=0)
round_ = round_create(actor=hq, data=RoundInput(name="方舱实验室测试轮（{tag}）", area_ids=[grid.id], starts_at=start,
                                                deadline=start + dt.timedelta(days=1), settings={{grid.id: "medium_risk_zone"}}))
lab = lab_create(actor=hq, name="天坛镇方舱实验室（{tag}）", area_id=town.id, tubes_per_day=2)
people = list(Person.objects.active().filter(area__path__startswith=grid.path).order_by("id")[:3])
barcodes = ["{tag}-S%d" % i for i in range(3)]
for barcode, person in zip(barcodes, people):
    tube_fill(actor=sampler, round_id=round_.id, barcode=barcode, people=[{{"id_number": person.id_number}}], close=True)
batch_pack(actor=sampler, code="{tag}-FC", lab_id=lab.id, barcodes=barcodes)
batch_receive(actor=lab_user, code="{tag}-FC", barcodes=barcodes)
print(json.dumps({{"lab_id": lab.id}}))
"""


def test_a_township_sets_up_a_site_and_plans_a_round(live_site, live_env, page):
    tag = uuid.uuid4().hex[:6].upper()
    busy = live_query(live_env, BUSY_LAB.format(tag=tag))
    login(page, live_site, "township")
    menu(page, "testing", "采样点")
    page.wait_for_url(live_site + "/testing/sites/")
    assert page.locator("[data-testid=site-table] [data-testid=site-row]").count() >= 1
    assert page.locator("[data-testid=team-table] [data-testid=site-row]").count() >= 1
    assert set(page.locator("[data-testid=team-table] [data-testid=site-row]").evaluate_all(
        "rows => rows.map(r => r.dataset.kind)")) == {"door_to_door"}
    shot(page, "testing-sites")

    page.fill("[data-testid=site-per-hour-input]", "")
    page.click("[data-testid=site-save]")  # no name, no grid, no capacity: each field says why
    expect(page.locator("[data-testid=form-error]")).to_be_visible()
    name_error = page.locator("label:has([name=name]) [data-testid=field-error]").inner_text()
    assert "请填写采样点名称" in name_error and "Name is required" in name_error
    assert "请选择所在网格" in page.locator("label:has([name=area_id]) [data-testid=field-error]").inner_text()
    assert "请填写每小时采样能力" in page.locator("label:has([name=per_hour]) [data-testid=field-error]").inner_text()
    page.locator("#new-site").scroll_into_view_if_needed()
    shot(page, "testing-site-form-error")

    name = f"府前街临时采样点（{tag}）"
    page.fill("[data-testid=site-name-input]", name)
    page.select_option("[data-testid=site-kind-input]", "temporary")
    grid = page.locator("[data-testid=site-area-input] option").nth(1)
    grid_name = grid.inner_text()
    page.select_option("[data-testid=site-area-input]", grid.get_attribute("value"))
    page.fill("[data-testid=site-address-input]", "府前街与城关路口")
    page.fill("[data-testid=site-hours-input]", "06:00-22:00")
    page.fill("[data-testid=site-samplers-input]", "3")
    page.fill("[data-testid=site-per-hour-input]", "180")
    page.click("[data-testid=site-save]")
    page.wait_for_url(re.compile(r"/testing/sites/\?new=\d+#site-\d+$"))
    row = page.locator("tr.just-added")
    expect(row).to_have_count(1)
    assert row.locator("[data-testid=site-name]").inner_text() == name
    assert row.locator("[data-testid=site-kind]").inner_text() == "临时采样点"
    assert row.locator("[data-testid=site-grid]").inner_text() == grid_name
    assert row.locator("[data-testid=site-per-hour]").inner_text() == "180"
    expect(page.locator(".flash", has_text="已新建采样点")).to_be_visible()
    shot(page, "testing-site-created")

    page.select_option("[data-testid=site-kind-filter]", "door_to_door")
    page.click("[data-testid=site-filters] button")
    page.wait_for_url(re.compile(r"kind=door_to_door"))
    assert page.locator("[data-testid=site-section]").count() == 0
    expect(page.locator("[data-testid=team-section] h3")).to_have_text("上门采样队")

    menu(page, "testing", "检测能力")
    page.wait_for_url(live_site + "/testing/labs/")
    assert page.locator("[data-testid=lab-row]").count() >= 1
    days = page.locator("[data-testid=lab-days]").all_inner_texts()
    assert all(re.fullmatch(r"\d+\.\d|—", d) for d in days)
    row = page.locator(f"#lab-{busy['lab_id']}")
    assert row.locator("[data-testid=lab-waiting]").inner_text() == "3"
    assert row.locator("[data-testid=lab-days]").inner_text() == "1.5"
    expect(row.locator("[data-testid=lab-over]")).to_have_text("超过1天")
    shot(page, "testing-labs")

    menu(page, "testing", "检测规划")
    page.wait_for_url(live_site + "/testing/plan/")
    people = page.locator("[data-testid=plan-people]").input_value()
    assert int(people) > 0  # the township's people
    assert int(page.locator("[data-testid=plan-sites]").input_value()) >= 2  # its active sites, the new one too
    page.fill("[data-testid=plan-positivity]", "200")
    page.click("[data-testid=plan-submit]")
    error = page.locator("label:has([name=positivity]) [data-testid=field-error]").inner_text()
    assert "阳性率应为0到100之间的百分数" in error and "Positivity must be a percentage from 0 to 100" in error
    page.fill("[data-testid=plan-positivity]", "0.1")
    page.click("[data-testid=plan-submit]")
    expect(page.locator("[data-testid=plan-answer]")).to_be_visible()
    assert page.locator("[data-testid=plan-best]").inner_text() == "20合1混采"
    assert page.locator("[data-testid=pool-row]").count() == 4
    assert page.locator("[data-testid=pool-row].best").get_attribute("data-size") == "20"
    assert page.locator("[data-testid=plan-bottleneck-step]").inner_text() in ("采样", "检测")
    assert re.fullmatch(r"[\d.]+ h", page.locator("[data-testid=plan-total-hours]").inner_text())
    shot(page, "testing-plan")
    page.click("[data-testid=lang-en]")
    page.wait_for_selector("text=Tests per person")
    assert page.locator("[data-testid=plan-best]").inner_text() == "20-in-1 pooled"
    shot(page, "testing-plan-en")

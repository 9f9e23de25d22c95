"""Mass testing end to end: HQ opens a round with the form, a sampler fills a 10-in-1 tube on a phone until it
closes, the lab receives a box and imports a results file, HQ publishes it and reads the round's dashboard.

The demo county may or may not hold testing data of its own: each test builds what it needs (through the pages,
or with live_query for the steps before the one it shows) under names of its own."""

from __future__ import annotations

import re
import uuid

import pytest
from playwright.sync_api import expect

from tests.browser.conftest import ARTIFACTS, live_query, login, menu, shot

pytestmark = pytest.mark.browser

# Twelve people of a grid in the sampler's township (one with at least {min} people), with their personal codes
# (what a QR on a phone holds).
GRID_PEOPLE = """
import json
from shouwang.accounts.models import User
from shouwang.areas.models import Area
from shouwang.core.masking import mask_name
from shouwang.people.models import Person
from shouwang.venues.services import person_code_get_or_issue
town = User.objects.get(username="sampler").jurisdiction
found = []
for grid in Area.objects.subtree(town.path).filter(level="grid").order_by("path"):
    people = list(Person.objects.active().filter(area__path__startswith=grid.path).order_by("id"))
    if len(people) >= {min}:
        found.append((grid, people[:12]))
grid, people = found[{which}]
print(json.dumps({{"grid_id": grid.id, "grid": grid.name,
                  "people": [{{"token": person_code_get_or_issue(p).token, "masked": mask_name(p.name),
                              "id_number": p.id_number}} for p in people]}}))
"""

# A round over another grid, two full 10-in-1 tubes and a third closed early, packed in a box for a lab.
BOX = """
import datetime as dt
import json
from django.utils import timezone
from shouwang.accounts.models import User
from shouwang.areas.models import Area
from shouwang.core import clock
from shouwang.people.models import Person
from shouwang.testing.models import Lab
from shouwang.testing.services import RoundInput, batch_pack, lab_create, round_create, tube_fill
hq, sampler = User.objects.get(username="hq"), User.objects.get(username="sampler")
grid = Area.objects.get(id={grid_id})
start = timezone.localtime(clock.now()).replace(hour=0, minute=0, second=0, microsecond=0)
round_ = round_create(actor=hq, data=RoundInput(name="{name}", area_ids=[grid.id], starts_at=start,
                                                deadline=start + dt.timedelta(days=1),
                                                settings={{grid.id: "medium_risk_zone"}}))
lab = Lab.objects.filter(name="浮山县疾控中心实验室（测试）").first() or lab_create(
    actor=hq, name="浮山县疾控中心实验室（测试）", area_id=hq.jurisdiction_id)
people = list(Person.objects.active().filter(area__path__startswith=grid.path).order_by("id")[:22])
barcodes = ["{tag}-1", "{tag}-2", "{tag}-3"]
for barcode, group in zip(barcodes, [people[:10], people[10:20], people[20:22]]):
    tube_fill(actor=sampler, round_id=round_.id, barcode=barcode, people=[{{"id_number": p.id_number}} for p in group],
              close=True)
batch_pack(actor=sampler, code="{tag}-BOX", lab_id=lab.id, barcodes=barcodes, courier="张师傅")
print(json.dumps({{"round_id": round_.id, "lab_id": lab.id, "lab": lab.name, "barcodes": barcodes,
                  "box": "{tag}-BOX"}}))
"""


def _tag() -> str:
    return uuid.uuid4().hex[:6].upper()


def test_hq_opens_a_round_and_a_sampler_fills_a_10_in_1_tube_on_a_phone(live_site, live_env, page, phone):
    grid = live_query(live_env, GRID_PEOPLE.format(which=0, min=12))
    name = f"第9轮区域核酸（{_tag()}）"
    login(page, live_site, "hq")
    menu(page, "testing", "检测轮次")
    page.wait_for_url(live_site + "/testing/")
    page.click("[data-testid=round-save]")  # nothing filled in: the errors name the fields
    expect(page.locator("[data-testid=form-error]")).to_be_visible()
    error = page.locator("label:has([name=name]) [data-testid=field-error]").inner_text()
    assert "请填写轮次名称" in error and "Name is required" in error
    shot(page, "testing-round-form-error")
    page.fill("[data-testid=round-name]", name)
    page.select_option("select[name=area_0]", str(grid["grid_id"]))
    page.select_option("select[name=setting_0]", "medium_risk_zone")
    page.click("[data-testid=area-add]")
    expect(page.locator("select[name=area_3]")).to_be_visible()
    page.click("[data-testid=round-save]")
    page.wait_for_url(re.compile(r"/testing/rounds/\d+/$"))
    assert name in page.locator("[data-testid=round-title]").inner_text()
    assert page.locator("[data-testid=pool-mode]").inner_text() == "10合1混采"
    assert page.locator("[data-testid=round-state]").first.inner_text() == "采样中"

    people = grid["people"]
    login(phone, live_site, "sampler")
    phone.goto(live_site + "/testing/sample/?pick=1")
    phone.locator("[data-testid=sample-round]", has_text=name).click()
    assert phone.locator("[data-testid=sample-round-name]").inner_text() == name
    barcode = f"BT{_tag()}"
    phone.fill("[data-testid=tube-barcode]", barcode)
    phone.click("[data-testid=tube-open]")
    counter = phone.locator("[data-testid=tube-counter]")
    expect(counter).to_have_text("0/10")
    shot(phone, "testing-sample-start")

    def add(value: str) -> None:
        phone.fill("[data-testid=person-input]", value)
        phone.click("[data-testid=person-add]")

    for i, person in enumerate(people[:6], start=1):
        add(person["token"] if i != 2 else f"{live_site}/me/{person['token']}")  # a token or what the QR holds
        expect(counter).to_have_text(f"{i}/10")
    add(people[0]["token"])  # scanned twice: added once
    expect(phone.locator("[data-testid=tube-notice]")).to_have_text("此人已在本管中，未重复登记")
    expect(counter).to_have_text("6/10")
    add("no-such-code")
    error = phone.locator("[data-testid=tube-error]")
    expect(error).to_contain_text("查无此人")
    assert "No such person" in error.inner_text()
    expect(counter).to_have_text("6/10")  # the tube is kept
    assert phone.locator("[data-testid=tube-code]").inner_text() == barcode
    shot(phone, "testing-sample-error")
    phone.check("[data-testid=by-id]")
    add(people[6]["id_number"])
    expect(counter).to_have_text("7/10")
    assert phone.locator("[data-testid=member-name]").all_inner_texts() == [p["masked"] for p in people[:7]]
    shot(phone, "testing-sample-7")
    for i, person in enumerate(people[7:10], start=8):
        add(person["token"])
        expect(counter).to_have_text(f"{i}/10")
    expect(phone.locator("[data-testid=tube-closed]")).to_contain_text("本管已满 10 人，已封管")
    assert phone.locator("[data-testid=tube-state]").inner_text() == "已封管"
    assert phone.locator("[data-testid=person-add]").count() == 0
    expect(phone.locator("[data-testid=next-barcode]")).to_be_visible()
    shot(phone, "testing-sample-closed")

    # the next tube starts empty; the closed one is in the list of my tubes
    phone.fill("[data-testid=next-barcode]", barcode + "B")
    phone.click("[data-testid=next-open]")
    expect(counter).to_have_text("0/10")
    assert f"{barcode} · 10/10" in phone.locator("[data-testid=my-tubes]").inner_text()


def test_the_lab_receives_a_box_imports_results_and_hq_publishes_them(live_site, live_env, page, tmp_path):
    grid = live_query(live_env, GRID_PEOPLE.format(which=-1, min=30))  # some stay unsampled
    tag = _tag()
    name = f"第9轮区域核酸（{tag}）"
    box = live_query(live_env, BOX.format(grid_id=grid["grid_id"], name=name, tag=tag))
    one, two, three = box["barcodes"]

    login(page, live_site, "lab")
    menu(page, "testing", "实验室")
    page.wait_for_url(live_site + "/testing/lab/")
    page.fill("[data-testid=receive-code]", box["box"])
    page.fill("[data-testid=receive-barcodes]", f"{one}\n{two}\n")  # the third tube is not in the box
    page.click("[data-testid=receive-submit]")
    page.wait_for_url(re.compile(r"/testing/lab/\?box="))
    assert page.locator("[data-testid=receipt-missing]").inner_text() == three
    assert page.locator("[data-testid=receipt-tubes]").inner_text() == "3"
    shot(page, "testing-lab-receipt")

    results = tmp_path / f"结果_{tag}.csv"
    results.write_text(f"管码,结果,ORF1ab,N\n{one},阴性,,\n{two},阳性,28.5,30.1\n{three},阴性,,\nNOPE-{tag},阴性,,\n",
                       encoding="utf-8")
    page.select_option("[data-testid=upload-lab]", str(box["lab_id"]))
    page.set_input_files("[data-testid=upload-file]", str(results))
    page.click("[data-testid=upload-submit]")
    page.wait_for_url(re.compile(r"/testing/lab/\?file=\d+"))
    staged = page.locator("[data-testid=result-file]", has_text=results.name)
    assert staged.locator("[data-testid=file-state]").inner_text() == "待审核"
    assert staged.locator("[data-testid=file-rows]").inner_text() == "有效 2 行"
    assert staged.locator("[data-testid=file-errors]").inner_text() == "错误 2 行"
    errors = staged.locator("[data-testid=file-error]").all_inner_texts()
    assert "本实验室未接收该管" in errors[0] and "This lab never received the tube" in errors[0]
    assert "管码不存在" in errors[1]
    shot(page, "testing-lab-staged")

    page.context.clear_cookies()
    login(page, live_site, "hq")
    page.goto(live_site + "/testing/lab/")
    staged = page.locator("[data-testid=result-file]", has_text=results.name)
    staged.locator("[data-testid=review-accept]").click()
    page.wait_for_url(re.compile(r"/testing/lab/\?file=\d+"))
    staged = page.locator("[data-testid=result-file]", has_text=results.name)
    assert staged.locator("[data-testid=file-state]").inner_text() == "已审核发布"
    applied = staged.locator("[data-testid=applied]")
    assert applied.locator("[data-testid=applied-tubes]").inner_text() == "2"
    assert applied.locator("[data-testid=applied-negative]").inner_text() == "10"
    assert applied.locator("[data-testid=applied-rechecks]").inner_text() == "10"
    assert applied.locator("[data-testid=applied-positives]").inner_text() == "0"
    shot(page, "testing-lab-published")

    page.goto(f"{live_site}/testing/rounds/{box['round_id']}/")
    assert page.locator("[data-testid=stat-sampled]").inner_text() == "22"
    assert page.locator("[data-testid=stat-negative]").inner_text() == "10"
    assert page.locator("[data-testid=stat-recheck]").inner_text() == "10"
    assert page.locator("[data-testid=recheck-row]").count() == 10
    assert page.locator("[data-testid=chain-table]").count() == 1
    # closed, received and resulted within the same minutes here: both steps 0.0 h, so neither is marked slowest
    assert page.locator("[data-testid=chain-table] [data-testid=slowest]").count() == 0
    shot(page, "testing-round-dashboard")
    assert page.locator("[data-testid=coverage-row]").count() == 1  # opens on the grid's village: the grid's row
    page.locator("[data-testid=drill]").first.click()
    page.wait_for_url(re.compile(r"\?area=\d+$"))
    assert page.locator("[data-testid=coverage-row], [data-testid=coverage-direct]").count() >= 1
    shot(page, "testing-round-drill")
    page.click("[data-testid=unsampled-link]")
    page.wait_for_url(re.compile(r"/unsampled/\?area=\d+$"))
    assert page.locator("[data-testid=unsampled-row]").count() >= 1
    shot(page, "testing-unsampled")
    with page.expect_download() as download:
        page.click("[data-testid=unsampled-export]")
    assert download.value.suggested_filename.startswith("应检未检名单_")
    download.value.save_as(ARTIFACTS / "testing-unsampled.xlsx")
    page.click("[data-testid=lang-en]")
    page.wait_for_selector("text=Not tested yet")
    shot(page, "testing-unsampled-en")

"""The quarantine pages through the test client: a site created with its rooms from the sites page, refused
activation naming the checklist items missing, then opened; people placed under measure (services), rooms proposed
and reserved for them from the stays page, a transfer requested, picked up and arrived on the transfers page, the
people admitted from the site's page (the reserved room or another, a full room refused); a stay's file with its
tests, its release refused with the missing tests listed and then done; the occupancy and overdue transfers on the
sites page; who may open and change what."""

import datetime as dt
import re
from html import unescape

import pytest
from django.utils import timezone

from shouwang.accounts.enums import Role
from shouwang.areas.services import household_get_or_create
from shouwang.core import clock
from shouwang.core.models import AuditEvent
from shouwang.quarantine.enums import CHECKLIST
from shouwang.quarantine.models import Room, Site, Stay, StayChange, Transfer
from shouwang.quarantine.services import (
    StayInput,
    rooms_add,
    site_check,
    site_create,
    site_set_state,
    stay_admit,
    stay_start,
    transfer_request,
)
from shouwang.quarantine.tests.test_stays import negative_tube

EN = {"HTTP_ACCEPT_LANGUAGE": "en"}


@pytest.fixture(autouse=True)
def business_day(settings):
    settings.SHOUWANG_TODAY = "2022-07-11"  # 15:00 on the business clock (conftest)


def text(response) -> str:
    return unescape(response.content.decode())


def error_items(html: str, testid: str) -> list[str]:
    """The items listed under an error block (in the page's language, without the other one below)."""
    block = re.search(rf'data-testid="{testid}"[^>]*>(.*?)</div>', html, re.S)
    assert block, f"no {testid}"
    items = re.findall(r"<li[^>]*>(.*?)</li>", block.group(1), re.S)
    return [re.sub(r"<[^>]+>", "", re.sub(r'<span class="other">.*?</span>', "", li)).strip() for li in items]


def tiles(html: str) -> list[tuple[str, str]]:
    return re.findall(r'data-testid="room-tile" data-room="(\w+)" data-state="(\w+)"', html)


def open_site(county, name="城关宾馆隔离点", floors=None, family=("402",), staff=2):
    hq = county.hq
    site = site_create(actor=hq, name=name, kind="hotel", area_id=county.grid_a.id, staff=staff)
    rooms_add(actor=hq, site_id=site.id, floors=floors or {3: ["301", "302", "303"], 4: ["401", "402"]},
              family_rooms=family)
    site_set_state(actor=hq, site_id=site.id, state="activating")
    site_check(actor=hq, site_id=site.id, items=dict.fromkeys(CHECKLIST, True))
    site_set_state(actor=hq, site_id=site.id, state="active")
    return site


def start(county, person, case="BL20220710-001", category="close_contact"):
    return stay_start(actor=county.hq, data=StayInput(person_id=person.id, category=category,
                                                      anchor_date=dt.date(2022, 7, 10), source_case=case))


# ---- sites --------------------------------------------------------------------------------------------------------


def test_a_site_is_created_with_its_rooms_and_opens_only_when_its_checklist_is_complete(county, client_for):
    hq = client_for(county.hq)
    form = {"name": "城关宾馆隔离点", "kind": "hotel", "area_id": county.grid_a.id, "address": "城关路1号",
            "staff": "2", "persons_per_staff": "8", "floors": "3: 301-303\n4：401, 402", "family_rooms": "402"}
    bad = hq.post("/quarantine/sites/new/", {**form, "floors": "3 301-303"})
    assert (bad.status_code, Site.objects.count()) == (422, 0)
    assert 'data-testid="field-error">第1行应为“楼层: 房间号”，如 3: 301-320<' in text(bad)
    stray = hq.post("/quarantine/sites/new/", {**form, "family_rooms": "502"})
    assert (stray.status_code, Site.objects.count()) == (422, 0)
    assert "家庭房不在所列房间中：502" in text(stray)

    made = hq.post("/quarantine/sites/new/", form)
    site = Site.objects.get()
    assert (made.status_code, made["Location"]) == (302, f"/quarantine/sites/{site.id}/")
    assert (site.name, site.kind, site.area_id, site.address, site.staff, site.persons_per_staff, site.state) == (
        "城关宾馆隔离点", "hotel", county.grid_a.id, "城关路1号", 2, 8, "standby")
    assert list(Room.objects.filter(site=site).values_list("floor", "number", "capacity")) == [
        (3, "301", 1), (3, "302", 1), (3, "303", 1), (4, "401", 1), (4, "402", 2)]
    page = hq.get(made["Location"])
    html = text(page)
    assert "已新建隔离点 城关宾馆隔离点，房间 5 间" in html
    assert tiles(html) == [("301", "free"), ("302", "free"), ("303", "free"), ("401", "free"), ("402", "free")]
    assert "工作人员 2 名 × 每人照管 8 人 = 最多 16 人" in html
    assert [s["value"] for s in page.context["next_states"]] == ["activating"]

    again = hq.post(f"/quarantine/sites/{site.id}/rooms/", {"floors": "3: 303-304", "family_rooms": ""})
    assert (again.status_code, Room.objects.filter(site=site).count()) == (409, 5)  # nothing added
    assert "房间已存在：303" in text(again)
    more = hq.post(f"/quarantine/sites/{site.id}/rooms/", {"floors": "5: 0501-0502", "family_rooms": "0502"})
    assert (more.status_code, more["Location"]) == (302, f"/quarantine/sites/{site.id}/#rooms")
    assert list(Room.objects.filter(site=site, floor=5).values_list("number", "capacity")) == [
        ("0501", 1), ("0502", 2)]

    assert hq.post(f"/quarantine/sites/{site.id}/state/", {"state": "activating"}).status_code == 302
    hq.post(f"/quarantine/sites/{site.id}/check/", {"items": ["clean_zone", "buffer_zone"]})
    assert Site.objects.get().checklist == {**dict.fromkeys(CHECKLIST, False), "clean_zone": True,
                                            "buffer_zone": True}
    refused = hq.post(f"/quarantine/sites/{site.id}/state/", {"state": "active", "reason": "疫情需要"})
    assert refused.status_code == 409
    html = text(refused)
    assert re.search(r'data-testid="state-error" data-code="checklist_incomplete"', html)
    assert error_items(html, "state-error") == [
        "污染区", "工作人员通道", "隔离人员通道", "单人单间、独立卫生间", "通风和空调系统独立或已关闭", "医疗废物暂存和转运",
        "工作人员到位（点长、医护、保洁、安保）"]
    assert 'data-testid="checklist-missing">未完成 7 项<' in html
    english = text(client_for(county.hq).post(f"/quarantine/sites/{site.id}/state/", {"state": "active"}, **EN))
    assert "The contaminated zone" in english and "Medical waste storage and removal" in english
    assert Site.objects.get().state == "activating"

    hq.post(f"/quarantine/sites/{site.id}/check/", {"items": list(CHECKLIST)})
    opened = hq.post(f"/quarantine/sites/{site.id}/state/", {"state": "active", "reason": "疫情需要"})
    assert (opened.status_code, Site.objects.get().state) == (302, "active")
    assert AuditEvent.objects.filter(object_type="quarantine.site", summary="城关宾馆隔离点：启用准备中 → 启用（疫情需要）"
                                     ).count() == 1
    listed = hq.get("/quarantine/")
    (row,) = listed.context["rows"]
    o = row["o"]
    assert (o.rooms, o.places, o.occupied, o.free_rooms, o.cleaning, o.out_of_service, row["state"]) == (
        7, 9, 0, 7, 0, 0, "启用")
    assert 'data-testid="site-free">7<' in text(listed)


# ---- the whole way: rooms, transfer, admission, release ---------------------------------------------------------


def test_people_are_allocated_transferred_admitted_from_the_site_page_and_released_only_with_every_test(
        county, client_for, settings):
    site = open_site(county)
    family = household_get_or_create(area=county.building_a, room="2-201")
    mother = county.person(name="母亲甲", seq=31, household=family, area=county.building_a, birth=dt.date(1990, 1, 1))
    child = county.person(name="孩子乙", seq=32, household=family, area=county.building_a, birth=dt.date(2015, 5, 1))
    single = county.person(name="密接丙", seq=33)
    stays = [start(county, p) for p in (mother, child, single)]
    ids = [s.id for s in stays]
    hq = client_for(county.hq)

    listed = hq.get("/quarantine/stays/", {"state": "awaiting_transfer"})
    assert [(r["name"], r["state"], r["measure"], r["category"], r["selectable"]) for r in listed.context["rows"]] == [
        ("母*甲", "待转运", "集中隔离医学观察", "密切接触者", True), ("孩*乙", "待转运", "集中隔离医学观察", "密切接触者", True),
        ("密*丙", "待转运", "集中隔离医学观察", "密切接触者", True)]
    assert "母亲甲" not in text(listed) and len(re.findall('data-testid="stay-pick"', text(listed))) == 3

    proposal = hq.post("/quarantine/stays/allocate/", {"stay_ids": ids})
    assert proposal.status_code == 200
    rows = re.findall(r'data-testid="proposal-row" data-stay="(\d+)">.*?data-testid="proposal-room">(\w+)<',
                      text(proposal), re.S)
    assert rows == [(str(ids[1]), "402"), (str(ids[0]), "402"), (str(ids[2]), "401")]  # the child with its mother
    assert Stay.objects.filter(room__isnull=False).count() == 0  # a proposal only
    applied = hq.post("/quarantine/stays/allocate/", {"stay_ids": ids, "apply": "1"})
    assert (applied.status_code, applied["Location"]) == (302, "/quarantine/stays/?state=awaiting_transfer")
    assert dict(Stay.objects.filter(id__in=ids).values_list("person__name", "room__number")) == {
        "母亲甲": "402", "孩子乙": "402", "密接丙": "401"}
    again = hq.post("/quarantine/stays/allocate/", {"stay_ids": ids[2:]})
    assert [u["reason"] for u in again.context["proposal"]["unplaced"]] == ["不在待分配状态（已预留房间、已入住或非集中隔离）"]

    site_page = text(hq.get(f"/quarantine/sites/{site.id}/"))
    assert tiles(site_page) == [("301", "free"), ("302", "free"), ("303", "free"), ("401", "reserved"),
                                ("402", "reserved")]
    assert 'title="预留 母*甲"' in site_page and "预留房间 402" in site_page

    no_address = hq.post("/quarantine/stays/transfer/", {"stay_ids": ids, "site_id": site.id, "vehicle": "bus",
                                                        "pickup_address": " "})
    assert (no_address.status_code, Transfer.objects.count()) == (422, 0)
    assert 'data-testid="field-error">请填写接送地址<' in text(no_address)
    requested = hq.post("/quarantine/stays/transfer/", {
        "stay_ids": ids, "site_id": site.id, "pickup_address": "幸福小区1号楼", "vehicle": "bus", "plate": "晋L·12345",
        "driver": "王师傅", "escort": ""})
    run = Transfer.objects.get()
    assert (requested.status_code, requested["Location"]) == (302, f"/quarantine/transfers/#transfer-{run.id}")
    assert (run.code, timezone.localtime(run.due_at).strftime("%m-%d %H:%M"), run.stays.count()) == (
        "ZY20220711-001", "07-12 03:00", 3)
    board = hq.get("/quarantine/transfers/")
    html = text(board)
    assert "已申请转运 ZY20220711-001：3 人，07-12 03:00 前送达" in html
    assert [(g["state"], [r["t"].code for r in g["rows"]]) for g in board.context["groups"]] == [
        ("requested", ["ZY20220711-001"]), ("picked_up", []), ("arrived", [])]
    assert "时限 07-12 03:00，剩余 12 小时" in html
    twice = hq.post("/quarantine/stays/transfer/", {"stay_ids": ids[:1], "site_id": site.id, "vehicle": "bus",
                                                   "pickup_address": "x"})
    assert (twice.status_code, 'data-code="already_requested"' in text(twice)) == (409, True)
    picked = hq.post(f"/quarantine/transfers/{run.id}/pickup/", {"plate": "晋L·12345", "driver": "王师傅",
                                                                "escort": "李医生", "at": ""})
    assert picked.status_code == 302
    assert set(Stay.objects.filter(id__in=ids).values_list("state", flat=True)) == {"in_transfer"}
    early = hq.post(f"/quarantine/transfers/{run.id}/arrive/", {"at": "2022-07-11T14:00"})
    assert (early.status_code, error_items(text(early), "transfer-error")) == (422, [])
    assert "送达时间早于接上时间" in text(early)
    arrived = hq.post(f"/quarantine/transfers/{run.id}/arrive/", {})
    run.refresh_from_db()
    assert (arrived.status_code, run.state, run.closed_loop, run.escort) == (302, "arrived", True, "李医生")
    html = text(hq.get("/quarantine/transfers/"))
    assert "转运 ZY20220711-001 已送达（闭环），请办理入住" in html
    assert "办理入住（3 人待入住）" in html and f'href="/quarantine/sites/{site.id}/#incoming"' in html

    page = hq.get(f"/quarantine/sites/{site.id}/")
    assert [(r["name"], r["run_state"], r["room_default"]) for r in page.context["incoming"]] == [
        ("母*甲", "已送达", "402"), ("孩*乙", "已送达", "402"), ("密*丙", "已送达", "401")]
    for stay_id in ids[:2]:
        done = hq.post(f"/quarantine/sites/{site.id}/admit/", {"stay_id": stay_id, "room": "402"})
        assert (done.status_code, done["Location"]) == (302, f"/quarantine/sites/{site.id}/#incoming")
    full = hq.post(f"/quarantine/sites/{site.id}/admit/", {"stay_id": ids[2], "room": "402"})
    assert full.status_code == 409
    assert re.search(r'data-testid="admit-error" data-code="room_taken">\s*<strong>房间 402 已有人或不可用', text(full))
    hq.post(f"/quarantine/sites/{site.id}/admit/", {"stay_id": ids[2], "room": "303"})  # another than reserved
    assert dict(Stay.objects.filter(id__in=ids).values_list("person__name", "state")) == {
        "母亲甲": "active", "孩子乙": "active", "密接丙": "active"}
    page = hq.get(f"/quarantine/sites/{site.id}/")
    html = text(page)
    assert tiles(html) == [("301", "free"), ("302", "free"), ("303", "occupied"), ("401", "free"),
                           ("402", "occupied")]
    assert 'data-testid="no-incoming"' in html and [p["name"] for p in page.context["people"]] == [
        "密*丙", "母*甲", "孩*乙"]
    moved = hq.post(f"/quarantine/sites/{site.id}/move/", {"stay_id": ids[2], "room": "301", "reason": "空调故障"})
    assert moved.status_code == 302
    assert tiles(text(hq.get(f"/quarantine/sites/{site.id}/")))[:3] == [
        ("301", "occupied"), ("302", "free"), ("303", "cleaning")]

    # the release: the days served, then every planned test negative
    assert 'data-testid="release-not-due">2022-07-17 期满后可以解除。<' in text(hq.get(f"/quarantine/stays/{ids[2]}/"))
    settings.SHOUWANG_TODAY = "2022-07-17"
    for i, day in enumerate((11, 12, 13)):
        negative_tube(county, single, dt.date(2022, 7, day), f"Q{i}")
    stay_page = hq.get(f"/quarantine/stays/{ids[2]}/")
    assert [(t["date"].day, t["outcome"]) for t in stay_page.context["tests"]] == [
        (11, "negative"), (12, "negative"), (13, "negative"), (15, "missing"), (17, "missing")]
    refused = hq.post(f"/quarantine/stays/{ids[2]}/release/")
    assert refused.status_code == 409
    html = text(refused)
    assert re.search(r'data-testid="release-error" data-code="tests_missing"', html)
    assert error_items(html, "release-error") == ["2022-07-15 核酸：未检测", "2022-07-17 核酸：未检测"]
    assert Stay.objects.get(id=ids[2]).state == "active"
    for i, day in enumerate((15, 17)):
        negative_tube(county, single, dt.date(2022, 7, day), f"R{i}")
    released = hq.post(f"/quarantine/stays/{ids[2]}/release/")
    stay = Stay.objects.get(id=ids[2])
    assert (released.status_code, stay.state, len(stay.release_code)) == (302, "released", 13)
    html = text(hq.get(released["Location"]))
    assert f'data-testid="release-code">{stay.release_code}<' in html
    assert f"已解除集中隔离医学观察，核验码 {stay.release_code}；接续居家健康监测至 2022-07-20" in html
    assert "接续居家健康监测至 07-20" in html
    assert Room.objects.get(site=site, number="301").state == "cleaning"
    assert f'href="/quarantine/stays/{ids[2]}/certificate.pdf"' in html

    # the rooms left are disinfected from the site's page; a room in use is refused, nothing changes
    site_page = hq.get(f"/quarantine/sites/{site.id}/")
    assert [r.number for r in site_page.context["to_clean"]] == ["301", "303"]
    busy = hq.post(f"/quarantine/sites/{site.id}/room-state/", {"numbers": "303, 402", "state": "free"})
    assert busy.status_code == 409 and "房间 402 有人入住、已预留或不能改为“空闲”" in text(busy)
    assert Room.objects.get(site=site, number="303").state == "cleaning"
    cleaned = hq.post(f"/quarantine/sites/{site.id}/room-state/", {
        "room_ids": [r.id for r in site_page.context["to_clean"]], "state": "free"})
    assert cleaned.status_code == 302
    assert dict(Room.objects.filter(site=site, number__in=["301", "303"]).values_list("number", "state")) == {
        "301": "free", "303": "free"}
    no_reason = hq.post(f"/quarantine/sites/{site.id}/room-state/", {"numbers": "302", "state": "out_of_service"})
    assert no_reason.status_code == 422 and "停用房间请填写原因" in text(no_reason)
    hq.post(f"/quarantine/sites/{site.id}/room-state/", {"numbers": "302", "state": "out_of_service",
                                                       "reason": "水管漏水"})
    assert Room.objects.get(site=site, number="302").state == "out_of_service"


def test_a_stay_file_shows_the_plan_and_re_anchors_and_logs_the_read(county, client_for, settings):
    open_site(county)
    person = county.person(name="密接丁", seq=41, mobile="13812345678")
    stay = start(county, person)
    manager = county.user(Role.QUARANTINE_MANAGER, county.township_a, username="qm-a")
    qm = client_for(manager)
    page = qm.get(f"/quarantine/stays/{stay.id}/")
    html = text(page)
    assert (page.status_code, page.context["name"], page.context["id_number"], page.context["mobile"]) == (
        200, "密接丁", person.id_number[:4] + "**********" + person.id_number[-4:], "138****5678")
    assert 'data-testid="stay-range">2022-07-11 — 2022-07-17<' in html
    assert re.findall(r'data-testid="test-day" data-date="([\d-]+)" data-outcome="(\w+)"', html) == [
        ("2022-07-11", "missing"), ("2022-07-12", "due"), ("2022-07-13", "due"), ("2022-07-15", "due"),
        ("2022-07-17", "due")]
    assert "起算日期 2022-07-10 · 第 1 阶段 · 政策 V9" in html and 'data-testid="because"' in html
    assert 'data-testid="show-full"' in html
    full = qm.get(f"/quarantine/stays/{stay.id}/", {"full": "1"})
    assert (full.context["id_number"], full.context["mobile"]) == (person.id_number, "13812345678")
    assert list(AuditEvent.objects.filter(object_type="quarantine.stay", actor=manager).order_by("id")
                .values_list("action", "summary")) == [("view", "查看隔离管控 密接丁"), ("view_full", "查看隔离管控 密接丁")]
    supervisor = client_for(county.user(Role.SUPERVISOR, county.county, username="sup"))
    masked = supervisor.get(f"/quarantine/stays/{stay.id}/", {"full": "1"})
    assert (masked.context["name"], masked.context["mobile"], "show-full" in text(masked)) == (
        "密*丁", "138****5678", False)

    settings.SHOUWANG_TODAY = "2022-07-12"
    earlier = qm.post(f"/quarantine/stays/{stay.id}/reanchor/", {"anchor_date": "2022-07-09", "reason": "x"})
    assert (earlier.status_code, "新的起算日期应晚于原日期（以末次暴露为准）" in text(earlier)) == (409, True)
    later = qm.post(f"/quarantine/stays/{stay.id}/reanchor/", {"anchor_date": "2022-07-12",
                                                               "reason": "第二例病例的密接，末次暴露 07-12"})
    assert later.status_code == 302
    html = text(qm.get(later["Location"]))
    assert "已重新起算：2022-07-13 至 2022-07-19" in html
    assert 'data-testid="stay-range">2022-07-13 — 2022-07-19<' in html
    assert "起算 2022-07-10 → 2022-07-12" in html and "结束 2022-07-17 → 2022-07-19" in html
    assert StayChange.objects.filter(stay=stay, kind="reanchored").get().reason == "第二例病例的密接，末次暴露 07-12"


def test_the_sites_page_puts_overdue_transfers_on_top_and_the_stays_filter(county, client_for, monkeypatch):
    site = open_site(county)
    people = [county.person(name=f"转运{i}", seq=50 + i) for i in range(2)]
    stays = [start(county, p) for p in people]
    home = start(county, county.person(name="次密戊", seq=60), category="secondary_contact")
    run = transfer_request(actor=county.hq, stay_ids=[stays[0].id], site_id=site.id, pickup_address="东门",
                           vehicle="ambulance")
    hq = client_for(county.hq)
    assert 'data-testid="overdue"' not in text(hq.get("/quarantine/"))
    later = run.due_at + dt.timedelta(hours=1, minutes=30)
    monkeypatch.setattr(clock, "now", lambda: later)
    listed = hq.get("/quarantine/")
    html = text(listed)
    assert 'data-testid="overdue-count">1<' in html
    assert re.search(r'data-testid="overdue-row" data-code="ZY20220711-001">.*?已超 1.5 小时', html, re.S)
    assert (listed.context["awaiting"], listed.context["active"]) == (2, 1)
    board = hq.get("/quarantine/transfers/")
    assert (board.context["overdue"], 'class="q-card state-requested overdue"' in text(board)) == (1, True)

    def names(**query):
        return [r["name"] for r in hq.get("/quarantine/stays/", query).context["rows"]]

    assert names() == ["转*0", "转*1", "次*戊"]
    assert names(state="active") == ["次*戊"]
    assert names(measure="home_quarantine") == ["次*戊"]
    assert names(measure="central_quarantine", state="awaiting_transfer") == ["转*0", "转*1"]
    assert names(site=site.id) == []
    stay_admit(actor=county.hq, stay_id=stays[1].id, room_id=Room.objects.get(site=site, number="301").id)
    assert names(site=site.id) == ["转*1"]
    assert home.home_address == ""


def test_rooms_are_reserved_all_or_nothing_and_those_left_out_are_named(county, client_for):
    site = open_site(county, floors={2: ["201"]}, family=())
    first, second = (start(county, county.person(name=name, seq=80 + i)) for i, name in enumerate(("甲一", "乙二")))
    hq = client_for(county.hq)
    proposal = hq.post("/quarantine/stays/allocate/", {"stay_ids": [first.id, second.id], "alloc_site": site.id,
                                                       "state": "awaiting_transfer"})
    assert [(p["name"], p["number"]) for p in proposal.context["proposal"]["placed"]] == [("甲*", "201")]
    assert [(u["name"], u["reason"]) for u in proposal.context["proposal"]["unplaced"]] == [
        ("乙*", "没有合适的空房（同户同层、按病例分楼层、工作人员照管能力）")]
    assert proposal.context["state"] == "awaiting_transfer"  # the filter kept
    refused = hq.post("/quarantine/stays/allocate/", {"stay_ids": [first.id, second.id], "apply": "1"})
    assert refused.status_code == 409
    assert error_items(text(refused), "allocate-error") == ["乙*：没有合适的空房（同户同层、按病例分楼层、工作人员照管能力）"]
    assert Stay.objects.filter(room__isnull=False).count() == 0
    empty = hq.post("/quarantine/stays/allocate/", {})
    assert (empty.status_code, "请选择待转运人员" in text(empty)) == (422, True)


# ---- who may open and change what ----------------------------------------------------------------------------------


def test_another_township_gets_not_found_and_a_grid_worker_may_look_but_not_act(county, client_for):
    site = open_site(county)
    stay = start(county, county.person(name="密接己", seq=70))
    run = transfer_request(actor=county.hq, stay_ids=[stay.id], site_id=site.id, pickup_address="东门", vehicle="car")
    east = client_for(county.user(Role.QUARANTINE_MANAGER, county.township_b, username="qm-b"))
    for url in (f"/quarantine/sites/{site.id}/", f"/quarantine/stays/{stay.id}/"):
        assert east.get(url).status_code == 404
    assert east.post(f"/quarantine/sites/{site.id}/admit/", {"stay_id": stay.id, "room": "301"}).status_code == 404
    assert east.post(f"/quarantine/transfers/{run.id}/pickup/", {}).status_code == 404
    assert east.post(f"/quarantine/stays/{stay.id}/release/").status_code == 404
    assert east.get("/quarantine/").context["rows"] == [] and east.get("/quarantine/stays/").context["rows"] == []
    assert east.get("/quarantine/transfers/").context["groups"][0]["rows"] == []
    west = client_for(county.user(Role.QUARANTINE_MANAGER, county.township_a, username="qm-a"))
    assert west.get(f"/quarantine/sites/{site.id}/").status_code == 200

    grid = client_for(county.user(Role.GRID_WORKER, county.grid_a, username="grid-a"))
    page = grid.get(f"/quarantine/sites/{site.id}/")
    assert page.status_code == 200 and 'data-testid="admit-form"' not in text(page)
    assert 'data-testid="stay-pick"' not in text(grid.get("/quarantine/stays/"))
    assert 'data-testid="site-form"' not in text(grid.get("/quarantine/"))
    posts = [(f"/quarantine/sites/{site.id}/admit/", {"stay_id": stay.id, "room": "301"}),
             (f"/quarantine/sites/{site.id}/state/", {"state": "closing"}),
             (f"/quarantine/sites/{site.id}/check/", {"items": []}),
             (f"/quarantine/sites/{site.id}/rooms/", {"floors": "9: 901"}),
             ("/quarantine/sites/new/", {"name": "x", "kind": "hotel", "area_id": county.grid_a.id}),
             ("/quarantine/stays/allocate/", {"stay_ids": [stay.id]}),
             ("/quarantine/stays/transfer/", {"stay_ids": [stay.id], "site_id": site.id, "vehicle": "car",
                                              "pickup_address": "x"}),
             (f"/quarantine/stays/{stay.id}/reanchor/", {"anchor_date": "2022-07-11", "reason": "x"}),
             (f"/quarantine/stays/{stay.id}/release/", {}),
             (f"/quarantine/transfers/{run.id}/pickup/", {})]
    assert [grid.post(url, data).status_code for url, data in posts] == [403] * len(posts)
    assert (Stay.objects.get(id=stay.id).state, Site.objects.get().state, Room.objects.count()) == (
        "awaiting_transfer", "active", 5)
    assert client_for(county.user(Role.SAMPLER, county.township_a, username="sampler")).get(
        "/quarantine/").status_code == 403
    nav = text(client_for(county.hq).get("/quarantine/"))
    assert 'data-testid="nav-group-quarantine">隔离管控<' in nav
    assert 'data-testid="nav-group-quarantine"' not in text(
        client_for(county.user(Role.SAMPLER, county.township_a, username="sampler")).get("/"))


def test_a_transfer_not_picked_up_is_cancelled_with_its_reason(county, client_for):
    site = open_site(county)
    stay = start(county, county.person(name="密接丁", seq=41))
    run = transfer_request(actor=county.hq, stay_ids=[stay.id], site_id=site.id, pickup_address="幸福小区2号楼",
                           vehicle="ambulance")
    hq = client_for(county.hq)
    assert 'data-testid="cancel-form"' in text(hq.get("/quarantine/transfers/"))
    empty = hq.post(f"/quarantine/transfers/{run.id}/cancel/", {"reason": " "})
    assert (empty.status_code, Transfer.objects.get(id=run.id).state) == (422, "requested")
    done = hq.post(f"/quarantine/transfers/{run.id}/cancel/", {"reason": "已送定点医院"})
    run.refresh_from_db()
    assert (done.status_code, run.state, run.note) == (302, "cancelled", "已送定点医院")
    assert "转运 ZY20220711-001 已取消" in text(hq.get(done["Location"]))
    again = hq.post(f"/quarantine/transfers/{run.id}/cancel/", {"reason": "x"})
    assert again.status_code == 409


def test_the_site_manager_and_doctor_are_set_from_logins_covering_the_site(county, client_for):
    site = open_site(county)
    doctor = county.user("quarantine_manager", county.village_a, username="doctor_a")
    far = county.user("quarantine_manager", county.township_b, username="far_b")
    hq = client_for(county.hq)
    page = hq.get(f"/quarantine/sites/{site.id}/")
    assert doctor in page.context["staff_candidates"] and far not in page.context["staff_candidates"]
    refused = hq.post(f"/quarantine/sites/{site.id}/staff/", {"doctor_id": far.id, "staff": "3",
                                                             "persons_per_staff": "10"})
    assert refused.status_code == 422 and "驻点医生的账号须管辖隔离点所在区域" in text(refused)
    saved = hq.post(f"/quarantine/sites/{site.id}/staff/", {"doctor_id": doctor.id, "manager_id": "", "staff": "3",
                                                           "persons_per_staff": "10"})
    site.refresh_from_db()
    assert (saved.status_code, site.doctor, site.manager, site.staff) == (302, doctor, None, 3)
    assert "驻点医生 doctor_a" in text(hq.get(f"/quarantine/sites/{site.id}/"))


def test_the_sites_page_forecasts_the_places_needed_for_seven_days(county, client_for):
    site = open_site(county)  # 6 places in 5 rooms (402 a family room)
    for i in range(3):
        start(county, county.person(name=f"预测{i}", seq=50 + i))  # three stays, 07-11 to 07-17
    page = client_for(county.hq).get("/quarantine/")
    days = re.findall(r'data-testid="forecast-day" data-day="([\d-]+)" data-needed="(\d+)" data-shortfall="(\d+)"',
                      text(page))
    assert days == [(f"2022-07-{d}", "3", "0") for d in range(11, 18)]
    assert "每人集中隔离7天（V9）" in text(page) and "可用床位：启用隔离点6个，备用隔离点0个" in text(page)
    assert site.name in text(page)

"""The risk-zone pages through the test client: a zone proposed from /zones/, approved on its page (the clock with
its dates, the map carrying its area in force), lifted early refused naming the earliest date and then lifted with
HQ's reason; a proposal rejected (a reason required); an overlap refused by the area field; scope, kind, downgrade
and text changes; the population and cases of a zone; HQ's daily list (eligible, moved); who may see and do what
(another township 404, a grid worker 403); the exports; the public page without login and without personal data."""

import datetime as dt
import io
import json
import re
from html import unescape

import pytest
from django.test import Client
from openpyxl import load_workbook

from shouwang.accounts.enums import Role
from shouwang.areas.services import area_create, area_shape_set, household_get_or_create
from shouwang.core.masking import mask_id_number
from shouwang.core.models import AuditEvent
from shouwang.zones.models import Zone
from shouwang.zones.services import CaseRef, zone_approve, zone_case_record, zone_propose
from shouwang.zones.tests.conftest import screening

EN = {"HTTP_ACCEPT_LANGUAGE": "en"}
CODE = "FX20220711-001"


@pytest.fixture(autouse=True)
def business_day(settings):
    settings.SHOUWANG_TODAY = "2022-07-11"  # 15:00 on the business clock (conftest)


def text(response) -> str:
    return unescape(response.content.decode())


def polygon(west, south, east, north):
    return {"type": "Polygon", "coordinates": [[[west, south], [east, south], [east, north], [west, north],
                                                [west, south]]]}


def map_data(response, dom_id="zones-map") -> dict:
    match = re.search(rf'<script id="{dom_id}-data" type="application/json">(.*?)</script>', response.content.decode(),
                      re.S)
    assert match, f"no {dom_id} in the page"
    return json.loads(match.group(1))


def coded(html: str, testid: str, attr: str = "data-code") -> list[str]:
    return re.findall(rf'data-testid="{testid}" {attr}="([^"]*)"', html)


def field_error(html: str, form_testid: str) -> list[str]:
    """The field errors shown inside a form (their first language)."""
    form = re.search(rf'data-testid="{form_testid}".*?</form>', html, re.S)
    assert form, f"no {form_testid}"
    return [re.sub(r"<[^>]+>", "", m).strip() for m in
            re.findall(r'<small class="error bilingual" data-testid="field-error">(.*?)<span class="other">',
                       form.group(0), re.S)]


class Place:
    def __init__(self, county):
        c = county
        self.county = c
        self.compound = area_create(parent=c.grid_a, level="compound", code="141027100001001-C01", name="幸福小区")
        self.b1 = area_create(parent=self.compound, level="building", code="141027100001001-C01-B01", name="1号楼")
        self.b2 = area_create(parent=self.compound, level="building", code="141027100001001-C01-B02", name="2号楼")
        h101 = household_get_or_create(area=self.b1, room="101")
        h102 = household_get_or_create(area=self.b1, room="102")
        h201 = household_get_or_create(area=self.b2, room="201")
        self.people = {
            "张一": c.person(name="张一", area=self.b1, household=h101, birth=dt.date(1980, 5, 1), seq=601,
                           mobile="13800001111"),
            "张二": c.person(name="张二", area=self.b1, household=h101, birth=dt.date(2021, 9, 1), seq=602,
                           tags=["infant"]),
            "李老": c.person(name="李老", area=self.b1, household=h102, birth=dt.date(1950, 1, 1), seq=603),
            "王孕": c.person(name="王孕", area=self.b2, household=h201, birth=dt.date(1995, 2, 2), seq=604,
                           tags=["pregnant"]),
        }
        self.outside = c.person(name="周村", area=c.grid_b, birth=dt.date(1970, 8, 8), seq=605)


@pytest.fixture
def place(county) -> Place:
    return Place(county)


def shaped(p: Place) -> None:
    c = p.county
    for area, geometry in [(c.county, polygon(111.8, 35.9, 111.9, 36.0)),
                           (c.township_a, polygon(111.8, 35.9, 111.85, 36.0)),
                           (c.township_b, polygon(111.85, 35.9, 111.9, 36.0)),
                           (c.village_a, polygon(111.81, 35.91, 111.84, 35.95)),
                           (c.village_b, polygon(111.86, 35.91, 111.89, 35.95)),
                           (c.grid_a, polygon(111.81, 35.91, 111.83, 35.93)),
                           (p.compound, polygon(111.812, 35.912, 111.818, 35.918)),
                           (p.b1, polygon(111.813, 35.913, 111.814, 35.914))]:
        area_shape_set(actor=c.hq, area_id=area.id, geometry=geometry)


def propose(p: Place, areas=None, **extra) -> Zone:
    return zone_propose(actor=p.county.hq, kind="high", area_ids=[a.id for a in (areas or [p.compound])],
                        reason="病例住所", cases=[CaseRef("C-1", dt.date(2022, 7, 11), "community", p.b1.id)], **extra)


# ---- the whole path: propose, approve, clock, early lift refused, lifted with a reason -------------------------------


def test_a_zone_is_proposed_approved_shows_its_clock_and_is_lifted_early_only_with_a_reason(place, client_for):
    hq = client_for(place.county.hq)
    response = hq.post("/zones/propose/", {"kind": "high", "area_ids": place.compound.id, "reason": "病例 C-1 的住所"})
    zone = Zone.objects.get()
    assert (zone.code, zone.state, zone.kind) == (CODE, "proposed", "high")
    assert response.status_code == 302 and response["Location"] == f"/zones/{zone.id}/"
    html = text(hq.get("/zones/"))
    assert coded(html, "proposed-row") == [CODE]
    row = re.search(r'data-testid="proposed-row".*?</tr>', html, re.S).group(0)
    assert re.findall(r'data-label="人员">(\d+)<', row) == ["4"]

    page = text(hq.get(f"/zones/{zone.id}/"))
    assert re.findall(r'data-testid="zone-state" data-state="(\w+)">(.*?)<', page) == [("proposed", "待审批")]
    assert "解封时间（若今日批准）" in page
    assert re.findall(r'data-testid="approve-keep"', page) == ['data-testid="approve-keep"']

    response = hq.post(f"/zones/{zone.id}/approve/", {"scope_form": "1", "keep": [place.compound.id], "add": "",
                                                       "add_codes": "", "kind": "high", "announcement": ""})
    assert response.status_code == 302 and response["Location"] == f"/zones/{zone.id}/#zone-head"
    zone.refresh_from_db()
    assert (zone.state, zone.level_now, zone.eligible_on, zone.next_level) == ("in_force", "high",
                                                                              dt.date(2022, 7, 18), "medium")
    page = text(hq.get(f"/zones/{zone.id}/"))
    assert "FX20220711-001 已批准划定为高风险区，通告已生成" in page
    assert re.findall(r'data-testid="clock-eligible">([\d-]+)<', page) == ["2022-07-18"]
    assert re.findall(r'data-testid="clock-lift">([\d-]+)<', page) == ["2022-07-21"]
    assert re.findall(r'data-testid="clock-state">(.*?)<', page) == ["未到期"]
    assert re.findall(r'data-testid="clock-step" data-to="(\w+)" data-state="(\w+)" data-eligible="([\d-]+)"',
                      page) == [("medium", "waiting", "2022-07-18"), ("low", "waiting", "2022-07-21")]
    assert "第7天（2022-07-18）全员核酸一轮均阴性" in page
    assert "关于划定高风险区的通告（FX20220711-001）" in page

    html = text(hq.get("/zones/"))
    assert coded(html, "proposed-row") == []
    assert re.findall(r'data-testid="in-force-row" data-code="([\w-]+)" data-level="(\w+)"', html) == [(CODE, "high")]
    assert re.findall(r'data-testid="row-next">(.*?)</td>', html) == [
        '中风险区 <span class="mono">2022-07-18</span>']
    assert re.findall(r'data-testid="row-clock">(.*?)<', html) == ["未到期"]
    care = re.search(r'data-testid="care-row".*?</tr>', html, re.S).group(0)
    # people, households, 60+, living alone, disabled, pregnant, seriously ill, bedridden, infants
    assert re.findall(r'<td class="num">(\d+)</td>', care) == ["4", "3", "1", "1", "0", "1", "0", "0", "1"]

    # lifting before the clock: refused by the reason field, naming the earliest date and the clock's lines
    refused = hq.post(f"/zones/{zone.id}/lift/", {"reason": "", "announcement": ""})
    assert refused.status_code == 409
    page = text(refused)
    block = re.search(r'data-testid="lift-reason-error" data-code="not_eligible">\s*<strong>(.*?)</strong>', page)
    assert block.group(1) == "FX20220711-001 尚不符合解除为低风险区的条件（最早 2022-07-21）；提前解除须由指挥部填写理由"
    assert "Z1 高风险区，2022-07-11 划定" in re.sub(r"<[^>]+>", "", page)
    zone.refresh_from_db()
    assert zone.state == "in_force"

    response = hq.post(f"/zones/{zone.id}/lift/", {"reason": "经专家组评估，病例已闭环转运", "announcement": ""})
    assert response.status_code == 302
    zone.refresh_from_db()
    assert (zone.state, zone.level_now, zone.lift_reason) == ("lifted", "low", "经专家组评估，病例已闭环转运")
    page = text(hq.get(f"/zones/{zone.id}/"))
    assert re.findall(r'data-testid="zone-lift-reason">(.*?)<', page) == ["经专家组评估，病例已闭环转运"]
    assert re.findall(r'data-testid="history-row" data-kind="(\w+)"', page) == ["created", "approved", "lifted"]
    assert re.findall(r'data-testid="issued-text" data-kind="(\w+)"', page) == ["approved", "lifted"]
    assert "提前（未满足解封条件），理由由指挥部填写" in page
    assert 'data-testid="actions"' not in page  # nothing left to decide
    html = text(hq.get("/zones/"))
    assert re.findall(r'data-testid="recent-row" data-code="([\w-]+)" data-state="(\w+)"', html) == [(CODE, "lifted")]
    assert "提前解除：经专家组评估，病例已闭环转运" in html


def test_a_proposal_is_rejected_only_with_a_reason(place, client_for):
    zone = propose(place)
    hq = client_for(place.county.hq)
    refused = hq.post(f"/zones/{zone.id}/reject/", {"reason": " "})
    assert refused.status_code == 422
    assert field_error(text(refused), "reject-form") == ["不予批准请填写理由"]
    assert 'id="reject" open' in text(refused)
    response = hq.post(f"/zones/{zone.id}/reject/", {"reason": "流调显示病例未在小区停留"})
    assert response.status_code == 302
    zone.refresh_from_db()
    assert (zone.state, zone.rejected_reason) == ("rejected", "流调显示病例未在小区停留")
    html = text(hq.get("/zones/"))
    assert re.findall(r'data-testid="recent-row" data-code="([\w-]+)" data-state="(\w+)"', html) == [
        (CODE, "rejected")]
    assert re.findall(r'data-testid="zone-rejected-reason">(.*?)<', text(hq.get(f"/zones/{zone.id}/"))) == [
        "流调显示病例未在小区停留"]


def test_an_overlap_is_refused_by_the_area_field_and_nothing_is_proposed(place, client_for):
    propose(place)
    hq = client_for(place.county.hq)
    refused = hq.post("/zones/propose/", {"kind": "high", "area_ids": "", "area_codes": "141027100001001-C01-B01",
                                          "reason": "第二例"})
    assert refused.status_code == 409
    html = text(refused)
    assert field_error(html, "propose-form") == [
        "与同类高风险区重叠：FX20220711-001（待审批）：1号楼 在其 幸福小区 内。可合并到该风险区或调整范围"]
    assert 'value="141027100001001-C01-B01"' in html  # the form keeps what was typed
    assert Zone.objects.count() == 1
    unknown = hq.post("/zones/propose/", {"kind": "high", "area_codes": "NOPE-1", "reason": ""})
    assert unknown.status_code == 404
    assert field_error(text(unknown), "propose-form") == ["区域编码不存在或不在您的辖区内：NOPE-1"]
    # merged on request: building 2 is inside the proposal already, the building outside the compound joins it
    merged = hq.post("/zones/propose/", {"kind": "high", "area_ids": place.b2.id, "merge": "1", "reason": "第二例",
                                         "area_codes": place.county.building_a.code})
    assert merged.status_code == 302
    assert Zone.objects.count() == 1
    assert sorted(Zone.objects.get().areas.values_list("area__name", flat=True)) == ["幸福小区", "幸福小区1号楼"]


def test_scope_kind_downgrade_and_text_changes_on_the_zone_page(place, client_for, settings):
    zone = zone_approve(actor=place.county.hq, zone_id=propose(place).id)
    hq = client_for(place.county.hq)
    inside = hq.post(f"/zones/{zone.id}/scope/", {"add": place.b2.id, "reason": "扩大"})
    assert inside.status_code == 422
    assert field_error(text(inside), "scope-form") == ["已在 FX20220711-001 范围内：2号楼"]
    other = zone_propose(actor=place.county.hq, kind="high", area_ids=[place.county.building_a.id])
    overlap = hq.post(f"/zones/{zone.id}/scope/", {"add_codes": place.county.building_a.code, "reason": "扩大"})
    assert overlap.status_code == 409
    assert field_error(text(overlap), "scope-form") == [
        "与同类高风险区重叠：FX20220711-002（待审批）：幸福小区1号楼 已在其中。请调整范围"]
    hq.post(f"/zones/{other.id}/reject/", {"reason": "并入 FX20220711-001"})
    response = hq.post(f"/zones/{zone.id}/scope/", {"add": place.county.building_a.id, "remove": [],
                                                    "reason": "病例常去"})
    assert response.status_code == 302
    page = text(hq.get(f"/zones/{zone.id}/"))
    assert re.findall(r'data-testid="scope-row" data-code="([\w-]+)"', page) == [
        "141027100001001-B01", "141027100001001-C01"]
    assert "范围：幸福小区 → 幸福小区1号楼、幸福小区" in page

    settings.SHOUWANG_TODAY = "2022-07-13"
    early = hq.post(f"/zones/{zone.id}/downgrade/", {"reason": ""})
    assert early.status_code == 409
    assert "FX20220711-001 尚不符合降级为中风险区的条件（最早 2022-07-18）；提前降级须由指挥部填写理由" in text(early)
    assert hq.post(f"/zones/{zone.id}/downgrade/", {"reason": "专家组研判"}).status_code == 302
    zone.refresh_from_db()
    assert (zone.kind, zone.level_now, zone.level_since) == ("high", "medium", dt.date(2022, 7, 13))
    page = text(hq.get(f"/zones/{zone.id}/"))
    assert re.findall(r'data-testid="zone-level" data-level="(\w+)">(.*?)<', page) == [("medium", "中风险区")]
    assert "由高风险区降级" in page
    assert re.findall(r'data-testid="clock-step" data-to="(\w+)" data-state="(\w+)"', page) == [
        ("medium", "waiting"), ("low", "waiting")]
    assert 'id="downgrade"' not in page  # the next step is the lifting

    assert hq.post(f"/zones/{zone.id}/kind/", {"kind": "high", "reason": ""}).status_code == 422
    assert hq.post(f"/zones/{zone.id}/kind/", {"kind": "high", "reason": "新增病例，一区一策"}).status_code == 302
    zone.refresh_from_db()
    assert (zone.kind, zone.level_now, zone.level_since) == ("high", "high", dt.date(2022, 7, 13))

    blank = hq.post(f"/zones/{zone.id}/announcement/", {"text": "  "})
    assert blank.status_code == 422
    assert field_error(text(blank), "announcement-form") == ["通告内容不能为空"]
    assert hq.post(f"/zones/{zone.id}/announcement/", {"text": "修改后的通告"}).status_code == 302
    zone.refresh_from_db()
    assert zone.announcement_zh == "修改后的通告"
    page = text(hq.get(f"/zones/{zone.id}/"))
    assert re.findall(r'data-testid="announcement-text" lang="zh-CN">(.*?)</pre>', page) == ["修改后的通告"]
    assert re.findall(r'data-testid="history-row" data-kind="(\w+)"', page) == [
        "created", "approved", "scope", "downgraded", "kind", "announcement"]


def test_approval_edits_the_scope_and_kind_and_an_overlap_stays_by_the_area_field(place, client_for):
    zone = propose(place)
    hq = client_for(place.county.hq)
    # narrow to building 1 and add the building outside the compound, as a medium-risk zone
    response = hq.post(f"/zones/{zone.id}/approve/", {"scope_form": "1", "keep": [], "add": place.b1.id,
                                                       "add_codes": place.county.building_a.code, "kind": "medium"})
    assert response.status_code == 302
    zone.refresh_from_db()
    assert (zone.state, zone.kind, zone.level_now) == ("in_force", "medium", "medium")
    assert sorted(zone.areas.values_list("area__name", flat=True)) == ["1号楼", "幸福小区1号楼"]
    empty = propose(place, areas=[place.b2])
    refused = hq.post(f"/zones/{empty.id}/approve/", {"scope_form": "1", "kind": "high"})
    assert refused.status_code == 422
    assert field_error(text(refused), "approve-form") == ["请选择风险区范围"]


# ---- the zone's people and cases, the daily list --------------------------------------------------------------------


def test_the_zone_page_counts_the_people_households_and_vulnerable_and_says_which_cases_count(place, client_for):
    zone = zone_propose(actor=place.county.hq, kind="high", area_ids=[place.compound.id], cases=[
        CaseRef("C-0", dt.date(2022, 7, 10), "community", place.b1.id),
        CaseRef("C-1", dt.date(2022, 7, 11), "central_quarantine", place.b2.id)])
    zone_approve(actor=place.county.hq, zone_id=zone.id)
    page = text(client_for(place.county.hq).get(f"/zones/{zone.id}/"))
    counts = dict(re.findall(r'data-testid="pop-(\w+)" data-n="(\d+)"', page))
    assert counts == {"people": "4", "households": "3", "elderly": "1", "elderly_alone": "1", "disabled": "0",
                      "pregnant": "1", "seriously_ill": "0", "bedridden": "0", "infant": "1", "no_household": "0"}
    assert re.findall(r'data-testid="scope-people">(\d+)<', page) == ["4"]
    assert re.findall(r'data-testid="case-row" data-code="([\w-]+)" data-counted="(\w+)"', page) == [
        ("C-0", "false"), ("C-1", "true")]
    assert "早于划定日期 2022-07-11（从划定日起算）" in page
    assert "生活物资保障（户） <strong>3</strong>" in page
    assert "2 例，计入 1 例" in page
    english = text(client_for(place.county.hq).get(f"/zones/{zone.id}/", **EN))
    assert re.findall(r'data-testid="zone-level" data-level="high">(.*?)<', english) == ["high-risk zone"]
    assert "before the designation on 2022-07-11 (the clock runs from it)" in english
    assert "daily supplies (households) <strong>3</strong>" in english


def test_hq_s_daily_list_shows_a_zone_eligible_today_then_its_date_moved_by_a_new_case(place, client_for, settings):
    zone = zone_approve(actor=place.county.hq, zone_id=propose(place).id)
    settings.SHOUWANG_TODAY = "2022-07-18"
    screening([place.compound], dt.date(2022, 7, 18), dict.fromkeys(place.people.values(), "negative"))
    hq = client_for(place.county.hq)
    html = text(hq.get("/zones/"))
    assert coded(html, "daily-eligible") == [CODE]
    card = re.search(r'data-testid="daily-eligible".*?</li>', html, re.S).group(0)
    assert "今日起" in card and "可转为中风险区（2022-07-18 起）" in card
    assert 'id="downgrade" open' in text(hq.get(f"/zones/{zone.id}/"))
    zone_case_record(person_area_id=place.b1.id, case_code="C-0718", found_on=dt.date(2022, 7, 18),
                     context="community")
    html = text(hq.get("/zones/"))
    assert coded(html, "daily-eligible") == []
    assert coded(html, "daily-moved") == [CODE]
    moved = re.search(r'data-testid="daily-moved".*?</li>', html, re.S).group(0)
    assert "2022-07-18 → 2022-07-25" in moved
    assert "新增病例 C-0718（2022-07-18，社会面）" in moved
    status = re.search(r'data-testid="county-status".*?</section>', html, re.S).group(0)
    assert re.findall(r'data-testid="status-days"><small>距最后一例社会面病例</small><strong>(\d+)', status) == ["0"]


# ---- the map ----------------------------------------------------------------------------------------------------------


def test_the_map_colours_the_zone_s_area_by_level_and_draws_the_cases(place, client_for):
    shaped(place)
    zone = zone_approve(actor=place.county.hq, zone_id=propose(place).id)
    zone_case_record(person_area_id=place.b1.id, case_code="C-1", found_on=dt.date(2022, 7, 11), context="community")
    response = client_for(place.county.hq).get("/zones/")
    data = map_data(response)
    features = {f["properties"]["code"]: f["properties"] for f in data["shapes"]["features"]}
    assert [(code, p["zone"], p["zone_id"], p["people"]) for code, p in features.items()] == [
        ("141027100001", "part", zone.id, 4), ("141027101001", "", None, 1), ("141027100001001-C01", "high", zone.id, 4)]
    assert features["141027100001001-C01"]["zone_label"] == "FX20220711-001（高风险区）"
    assert features["141027100001"]["zone_label"] == "含FX20220711-001（高风险区）"
    assert data["colour_by"] == "zone" and data["link"] == "/zones/area/{id}/" and data["link_when"] == "zone_id"
    assert [(c["value"], c["label"]) for c in data["categories"]] == [
        ("high", "高风险区"), ("part", "含风险区的区域"), ("__case_community", "社会面病例")]
    assert data["points"] == [{"lon": 111.8135, "lat": 35.9135, "name": "1号楼",
                               "label": "病例 1 例：C-1 07-11 社会面", "colour": "#4a148c", "cases": 1}]
    close = map_data(response, "zones-close-map")
    assert [(f["properties"]["code"], f["properties"]["zone"]) for f in close["shapes"]["features"]] == [
        ("141027100001001", "part"), ("141027100001001-C01", "high")]
    zone_map = map_data(client_for(place.county.hq).get(f"/zones/{zone.id}/"), "zone-map")
    assert [(f["properties"]["code"], f["properties"]["zone"]) for f in zone_map["shapes"]["features"]] == [
        ("141027100001001", "part"), ("141027100001001-C01", "high")]
    # a click on the area opens the zone; on an area with no zone, the list
    client = client_for(place.county.hq)
    assert client.get(f"/zones/area/{place.county.village_a.id}/")["Location"] == f"/zones/{zone.id}/"
    assert client.get(f"/zones/area/{place.county.village_b.id}/")["Location"] == "/zones/"


# ---- who may see and do what -----------------------------------------------------------------------------------------


def test_another_township_does_not_find_the_zone_and_a_grid_worker_may_not_decide(place, client_for):
    zone = propose(place)
    other = client_for(place.county.user(Role.TOWNSHIP, place.county.township_b))
    assert other.get(f"/zones/{zone.id}/").status_code == 404
    assert other.post(f"/zones/{zone.id}/approve/", {}).status_code == 404
    assert other.get(f"/zones/{zone.id}/residents.xlsx").status_code == 404
    assert coded(text(other.get("/zones/")), "proposed-row") == []
    grid = client_for(place.county.user(Role.GRID_WORKER, place.county.grid_a))
    page = text(grid.get(f"/zones/{zone.id}/"))
    assert 'data-testid="zone-code">FX20220711-001<' in page
    assert 'data-testid="actions"' not in page
    refused = grid.post(f"/zones/{zone.id}/approve/", {})
    assert refused.status_code == 403
    assert "您的角色无权管理风险区" in text(refused)
    zone.refresh_from_db()
    assert zone.state == "proposed"
    assert grid.post("/zones/propose/", {"kind": "high", "area_ids": place.b2.id}).status_code == 403
    assert client_for(place.county.user(Role.SAMPLER, place.county.grid_a)).get("/zones/").status_code == 403


# ---- exports and the public page ----------------------------------------------------------------------------------------


def rows_of(response) -> list[tuple]:
    wb = load_workbook(io.BytesIO(b"".join(response.streaming_content)))
    return list(wb.active.iter_rows(values_only=True))


def test_the_residents_list_is_masked_unless_full_is_allowed_and_is_audited(place, client_for):
    zone = zone_approve(actor=place.county.hq, zone_id=propose(place).id)
    hq = client_for(place.county.hq)
    response = hq.get(f"/zones/{zone.id}/residents.xlsx")
    assert response.status_code == 200
    rows = rows_of(response)
    assert rows[1] == ("姓名", "性别", "年龄", "证件号码", "手机号", "住址", "房号", "人群标签", "需关注")
    zhang = place.people["张一"]
    assert [r[0] for r in rows[2:]] == ["张一", "张二", "李老", "王孕"]
    assert rows[2][2:5] == (42, mask_id_number(zhang.id_number), "138****1111")
    assert rows[4][7:] == (None, "60岁以上、独居")
    assert rows[3][7:] == ("婴幼儿", "婴幼儿")
    event = AuditEvent.objects.get(action="export", object_type="zones.zone")
    assert (event.row_count, event.summary) == (4, "导出风险区 FX20220711-001 居民名单4人（证件号码和手机号已打码）")
    full = rows_of(hq.get(f"/zones/{zone.id}/residents.xlsx?full=1"))
    assert full[2][3:5] == (zhang.id_number, "13800001111")
    grid = client_for(place.county.user(Role.GRID_WORKER, place.county.grid_a))
    assert rows_of(grid.get(f"/zones/{zone.id}/residents.xlsx?full=1"))[2][3] == mask_id_number(zhang.id_number)


def test_the_announcements_export_has_every_text_issued(place, client_for, settings):
    zone = zone_approve(actor=place.county.hq, zone_id=propose(place).id)
    hq = client_for(place.county.hq)
    hq.post(f"/zones/{zone.id}/lift/", {"reason": "提前解除"})
    rows = rows_of(hq.get("/zones/announcements.xlsx"))
    assert rows[1] == ("发布时间", "风险区编号", "类型", "通告类别", "区域", "通告全文")
    assert [r[1:5] for r in rows[2:]] == [(CODE, "高风险区", "解除通告", "天坛镇城关社区幸福小区"),
                                         (CODE, "高风险区", "划定通告", "天坛镇城关社区幸福小区")]
    assert rows[3][5].startswith("浮山县新冠肺炎疫情防控指挥部\n\n关于划定高风险区的通告（FX20220711-001）")
    assert rows[2][5].startswith("浮山县新冠肺炎疫情防控指挥部\n\n关于解除天坛镇城关社区幸福小区高风险区的通告")
    assert AuditEvent.objects.filter(action="export", object_type="zones.zonechange", row_count=2).count() == 1


def test_the_public_page_lists_the_zones_in_force_without_login_and_without_personal_data(place):
    zone = zone_approve(actor=place.county.hq, zone_id=propose(place).id)
    propose(place, areas=[place.county.grid_b])  # a proposal is not public
    response = Client().get("/public/zones/")
    assert response.status_code == 200
    html = text(response)
    assert re.findall(r'data-testid="public-level" data-level="(\w+)"', html) == ["high"]
    assert coded(html, "public-zone") == [CODE]
    assert "天坛镇城关社区幸福小区" in html and "2022-07-11 划定" in html
    assert re.findall(r'data-testid="public-text" data-code="([\w-]+)" data-kind="(\w+)"', html) == [
        (CODE, "approved")]
    assert zone.announcement_zh.split("\n")[2] in html
    assert 'name="robots"' not in html
    for person in [*place.people.values(), place.outside]:
        assert person.name not in html and person.id_number not in html
    assert "C-1" not in html and "东村" not in html
    english = text(Client().get("/public/zones/", **EN))
    assert '<html lang="en"' in english and "high-risk zone" in english

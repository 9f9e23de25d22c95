"""The mass-testing capacity pages through the test client: the sampling sites of a jurisdiction (door-to-door
teams apart, by kind) and the site form (errors by the field in both languages, who may create), the labs' capacity
and queue counted tube by tube (in transit, waiting, resulted today, days of capacity), and the planning aid (its
defaults from the jurisdiction, the best pool size and the round's hours, errors by the field)."""

import datetime as dt
import re
from html import unescape

import pytest
from django.utils import timezone

from shouwang.accounts.enums import Role
from shouwang.core.models import AuditEvent
from shouwang.testing import selectors
from shouwang.testing.models import Lab, SamplingSite
from shouwang.testing.services import (
    RoundInput,
    batch_pack,
    batch_receive,
    lab_create,
    results_review,
    results_stage,
    round_create,
    site_create,
    tube_fill,
)

EN = {"HTTP_ACCEPT_LANGUAGE": "en"}


def at(hour, minute=0, day=15):
    return timezone.make_aware(dt.datetime(2022, 7, day, hour, minute))


@pytest.fixture(autouse=True)
def business_day(settings):
    settings.SHOUWANG_TODAY = "2022-07-15"


@pytest.fixture
def sites(county):
    """Three sites and a door-to-door team in 天坛镇 (grid A), one site in 响水河镇 (grid B)."""
    hq = county.hq
    made = {
        "fixed": site_create(actor=hq, name="城关社区核酸采样点", area_id=county.grid_a.id, address="城关社区居委会院内",
                             opening_hours="07:00-11:00, 15:00-19:00", samplers=5, per_hour=270),
        "temporary": site_create(actor=hq, name="天坛镇广场临时采样点", area_id=county.grid_a.id, kind="temporary",
                                 samplers=4, per_hour=240),
        "team": site_create(actor=hq, name="天坛镇卫生院上门采样队", area_id=county.grid_a.id, kind="door_to_door",
                            opening_hours="预约上门", samplers=2, per_hour=24),
        "closed": site_create(actor=hq, name="城关小学采样点", area_id=county.building_a.id, samplers=3, per_hour=150),
        "other": site_create(actor=hq, name="东村核酸采样点", area_id=county.grid_b.id, samplers=2, per_hour=120),
    }
    SamplingSite.objects.filter(id=made["closed"].id).update(active=False)
    return made


def names(rows):
    return [r.site.name for r in rows]


# ---- sites -------------------------------------------------------------------------------------------------------


def test_the_sites_page_lists_the_jurisdiction_by_kind_with_teams_apart(county, sites, client_for):
    hq = client_for(county.hq)
    page = hq.get("/testing/sites/")
    assert page.status_code == 200
    assert names(page.context["sites"]) == ["东村核酸采样点", "城关社区核酸采样点", "天坛镇广场临时采样点", "城关小学采样点"]
    assert names(page.context["teams"]) == ["天坛镇卫生院上门采样队"]
    assert page.context["totals"] == {"sites": 4, "samplers": 13, "per_hour": 654}  # the closed school not counted
    html = page.content.decode()
    row = re.search(rf'id="site-{sites["fixed"].id}"(.*?)</tr>', html, re.S).group(1)
    assert re.findall(r'data-testid="site-(?:name|kind|grid|samplers|per-hour)">([^<]*)<', row) == [
        "城关社区核酸采样点", "固定采样点", "第一网格", "5", "270"]
    assert "城关社区居委会院内" in row and "07:00-11:00, 15:00-19:00" in row and "启用" in row
    closed = re.search(rf'id="site-{sites["closed"].id}"(.*?)</tr>', html, re.S).group(1)
    assert "第一网格" in closed and "停用" in closed  # a site in a building shows its grid
    team_section = html[html.index('data-testid="team-section"'):]
    assert "<h3>上门采样队</h3>" in team_section and "天坛镇卫生院上门采样队" in team_section
    assert "天坛镇卫生院上门采样队" not in html[:html.index('data-testid="team-section"')]
    assert "辖区内启用的采样点和上门采样队 4 个，采样人员 13 名，合计每小时可采样 654 人。" in html

    temporary = hq.get("/testing/sites/", {"kind": "temporary"})
    assert names(temporary.context["sites"]) == ["天坛镇广场临时采样点"] and temporary.context["teams"] == []
    assert 'data-testid="team-section"' not in temporary.content.decode()
    teams_page = hq.get("/testing/sites/", {"kind": "door_to_door"})
    assert teams_page.context["values"]["kind"] == "door_to_door"  # the form sets up a team from the teams' list
    teams = teams_page.content.decode()
    assert 'data-testid="site-section"' not in teams and "天坛镇卫生院上门采样队" in teams
    assert re.findall(r'data-testid="site-name">([^<]*)<', teams) == ["天坛镇卫生院上门采样队"]
    unknown = hq.get("/testing/sites/", {"kind": "bogus"})  # an unknown kind is no filter
    assert len(unknown.context["sites"]) == 4

    township = client_for(county.user(Role.TOWNSHIP, county.township_a))
    mine = township.get("/testing/sites/")
    assert names(mine.context["sites"]) == ["城关社区核酸采样点", "天坛镇广场临时采样点", "城关小学采样点"]
    assert "东村核酸采样点" not in mine.content.decode()
    other = client_for(county.user(Role.TOWNSHIP, county.township_b)).get("/testing/sites/")
    assert names(other.context["sites"]) == ["东村核酸采样点"] and other.context["teams"] == []
    assert 'data-testid="team-table-empty"' in other.content.decode()


def test_hq_creates_a_site_with_errors_by_the_field_in_both_languages(county, client_for):
    hq = client_for(county.hq)
    form = {"name": "", "kind": "fixed", "area_id": county.grid_a.id, "address": "城关路1号",
            "opening_hours": "08:00-12:00", "samplers": "4", "per_hour": "200"}
    empty = hq.post("/testing/sites/", form)
    assert empty.status_code == 422 and set(empty.context["errors"]) == {"name"}
    assert (empty.context["errors"]["name"]["msg"], empty.context["errors"]["name"]["other"]) == (
        "请填写采样点名称", "name is required")
    html = unescape(empty.content.decode())
    assert re.search(r'name="name"[^>]*aria-invalid="true"', html)
    assert "请填写采样点名称" in html and "Name is required" in html
    assert 'value="城关路1号"' in html  # what was typed stays

    bad = hq.post("/testing/sites/", {**form, "name": "城关采样点", "samplers": "0", "per_hour": "很多",
                                      "area_id": ""}, **EN)
    errors = bad.context["errors"]
    assert bad.status_code == 422 and set(errors) == {"samplers", "per_hour", "area_id"}
    assert (errors["samplers"]["msg"], errors["samplers"]["other"]) == (
        "the number of samplers must be a whole number from 1 to 999", "采样人员数应为1到999的整数")
    assert errors["per_hour"]["msg"] == "people swabbed per hour must be a whole number from 1 to 100,000"
    assert (errors["area_id"]["msg"], errors["area_id"]["other"]) == (
        "choose the grid the site is in", "请选择所在网格")
    page = unescape(bad.content.decode())
    assert "Choose the grid the site is in" in page and "请选择所在网格" in page
    long = hq.post("/testing/sites/", {**form, "name": "站" * 101})
    assert long.context["errors"]["name"]["msg"] == "最多100个字"
    kind = hq.post("/testing/sites/", {**form, "name": "城关采样点", "kind": "mobile"})  # the service's own check
    assert (kind.status_code, kind.context["errors"]["kind"]["msg"]) == (422, "采样点类型不存在")
    assert not SamplingSite.objects.exists()

    made = hq.post("/testing/sites/", {**form, "name": " 城关采样点 ", "samplers": "４", "per_hour": "1,200"})
    site = SamplingSite.objects.get()
    assert made.status_code == 302 and made.url == f"/testing/sites/?new={site.id}#site-{site.id}"
    assert (site.name, site.kind, site.area_id, site.address, site.opening_hours, site.samplers, site.per_hour,
            site.active) == ("城关采样点", "fixed", county.grid_a.id, "城关路1号", "08:00-12:00", 4, 1200, True)
    assert AuditEvent.objects.filter(action="create", object_id=str(site.id), summary="新建采样点 城关采样点").exists()
    listed = hq.get(made.url)
    assert "已新建采样点：城关采样点" in listed.content.decode() and listed.context["new"] == site.id
    team = hq.post("/testing/sites/", {**form, "name": "城关上门采样队", "kind": "door_to_door"})
    assert team.status_code == 302
    assert names(hq.get("/testing/sites/").context["teams"]) == ["城关上门采样队"]


def test_sites_are_created_only_in_the_jurisdiction_and_only_by_round_managers(county, sites, client_for):
    form = {"name": "东村临时采样点", "kind": "temporary", "area_id": county.grid_b.id, "samplers": "2",
            "per_hour": "100"}
    township = client_for(county.user(Role.TOWNSHIP, county.township_a))
    page = township.get("/testing/sites/").content.decode()
    assert 'data-testid="site-form"' in page
    assert f'<option value="{county.grid_a.id}"' in page and f'<option value="{county.grid_b.id}"' not in page
    assert '<optgroup label="天坛镇 城关社区">' in page
    outside = township.post("/testing/sites/", form)
    assert (outside.status_code, outside.context["errors"]["area_id"]["msg"]) == (422, "区域不存在或不在您的辖区内")
    assert not SamplingSite.objects.filter(name="东村临时采样点").exists()

    grid = client_for(county.user(Role.GRID_WORKER, county.grid_a))  # may look, not set up
    assert 'data-testid="site-form"' not in grid.get("/testing/sites/").content.decode()
    assert grid.post("/testing/sites/", {**form, "area_id": county.grid_a.id}).status_code == 403
    sampler = client_for(county.user(Role.SAMPLER, county.township_a))
    refused = sampler.post("/testing/sites/", {**form, "area_id": county.grid_a.id})
    assert refused.status_code == 403 and "您的角色无权设置采样点" in refused.content.decode()
    assert sampler.get("/testing/sites/").status_code == 403
    assert SamplingSite.objects.count() == 5
    nav = township.get("/testing/sites/").content.decode()
    assert all(f'href="/testing/{p}/"' in nav for p in ("sites", "labs", "plan"))
    nav = sampler.get("/testing/sample/").content.decode()
    assert not any(f'href="/testing/{p}/"' in nav for p in ("sites", "labs", "plan"))


# ---- labs ----------------------------------------------------------------------------------------------------------


@pytest.fixture
def queue(county):
    """Three labs and tubes at every step. 县疾控实验室 (2 tubes a day): 6 tubes received, of which P01 negative and
    P04 invalid today, P02 P03 P08 waiting; P05 P06 in a box on its way; P09 packed but missing when its box was
    received (lost, not on its way). 天坛镇卫生院实验室 (1 a day): P07 waiting. 响水河镇实验室: Q01 on its way."""
    hq, lab_user = county.hq, county.user(Role.LAB, county.county, username="lab-1")
    people_a = [county.person(name=f"甲{i:02d}", area=county.grid_a, seq=i) for i in range(9)]
    people_b = [county.person(name=f"乙{i}", area=county.grid_b, seq=100 + i) for i in range(2)]
    round_ = round_create(actor=hq, data=RoundInput(
        name="第3轮区域核酸", area_ids=[county.grid_a.id, county.grid_b.id], starts_at=at(0), deadline=at(23, 59),
        settings={county.grid_a.id: "medium_risk_zone"}))
    labs = {"county": lab_create(actor=hq, name="县疾控实验室", area_id=county.county.id, tubes_per_day=2),
            "a": lab_create(actor=hq, name="天坛镇卫生院实验室", area_id=county.township_a.id, tubes_per_day=1),
            "b": lab_create(actor=hq, name="响水河镇实验室", area_id=county.township_b.id, tubes_per_day=5000)}
    for i, person in enumerate(people_a, start=1):
        tube_fill(actor=hq, round_id=round_.id, barcode=f"P{i:02d}", people=[{"id_number": person.id_number}],
                  close=True)
    tube_fill(actor=hq, round_id=round_.id, barcode="Q01", people=[{"id_number": p.id_number} for p in people_b],
              close=True)

    def box(code, lab, barcodes, received=None):
        batch_pack(actor=hq, code=code, lab_id=labs[lab].id, barcodes=barcodes)
        if received is not None:
            batch_receive(actor=lab_user, code=code, barcodes=received)

    box("BOX-1", "county", ["P01", "P02", "P03", "P04"], received=["P01", "P02", "P03", "P04"])
    box("BOX-2", "county", ["P05", "P06"])
    box("BOX-3", "a", ["P07"], received=["P07"])
    box("BOX-4", "county", ["P08", "P09"], received=["P08"])
    box("BOX-5", "b", ["Q01"])
    staged = results_stage(actor=lab_user, lab_id=labs["county"].id,
                           lines=[(2, {"barcode": "P01", "result": "阴性"}), (3, {"barcode": "P04", "result": "无效"})])
    results_review(actor=lab_user, file_id=staged.id, accept=True)
    return {"labs": labs, "lab_user": lab_user, "round": round_}


def counts(queues):
    return [(q.lab.name, q.tubes_per_day, q.in_transit, q.waiting, q.days, q.over_capacity, q.resulted_today)
            for q in queues]


def test_lab_queues_count_each_step_in_one_grouped_query(county, queue, django_assert_num_queries):
    with django_assert_num_queries(2):  # the labs, then the tubes of all of them grouped
        rows = selectors.lab_queues(county.hq)
    assert counts(rows) == [("县疾控实验室", 2, 2, 3, 1.5, True, 2),
                            ("响水河镇实验室", 5000, 1, 0, 0.0, False, 0),
                            ("天坛镇卫生院实验室", 1, 0, 1, 1.0, False, 0)]  # exactly one day: not over
    township = county.user(Role.TOWNSHIP, county.township_a)
    assert [q.lab.name for q in selectors.lab_queues(township)] == ["县疾控实验室", "天坛镇卫生院实验室"]


def test_the_labs_page_shows_capacity_queue_and_the_warning(county, queue, client_for, settings):
    hq = client_for(county.hq)
    page = hq.get("/testing/labs/")
    assert page.status_code == 200
    html = page.content.decode()
    county_lab = re.search(rf'id="lab-{queue["labs"]["county"].id}"(.*?)</tr>', html, re.S).group(1)
    cells = dict(re.findall(r'data-testid="lab-(capacity|in-transit|waiting|days|resulted)">([^<]*)<', county_lab))
    assert cells == {"capacity": "2", "in-transit": "2", "waiting": "3", "days": "1.5", "resulted": "2"}
    assert 'data-testid="lab-over"' in county_lab and "超过1天" in county_lab
    town_lab = re.search(rf'id="lab-{queue["labs"]["a"].id}"(.*?)</tr>', html, re.S).group(1)
    assert 'data-testid="lab-days">1.0<' in town_lab and 'data-testid="lab-over"' not in town_lab
    assert html.count('data-testid="lab-over"') == 1
    total = page.context["total"]
    assert (total.tubes_per_day, total.in_transit, total.waiting, total.days, total.resulted_today) == (
        5003, 3, 4, 0.0, 2)

    settings.SHOUWANG_TODAY = "2022-07-16"  # the next business day: nothing resulted yet, the queue is the same
    tomorrow = hq.get("/testing/labs/").context["queues"]
    assert [(q.waiting, q.resulted_today) for q in tomorrow] == [(3, 0), (0, 0), (1, 0)]

    lab = client_for(queue["lab_user"])  # lab staff see their queue (no testing.view: no site or plan links)
    mine = lab.get("/testing/labs/")
    assert mine.status_code == 200 and 'data-testid="lab-form"' not in mine.content.decode()
    assert 'href="/testing/plan/"' not in mine.content.decode()
    township = client_for(county.user(Role.TOWNSHIP, county.township_b))
    assert "天坛镇卫生院实验室" not in township.get("/testing/labs/").content.decode()
    assert client_for(county.user(Role.SAMPLER, county.township_a)).get("/testing/labs/").status_code == 403


def test_a_lab_is_registered_with_errors_by_the_field(county, client_for):
    hq = client_for(county.hq)
    form = {"name": "县人民医院实验室", "area_id": county.county.id, "tubes_per_day": "6000"}
    empty = hq.post("/testing/labs/", {**form, "name": "", "tubes_per_day": "0"}, **EN)
    errors = empty.context["errors"]
    assert empty.status_code == 422 and set(errors) == {"name", "tubes_per_day"}
    assert (errors["name"]["msg"], errors["name"]["other"]) == ("name is required", "请填写实验室名称")
    assert errors["tubes_per_day"]["other"] == "日检测能力（管）应为1到1,000,000的整数"
    made = hq.post("/testing/labs/", form)
    lab = Lab.objects.get()
    assert made.status_code == 302 and made.url == f"/testing/labs/#lab-{lab.id}"
    assert (lab.name, lab.area_id, lab.tubes_per_day) == ("县人民医院实验室", county.county.id, 6000)
    twice = hq.post("/testing/labs/", form)
    assert (twice.status_code, twice.context["errors"]["name"]["msg"]) == (422, "已有同名实验室")
    township = client_for(county.user(Role.TOWNSHIP, county.township_a))
    outside = township.post("/testing/labs/", {**form, "name": "东村实验室", "area_id": county.township_b.id})
    assert outside.context["errors"]["area_id"]["msg"] == "区域不存在或不在您的辖区内"
    grid = client_for(county.user(Role.GRID_WORKER, county.grid_a))
    assert grid.post("/testing/labs/", {**form, "name": "网格实验室"}).status_code == 403
    assert Lab.objects.count() == 1


# ---- the planning aid ---------------------------------------------------------------------------------------------


def test_the_plan_starts_from_the_jurisdiction_and_answers_the_best_pool_and_the_hours(county, sites, client_for):
    for i in range(7):
        county.person(name=f"甲{i}", seq=i)
    county.person(name="乙", area=county.grid_b, seq=50)
    lab_create(actor=county.hq, name="县疾控实验室", area_id=county.county.id, tubes_per_day=8000)
    hq = client_for(county.hq)
    blank = hq.get("/testing/plan/")
    assert blank.status_code == 200 and blank.context["answer"] is None
    d = blank.context["defaults"]
    assert (d.people, d.sites, d.samplers, d.site_per_hour, d.labs, d.lab_tubes_per_day) == (8, 4, 13, 654, 1, 8000)
    assert {k: blank.context["values"][k] for k in ("people", "sites", "samplers", "per_hour", "lab_tubes_per_day")} \
        == {"people": 8, "sites": 4, "samplers": 13, "per_hour": 50, "lab_tubes_per_day": 8000}
    township = client_for(county.user(Role.TOWNSHIP, county.township_a)).get("/testing/plan/").context["defaults"]
    assert (township.people, township.sites, township.samplers, township.site_per_hour) == (7, 3, 11, 534)

    # 0.1% positivity, 100,000 people, 100 samplers at 50 an hour, 8,000 tubes a day: 20-in-1, sampling 20 h
    query = {"positivity": "0.1", "people": "100,000", "sites": "25", "samplers": "100", "per_hour": "50",
             "lab_tubes_per_day": "8000"}
    page = hq.get("/testing/plan/", query)
    answer = page.context["answer"]
    assert page.status_code == 200 and answer["advice"].size == 20
    assert [(r["size"], round(r["tests_per_person"], 6), r["tests"], r["best"]) for r in answer["rows"]] == [
        (1, 1.0, 100000, False), (5, 0.20499, 20499, False), (10, 0.109955, 10996, False),
        (20, 0.069811, 6981, True)]
    est = answer["estimate"]
    assert (est.pool_size, est.sampling_hours, est.tubes, est.lab_hours, est.total_hours, est.bottleneck,
            est.meets_24h, est.positive_pools, est.rechecks) == (20, 20.0, 5000, 15.0, 20.0, "sampling", True, 100,
                                                                  2000)
    assert answer["per_site"] == {"people": 4000, "samplers": 4.0}
    html = page.content.decode()
    assert re.search(r'data-testid="plan-best">20合1混采<', html)
    assert "阳性率0.1%时，20合1每人平均0.07次检测，最省" in html
    assert re.search(r'data-testid="plan-bottleneck-step">采样<', html)
    assert "采样20小时、检测15小时，瓶颈在采样，共需20小时，可在24小时内完成" in html
    assert re.search(r'data-testid="plan-total-hours">20\.0 h<', html) and "24小时内可完成" in html
    assert 'value="100,000"' in html  # what was typed stays in the form

    # 10-in-1 chosen: the lab becomes the bottleneck, over 24 h; in English
    ten = hq.get("/testing/plan/", {**query, "pool_size": "10"}, **EN)
    est = ten.context["answer"]["estimate"]
    assert (est.pool_size, est.lab_hours, est.total_hours, est.bottleneck, est.meets_24h) == (
        10, 30.0, 30.0, "testing", False)
    html = ten.content.decode()
    assert re.search(r'data-testid="plan-bottleneck-step">testing<', html)
    assert "the bottleneck is testing; 30 h in total, over the 24 h target" in html
    assert re.search(r'data-testid="plan-best">20-in-1 pooled<', html) and 'data-testid="pool-chosen"' in html

    # at 20% positivity pools of 5 win; at 40% pooling does not pay
    assert hq.get("/testing/plan/", {**query, "positivity": "20"}).context["answer"]["advice"].size == 5
    high = hq.get("/testing/plan/", {**query, "positivity": "40%"}).context["answer"]
    assert high["advice"].size == 1 and "（混管不划算）" in high["reason"]


def test_the_plan_names_the_wrong_fields_in_both_languages(county, client_for):
    hq = client_for(county.hq)
    query = {"positivity": "0.1", "people": "1000", "sites": "2", "samplers": "4", "per_hour": "50",
             "lab_tubes_per_day": "100"}
    bad = hq.get("/testing/plan/", {**query, "positivity": "150", "people": "", "per_hour": "fast",
                                    "pool_size": "30"})
    errors = bad.context["errors"]
    assert bad.status_code == 422 and bad.context["answer"] is None
    assert set(errors) == {"positivity", "people", "per_hour", "pool_size"}
    assert (errors["positivity"]["msg"], errors["positivity"]["other"]) == (
        "阳性率应为0到100之间的百分数，如0.1表示千分之一",
        "positivity must be a percentage from 0 to 100, e.g. 0.1 for one in a thousand")
    assert (errors["people"]["msg"], errors["people"]["other"]) == ("请填写应检人数", "people to test is required")
    assert errors["per_hour"]["other"] == "people one sampler swabs per hour must be a whole number from 1 to 100,000"
    assert errors["pool_size"]["msg"] == "请选择采样方式"
    html = unescape(bad.content.decode())
    assert "请改正下面标红的项目。" in html and "Positivity must be a percentage from 0 to 100" in html
    assert re.search(r'name="positivity" value="150"[^>]*aria-invalid="true"', html)
    few = hq.get("/testing/plan/", {**query, "samplers": "1"}, **EN)
    assert (few.context["errors"]["samplers"]["msg"], few.context["errors"]["samplers"]["other"]) == (
        "every site needs at least one sampler", "每个采样点至少需要1名采样人员")
    assert "Every site needs at least one sampler" in unescape(few.content.decode())
    nan = hq.get("/testing/plan/", {**query, "positivity": "nan"})
    assert nan.context["errors"]["positivity"]["code"] == "out_of_range"
    empty = hq.get("/testing/plan/", {**query, "positivity": ""})
    assert empty.context["errors"]["positivity"]["msg"] == "请填写阳性率（%）"


def test_the_plan_needs_the_testing_view(county, client_for):
    assert client_for(county.user(Role.LAB, county.county)).get("/testing/plan/").status_code == 403
    assert client_for(county.user(Role.SAMPLER, county.township_a)).get("/testing/plan/").status_code == 403

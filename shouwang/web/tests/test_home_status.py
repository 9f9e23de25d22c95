"""The county status on the home page: HQ (and every role with zones.view, over its own jurisdiction) sees the days
since the last community case, whether 社会面清零 is reached with its rule, the zones in force by level with the
proposals waiting, and "routine management" once every zone is lifted; a sampler (no zones.view) sees none of it.
The link to the zones' page shows only where that page exists."""

import datetime as dt
import re
from html import unescape

import pytest
from django.urls import NoReverseMatch, reverse

from shouwang.accounts.enums import Role
from shouwang.zones.services import CaseRef, zone_approve, zone_case_record, zone_lift, zone_propose

EN = {"HTTP_ACCEPT_LANGUAGE": "en"}


def text(response) -> str:
    return unescape(response.content.decode())


def shown(html: str, testid: str) -> str:
    """The text inside the element with this data-testid (tags removed)."""
    match = re.search(rf'data-testid="{testid}"[^>]*>(.*?)</(strong|small|p|ul)>', html, re.S)
    assert match, testid
    return re.sub(r"<[^>]+>", "", match.group(1)).strip()


def zones_page_exists() -> bool:
    try:
        reverse("zones")
    except NoReverseMatch:
        return False
    return True


@pytest.fixture
def outbreak(county, settings):
    """07-11: a community case found on 07-10 in building A (high, in force), grid B a medium zone in force, a high
    proposal over grid B waiting for HQ; a case found in central quarantine on 07-11 (not a community case)."""
    settings.SHOUWANG_TODAY = "2022-07-11"
    hq = county.hq
    zone_case_record(person_area_id=county.building_a.id, case_code="BL20220710-001", found_on=dt.date(2022, 7, 10),
                     context="community")
    zone_case_record(person_area_id=county.grid_b.id, case_code="BL20220711-001", found_on=dt.date(2022, 7, 11),
                     context="central_quarantine")
    cause = CaseRef("BL20220710-001", dt.date(2022, 7, 10), "community", county.building_a.id)
    high = zone_propose(actor=hq, kind="high", area_ids=[county.building_a.id], cases=[cause])
    medium = zone_propose(actor=hq, kind="medium", area_ids=[county.grid_b.id], cases=[cause])
    zone_approve(actor=hq, zone_id=high.id)
    zone_approve(actor=hq, zone_id=medium.id)
    zone_propose(actor=hq, kind="high", area_ids=[county.grid_b.id])
    return {"county": county, "hq": hq, "high": high, "medium": medium}


def test_hq_sees_the_county_status_with_its_numbers(outbreak, client_for):
    page = client_for(outbreak["hq"]).get("/")
    assert page.status_code == 200
    status = page.context["county_status"]
    assert (status.last_community_case, status.days_since, status.community_yesterday, status.community_today,
            status.zero, status.zones, status.proposed, status.routine) == (
        dt.date(2022, 7, 10), 1, 1, 0, False, {"high": 1, "medium": 1}, 1, False)
    html = text(page)
    assert shown(html, "days-since") == "1"
    assert shown(html, "community-zero") == "未实现"
    assert shown(html, "zones-in-force") == "2"
    assert shown(html, "zones-by-level") == "高风险区 1 · 中风险区 1 · 待审批 1 个"
    assert "最后一例：2022-07-10" in html and "社会面新增：昨日 1 例，今日 0 例" in html
    rules = shown(html, "county-status-rules")
    assert "社会面清零：昨日及今日均无社会面新增，尚未实现" in rules  # the rule, from the domain
    assert "Z4 管控中：高风险区 1 个、中风险区 1 个；其余区域为低风险区" in rules
    assert 'data-testid="routine"' not in html
    assert ('data-testid="zones-link"' in html) == zones_page_exists()
    english = text(client_for(outbreak["hq"]).get("/", **EN))
    assert shown(english, "zones-by-level").startswith("high-risk zone 1 · medium-risk zone 1")
    assert "community-level zero: no community case yesterday or today: not yet" in english


def test_a_grid_worker_sees_the_status_of_the_grid_and_a_sampler_sees_none(outbreak, client_for):
    county = outbreak["county"]
    grid = client_for(county.user(Role.GRID_WORKER, county.grid_b, username="grid-b")).get("/")
    html = text(grid)
    assert shown(html, "days-since") == "—"  # the community case lives in grid A
    assert shown(html, "zones-in-force") == "1"
    assert shown(html, "zones-by-level") == "高风险区 0 · 中风险区 1 · 待审批 1 个"
    sampler = client_for(county.user(Role.SAMPLER, county.township_a, username="sampler-a")).get("/")
    assert sampler.status_code == 200
    assert "county_status" not in sampler.context
    assert 'data-testid="county-status"' not in text(sampler) and "社会面清零" not in text(sampler)


def test_every_zone_lifted_means_routine_management_and_two_clean_days_zero(outbreak, client_for, settings):
    hq = outbreak["hq"]
    settings.SHOUWANG_TODAY = "2022-07-13"  # 07-11 and 07-12 without a community case
    for zone in (outbreak["high"], outbreak["medium"]):
        zone_lift(actor=hq, zone_id=zone.id, reason="流调排除传播风险，指挥部研判提前解除")
    page = client_for(hq).get("/")
    status = page.context["county_status"]
    assert (status.days_since, status.zero, status.zero_since, status.zones, status.routine) == (
        3, True, dt.date(2022, 7, 12), {}, True)
    html = text(page)
    assert shown(html, "days-since") == "3"
    assert shown(html, "community-zero") == "已实现"
    assert "自 2022-07-12 起；" in html
    assert shown(html, "zones-in-force") == "0"
    assert shown(html, "routine") == "高、中风险区已全部解除：全域恢复常态化防控"

"""The risk-zone API through the HTTP client: a zone proposed (a retry with the same Idempotency-Key changes nothing
twice), approved with its clock and population, an early lifting refused naming the earliest date then done with a
reason; a rejection without a reason refused; an overlap refused naming the zone; scope, kind, downgrade and text;
the list's filters; HQ's daily list and the county's status; another township's 404 and a grid worker's 403."""

import datetime as dt

import pytest
from django.test import Client

from shouwang.accounts.enums import Role
from shouwang.accounts.services import api_token_issue
from shouwang.zones.models import Zone, ZoneChange
from shouwang.zones.services import zone_case_record
from shouwang.zones.tests.conftest import on, screening

JSON = "application/json"
Z = "/api/v1/zones"
CODE = "FX20220711-001"


def bearer(user, name="设备"):
    _, raw = api_token_issue(user=user, name=name)
    return Client(HTTP_AUTHORIZATION=f"Bearer {raw}")


@pytest.fixture
def hq(world, settings):
    on(settings, "2022-07-11")
    return bearer(world.county.hq, "指挥部")


def post(client, url, body, **headers):
    return client.post(url, body, content_type=JSON, **headers)


def proposed(hq, world, **extra) -> dict:
    response = post(hq, Z, {"kind": "high", "area_ids": [world.compound.id], "reason": "病例住所",
                            "cases": [{"code": "C-1", "found_on": "2022-07-11", "area_id": world.b1.id}], **extra})
    assert response.status_code == 201, response.json()
    return response.json()


def test_propose_approve_and_lift_early_only_with_a_reason(hq, world, settings):
    first = post(hq, Z, {"kind": "high", "area_ids": [world.compound.id], "reason": "病例住所",
                         "cases": [{"code": "C-1", "found_on": "2022-07-11", "area_id": world.b1.id}]},
                 HTTP_IDEMPOTENCY_KEY="propose-1")
    again = post(hq, Z, {"kind": "high", "area_ids": [world.compound.id]}, HTTP_IDEMPOTENCY_KEY="propose-1")
    assert (first.status_code, again.status_code) == (201, 201)
    assert first.json() == again.json()
    assert Zone.objects.count() == 1
    zone = first.json()
    assert (zone["code"], zone["state"], zone["kind"], zone["reason"]) == (CODE, "proposed", "high", "病例住所")
    assert zone["areas"] == [{"id": world.compound.id, "code": "141027100001001-C01", "name": "幸福小区",
                              "level": "compound", "place": "天坛镇城关社区幸福小区"}]
    assert zone["clock"] == {"version": "V9", "next_level": "medium", "eligible_on": "2022-07-18", "state": "waiting",
                             "lift_on": "2022-07-21", "lift_eligible": False, "last_counted_case": "2022-07-11"}
    assert [(c["case_code"], c["counted"], c["cause"]) for c in zone["cases"]] == [("C-1", True, True)]

    approved = post(hq, f"{Z}/{zone['id']}/approve", {}, HTTP_IDEMPOTENCY_KEY="approve-1")
    assert approved.status_code == 200
    body = approved.json()
    assert (body["state"], body["level_now"], body["level_since"]) == ("in_force", "high", "2022-07-11")
    assert body["announcement_zh"].startswith("浮山县新冠肺炎疫情防控指挥部\n\n关于划定高风险区的通告（FX20220711-001）")
    detail = body["clock_detail"]
    assert [(s["to"], s["eligible_on"], s["round_needed_on"], s["state"]) for s in detail["steps"]] == [
        ("medium", "2022-07-18", ["2022-07-18"], "waiting"), ("low", "2022-07-21", [], "waiting")]
    assert detail["explanation"][0] == {"rule": "Z1", "zh": "高风险区，2022-07-11 划定",
                                        "en": "high-risk zone, designated on 2022-07-11"}
    pop = body["population"]
    assert (pop["people"], pop["households"], pop["elderly"], pop["elderly_alone"], pop["infant"],
            pop["pregnant"], pop["disabled"], pop["bedridden"], pop["no_household"]) == (7, 4, 3, 2, 1, 1, 1, 1, 1)
    assert pop["needs"][0] == {"key": "daily_supplies", "label_zh": "生活物资保障（户）",
                               "label_en": "daily supplies (households)", "count": 4}
    # a retry of the approval answers the same and changes nothing
    assert post(hq, f"{Z}/{zone['id']}/approve", {}, HTTP_IDEMPOTENCY_KEY="approve-1").json() == body
    assert ZoneChange.objects.filter(kind="approved").count() == 1

    on(settings, "2022-07-14")
    early = post(hq, f"{Z}/{zone['id']}/lift", {})
    assert early.status_code == 409
    err = early.json()
    assert (err["code"], err["field"]) == ("not_eligible", "reason")
    assert err["message"] == "FX20220711-001 尚不符合解除为低风险区的条件（最早 2022-07-21）；提前解除须由指挥部填写理由"
    assert err["messages"]["en"] == ("FX20220711-001 may not be lifted to low-risk zone yet (at the earliest "
                                     "2022-07-21); doing it earlier needs HQ's reason")
    lifted = post(hq, f"{Z}/{zone['id']}/lift", {"reason": "专家组评估"}).json()
    assert (lifted["state"], lifted["level_now"], lifted["lift_reason"], lifted["clock"]) == (
        "lifted", "low", "专家组评估", None)
    assert [h["kind"] for h in lifted["history"]] == ["created", "approved", "lifted"]
    assert lifted["history"][-1]["after"]["early"] is True


def test_reject_needs_a_reason_and_an_overlap_is_refused_naming_the_zone(hq, world):
    zone = proposed(hq, world)
    missing = post(hq, f"{Z}/{zone['id']}/reject", {"reason": ""})
    assert (missing.status_code, missing.json()["field"], missing.json()["message"]) == (
        422, "reason", "不予批准请填写理由")
    overlap = post(hq, Z, {"kind": "high", "area_ids": [world.b1.id]})
    assert overlap.status_code == 409
    assert (overlap.json()["code"], overlap.json()["field"]) == ("overlap", "area_ids")
    assert overlap.json()["message"] == ("与同类高风险区重叠：FX20220711-001（待审批）：1号楼 在其 幸福小区 内。"
                                         "可合并到该风险区或调整范围")
    assert overlap.json()["details"] == [{"zone": CODE, "area_id": world.b1.id, "zone_area_id": world.compound.id}]
    bad = post(hq, Z, {"kind": "high"})
    assert (bad.status_code, bad.json()["code"], bad.json()["field"]) == (422, "invalid", "area_ids")
    rejected = post(hq, f"{Z}/{zone['id']}/reject", {"reason": "未在小区停留"}).json()
    assert (rejected["state"], rejected["rejected_reason"], rejected["clock"]) == ("rejected", "未在小区停留", None)


def test_scope_kind_downgrade_and_the_text(hq, world, settings):
    zone = proposed(hq, world)
    post(hq, f"{Z}/{zone['id']}/approve", {"area_ids": [world.b1.id, world.b2.id], "kind": "high"})
    scoped = post(hq, f"{Z}/{zone['id']}/scope", {"add": [world.county.building_a.id], "remove": [world.b2.id],
                                                   "reason": "流调"})
    assert scoped.status_code == 200
    assert [a["name"] for a in scoped.json()["areas"]] == ["幸福小区1号楼", "1号楼"]
    stray = post(hq, f"{Z}/{zone['id']}/scope", {"remove": [world.compound.id], "reason": "流调"})
    assert (stray.status_code, stray.json()["code"]) == (422, "not_in_zone")
    on(settings, "2022-07-13")
    down = post(hq, f"{Z}/{zone['id']}/downgrade", {"reason": "专家组研判"}).json()
    assert (down["kind"], down["level_now"], down["clock"]["next_level"], down["clock"]["eligible_on"]) == (
        "high", "medium", "low", "2022-07-21")
    kind = post(hq, f"{Z}/{zone['id']}/kind", {"kind": "high", "reason": "新增病例"}).json()
    assert (kind["level_now"], kind["level_since"], kind["clock"]["eligible_on"]) == ("high", "2022-07-13",
                                                                                      "2022-07-18")
    text = post(hq, f"{Z}/{zone['id']}/announcement", {"text": "新的通告"}).json()
    assert text["announcement_zh"] == "新的通告"
    assert [h["kind"] for h in text["history"]] == ["created", "scope", "approved", "scope", "downgraded", "kind",
                                                    "announcement"]


def test_the_list_filters_the_daily_list_and_the_county_status(hq, world, settings):
    zone = proposed(hq, world)
    post(hq, f"{Z}/{zone['id']}/approve", {})
    other = post(hq, Z, {"kind": "medium", "area_ids": [world.county.grid_b.id]}).json()
    assert [z["code"] for z in hq.get(Z).json()] == ["FX20220711-002", CODE]
    assert [z["code"] for z in hq.get(Z, {"state": "proposed"}).json()] == [other["code"]]
    assert [z["code"] for z in hq.get(Z, {"state": "in_force", "level": "high"}).json()] == [CODE]
    bad = hq.get(Z, {"state": "open"})
    assert (bad.status_code, bad.json()["field"], bad.json()["message"]) == (422, "state", "风险区状态不存在")

    on(settings, "2022-07-18")
    screening([world.compound], dt.date(2022, 7, 18), dict.fromkeys(
        [p for n, p in world.people.items() if n not in ("孙外", "周村")], "negative"))
    daily = hq.get(f"{Z}/daily").json()
    assert daily["day"] == "2022-07-18"
    assert [(r["code"], r["new"], r["clock"]["state"]) for r in daily["eligible"]] == [(CODE, True, "met")]
    assert (daily["moved"], daily["waiting"]) == ([], [])
    zone_case_record(person_area_id=world.b1.id, case_code="C-0718", found_on=dt.date(2022, 7, 18),
                     context="community")
    daily = hq.get(f"{Z}/daily").json()
    assert daily["eligible"] == []
    assert [(m["code"], m["before"], m["after"], m["reason"]) for m in daily["moved"]] == [
        (CODE, "2022-07-18", "2022-07-25", "新增病例 C-0718（2022-07-18，社会面）")]
    assert [(r["code"], r["clock"]["eligible_on"]) for r in daily["waiting"]] == [(CODE, "2022-07-25")]
    status = hq.get(f"{Z}/status").json()
    assert {k: status[k] for k in ("last_community_case", "days_since", "community_today", "zero", "zones",
                                   "proposed", "routine")} == {
        "last_community_case": "2022-07-18", "days_since": 0, "community_today": 1, "zero": False,
        "zones": {"high": 1}, "proposed": 1, "routine": False}


def test_another_township_gets_404_and_a_grid_worker_403(hq, world):
    zone = proposed(hq, world)
    other = bearer(world.county.user(Role.TOWNSHIP, world.county.township_b))
    assert other.get(f"{Z}/{zone['id']}").status_code == 404
    assert other.get(Z).json() == []
    task_force = bearer(world.county.user(Role.TASK_FORCE, world.county.township_b))
    missing = post(task_force, f"{Z}/{zone['id']}/approve", {})
    assert (missing.status_code, missing.json()["code"]) == (404, "not_found")
    grid = bearer(world.county.user(Role.GRID_WORKER, world.county.grid_a))
    assert grid.get(f"{Z}/{zone['id']}").json()["code"] == CODE
    refused = post(grid, f"{Z}/{zone['id']}/approve", {})
    assert (refused.status_code, refused.json()["code"]) == (403, "permission_denied")
    assert Zone.objects.get().state == "proposed"
    sampler = bearer(world.county.user(Role.SAMPLER, world.county.grid_a))
    assert sampler.get(f"{Z}/status").status_code == 403

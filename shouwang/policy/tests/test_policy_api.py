"""The policy API as a client uses it: versions, plans with their explanation, zone lifting, clear errors."""

import pytest


@pytest.fixture
def hq_client(county, client_for):
    return client_for(county.hq)


def test_versions_list_the_four_national_versions_in_date_order(hq_client, settings):
    body = hq_client.get("/api/v1/policy/versions").json()
    assert [(v["id"], v["effective_from"], v["base"], v["error"]) for v in body] == [
        ("V9", "2022-06-28", "", ""), ("V20", "2022-11-11", "V9", ""), ("V20a", "2022-11-21", "V20", ""),
        ("V10", "2022-12-07", "V20a", "")]
    assert body[0]["title_zh"] == "新型冠状病毒肺炎防控方案（第九版）"


def test_plan_without_a_version_uses_the_one_in_force_on_the_anchor_date(hq_client):
    body = hq_client.post("/api/v1/policy/plan", {"category": "close_contact", "anchor_date": "2022-07-01"},
                          content_type="application/json").json()
    assert (body["version"], body["rule"], body["day1"], body["ends_on"]) == ("V9", "P1", "2022-07-02", "2022-07-11")
    assert [(p["measure"], p["start"], p["end"], [t["date"] for t in p["tests"]]) for p in body["phases"]] == [
        ("central_quarantine", "2022-07-02", "2022-07-08",
         ["2022-07-02", "2022-07-03", "2022-07-04", "2022-07-06", "2022-07-08"]),
        ("home_health_monitoring", "2022-07-09", "2022-07-11", ["2022-07-11"])]
    assert body["explanation"][0] == {"rule": "D1", "zh": "密切接触者：自末次暴露（2022-07-01）起算",
                                      "en": "close contact: counted from the last exposure (2022-07-01)"}
    later = hq_client.post("/api/v1/policy/plan", {"category": "close_contact", "anchor_date": "2022-11-15"},
                           content_type="application/json").json()
    assert (later["version"], later["ends_on"]) == ("V20", "2022-11-23")


def test_plan_errors_name_the_field(hq_client):
    r = hq_client.post("/api/v1/policy/plan", {"category": "tourist", "anchor_date": "2022-07-01"},
                       content_type="application/json")
    assert (r.status_code, r.json()["code"], r.json()["field"]) == (422, "unknown_category", "category")
    r = hq_client.post("/api/v1/policy/plan", {"category": "close_contact", "anchor_date": "2022-07-01",
                                               "version": "V20"}, content_type="application/json")
    assert (r.status_code, r.json()["code"], r.json()["field"]) == (422, "date_before_version", "anchor_date")
    r = hq_client.post("/api/v1/policy/plan", {"category": "close_contact", "anchor_date": "2022-05-01"},
                       content_type="application/json")
    assert (r.status_code, r.json()["code"]) == (404, "not_found")
    r = hq_client.post("/api/v1/policy/plan", {"category": "close_contact", "anchor_date": "2022-07-01",
                                               "version": "V99"}, content_type="application/json")
    assert (r.status_code, r.json()["field"]) == (404, "version")


def test_zone_lift_through_the_api(hq_client):
    body = hq_client.post("/api/v1/policy/zone-lift", {
        "zone_kind": "high", "designated_on": "2022-07-01", "cases": [["2022-07-03", "community"]],
        "rounds": [["2022-07-10", True]], "today": "2022-07-11"}, content_type="application/json").json()
    assert (body["version"], body["level_now"]) == ("V9", "medium")
    assert [(s["to"], s["eligible_on"], s["state"]) for s in body["steps"]] == [
        ("medium", "2022-07-10", "met"), ("low", "2022-07-13", "waiting")]


def test_lookback_through_the_api(hq_client):
    assert hq_client.get("/api/v1/policy/lookback", {"onset": "2022-07-10"}).json()["start"] == "2022-07-08"


def test_any_signed_in_role_may_read_the_rules_but_not_anonymously(county, client_for, client):
    grid = client_for(county.user("grid_worker", county.grid_a))
    assert grid.get("/api/v1/policy/versions").status_code == 200
    assert client.get("/api/v1/policy/versions").status_code == 401

"""Antigen results (§5.3) through the services and the HTTP client: validation naming the field in both languages,
who may record what and for whom, a positive result as a first-screen positive (red, K1) with the next step, a
form sent twice recorded once. Also the planning aid endpoint of the same router (api_more.py): the best pool size
table and the round estimate with their reasons."""

import datetime as dt

import pytest
from django.test import Client
from django.utils import timezone

from shouwang.accounts.enums import Role
from shouwang.accounts.services import api_token_issue
from shouwang.core import clock
from shouwang.core.errors import DomainError
from shouwang.core.models import AuditEvent
from shouwang.status.models import StatusFact
from shouwang.status.services import status_get
from shouwang.testing.antigen import SOURCE, antigen_record, antigen_results
from shouwang.testing.models import AntigenResult

NOW = timezone.make_aware(dt.datetime(2022, 7, 15, 10, 0))


@pytest.fixture(autouse=True)
def business_day(settings, monkeypatch):
    settings.SHOUWANG_TODAY = "2022-07-15"
    monkeypatch.setattr(clock, "now", lambda: NOW)


def at(day, hour, minute=0):
    return timezone.make_aware(dt.datetime(2022, 7, day, hour, minute))


@pytest.fixture
def w(county):
    return {"county": county, "a": county.person(name="王芳", seq=1), "b": county.person(name="李强", area=county.grid_b,
                                                                                       seq=2),
            "sampler": county.user(Role.SAMPLER, county.grid_a, username="sampler-a"),
            "grid": county.user(Role.GRID_WORKER, county.grid_a, username="grid-a"),
            "lab": county.user(Role.LAB, county.county, username="lab-a")}


def test_a_positive_staff_test_is_a_first_screen_positive_red_k1_with_the_next_step(w):
    done = antigen_record(actor=w["sampler"], person_id=w["a"].id, result="positive", kind="staff", taken_at=at(15, 9))
    assert (done.created, done.published, done.result.kind, done.result.result) == (True, True, "staff", "positive")
    assert done.next_step_zh.startswith("抗原阳性：立即报告社区（村），由社区安排经急救中心转运至设有发热门诊的医疗机构做核酸检测")
    fact = StatusFact.objects.get(source=SOURCE)
    assert (fact.person_id, fact.kind, fact.value, fact.source_id, fact.since, fact.until, fact.note) == (
        w["a"].id, "case", "first_screen_positive", str(done.result.id), dt.date(2022, 7, 15), None,
        "抗原检测阳性（07-15 09:00），待转运核酸检测")
    view = status_get(w["a"].id)
    assert (view.colour, view.rule, view.reason_zh) == ("red", "K1", "确诊、无症状感染者、疑似或初筛阳性")
    assert AuditEvent.objects.filter(object_type="testing.antigenresult", action="create").get().summary == \
        "抗原检测结果 王芳：阳性（2022-07-15 09:00）"


def test_a_negative_self_test_publishes_nothing_and_the_same_form_twice_is_recorded_once(w):
    first = antigen_record(actor=w["grid"], person_id=w["a"].id, result="negative", kind="self", taken_at=at(14, 20))
    again = antigen_record(actor=w["grid"], person_id=w["a"].id, result="negative", kind="self", taken_at=at(14, 20))
    assert (first.created, first.published, again.created, again.result.id) == (True, False, False, first.result.id)
    assert first.next_step_en.startswith("antigen negative: without symptoms, keep observing")
    assert AntigenResult.objects.count() == 1 and not StatusFact.objects.exists()
    assert status_get(w["a"].id).colour == "green"
    invalid = antigen_record(actor=w["grid"], person_id=w["a"].id, result="invalid", kind="self", taken_at=at(15, 8))
    assert (invalid.published, invalid.next_step_zh) == (False, "结果无效：请重新检测")
    assert [(r.result, r.kind) for r in antigen_results(user=w["grid"], person_id=w["a"].id)] == [
        ("invalid", "self"), ("negative", "self")]


@pytest.mark.parametrize(("change", "field", "code", "zh", "en"), [
    ({"kind": "pcr"}, "kind", "invalid_choice", "检测方式应为自测（self）或工作人员检测（staff）", "kind must be self or staff"),
    ({"result": "weak"}, "result", "invalid_choice", "结果应为阴性、阳性或无效",
     "the result must be negative, positive or invalid"),
    ({"taken_at": at(15, 10, 11)}, "taken_at", "in_future", "检测时间不能晚于当前时间（允许误差10分钟）",
     "taken_at cannot be more than 10 minutes in the future"),
    ({"taken_at": at(8, 9, 59)}, "taken_at", "too_old", "检测时间不能早于7天前", "taken_at cannot be more than 7 days ago"),
    ({"taken_at": None}, "taken_at", "required", "请填写检测时间", "taken_at is required"),
], ids=["kind", "result", "in_future", "too_old", "no_time"])
def test_bad_input_names_the_field_in_both_languages(w, change, field, code, zh, en):
    data = {"person_id": w["a"].id, "result": "negative", "kind": "staff", "taken_at": at(15, 9), **change}
    with pytest.raises(DomainError) as err:
        antigen_record(actor=w["sampler"], **data)
    assert (err.value.status, err.value.field, err.value.code, err.value.message_zh, err.value.message_en) == (
        422, field, code, zh, en)
    assert not AntigenResult.objects.exists()


def test_the_edges_of_the_time_window_are_accepted(w):
    for taken in (at(15, 10, 10), at(8, 10, 0)):  # 10 minutes ahead of the clock; exactly 7 days old
        assert antigen_record(actor=w["sampler"], person_id=w["a"].id, result="negative", kind="staff",
                              taken_at=taken).created
    naive = antigen_record(actor=w["sampler"], person_id=w["a"].id, result="negative", kind="self",
                           taken_at=dt.datetime(2022, 7, 15, 7, 30))  # read as Asia/Shanghai
    assert timezone.localtime(naive.result.taken_at).isoformat() == "2022-07-15T07:30:00+08:00"


def test_who_may_record_and_for_whom(w):
    for kind in ("staff", "self"):
        with pytest.raises(DomainError) as refused:
            antigen_record(actor=w["lab"], person_id=w["a"].id, result="negative", kind=kind, taken_at=at(15, 9))
        assert (refused.value.status, refused.value.code) == (403, "permission_denied")
    with pytest.raises(DomainError) as outside:  # 李强 lives in grid B, outside the sampler's grid A
        antigen_record(actor=w["sampler"], person_id=w["b"].id, result="positive", kind="staff", taken_at=at(15, 9))
    assert (outside.value.status, outside.value.code, outside.value.field) == (404, "not_found", "person_id")
    with pytest.raises(DomainError):
        antigen_results(user=w["sampler"], person_id=w["b"].id)
    assert not AntigenResult.objects.exists() and not StatusFact.objects.exists()


def bearer(user):
    _, raw = api_token_issue(user=user, name="手机")
    return Client(HTTP_AUTHORIZATION=f"Bearer {raw}")


def test_antigen_over_http_a_retry_with_the_same_key_answers_the_same(w):
    phone = bearer(w["sampler"])
    body = {"person_id": w["a"].id, "result": "positive", "kind": "staff", "taken_at": "2022-07-15T09:30:00+08:00"}
    first = phone.post("/api/v1/testing/antigen", body, content_type="application/json",
                       HTTP_IDEMPOTENCY_KEY="ag-0001")
    assert first.status_code == 201, first.json()
    got = first.json()
    assert {k: got[k] for k in ("person_id", "kind", "result", "taken_at", "created")} == {
        "person_id": w["a"].id, "kind": "staff", "result": "positive", "taken_at": "2022-07-15T09:30:00+08:00",
        "created": True}
    assert got["published"] == {"kind": "case", "value": "first_screen_positive", "source": "testing.antigen",
                                "source_id": str(got["id"])}
    assert (got["status"]["colour"], got["status"]["rule"]) == ("red", "K1")
    again = phone.post("/api/v1/testing/antigen", body, content_type="application/json",
                       HTTP_IDEMPOTENCY_KEY="ag-0001")
    assert (again.status_code, again.json()) == (201, got)
    resent = phone.post("/api/v1/testing/antigen", body, content_type="application/json")  # no key: found as the same
    assert (resent.status_code, resent.json()["id"], resent.json()["created"]) == (200, got["id"], False)
    assert AntigenResult.objects.count() == 1
    listed = bearer(w["grid"]).get(f"/api/v1/testing/antigen?person_id={w['a'].id}").json()
    assert [(r["id"], r["result"], r["taken_at"], r["recorded_by"]) for r in listed] == [
        (got["id"], "positive", "2022-07-15T09:30:00+08:00", "sampler-a")]


def test_antigen_errors_over_http(w):
    phone = bearer(w["sampler"])
    future = phone.post("/api/v1/testing/antigen", {"person_id": w["a"].id, "result": "negative", "kind": "staff",
                                                    "taken_at": "2022-07-15T11:00:00+08:00"},
                        content_type="application/json", HTTP_ACCEPT_LANGUAGE="en")
    assert future.status_code == 422
    assert future.json() == {"code": "in_future", "field": "taken_at",
                             "message": "taken_at cannot be more than 10 minutes in the future",
                             "messages": {"zh-hans": "检测时间不能晚于当前时间（允许误差10分钟）",
                                          "en": "taken_at cannot be more than 10 minutes in the future"}}
    outside = phone.post("/api/v1/testing/antigen", {"person_id": w["b"].id, "result": "negative", "kind": "staff",
                                                     "taken_at": "2022-07-15T09:00:00+08:00"},
                         content_type="application/json")
    assert (outside.status_code, outside.json()["code"]) == (404, "not_found")
    missing = phone.post("/api/v1/testing/antigen", {"person_id": w["a"].id, "result": "negative"},
                         content_type="application/json")
    assert (missing.status_code, missing.json()["code"]) == (422, "invalid")
    lab = bearer(w["lab"]).post("/api/v1/testing/antigen", {"person_id": w["a"].id, "result": "negative",
                                                            "kind": "self", "taken_at": "2022-07-15T09:00:00+08:00"},
                                content_type="application/json")
    assert (lab.status_code, lab.json()["code"]) == (403, "permission_denied")


# ---- the planning aid (GET /api/v1/testing/plan) --------------------------------------------------------------------


def test_the_plan_answers_the_pool_table_and_the_round_estimate_with_reasons(w):
    hq = bearer(w["county"].hq)
    body = hq.get("/api/v1/testing/plan?positivity=0.001&people=100000&sampling_per_hour=5000"
                  "&lab_tubes_per_day=8000").json()
    assert (body["best_pool_size"], body["max_pool_size"]) == (20, 20)
    assert body["tests_per_person"] == pytest.approx(0.06981113517046533, abs=1e-12)
    assert (body["reason_zh"], body["reason_en"]) == ("阳性率0.1%时，20合1每人平均0.07次检测，最省",
                                                      "at 0.1% positivity, 20-in-1 needs 0.07 tests per person, "
                                                      "the fewest")
    assert [(r["pool_size"], round(r["tests_per_person"], 9), r["best"], r["label_zh"]) for r in body["table"]] == [
        (1, 1.0, False, "单采单检"), (5, 0.20499001, False, "5合1混采"), (10, 0.10995512, False, "10合1混采"),
        (20, 0.069811135, True, "20合1混采")]
    assert body["round"] == {
        "people": 100000, "sampling_per_hour": 5000, "pool_size": 20, "lab_tubes_per_day": 8000, "positivity": 0.001,
        "sampling_hours": 20.0, "tubes": 5000, "lab_hours": 15.0, "positive_pools": 100, "rechecks": 2000,
        "total_hours": 20.0, "target_hours": 24, "meets_24h": True, "bottleneck": "sampling",
        "reason_zh": "采样20小时、检测15小时，瓶颈在采样，共需20小时，可在24小时内完成",
        "reason_en": "sampling takes 20 h and testing 15 h; the bottleneck is sampling; 20 h in total, within the 24 h "
                     "target"}
    assert len(body["formulas"]) == 3 and body["formulas"][0]["zh"].startswith("每人平均检测次数 E(n,p) = 1/n + 1 − (1−p)^n")


def test_the_plan_with_a_chosen_pool_size_and_without_a_round(w):
    hq = bearer(w["county"].hq)
    ten = hq.get("/api/v1/testing/plan?positivity=0.001&people=100000&sampling_per_hour=5000"
                 "&lab_tubes_per_day=8000&pool_size=10").json()["round"]
    assert (ten["tubes"], ten["lab_hours"], ten["total_hours"], ten["meets_24h"], ten["bottleneck"], ten["rechecks"]) \
        == (10000, 30.0, 30.0, False, "testing", 1000)
    assert ten["reason_zh"] == "采样20小时、检测30小时，瓶颈在检测，共需30小时，超过24小时"
    high = hq.get("/api/v1/testing/plan?positivity=0.2&pool_size=8").json()
    assert high["round"] is None
    assert [(r["pool_size"], r["label_en"], r["best"]) for r in high["table"]] == [
        (1, "single tube", False), (5, "5-in-1 pooled", True), (8, "8-in-1 pooled", False),
        (10, "10-in-1 pooled", False), (20, "20-in-1 pooled", False)]
    assert high["reason_zh"] == "阳性率20%时，5合1每人平均0.87次检测，最省"


@pytest.mark.parametrize(("query", "status", "code", "field"), [
    ("positivity=5", 422, "out_of_range", "positivity"),
    ("positivity=abc", 422, "invalid", "positivity"),
    ("positivity=0.01&pool_size=30", 422, "out_of_range", "pool_size"),
    ("positivity=0.01&people=1000", 422, "required", "sampling_per_hour"),
    ("positivity=0.01&people=0&sampling_per_hour=1&lab_tubes_per_day=1", 422, "out_of_range", "people"),
    ("", 422, "invalid", "positivity"),
])
def test_the_plan_refuses_bad_numbers_naming_the_field(w, query, status, code, field):
    r = bearer(w["county"].hq).get(f"/api/v1/testing/plan?{query}")
    assert (r.status_code, r.json()["code"], r.json()["field"]) == (status, code, field)
    assert r.json()["messages"]["zh-hans"] and r.json()["messages"]["en"]


def test_the_plan_needs_the_testing_view(w):
    r = bearer(w["lab"]).get("/api/v1/testing/plan?positivity=0.01")
    assert (r.status_code, r.json()["code"]) == (403, "permission_denied")

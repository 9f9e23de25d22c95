"""The tracing API through the HTTP client: a case reported with its proposals, its audited file, contacts decided
and moved on, errors naming the field in both languages, links refused for a cycle, chains with their closed flag,
the work list at a pinned time, an idempotent retry, and jurisdiction and role refusals."""

import datetime as dt

import pytest
from django.test import Client

from shouwang.accounts.enums import Role
from shouwang.accounts.services import api_token_issue
from shouwang.core import clock
from shouwang.core.models import AuditEvent
from shouwang.tracing.models import Case, Contact
from shouwang.tracing.tests.town import at, build_town

TODAY = dt.date(2022, 7, 15)
JSON = "application/json"


@pytest.fixture(autouse=True)
def business_day(settings):
    settings.SHOUWANG_TODAY = TODAY.isoformat()


@pytest.fixture
def now(monkeypatch):
    """The business clock pinned to a time of day (07-15 12:00 unless a test moves it), so the investigation and
    transfer clocks answer exact hours."""
    pinned = {"at": at(15, 12)}
    monkeypatch.setattr(clock, "now", lambda: pinned["at"])
    return pinned


def bearer(user, name="设备"):
    _, raw = api_token_issue(user=user, name=name)
    return Client(HTTP_AUTHORIZATION=f"Bearer {raw}")


@pytest.fixture
def town(county, now):
    """build_town (shouwang/tracing/tests/town.py) with two more people in 东村, acting through an HQ device token."""
    town = build_town(county, extra=("东村壬", "东村癸"))
    return {"p": town["p"], "county": county, "hq": bearer(county.hq, "指挥部")}


def case_body(town, name="病例甲", **kw):
    body = {"person_id": town["p"][name].id, "found_by": "fever_clinic", "classification": "confirmed",
            "clinical_type": "mild", "onset_date": "2022-07-12", "sampling_date": "2022-07-13",
            "reported_at": "2022-07-14T08:00:00+08:00", "isolated_on": "2022-07-14"}
    body.update(kw)
    return body


def report(town, name="病例甲", client=None, **kw):
    response = (client or town["hq"]).post("/api/v1/tracing/cases", case_body(town, name, **kw), content_type=JSON)
    assert response.status_code == 201, response.json()
    return response.json()


def asymptomatic(town, name):
    """A case of the other township, reported this morning (its 24 hours run to tomorrow 07:00)."""
    return report(town, name, classification="asymptomatic", clinical_type="", onset_date=None,
                  sampling_date="2022-07-15", reported_at="2022-07-15T07:00:00", isolated_on=None,
                  found_by="key_group")["case"]


def contacts_of(town, case_id, **params):
    response = town["hq"].get("/api/v1/tracing/contacts", {"case_id": case_id, **params})
    assert response.status_code == 200, response.json()
    return response.json()


def test_a_reported_case_answers_its_proposals_and_its_file_read_is_audited(town):
    made = report(town)
    case = made["case"]
    assert (made["events"], made["proposed"], made["reclassified"]) == (1, 3, 0)
    assert (case["code"], case["name"], case["area_name"], case["state"], case["classification"]) == (
        "BL20220714-001", "病*甲", "幸福小区1号楼", "reported", "confirmed")
    assert (case["investigation_state"], case["investigation_due_at"], case["overdue"]) == (
        "open", "2022-07-15T08:00:00+08:00", True)
    assert case["contacts"] == {"proposed": 3}

    file = town["hq"].get(f"/api/v1/tracing/cases/{case['id']}")
    assert file.status_code == 200, file.json()
    body = file.json()
    assert (body["name"], body["person"]["name"], body["person"]["identifiers_masked"]) == ("病*甲", "病*甲", True)
    assert body["person"]["id_number"] == "1410**********" + town["p"]["病例甲"].id_number[-4:]
    assert [(e["place"], e["source"], e["starts_at"]) for e in body["events"]] == [
        ("城关农贸市场", "scan", "2022-07-12T10:00:00+08:00")]
    assert {k: body["window"][k] for k in ("rule", "days", "start", "end")} == {
        "rule": "C1", "days": 2, "start": "2022-07-10", "end": "2022-07-14"}
    assert (body["investigation"]["opened_at"], body["investigation"]["overdue"]) == ("2022-07-14T08:00:00+08:00",
                                                                                     True)
    assert (body["infected_by"], body["infected"]) == (None, [])
    reads = AuditEvent.objects.filter(object_type="tracing.case", object_id=str(case["id"]))
    assert list(reads.filter(action__in=["view", "view_full"]).values_list("action", "summary")) == [
        ("view", "查看病例 BL20220714-001")]
    full = town["hq"].get(f"/api/v1/tracing/cases/{case['id']}?full=true").json()
    assert (full["name"], full["person"]["id_number"], full["person"]["identifiers_masked"]) == (
        "病例甲", town["p"]["病例甲"].id_number, False)
    assert reads.filter(action="view_full").count() == 1

    listed = town["hq"].get("/api/v1/tracing/cases").json()
    assert [(c["code"], c["name"], c["contacts"]) for c in listed] == [("BL20220714-001", "病*甲", {"proposed": 3})]
    assert town["hq"].get("/api/v1/tracing/cases", {"state": "excluded"}).json() == []
    assert len(town["hq"].get("/api/v1/tracing/cases", {"q": "病例甲", "active": True}).json()) == 1


def test_contacts_are_decided_moved_on_and_added_by_hand_with_errors_naming_the_field(town):
    case = report(town)["case"]
    rows = contacts_of(town, case["id"])
    assert sorted((c["name"], c["kind"], c["state"], c["last_exposure"]) for c in rows) == [
        ("同*丁", "close", "proposed", "2022-07-12"), ("家*丙", "close", "proposed", "2022-07-14"),
        ("家*乙", "close", "proposed", "2022-07-14")]
    ding = next(c for c in rows if c["name"] == "同*丁")
    assert ding["id_number"].count("*") == 10
    assert ding["exposures"] == [{"case_id": case["id"], "case_code": "BL20220714-001", "setting": "venue",
                                  "criterion": "6", "found_via": "companion", "last_exposure": "2022-07-12",
                                  "evidence": "场所码时空伴随：城关农贸市场，前后30分钟内同场1次，末次 07-12 10:30"}]

    decided = town["hq"].post("/api/v1/tracing/contacts/decide", {"contact_ids": [c["id"] for c in rows],
                                                                   "accept": True}, content_type=JSON)
    assert decided.json() == {"accepted": 3, "rejected": 0, "secondary_proposed": 1}  # 丁's household: 戊
    yi = next(c for c in rows if c["name"] == "家*乙")
    moved = town["hq"].post(f"/api/v1/tracing/contacts/{yi['id']}/state", {"state": "notified"}, content_type=JSON)
    assert moved.status_code == 200, moved.json()
    assert {k: moved.json()[k] for k in ("state", "release_on", "policy_version", "plan_note")} == {
        "state": "notified", "release_on": "2022-07-24", "policy_version": "V9",
        "plan_note": "集中隔离医学观察7天；居家健康监测3天"}
    skipped = town["hq"].post(f"/api/v1/tracing/contacts/{yi['id']}/state", {"state": "released"},
                              content_type=JSON)
    assert (skipped.status_code, skipped.json()["code"], skipped.json()["field"]) == (409, "bad_transition", "state")
    secondary = contacts_of(town, case["id"], kind="secondary")
    assert [(c["name"], c["state"], c["via_name"]) for c in secondary] == [("同*戊", "proposed", "同*丁")]

    xin = town["p"]["东村辛"].id
    url = f"/api/v1/tracing/cases/{case['id']}/contacts"
    bad = town["hq"].post(url, {"person_id": xin, "setting": "work", "criterion": "10",
                                "last_exposure": "2022-07-12"}, content_type=JSON)
    assert bad.status_code == 422
    assert {k: bad.json()[k] for k in ("code", "field", "messages")} == {
        "code": "invalid_choice", "field": "criterion", "messages": {"zh-hans": "判定依据不存在", "en": "unknown criterion"}}
    garbled = town["hq"].post(url, {"person_id": xin, "setting": "work", "criterion": "5",
                                    "last_exposure": "12/07/2022"}, content_type=JSON)
    assert (garbled.status_code, garbled.json()["code"], garbled.json()["field"]) == (422, "invalid", "last_exposure")
    assert all("last_exposure" in m for m in garbled.json()["messages"].values())
    added = town["hq"].post(url, {"person_id": xin, "setting": "work", "criterion": "5",
                                  "last_exposure": "2022-07-12", "evidence": "同一办公室"}, content_type=JSON)
    assert added.status_code == 201, added.json()
    assert (added.json()["name"], added.json()["state"], added.json()["release_on"],
            [(x["criterion"], x["found_via"], x["evidence"]) for x in added.json()["exposures"]]) == (
        "东*辛", "identified", "2022-07-22", [("5", "manual", "同一办公室")])
    assert town["hq"].get("/api/v1/tracing/cases").json()[0]["contacts"] == {
        "identified": 3, "notified": 1, "proposed": 1}
    bogus = town["hq"].get("/api/v1/tracing/contacts", {"state": "bogus"})
    assert (bogus.status_code, bogus.json()["field"]) == (422, "state")


def test_links_refuse_a_cycle_chains_close_and_the_work_list_counts_what_is_late(town, now):
    hq = town["hq"]
    a = report(town)["case"]
    b, c = asymptomatic(town, "东村壬"), asymptomatic(town, "东村癸")
    assert (b["code"], c["code"], b["investigation_due_at"]) == ("BL20220715-001", "BL20220715-002",
                                                                 "2022-07-16T07:00:00+08:00")
    linked = hq.post("/api/v1/tracing/links", {"infector_id": a["id"], "infectee_id": b["id"],
                                                "setting": "household", "confidence": "confirmed"}, content_type=JSON)
    assert linked.status_code == 201, linked.json()
    assert (linked.json()["infector_code"], linked.json()["infectee_code"]) == (a["code"], b["code"])
    cycle = hq.post("/api/v1/tracing/links", {"infector_id": b["id"], "infectee_id": a["id"]}, content_type=JSON)
    assert (cycle.status_code, cycle.json()["code"], cycle.json()["field"]) == (409, "cycle", "infector")
    assert hq.get(f"/api/v1/tracing/cases/{b['id']}").json()["infected_by"]["infector_code"] == a["code"]

    def chains():
        return [(x["size"], x["case_codes"], x["contacts"], x["open_contacts"], x["closed"])
                for x in hq.get("/api/v1/tracing/chains").json()]

    assert chains() == [(2, [a["code"], b["code"]], 3, 3, False), (1, [c["code"]], 0, 0, True)]
    chain = hq.get(f"/api/v1/tracing/cases/{b['id']}/chain").json()
    assert [(x["code"], x["generation"]) for x in chain["cases"]] == [(a["code"], 1), (b["code"], 2)]
    assert sorted((n["kind"], n["generation"]) for n in chain["graph"]["nodes"]) == [
        ("case", 1), ("case", 2), ("close", 2), ("close", 2), ("close", 2)]

    work = hq.get("/api/v1/tracing/worklist").json()
    assert [(x["code"], x["hours_overdue"]) for x in work["overdue_investigations"]] == [(a["code"], 4.0)]
    assert [(x["code"], x["hours_overdue"]) for x in work["open_investigations"]] == [
        (b["code"], -19.0), (c["code"], -19.0)]
    assert [(x["code"], x["name"], x["proposed"]) for x in work["to_decide"]] == [(a["code"], "病*甲", 3)]
    assert (len(work["uncontacted"]), len(work["transfer_overdue"]), work["total"]) == (0, 0, 2)

    ids = [x["id"] for x in contacts_of(town, a["id"])]
    hq.post("/api/v1/tracing/contacts/decide", {"contact_ids": ids, "accept": True}, content_type=JSON)
    now["at"] = at(16, 1)  # 13 hours after they were identified: one hour past the 12-hour transfer limit
    work = hq.get("/api/v1/tracing/worklist").json()
    assert (work["now"], work["transfer_hours"], work["total"]) == ("2022-07-16T01:00:00+08:00", 12, 8)
    assert [(x["code"], x["hours_overdue"]) for x in work["overdue_investigations"]] == [(a["code"], 17.0)]
    assert [(x["name"], x["proposed"]) for x in work["to_decide"]] == [("病*甲", 1)]  # 戊, a secondary contact
    assert sorted((x["name"], x["hours_since_identified"]) for x in work["uncontacted"]) == [
        ("同*丁", 13.0), ("家*丙", 13.0), ("家*乙", 13.0)]
    assert sorted((x["name"], x["hours_overdue"]) for x in work["transfer_overdue"]) == [
        ("同*丁", 1.0), ("家*丙", 1.0), ("家*乙", 1.0)]

    for cid in ids:
        hq.post(f"/api/v1/tracing/contacts/{cid}/state", {"state": "transferred"}, content_type=JSON)
    (wu,) = contacts_of(town, a["id"], state="proposed")
    hq.post("/api/v1/tracing/contacts/decide", {"contact_ids": [wu["id"]], "accept": False, "note": "已外出务工"},
            content_type=JSON)
    assert chains() == [(2, [a["code"], b["code"]], 4, 0, True), (1, [c["code"]], 0, 0, True)]

    no_reason = hq.post(f"/api/v1/tracing/links/{linked.json()['id']}/remove", {"reason": " "}, content_type=JSON)
    assert (no_reason.status_code, no_reason.json()["field"]) == (422, "reason")
    removed = hq.post(f"/api/v1/tracing/links/{linked.json()['id']}/remove", {"reason": "基因测序不支持"},
                      content_type=JSON)
    assert removed.json() == {"id": linked.json()["id"], "removed": True}
    assert [x["size"] for x in hq.get("/api/v1/tracing/chains").json()] == [1, 1, 1]


def test_the_itinerary_investigation_and_course_of_a_case(town):
    county, hq = town["county"], town["hq"]
    case = report(town)["case"]
    url = f"/api/v1/tracing/cases/{case['id']}"
    stop = hq.post(f"{url}/events", {"starts_at": "2022-07-11T19:00:00", "ends_at": "2022-07-11T21:00:00+08:00",
                                     "place": "老王饭店", "activity": "聚餐", "people_present": "同事6人"},
                   content_type=JSON)
    assert stop.status_code == 201, stop.json()
    assert (stop.json()["starts_at"], stop.json()["source"]) == ("2022-07-11T19:00:00+08:00", "manual")
    backwards = hq.post(f"{url}/events", {"starts_at": "2022-07-11T19:00:00+08:00", "place": "老王饭店",
                                          "ends_at": "2022-07-11T18:00:00+08:00"}, content_type=JSON)
    assert (backwards.status_code, backwards.json()["field"]) == (422, "ends_at")
    assert [e["place"] for e in hq.get(url).json()["events"]] == ["老王饭店", "城关农贸市场"]

    tracer = county.user(Role.TOWNSHIP, county.township_a, username="tracer-a")
    for user, code in ((county.user(Role.GRID_WORKER, county.grid_a), "assignee_cannot_trace"),
                       (county.user(Role.TOWNSHIP, county.township_b), "assignee_outside")):
        refused = hq.post(f"{url}/investigation", {"assigned_to_id": user.id}, content_type=JSON)
        assert (refused.status_code, refused.json()["code"], refused.json()["field"]) == (422, code, "assigned_to_id")
    inv = hq.post(f"{url}/investigation", {"team": "流调一组", "assigned_to_id": tracer.id, "summary": "已完成",
                                           "done": True}, content_type=JSON).json()
    assert (inv["team"], inv["assigned_to"], inv["state"], inv["overdue"], inv["closed_at"]) == (
        "流调一组", "tracer-a", "done", False, "2022-07-15T12:00:00+08:00")

    no_note = hq.post(url, {"state": "excluded"}, content_type=JSON)
    assert (no_note.status_code, no_note.json()["field"]) == (422, "note")
    moved = hq.post(url, {"state": "fangcang", "lineage": "BA.5.2"}, content_type=JSON).json()
    assert (moved["state"], moved["lineage"], moved["overdue"]) == ("fangcang", "BA.5.2", False)


def test_a_retried_report_with_the_same_key_makes_one_case(town):
    body = case_body(town)
    first = town["hq"].post("/api/v1/tracing/cases", body, content_type=JSON, HTTP_IDEMPOTENCY_KEY="tracer-1-0001")
    again = town["hq"].post("/api/v1/tracing/cases", body, content_type=JSON, HTTP_IDEMPOTENCY_KEY="tracer-1-0001")
    assert (first.status_code, again.status_code) == (201, 201)
    assert again.json() == first.json()
    assert Case.objects.count() == 1
    assert Contact.objects.count() == 3
    fresh = town["hq"].post("/api/v1/tracing/cases", body, content_type=JSON, HTTP_IDEMPOTENCY_KEY="tracer-1-0002")
    assert (fresh.status_code, fresh.json()["code"]) == (409, "already_case")


def test_other_townships_get_404_and_roles_without_the_capability_get_403(town, client_for):
    county = town["county"]
    case = report(town)["case"]
    east = client_for(county.user(Role.GRID_WORKER, county.grid_b))
    missing = east.get(f"/api/v1/tracing/cases/{case['id']}")
    assert (missing.status_code, missing.json()["code"]) == (404, "not_found")
    assert east.get("/api/v1/tracing/cases").json() == []
    assert east.get(f"/api/v1/tracing/cases/{case['id']}/chain").status_code == 404
    assert east.get("/api/v1/tracing/contacts", {"case_id": case["id"]}).status_code == 404
    own = client_for(county.user(Role.GRID_WORKER, county.grid_a))
    assert own.get(f"/api/v1/tracing/cases/{case['id']}").status_code == 200
    supervisor = client_for(county.user(Role.SUPERVISOR, county.county))  # may view tracing, not full identifiers
    asked = supervisor.get(f"/api/v1/tracing/cases/{case['id']}?full=true").json()
    assert (asked["name"], asked["person"]["identifiers_masked"]) == ("病*甲", True)
    assert list(AuditEvent.objects.filter(object_type="tracing.case", actor__role=Role.SUPERVISOR)
                .values_list("action", flat=True)) == ["view"]
    cannot_trace = own.post(f"/api/v1/tracing/cases/{case['id']}/contacts", {
        "person_id": town["p"]["东村辛"].id, "setting": "work", "criterion": "5", "last_exposure": "2022-07-12"},
        content_type=JSON)
    assert (cannot_trace.status_code, cannot_trace.json()["code"]) == (403, "permission_denied")

    sampler = bearer(county.user(Role.SAMPLER, county.grid_a, username="sampler-1"), "采样手机")
    refused = sampler.post("/api/v1/tracing/cases", case_body(town, "东村辛"), content_type=JSON)
    assert (refused.status_code, refused.json()["code"]) == (403, "permission_denied")
    assert sampler.get("/api/v1/tracing/cases").status_code == 403
    assert Case.objects.count() == 1


def test_the_schema_documents_the_tracing_routes(client, db):
    schema = client.get("/api/v1/openapi.json")
    assert schema.status_code == 200
    paths = schema.json()["paths"]
    assert {"get", "post"} <= set(paths["/api/v1/tracing/cases"])
    assert "/api/v1/tracing/worklist" in paths
    assert paths["/api/v1/tracing/cases"]["get"]["tags"] == ["tracing 流调溯源"]


def test_clusters_are_recorded_and_listed_and_a_retry_records_one(town):
    a = report(town)["case"]
    b = asymptomatic(town, "东村辛")
    hq = town["hq"]
    bad = hq.post("/api/v1/tracing/clusters", {"name": "市场聚集", "setting": "market", "case_ids": [a["id"], b["id"]]},
                  content_type=JSON)
    assert (bad.status_code, bad.json()["code"], bad.json()["field"]) == (422, "invalid_choice", "setting")
    body = {"name": "城关农贸市场聚集性疫情", "setting": "venue", "case_ids": [a["id"], b["id"]]}
    first = hq.post("/api/v1/tracing/clusters", body, content_type=JSON, HTTP_IDEMPOTENCY_KEY="cl-1")
    again = hq.post("/api/v1/tracing/clusters", body, content_type=JSON, HTTP_IDEMPOTENCY_KEY="cl-1")
    assert first.status_code == 201 and again.json() == first.json()
    listed = hq.get("/api/v1/tracing/clusters").json()
    assert [(c["name"], c["setting"], c["size"], c["case_codes"]) for c in listed] == [
        ("城关农贸市场聚集性疫情", "venue", 2, [a["code"], b["code"]])]

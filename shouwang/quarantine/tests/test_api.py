"""The quarantine API through the HTTP client: a site set up, refused activation naming the checklist, then active;
a close contact started, allocated a room, transferred point to point, admitted, a fever alert from the day's entry,
release refused listing the tests then granted with the next phase and the code; retries with one Idempotency-Key;
a wrong body naming its field; another township's 404 and a grid worker's 403; the home team of five refused for a
missing role; masked lists; the forecast and the certificate."""

import datetime as dt

import pytest
from django.test import Client
from django.utils import timezone

from shouwang.accounts.enums import Role
from shouwang.accounts.services import api_token_issue
from shouwang.core import clock
from shouwang.core.models import AuditEvent
from shouwang.quarantine.enums import CHECKLIST
from shouwang.quarantine.models import HomeVisit, Need, Room, Stay, Transfer
from shouwang.quarantine.services import (
    StayInput,
    rooms_add,
    site_check,
    site_create,
    site_set_state,
    stay_start,
)
from shouwang.testing.models import Tube, TubeMember
from shouwang.testing.services import RoundInput, lab_create, round_create

JSON = "application/json"
Q = "/api/v1/quarantine"


def at(day: int, hour: int, minute: int = 0) -> dt.datetime:
    return timezone.make_aware(dt.datetime(2022, 7, day, hour, minute))


@pytest.fixture
def now(settings, monkeypatch):
    """The business day 07-11 and the clock pinned at 15:00; `move(day, hour)` moves both."""
    pinned = {"at": at(11, 15)}
    monkeypatch.setattr(clock, "now", lambda: pinned["at"])
    settings.SHOUWANG_TODAY = "2022-07-11"

    def move(day: int, hour: int, minute: int = 0):
        pinned["at"] = at(day, hour, minute)
        settings.SHOUWANG_TODAY = f"2022-07-{day:02d}"

    return move


def bearer(user, name="设备"):
    _, raw = api_token_issue(user=user, name=name)
    return Client(HTTP_AUTHORIZATION=f"Bearer {raw}")


@pytest.fixture
def hq(county, now):
    return bearer(county.hq, "指挥部")


def open_site(county, name="城关宾馆隔离点"):
    """An active site in grid A: rooms 301, 302 and family room 401 (through the services)."""
    site = site_create(actor=county.hq, name=name, kind="hotel", area_id=county.grid_a.id, staff=2)
    rooms_add(actor=county.hq, site_id=site.id, floors={3: ["301", "302"], 4: ["401"]}, family_rooms=("401",))
    site_set_state(actor=county.hq, site_id=site.id, state="activating")
    site_check(actor=county.hq, site_id=site.id, items=dict.fromkeys(CHECKLIST, True))
    site_set_state(actor=county.hq, site_id=site.id, state="active")
    return site


def contact(county, name="密接甲", seq=1) -> Stay:
    """A V9 close contact exposed 07-10: central quarantine 07-11..07-17, PCR on days 1, 2, 3, 5 and 7."""
    person = county.person(name=name, seq=seq, mobile="13800001234")
    return stay_start(actor=county.hq, data=StayInput(person_id=person.id, category="close_contact",
                                                      anchor_date=dt.date(2022, 7, 10)))


def negative_tubes(county, person, days):
    """A negative single tube for the person at 08:00 of each day (one round a day, as the lab flow leaves it)."""
    lab = lab_create(actor=county.hq, name="县疾控实验室", area_id=county.county.id)
    for day in days:
        sampled = at(day, 8)
        rnd = round_create(actor=county.hq, data=RoundInput(name=f"隔离点检测{day}", area_ids=[county.grid_a.id],
                                                            starts_at=sampled, deadline=at(day, 20)))
        tube = Tube.objects.create(barcode=f"QA{day}", round=rnd, pool_mode="single", pool_size=1, state="resulted",
                                   opened_at=sampled, lab=lab, result="negative", resulted_at=sampled)
        TubeMember.objects.create(tube=tube, round=rnd, person=person, position=1, added_at=sampled)


def post(client, url, body=None, **headers):
    return client.post(url, body or {}, content_type=JSON, **headers)


def test_a_site_is_set_up_refused_activation_naming_the_checklist_then_opened(county, hq):
    made = post(hq, f"{Q}/sites", {"name": "城关宾馆隔离点", "kind": "hotel", "area_id": county.grid_a.id,
                                   "staff": 2, "address": "城关镇解放路1号"})
    assert made.status_code == 201, made.json()
    site = made.json()
    assert {k: site[k] for k in ("name", "state", "area_name", "capacity", "rooms", "activated_at")} == {
        "name": "城关宾馆隔离点", "state": "standby", "area_name": "第一网格", "capacity": 20, "rooms": 0,
        "activated_at": None}
    assert site["checklist_missing"] == list(CHECKLIST)
    url = f"{Q}/sites/{site['id']}"
    rooms = post(hq, f"{url}/rooms", {"floors": {"3": ["301", "302"], "4": ["401"]}, "family_rooms": ["401"]})
    assert rooms.status_code == 201, rooms.json()
    assert (rooms.json()["added"], rooms.json()["site"]["rooms"], rooms.json()["site"]["places"]) == (3, 3, 4)
    again = post(hq, f"{url}/rooms", {"floors": {"3": ["301", "303"]}})
    assert (again.status_code, again.json()["code"], again.json()["field"]) == (409, "room_exists", "floors")

    assert post(hq, f"{url}/state", {"state": "activating"}).json()["next_states"] == ["active", "standby"]
    ticked = post(hq, f"{url}/checklist", {"items": {"clean_zone": True, "buffer_zone": True}}).json()
    assert ticked["checklist_missing"] == list(CHECKLIST)[2:]
    unknown = post(hq, f"{url}/checklist", {"items": {"moat": True}})
    assert (unknown.status_code, unknown.json()["field"], unknown.json()["code"]) == (422, "items", "unknown_item")
    refused = post(hq, f"{url}/state", {"state": "active"})
    assert (refused.status_code, refused.json()["code"], refused.json()["field"]) == (
        409, "checklist_incomplete", "checklist")
    assert refused.json()["details"] == [{"item": k} for k in list(CHECKLIST)[2:]]
    assert refused.json()["messages"]["en"].startswith("checklist incomplete: the contaminated zone, the staff passage")

    post(hq, f"{url}/checklist", {"items": dict.fromkeys(CHECKLIST, True)})
    active = post(hq, f"{url}/state", {"state": "active"})
    assert active.status_code == 200, active.json()
    body = active.json()
    assert (body["state"], body["activated_at"], body["checklist_missing"], body["next_states"]) == (
        "active", "2022-07-11T15:00:00+08:00", [], ["closing"])
    assert [(r["floor"], r["number"], r["state"], r["family"]) for r in body["rooms_by_floor"]] == [
        (3, "301", "free", False), (3, "302", "free", False), (4, "401", "free", True)]
    listed = hq.get(f"{Q}/sites").json()
    assert [(s["name"], s["state"], s["rooms"], s["places"], s["occupied"], s["free_rooms"]) for s in listed] == [
        ("城关宾馆隔离点", "active", 3, 4, 0, 3)]
    assert hq.get(f"{Q}/sites", {"state": "closed"}).json() == []


def test_a_close_contact_is_allocated_transferred_admitted_monitored_and_released(county, hq, now):
    site = open_site(county)
    person = county.person(name="密接甲", seq=1, mobile="13800001234")
    started = post(hq, f"{Q}/stays", {"person_id": person.id, "category": "close_contact",
                                      "anchor_date": "2022-07-10", "source_case": "BL20220710-001"})
    assert started.status_code == 201, started.json()
    stay = started.json()
    assert {k: stay[k] for k in ("name", "measure", "state", "starts_on", "ends_on", "day", "days", "policy_version")
            } == {"name": "密*甲", "measure": "central_quarantine", "state": "awaiting_transfer",
                  "starts_on": "2022-07-11", "ends_on": "2022-07-17", "day": 1, "days": 7, "policy_version": "V9"}
    assert stay["id_number"] == person.id_number[:4] + "*" * 10 + person.id_number[-4:]
    assert [(t["date"], t["day"], t["kind"]) for t in stay["test_days"]] == [
        ("2022-07-11", 1, "pcr"), ("2022-07-12", 2, "pcr"), ("2022-07-13", 3, "pcr"), ("2022-07-15", 5, "pcr"),
        ("2022-07-17", 7, "pcr")]
    sid = stay["id"]

    proposal = post(hq, f"{Q}/allocations", {"stay_ids": [sid]}).json()
    assert proposal == {"applied": False, "unplaced": [], "placed": [
        {"stay_id": sid, "name": "密*甲", "site_id": site.id, "site_name": "城关宾馆隔离点",
         "room_id": Room.objects.get(number="301").id, "floor": 3, "number": "301"}]}
    assert post(hq, f"{Q}/allocations", {"stay_ids": [sid], "apply": True}).json()["applied"] is True
    detail = hq.get(f"{Q}/sites/{site.id}").json()
    assert [(r["number"], r["state"], r["reserved"]) for r in detail["rooms_by_floor"]][0] == (
        "301", "reserved", [{"stay_id": sid, "name": "密*甲", "state": "awaiting_transfer"}])

    run = post(hq, f"{Q}/transfers", {"stay_ids": [sid], "site_id": site.id, "pickup_address": "幸福小区1号楼",
                                      "vehicle": "bus", "plate": "晋J·A1234", "driver": "张师傅", "escort": "李护士"})
    assert run.status_code == 201, run.json()
    t = run.json()
    assert {k: t[k] for k in ("code", "state", "due_at", "overdue", "hours_overdue", "people")} == {
        "code": "ZY20220711-001", "state": "requested", "due_at": "2022-07-12T03:00:00+08:00", "overdue": False,
        "hours_overdue": -12.0, "people": [{"stay_id": sid, "name": "密*甲", "state": "awaiting_transfer"}]}
    now(11, 16)
    picked = post(hq, f"{Q}/transfers/{t['id']}/pickup").json()
    assert (picked["state"], picked["picked_up_at"], picked["people"][0]["state"]) == (
        "picked_up", "2022-07-11T16:00:00+08:00", "in_transfer")
    early = post(hq, f"{Q}/transfers/{t['id']}/arrive", {"at": "2022-07-11T15:30:00"})
    assert (early.status_code, early.json()["field"]) == (422, "arrived_at")
    now(11, 16, 40)
    arrived = post(hq, f"{Q}/transfers/{t['id']}/arrive").json()
    assert (arrived["state"], arrived["closed_loop"], arrived["hours_overdue"]) == ("arrived", True, None)
    assert [x["code"] for x in hq.get(f"{Q}/transfers").json()] == ["ZY20220711-001"]
    assert hq.get(f"{Q}/transfers/overdue").json() == []

    admitted = post(hq, f"{Q}/stays/{sid}/admit", {"room_id": Room.objects.get(number="301").id}).json()
    assert (admitted["state"], admitted["room_number"], admitted["admitted_at"]) == (
        "active", "301", "2022-07-11T16:40:00+08:00")
    now(11, 18, 30)
    check = post(hq, f"{Q}/stays/{sid}/checks", {"temp_pm": 37.8, "disinfected": True})
    assert check.status_code == 200, check.json()
    assert (check.json()["temp_pm"], check.json()["disinfected"], check.json()["reported"]) == (37.8, True, False)
    fever = check.json()["alerts"]
    assert [(a["kind"], a["detail"]) for a in fever] == [("fever", "发热：下午体温37.8℃")]
    alerts = hq.get(f"{Q}/alerts").json()
    assert [(a["id"], a["kind"], a["name"], a["room_number"], a["site_name"]) for a in alerts] == [
        (fever[0]["id"], "fever", "密*甲", "301", "城关宾馆隔离点")]
    sheet = hq.get(f"{Q}/sites/{site.id}/day").json()
    row = sheet["rows"][0]
    assert (sheet["day"], row["name"], row["place"], row["temp_pm"], row["fever"], row["missing"]) == (
        "2022-07-11", "密*甲", "301", 37.8, True, [])
    assert (row["test"], row["test_outcome"]) == ({"date": "2022-07-11", "day": 1, "kind": "pcr"}, "missing")
    assert {k: sheet["summary"][k] for k in ("people", "fevers", "tests_due", "tests_missing", "open_alerts")} == {
        "people": 1, "fevers": 1, "tests_due": 1, "tests_missing": 1, "open_alerts": 1}
    handled = post(hq, f"{Q}/alerts/{fever[0]['id']}/handle", {"outcome": "复测36.8，观察"}).json()
    assert (handled["state"], handled["outcome"], handled["handled_at"]) == (
        "handled", "复测36.8，观察", "2022-07-11T18:30:00+08:00")
    assert hq.get(f"{Q}/alerts").json() == []
    need = {"stay_id": sid, "kind": "medicine", "detail": "降压药（硝苯地平）"}
    asked = post(hq, f"{Q}/needs", need, HTTP_IDEMPOTENCY_KEY="need-1")
    assert post(hq, f"{Q}/needs", need, HTTP_IDEMPOTENCY_KEY="need-1").json() == asked.json()
    assert (asked.status_code, asked.json()["name"], asked.json()["state"], Need.objects.count()) == (
        201, "密*甲", "open", 1)
    unresolved = post(hq, f"{Q}/needs/{asked.json()['id']}", {"state": "resolved"})
    assert (unresolved.status_code, unresolved.json()["field"]) == (422, "resolution")
    post(hq, f"{Q}/needs/{asked.json()['id']}", {"state": "resolved", "resolution": "已送药"})
    assert [(n["kind"], n["state"], n["resolution"], n["room_number"]) for n in hq.get(f"{Q}/needs").json()] == [
        ("medicine", "resolved", "已送药", "301")]

    now(17, 15)
    refused = post(hq, f"{Q}/stays/{sid}/release")
    assert (refused.status_code, refused.json()["code"], refused.json()["field"]) == (409, "tests_missing", "stay_id")
    assert refused.json()["details"] == [{"date": d, "kind": "pcr", "outcome": "missing"} for d in (
        "2022-07-11", "2022-07-12", "2022-07-13", "2022-07-15", "2022-07-17")]
    negative_tubes(county, person, (11, 12, 13, 15, 17))
    released = post(hq, f"{Q}/stays/{sid}/release")
    assert released.status_code == 200, released.json()
    done = released.json()
    assert (done["stay"]["state"], len(done["release_code"])) == ("released", 13)
    assert done["release_code"] == Stay.objects.get(id=sid).release_code
    nxt = done["next_stay"]
    assert (nxt["measure"], nxt["state"], nxt["starts_on"], nxt["ends_on"], nxt["previous_id"]) == (
        "home_health_monitoring", "active", "2022-07-18", "2022-07-20", sid)

    file = hq.get(f"{Q}/stays/{sid}").json()
    assert (file["name"], file["person"]["mobile"], file["person"]["identifiers_masked"]) == (
        "密*甲", "138****1234", True)
    assert [x["outcome"] for x in file["tests"]] == ["negative"] * 5
    assert [(c["kind"], c["after"].get("state"), c["reason"][:2]) for c in file["history"]] == [
        ("created", "awaiting_transfer", "密切"), ("moved", None, "预留"), ("state", "in_transfer", "转运"),
        ("state", "active", "入住"), ("state", "released", "期满")]
    assert (file["next_stay_id"], file["category_zh"], file["transfers"][0]["code"]) == (
        nxt["id"], "密切接触者", "ZY20220711-001")
    full = hq.get(f"{Q}/stays/{sid}", {"full": "true"}).json()
    assert (full["name"], full["person"]["id_number"], full["person"]["mobile"]) == (
        "密接甲", person.id_number, "13800001234")
    reads = AuditEvent.objects.filter(object_type="quarantine.stay", object_id=str(sid), action__in=["view", "view_full"])
    assert list(reads.order_by("id").values_list("action", "summary")) == [("view", "查看隔离管控 密接甲"),
                                                            ("view_full", "查看隔离管控 密接甲")]
    pdf = hq.get(f"{Q}/stays/{sid}/certificate.pdf")
    assert (pdf.status_code, pdf["Content-Type"], pdf.content[:5]) == (200, "application/pdf", b"%PDF-")
    assert AuditEvent.objects.filter(object_type="quarantine.stay", object_id=str(sid), action="export").count() == 1
    not_yet = hq.get(f"{Q}/stays/{nxt['id']}/certificate.pdf")
    assert (not_yet.status_code, not_yet.json()["code"]) == (409, "not_released")


def test_a_retry_with_the_same_key_starts_one_stay_and_requests_one_transfer(county, hq):
    site = open_site(county)
    person = county.person(name="密接乙", seq=2)
    body = {"person_id": person.id, "category": "close_contact", "anchor_date": "2022-07-10"}
    first = post(hq, f"{Q}/stays", body, HTTP_IDEMPOTENCY_KEY="pad-7-0001")
    again = post(hq, f"{Q}/stays", body, HTTP_IDEMPOTENCY_KEY="pad-7-0001")
    assert (first.status_code, again.status_code, again.json()) == (201, 201, first.json())
    assert Stay.objects.filter(person=person).count() == 1
    fresh = post(hq, f"{Q}/stays", body, HTTP_IDEMPOTENCY_KEY="pad-7-0002")
    assert (fresh.status_code, fresh.json()["code"], fresh.json()["field"]) == (409, "stay_open", "person_id")

    run = {"stay_ids": [first.json()["id"]], "site_id": site.id, "pickup_address": "东关街2号", "vehicle": "car"}
    one = post(hq, f"{Q}/transfers", run, HTTP_IDEMPOTENCY_KEY="pad-7-0003")
    two = post(hq, f"{Q}/transfers", run, HTTP_IDEMPOTENCY_KEY="pad-7-0003")
    assert (one.status_code, two.status_code, two.json()) == (201, 201, one.json())
    assert Transfer.objects.count() == 1
    busy = post(hq, f"{Q}/transfers", run)
    assert (busy.status_code, busy.json()["code"]) == (409, "already_requested")
    cancelled = post(hq, f"{Q}/transfers/{one.json()['id']}/cancel", {"reason": "改派负压救护车"})
    assert (cancelled.status_code, cancelled.json()["state"]) == (200, "cancelled")
    assert post(hq, f"{Q}/transfers", run).status_code == 201  # the person gets another run
    rooms = dict(Room.objects.filter(site=site).values_list("number", "id"))
    off = post(hq, f"{Q}/sites/{site.id}/room-state", {"room_ids": [rooms["301"]], "state": "out_of_service"})
    assert (off.status_code, off.json()["field"]) == (422, "reason")
    off = post(hq, f"{Q}/sites/{site.id}/room-state", {"room_ids": [rooms["301"]], "state": "out_of_service",
                                                     "reason": "水管漏水"})
    assert (off.status_code, Room.objects.get(id=rooms["301"]).state) == (200, "out_of_service")
    doctor = county.user("quarantine_manager", county.village_a, username="site_doctor")
    staffed = post(hq, f"{Q}/sites/{site.id}/staff", {"doctor_id": doctor.id, "staff": 6, "persons_per_staff": 8})
    assert staffed.status_code == 200
    site.refresh_from_db()
    assert (site.doctor_id, site.manager_id, site.staff, site.persons_per_staff) == (doctor.id, None, 6, 8)


def test_a_wrong_body_or_filter_answers_422_naming_the_field(county, hq):
    person = county.person(name="密接丙", seq=3)
    garbled = post(hq, f"{Q}/stays", {"person_id": person.id, "category": "close_contact",
                                      "anchor_date": "10/07/2022"})
    assert (garbled.status_code, garbled.json()["code"], garbled.json()["field"]) == (422, "invalid", "anchor_date")
    no_person = post(hq, f"{Q}/stays", {"category": "close_contact", "anchor_date": "2022-07-10"})
    assert (no_person.status_code, no_person.json()["field"]) == (422, "person_id")
    site = open_site(county)
    stay = contact(county, "密接丁", 4)
    truck = post(hq, f"{Q}/transfers", {"stay_ids": [stay.id], "site_id": site.id, "pickup_address": "x",
                                        "vehicle": "truck"})
    assert (truck.status_code, truck.json()["code"], truck.json()["field"]) == (422, "invalid_choice", "vehicle")
    assert truck.json()["messages"] == {"zh-hans": "车辆类型不存在", "en": "unknown vehicle"}
    bogus = hq.get(f"{Q}/stays", {"state": "bogus"})
    assert (bogus.status_code, bogus.json()["field"], bogus.json()["code"]) == (422, "state", "invalid_choice")
    assert hq.get(f"{Q}/stays", {"measure": "house_arrest"}).json()["field"] == "measure"


def test_another_township_gets_404_and_a_grid_worker_403_on_admission(county, hq, client_for):
    site = open_site(county)
    stay = contact(county)
    east = bearer(county.user(Role.TOWNSHIP, county.township_b))
    missing = east.get(f"{Q}/stays/{stay.id}")
    assert (missing.status_code, missing.json()["code"], missing.json()["field"]) == (404, "not_found", "stay_id")
    assert east.get(f"{Q}/stays").json() == []
    assert east.get(f"{Q}/sites").json() == []
    room = Room.objects.get(site=site, number="302").id
    assert post(east, f"{Q}/stays/{stay.id}/admit", {"room_id": room}).status_code == 404
    grid = client_for(county.user(Role.GRID_WORKER, county.grid_a))
    listed = grid.get(f"{Q}/stays").json()
    assert [(s["name"], s["state"], s["id_number"].count("*")) for s in listed] == [("密*甲", "awaiting_transfer", 10)]
    refused = post(grid, f"{Q}/stays/{stay.id}/admit", {"room_id": room})
    assert (refused.status_code, refused.json()["code"]) == (403, "permission_denied")
    assert Stay.objects.get(id=stay.id).state == "awaiting_transfer"
    sampler = bearer(county.user(Role.SAMPLER, county.grid_a))
    assert sampler.get(f"{Q}/stays").status_code == 403
    assert sampler.get(f"{Q}/forecast").status_code == 403


def test_the_home_team_refuses_a_missing_role_and_the_board_is_masked(county, now):
    person = county.person(name="次密甲", seq=5)
    stay = stay_start(actor=county.hq, data=StayInput(person_id=person.id, category="secondary_contact",
                                                      anchor_date=dt.date(2022, 7, 10), home_address="幸福小区1-101"))
    village = bearer(county.user(Role.VILLAGE, county.village_a, username="village-a"))
    names = {"village_cadre": "李书记", "grid_worker": "王网格", "medical": "赵医生", "police": "张警官",
             "volunteer": "刘志愿"}
    team = [{"role": r, "name": n, "phone": f"1391234000{i}"} for i, (r, n) in enumerate(names.items(), 1)]
    url = f"{Q}/stays/{stay.id}/team"
    short = village.put(url, {"members": [m for m in team if m["role"] != "police"]}, content_type=JSON)
    assert (short.status_code, short.json()["code"], short.json()["field"]) == (422, "roles_mismatch", "members")
    assert short.json()["details"] == [{"role": "police", "problem": "missing"}]
    assert short.json()["messages"]["en"] == (
        "the team must be one each of village or community cadre, grid worker, community medical worker, community "
        "police officer, volunteer; missing: community police officer")
    bad_phone = village.put(url, {"members": [{**m, "phone": "123"} if m["role"] == "medical" else m for m in team]},
                            content_type=JSON)
    assert (bad_phone.status_code, bad_phone.json()["field"]) == (422, "members[2].phone")
    done = village.put(url, {"members": list(reversed(team))}, content_type=JSON)
    assert done.status_code == 200, done.json()
    assert ([m["role"] for m in done.json()["members"]], done.json()["missing"]) == (list(names), [])

    sealed = post(village, f"{Q}/stays/{stay.id}/seal", {"state": "intact", "kind": "door_sensor"}).json()
    assert (sealed["seal_kind"], sealed["seal_state"], sealed["sealed_at"]) == (
        "door_sensor", "intact", "2022-07-11T15:00:00+08:00")
    visit = post(village, f"{Q}/stays/{stay.id}/visits", {"kind": "daily", "person_present": False,
                                                          "seal_intact": True, "note": "敲门无应答"})
    assert visit.status_code == 201, visit.json()
    assert (visit.json()["day"], visit.json()["person_present"], HomeVisit.objects.count()) == ("2022-07-11", False, 1)
    (row,) = village.get(f"{Q}/home").json()
    assert (row["name"], row["address"], row["day_n"], row["days"], row["team_complete"], row["seal_state"]) == (
        "次*甲", "幸福小区1-101", 1, 7, True, "intact")
    assert [(m["name"], m["phone"]) for m in row["team"]][:2] == [("李书记", "139****0001"), ("王网格", "139****0002")]
    assert row["id_number"].count("*") == 10
    assert [(a["kind"], a["detail"]) for a in row["alerts"]] == [("absent", "每日上门查看未见本人：敲门无应答")]
    assert village.get(f"{Q}/home/sample").status_code == 403
    supervisor = bearer(county.user(Role.SUPERVISOR, county.county, username="supervisor"))
    assert [(s["stay_id"], s["name"]) for s in supervisor.get(f"{Q}/home/sample").json()] == [(stay.id, "次*甲")]


def test_the_forecast_counts_the_open_central_stays_against_the_places(county, hq):
    open_site(county)
    contact(county)
    forecast = hq.get(f"{Q}/forecast")
    assert forecast.status_code == 200, forecast.json()
    f = forecast.json()
    assert (f["today"], f["central_days"], f["policy_version"], f["places_active"], f["proposed"]) == (
        "2022-07-11", 7, "V9", 4, 0)
    assert [(d["day"], d["staying"], d["needed"], d["shortfall"]) for d in f["days"]] == [
        (f"2022-07-{d}", 1, 1, 0) for d in range(11, 18)]
    assert f["because"][0]["messages"]["zh-hans"] == "已在管的集中隔离人员按各自解除日期离开（1人）"
    paths = hq.get("/api/v1/openapi.json").json()["paths"]
    assert paths[f"{Q}/stays"]["get"]["tags"] == paths[f"{Q}/forecast"]["get"]["tags"] == ["quarantine 隔离管控"]
    assert {"put"} == set(paths[f"{Q}/stays/{{stay_id}}/team"])

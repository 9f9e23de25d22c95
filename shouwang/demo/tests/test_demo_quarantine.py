"""The demo county's quarantine (shouwang/demo/quarantine.py): two active sites and a standby one, the outbreak's
contacts transferred, admitted and released through the services (every contact's state agrees with its stay),
transfers overdue and on the road, residents at different days of their stay with their daily entries, alerts and
needs, home quarantine with its five responsible people. (The same seed giving the same quarantine data is checked
with `fingerprint` below in test_demo_testing.py's two builds of the county, which the testing data needs already:
a third and fourth build here would cost 8 s.)"""

import datetime as dt
import io
from collections import Counter
from decimal import Decimal

import pytest
from django.core.management import call_command
from django.utils import timezone

from shouwang.accounts.models import User
from shouwang.demo.generator import generate_county
from shouwang.demo.quarantine import FIXED, HOTEL, STATION
from shouwang.demo.venues import DEMO_DATE
from shouwang.people.models import Person
from shouwang.quarantine import home, monitoring, selectors
from shouwang.quarantine.models import (
    Alert,
    DailyCheck,
    HomeVisit,
    Need,
    Responsible,
    Room,
    Site,
    Stay,
    StayChange,
    Transfer,
)
from shouwang.status.services import status_get
from shouwang.testing.models import PersonRound, TestingRound, Tube
from shouwang.tracing.models import Contact

SEED, PEOPLE = 3, 1500
FEVER = Decimal("37.3")
# A contact's state and the state of the stay made for it (shouwang/response/flows.py).
AGREES = {"identified": "awaiting_transfer", "notified": "awaiting_transfer", "transferred": "in_transfer",
          "under_measure": "active", "released": "released", "became_case": "became_case"}


@pytest.fixture(autouse=True)
def business_day(settings):
    settings.SHOUWANG_TODAY = DEMO_DATE.isoformat()


def local(value: dt.datetime | None) -> str | None:
    return timezone.localtime(value).strftime("%m-%d %H:%M") if value else None


@pytest.mark.django_db
def test_demo_quarantine_has_two_active_sites_transfers_under_way_and_home_teams():
    generate_county(seed=SEED, people=PEOPLE)
    hq = User.objects.get(username="hq")
    check_sites(hq)
    check_stays_follow_the_contacts()
    check_transfers(hq)
    check_site_monitoring()
    check_home_quarantine(hq)
    check_tests()
    out = io.StringIO()
    call_command("demo_logins", stdout=out)  # make demo prints them
    lines = {line.split()[0]: line.split()[1:] for line in out.getvalue().splitlines()[3:-2]}
    assert (lines["quarantine"], lines["doctor"], lines["supervisor"]) == (
        ["隔离点负责人", "浮山县"], ["隔离点负责人（驻点医生）", "天坛镇"], ["督导", "浮山县"])


def check_sites(hq) -> None:
    sites = {s.name: s for s in Site.objects.select_related("area", "manager", "doctor")}
    assert {n: (s.kind, s.state, sum(s.checklist.values()), s.area.name) for n, s in sites.items()} == {
        FIXED: ("fixed", "active", 9, "县疾控中心专属网格"), HOTEL: ("hotel", "active", 9, "府前社区第一网格"),
        STATION: ("health_station", "standby", 5, "白坡村网格")}
    assert [local(sites[n].activated_at) for n in (FIXED, HOTEL)] == ["06-21 10:00", "07-13 10:50"]
    assert {n: (s.manager.username, s.doctor.username if s.doctor else None) for n, s in sites.items()} == {
        FIXED: ("quarantine", "doctor"), HOTEL: ("quarantine", "doctor"), STATION: ("quarantine", None)}
    for user in (sites[HOTEL].manager, sites[HOTEL].doctor):  # both see the sites they run
        assert all(s.area.path.startswith(user.jurisdiction.path) for s in sites.values() if s.state == "active")
    occupancy = {o.site.name: (o.rooms, o.places, o.occupied, o.free_rooms, o.cleaning)
                 for o in selectors.occupancy(hq)}
    assert occupancy == {FIXED: (30, 34, 2, 28, 0), HOTEL: (80, 88, 5, 74, 1), STATION: (24, 24, 0, 24, 0)}
    load = selectors.central_load(hq)
    assert (load.places_active, load.places_standby) == (122, 24)  # the hotel's room to disinfect still counts
    # the room left by the housemate who turned positive on 07-14 waits for disinfection; chain 1's were cleaned
    assert list(Room.objects.filter(state="cleaning").values_list("site__name", "number")) == [(HOTEL, "201")]


def check_stays_follow_the_contacts() -> None:
    """Every stay made for a contact says what the contact says (no contact under measure in a stay awaiting
    transfer ...), and the open stays are where the story puts them."""
    contacts = dict(Contact.objects.values_list("id", "state"))
    pairs = Counter()
    for ref, state in Stay.objects.exclude(source_ref="").filter(next__isnull=True).values_list("source_ref", "state"):
        contact_state = contacts[int(ref.split(":")[1])]
        assert AGREES[contact_state] == state, (ref, contact_state, state)
        pairs[(contact_state, state)] += 1
    assert pairs == {("under_measure", "active"): 13, ("notified", "awaiting_transfer"): 2,
                     ("transferred", "in_transfer"): 1, ("released", "released"): 3, ("became_case", "became_case"): 3}
    assert not Contact.objects.filter(state__in=list(AGREES)).exclude(
        id__in=[int(r.split(":")[1]) for r in Stay.objects.values_list("source_ref", flat=True)]).exists()
    open_stays = Counter(Stay.objects.filter(state__in=["awaiting_transfer", "in_transfer", "active"])
                         .values_list("site__name", "measure", "state"))
    assert open_stays == {(HOTEL, "central_quarantine", "active"): 3, (FIXED, "central_quarantine", "active"): 1,
                          (HOTEL, "central_quarantine", "awaiting_transfer"): 2,  # rooms reserved
                          (FIXED, "central_quarantine", "in_transfer"): 1, (None, "home_quarantine", "active"): 9}
    closed = Counter(Stay.objects.exclude(state__in=["awaiting_transfer", "in_transfer", "active"])
                     .values_list("measure", "state"))
    assert closed == {("central_quarantine", "released"): 3, ("home_health_monitoring", "released"): 3,
                      ("central_quarantine", "became_case"): 3}
    # the residents are at different days of their stay on the demo day
    residents = Stay.objects.filter(state="active", site__isnull=False).order_by("room__number")
    assert [(s.site.name, s.room.number, (DEMO_DATE - s.starts_on).days + 1, local(s.admitted_at))
            for s in residents] == [(FIXED, "101", 3, "07-14 13:58"), (HOTEL, "202", 2, "07-13 15:12"),
                                    (HOTEL, "203", 5, "07-13 15:38"), (HOTEL, "204", 3, "07-13 15:42")]
    # chain 1: central quarantine released on its last day, then home health monitoring, released on 07-13
    released = Stay.objects.filter(state="released").order_by("person_id", "starts_on")
    assert Counter((s.measure, str(s.ends_on), local(s.released_at), len(s.release_code)) for s in released) == {
        ("central_quarantine", "2022-07-10", "07-10 11:00", 13): 3,
        ("home_health_monitoring", "2022-07-13", "07-13 11:00", 13): 3}
    assert all(status_get(s.person_id).rule == "K2" for s in residents)  # red while in the site


def check_transfers(hq) -> None:
    runs = Transfer.objects.order_by("code")
    assert [(t.code, t.site.name, t.vehicle, t.state, t.stays.count(), t.closed_loop) for t in runs] == [
        ("ZY20220703-001", FIXED, "bus", "arrived", 4, True), ("ZY20220703-002", FIXED, "ambulance", "arrived", 1, True),
        ("ZY20220713-001", HOTEL, "bus", "arrived", 2, True), ("ZY20220713-002", HOTEL, "bus", "arrived", 2, True),
        ("ZY20220713-003", HOTEL, "ambulance", "requested", 1, None),
        ("ZY20220713-004", HOTEL, "ambulance", "requested", 1, None),
        ("ZY20220714-001", FIXED, "ambulance", "arrived", 1, True),
        ("ZY20220715-001", FIXED, "ambulance", "picked_up", 1, None)]
    for t in runs:
        times = [t.requested_at, t.picked_up_at, t.arrived_at]
        assert [x for x in times if x] == sorted(x for x in times if x)
        assert (t.due_at - t.requested_at) == dt.timedelta(hours=12)  # V9: within 12 hours
        assert t.plate.startswith("晋L·") and t.driver and t.escort
    # HQ's list: the two requested on the evening of 07-13, never picked up; the one on the road is within its limit
    assert [(t.code, local(t.due_at)) for t in selectors.transfers_overdue(hq)] == [
        ("ZY20220713-003", "07-14 09:30"), ("ZY20220713-004", "07-14 09:45")]
    on_road = Transfer.objects.get(state="picked_up")
    assert (local(on_road.picked_up_at), on_road.stays.get().state) == ("07-15 14:45", "in_transfer")
    # every admission was to the room allocate_rooms reserved, after the arrival
    for t in runs.filter(state="arrived"):
        for stay in t.stays.all():
            assert t.arrived_at < stay.admitted_at <= t.arrived_at + dt.timedelta(minutes=30)
            assert StayChange.objects.filter(stay=stay, reason=f"转运 {t.code} 已接上").exists()


def check_site_monitoring() -> None:
    doctor = User.objects.get(username="doctor")
    sites = {s.name: s.id for s in Site.objects.all()}
    rows = monitoring.day_sheet(doctor, site_id=sites[HOTEL], day=DEMO_DATE) + monitoring.day_sheet(
        doctor, site_id=sites[FIXED], day=DEMO_DATE)
    assert [(r.place, r.day_no, r.temp_am is not None, r.temp_pm is not None, r.symptoms, r.test_outcome)
            for r in rows] == [("202", 2, True, True, ["cough"], "pending"), ("203", 5, True, True, [], "pending"),
                               ("204", 3, True, True, [], "pending"), ("101", 3, True, False, [], "pending")]
    for site in (HOTEL, FIXED):  # every past day complete
        for day in (DEMO_DATE - dt.timedelta(days=2), DEMO_DATE - dt.timedelta(days=1)):
            assert all(r.complete for r in monitoring.day_sheet(doctor, site_id=sites[site], day=day))
    # no morning temperature on the day of arrival (admitted in the afternoon); 101's afternoon one not taken yet
    temps = [t for pair in DailyCheck.objects.values_list("temp_am", "temp_pm") for t in pair if t is not None]
    assert (DailyCheck.objects.count(), len(temps), sum(1 for t in temps if t >= FEVER)) == (23, 42, 1)
    assert all(Decimal("36.0") <= t <= Decimal("36.9") for t in temps if t < FEVER)
    alerts = Alert.objects.select_related("handled_by").order_by("day", "kind")
    assert [(a.kind, str(a.day), a.state, a.detail, a.handled_by.username if a.handled_by else None)
            for a in alerts] == [
        ("fever", "2022-07-14", "handled", "发热：下午体温37.6℃", "doctor"),
        ("seal", "2022-07-15", "open", "门磁异常：门磁报警：6:12开门约2分钟", None),
        ("symptom", "2022-07-15", "open", "症状：咳嗽（干咳，咽部发痒，无发热）", None)]
    assert Counter(Need.objects.values_list("kind", "state", "stay__site__name")) == {
        ("psychological", "resolved", HOTEL): 1, ("diet", "in_progress", HOTEL): 1, ("medicine", "open", FIXED): 1,
        ("daily_needs", "open", None): 1}


def check_home_quarantine(hq) -> None:
    board = home.home_board(hq, day=DEMO_DATE)
    assert len(board) == 9
    assert all(r.team_complete and len(r.team) == 5 for r in board)
    assert Counter((r.seal_kind, r.seal_state) for r in board) == {
        ("door_sensor", "intact"): 6, ("door_sensor", "opened"): 1, ("paper_seal", "intact"): 2}
    assert Counter(r.day_n for r in board) == {2: 4, 1: 5}
    assert all(len(r.visited) == 1 and r.visited[0]["present"] for r in board)  # the day's visit done
    assert Counter(HomeVisit.objects.values_list("kind", "role")) == {("daily", ""): 13,
                                                                      ("supervisor_video", "supervisor"): 1}
    team = Responsible.objects.all()
    assert Counter(team.values_list("role", flat=True)) == dict.fromkeys(
        ["village_cadre", "grid_worker", "medical", "police", "volunteer"], 9)
    assert all(len(p) == 11 and p.isdigit() for p in team.values_list("phone", flat=True))
    # the grid's own worker, one who is not under a measure (grid workers are residents of their grids)
    busy = set(Person.objects.filter(quarantine_stays__state="active").values_list("name", flat=True))
    assert not team.filter(role="grid_worker", name__in=busy).exists()
    assert team.filter(role="grid_worker").values("name").distinct().count() == 3


def check_tests() -> None:
    """One key-group round a day holding the single tubes of the people under measure: negative before the demo
    day, at the lab on it."""
    rounds = TestingRound.objects.filter(kind="key_groups").order_by("starts_at")
    assert [(r.name, r.state, r.target, r.tubes.count()) for r in rounds] == [
        ("隔离管控人员核酸检测（7月3日）", "finished", 1, 1), ("隔离管控人员核酸检测（7月4日）", "finished", 5, 5),
        ("隔离管控人员核酸检测（7月5日）", "finished", 4, 4), ("隔离管控人员核酸检测（7月6日）", "finished", 3, 3),
        ("隔离管控人员核酸检测（7月8日）", "finished", 3, 3), ("隔离管控人员核酸检测（7月10日）", "finished", 3, 3),
        ("隔离管控人员核酸检测（7月13日）", "finished", 5, 5), ("隔离管控人员核酸检测（7月14日）", "finished", 7, 7),
        ("隔离管控人员核酸检测（7月15日）", "finished", 9, 9)]
    tubes = Tube.objects.filter(round__in=rounds)
    assert Counter(tubes.values_list("pool_mode", "state", "result")) == {
        ("single", "resulted", "negative"): 31, ("single", "received", ""): 9}
    assert PersonRound.objects.filter(round__in=rounds).count() == 40


def fingerprint() -> dict:
    """The quarantine data by natural keys (names, ID numbers, codes, room numbers), independent of database ids
    (the certificates' verification codes are random by design and left out)."""
    number = dict(Person.objects.values_list("id", "id_number"))
    stays = {s.id: (number[s.person_id], s.measure, str(s.starts_on)) for s in Stay.objects.all()}
    return {
        "sites": sorted(Site.objects.values_list("name", "kind", "state", "area__code", "staff", "manager__username",
                                                 "doctor__username", "activated_at")),
        "rooms": sorted(Room.objects.values_list("site__name", "number", "floor", "capacity", "state")),
        "stays": sorted((*stays[s.id], s.category, s.state, s.anchor_date, s.ends_on, s.site.name if s.site else "",
                         s.room.number if s.room else "", s.admitted_at, s.released_at, s.seal_kind, s.seal_state,
                         s.home_address, s.source_case) for s in Stay.objects.select_related("site", "room")),
        "transfers": sorted((t.code, t.state, t.vehicle, t.plate, t.driver, t.escort, t.requested_at, t.picked_up_at,
                             t.arrived_at, tuple(sorted(number[p] for p in t.stays.values_list("person", flat=True))))
                            for t in Transfer.objects.all()),
        "checks": sorted((stays[c.stay_id], c.day, c.temp_am, c.temp_pm, tuple(c.symptoms), c.disinfected, c.reported)
                         for c in DailyCheck.objects.all()),
        "alerts": sorted((stays[a.stay_id], a.kind, a.day, a.state, a.detail, a.outcome, a.raised_at, a.handled_at)
                         for a in Alert.objects.all()),
        "needs": sorted((stays[n.stay_id], n.kind, n.state, n.detail, n.resolution, n.requested_at)
                        for n in Need.objects.all()),
        "team": sorted((stays[r.stay_id], r.role, r.name, r.phone, r.assigned_at) for r in Responsible.objects.all()),
        "visits": sorted((stays[v.stay_id], v.kind, v.at, v.role, v.seal_intact, v.deliveries_needed, v.note)
                         for v in HomeVisit.objects.all()),
        "tubes": sorted(Tube.objects.filter(round__kind="key_groups").values_list(
            "barcode", "opened_at", "resulted_at", "members__person__id_number")),
    }

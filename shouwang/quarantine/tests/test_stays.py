"""Stays from the policy's plans with exact dates (V9 close contact 7+3, V20 5+3, V9 secondary contact 7 days at
home with tests on days 1, 4 and 7), re-anchoring on a later exposure, sites that open only with their checklist
complete, rooms that hold one person (two in a family room), and release only when the days are served and every
test is negative, with the next phase started at once."""

import datetime as dt

import pytest
from django.utils import timezone

from shouwang.core.errors import DomainError
from shouwang.quarantine.enums import CHECKLIST
from shouwang.quarantine.models import Room, Stay, StayChange
from shouwang.quarantine.services import (
    StayInput,
    rooms_add,
    rooms_set_state,
    site_check,
    site_create,
    site_set_state,
    site_staff_set,
    stay_admit,
    stay_move,
    stay_reanchor,
    stay_release,
    stay_start,
)
from shouwang.status.services import status_get
from shouwang.testing.models import Tube, TubeMember
from shouwang.testing.services import RoundInput, lab_create, round_create


def on(settings, day: str) -> None:
    settings.SHOUWANG_TODAY = day


def planned_tests(stay) -> list[tuple[str, int]]:
    return [(t["date"][5:], t["day"]) for t in stay.test_days]


@pytest.fixture
def site(county, settings):
    on(settings, "2022-07-11")
    hq = county.hq
    site = site_create(actor=hq, name="城关宾馆隔离点", kind="hotel", area_id=county.grid_a.id, staff=12)
    rooms_add(actor=hq, site_id=site.id, floors={3: ["301", "302"], 4: ["401"]}, family_rooms=("401",))
    return site


def test_v9_close_contact_is_seven_days_central_then_three_days_home_monitoring(county, settings, site):
    on(settings, "2022-07-11")
    person = county.person(name="密接甲", seq=1)
    stay = stay_start(actor=county.hq, data=StayInput(person_id=person.id, category="close_contact",
                                                      anchor_date=dt.date(2022, 7, 10), source_ref="contact:1"))
    assert (stay.measure, stay.state, stay.policy_version, stay.starts_on, stay.ends_on) == (
        "central_quarantine", "awaiting_transfer", "V9", dt.date(2022, 7, 11), dt.date(2022, 7, 17))
    assert planned_tests(stay) == [("07-11", 1), ("07-12", 2), ("07-13", 3), ("07-15", 5), ("07-17", 7)]
    assert status_get(person.id).rule == "K2"  # red from the day the measure is decided


def test_v20_close_contact_is_five_days_central_then_three_days_home_quarantine(county, settings):
    on(settings, "2022-11-15")
    person = county.person(name="密接乙", seq=2)
    stay = stay_start(actor=county.hq, data=StayInput(person_id=person.id, category="close_contact",
                                                      anchor_date=dt.date(2022, 11, 14)))
    assert (stay.measure, stay.policy_version, stay.starts_on, stay.ends_on) == (
        "central_quarantine", "V20", dt.date(2022, 11, 15), dt.date(2022, 11, 19))
    assert planned_tests(stay) == [("11-15", 1), ("11-16", 2), ("11-17", 3), ("11-19", 5)]


def test_v9_secondary_contact_is_seven_days_at_home_with_tests_on_days_one_four_and_seven(county, settings):
    on(settings, "2022-07-11")
    person = county.person(name="次密丙", seq=3)
    stay = stay_start(actor=county.hq, data=StayInput(person_id=person.id, category="secondary_contact",
                                                      anchor_date=dt.date(2022, 7, 10), home_address="1-101"))
    assert (stay.measure, stay.state, stay.starts_on, stay.ends_on, stay.home_address) == (
        "home_quarantine", "active", dt.date(2022, 7, 11), dt.date(2022, 7, 17), "1-101")
    assert planned_tests(stay) == [("07-11", 1), ("07-14", 4), ("07-17", 7)]
    with pytest.raises(DomainError) as twice:
        stay_start(actor=county.hq, data=StayInput(person_id=person.id, category="close_contact",
                                                   anchor_date=dt.date(2022, 7, 10)))
    assert (twice.value.code, twice.value.status) == ("stay_open", 409)


def test_a_later_exposure_re_anchors_the_stay_and_keeps_the_history(county, settings, site):
    on(settings, "2022-07-12")
    person = county.person(name="密接丁", seq=4)
    stay = stay_start(actor=county.hq, data=StayInput(person_id=person.id, category="close_contact",
                                                      anchor_date=dt.date(2022, 7, 10)))
    with pytest.raises(DomainError) as earlier:
        stay_reanchor(actor=county.hq, stay_id=stay.id, anchor_date=dt.date(2022, 7, 9), reason="x")
    assert earlier.value.code == "not_later"
    stay = stay_reanchor(actor=county.hq, stay_id=stay.id, anchor_date=dt.date(2022, 7, 12),
                         reason="第二例病例的密接，末次暴露 07-12")
    assert (stay.anchor_date, stay.starts_on, stay.ends_on) == (
        dt.date(2022, 7, 12), dt.date(2022, 7, 13), dt.date(2022, 7, 19))
    change = StayChange.objects.filter(stay=stay, kind="reanchored").get()
    assert (change.before["ends_on"], change.after["ends_on"], change.reason) == (
        "2022-07-17", "2022-07-19", "第二例病例的密接，末次暴露 07-12")


def test_a_site_opens_only_with_its_checklist_and_rooms_hold_one_or_a_family(county, settings, site):
    hq = county.hq
    site_set_state(actor=hq, site_id=site.id, state="activating")
    site_check(actor=hq, site_id=site.id, items={"clean_zone": True, "buffer_zone": True})
    with pytest.raises(DomainError) as incomplete:
        site_set_state(actor=hq, site_id=site.id, state="active")
    assert (incomplete.value.code, len(incomplete.value.details)) == ("checklist_incomplete", 7)
    site_check(actor=hq, site_id=site.id, items=dict.fromkeys(CHECKLIST, True))
    site_set_state(actor=hq, site_id=site.id, state="active")
    people = [county.person(name=f"隔离{i}", seq=10 + i) for i in range(4)]
    stays = [stay_start(actor=hq, data=StayInput(person_id=p.id, category="close_contact",
                                                 anchor_date=dt.date(2022, 7, 10))) for p in people]
    rooms = {r.number: r for r in Room.objects.filter(site=site)}
    stay_admit(actor=hq, stay_id=stays[0].id, room_id=rooms["301"].id)
    with pytest.raises(DomainError) as taken:
        stay_admit(actor=hq, stay_id=stays[1].id, room_id=rooms["301"].id)
    assert (taken.value.code, taken.value.field) == ("room_taken", "room_id")
    stay_admit(actor=hq, stay_id=stays[1].id, room_id=rooms["401"].id)
    stay_admit(actor=hq, stay_id=stays[2].id, room_id=rooms["401"].id)  # a family room takes two
    with pytest.raises(DomainError):
        stay_admit(actor=hq, stay_id=stays[3].id, room_id=rooms["401"].id)
    stay_move(actor=hq, stay_id=stays[0].id, room_id=rooms["302"].id, reason="空调故障")
    assert dict(Room.objects.filter(site=site).values_list("number", "state")) == {
        "301": "cleaning", "302": "occupied", "401": "occupied"}
    with pytest.raises(DomainError) as busy:
        site_set_state(actor=hq, site_id=site.id, state="closing")
        site_set_state(actor=hq, site_id=site.id, state="closed")
    assert busy.value.code == "site_in_use"
    # the room left behind is disinfected and free again; a room in use does not change by hand
    with pytest.raises(DomainError) as in_use:
        rooms_set_state(actor=hq, site_id=site.id, room_ids=[rooms["301"].id, rooms["302"].id], state="free")
    assert (in_use.value.code, in_use.value.message_zh) == (
        "bad_transition", "房间 302 有人入住、已预留或不能改为“空闲”")
    assert Room.objects.get(id=rooms["301"].id).state == "cleaning"  # all or nothing
    with pytest.raises(DomainError) as why:
        rooms_set_state(actor=hq, site_id=site.id, room_ids=[rooms["301"].id], state="out_of_service")
    assert why.value.field == "reason"
    assert rooms_set_state(actor=hq, site_id=site.id, room_ids=[rooms["301"].id], state="free") == 1
    assert Room.objects.get(id=rooms["301"].id).state == "free"


def negative_tube(county, person, day: dt.date, barcode: str, result: str = "negative"):
    """A single tube for the person sampled that day, resulted as given (written as the lab flow would)."""
    when = timezone.make_aware(dt.datetime.combine(day, dt.time(8)))
    rnd = round_create(actor=county.hq, data=RoundInput(name=f"隔离点检测{barcode}", area_ids=[county.grid_a.id],
                                                        starts_at=when, deadline=when + dt.timedelta(hours=12)))
    lab = lab_create(actor=county.hq, name=f"实验室{barcode}", area_id=county.county.id)
    tube = Tube.objects.create(barcode=barcode, round=rnd, pool_mode="single", pool_size=1, state="resulted",
                               opened_at=when, lab=lab, result=result, resulted_at=when)
    TubeMember.objects.create(tube=tube, round=rnd, person=person, position=1, added_at=when)


def test_release_needs_the_days_served_and_every_test_negative_and_starts_the_next_phase(county, settings, site):
    hq = county.hq
    site_set_state(actor=hq, site_id=site.id, state="activating")
    site_check(actor=hq, site_id=site.id, items=dict.fromkeys(CHECKLIST, True))
    site_set_state(actor=hq, site_id=site.id, state="active")
    person = county.person(name="密接戊", seq=20)
    stay = stay_start(actor=hq, data=StayInput(person_id=person.id, category="close_contact",
                                               anchor_date=dt.date(2022, 7, 10)))
    room = Room.objects.get(site=site, number="301")
    stay_admit(actor=hq, stay_id=stay.id, room_id=room.id)
    on(settings, "2022-07-16")
    with pytest.raises(DomainError) as early:
        stay_release(actor=hq, stay_id=stay.id)
    assert early.value.code == "days_not_served"
    on(settings, "2022-07-17")
    for i, day in enumerate((11, 12, 13, 15)):
        negative_tube(county, person, dt.date(2022, 7, day), f"Q{i}")
    with pytest.raises(DomainError) as missing:
        stay_release(actor=hq, stay_id=stay.id)
    assert (missing.value.code, missing.value.details) == (
        "tests_missing", [{"date": "2022-07-17", "kind": "pcr", "outcome": "missing"}])
    negative_tube(county, person, dt.date(2022, 7, 17), "Q9")
    done = stay_release(actor=hq, stay_id=stay.id)
    assert (done.stay.state, len(done.stay.release_code)) == ("released", 13)
    nxt = done.next_stay
    assert (nxt.measure, nxt.state, nxt.starts_on, nxt.ends_on, planned_tests(nxt), nxt.previous_id) == (
        "home_health_monitoring", "active", dt.date(2022, 7, 18), dt.date(2022, 7, 20), [("07-20", 3)], stay.id)
    assert Room.objects.get(id=room.id).state == "cleaning"
    assert Stay.objects.filter(person=person).count() == 2
    assert status_get(person.id).rule == "K4"  # yellow: home health monitoring


def test_a_positive_test_blocks_the_release(county, settings, site):
    hq = county.hq
    on(settings, "2022-07-11")
    person = county.person(name="次密己", seq=21)
    stay = stay_start(actor=hq, data=StayInput(person_id=person.id, category="secondary_contact",
                                               anchor_date=dt.date(2022, 7, 10)))
    on(settings, "2022-07-17")
    negative_tube(county, person, dt.date(2022, 7, 11), "S1")
    negative_tube(county, person, dt.date(2022, 7, 14), "S2", result="positive")
    negative_tube(county, person, dt.date(2022, 7, 17), "S3")
    with pytest.raises(DomainError) as positive:
        stay_release(actor=hq, stay_id=stay.id)
    assert (positive.value.code, [d["outcome"] for d in positive.value.details]) == ("positive_test", ["positive"])


def test_allocation_keeps_households_on_a_floor_floors_per_source_case_and_a_child_with_a_carer(county, settings):
    from shouwang.areas.services import household_get_or_create
    from shouwang.quarantine.selectors import occupancy
    from shouwang.quarantine.services import allocate_rooms

    on(settings, "2022-07-11")
    hq = county.hq
    site = site_create(actor=hq, name="县党校隔离点", kind="fixed", area_id=county.grid_a.id, staff=1,
                       persons_per_staff=6)
    rooms_add(actor=hq, site_id=site.id, floors={2: ["201", "202", "203"], 3: ["301", "302", "303"],
                                                 4: ["401"]}, family_rooms=("302",))
    site_set_state(actor=hq, site_id=site.id, state="activating")
    site_check(actor=hq, site_id=site.id, items=dict.fromkeys(CHECKLIST, True))
    site_set_state(actor=hq, site_id=site.id, state="active")
    family = household_get_or_create(area=county.building_a, room="2-201")
    mother = county.person(name="母亲", seq=31, household=family, area=county.building_a, birth=dt.date(1990, 1, 1))
    child = county.person(name="孩子", seq=32, household=family, area=county.building_a, birth=dt.date(2015, 5, 1))
    father = county.person(name="父亲", seq=33, household=family, area=county.building_a, birth=dt.date(1988, 1, 1))
    a1, a2 = (county.person(name=f"甲案{i}", seq=40 + i) for i in range(2))
    b1 = county.person(name="乙案1", seq=50)
    extra = county.person(name="超员", seq=51)

    def start(p, case):
        return stay_start(actor=hq, data=StayInput(person_id=p.id, category="close_contact",
                                                   anchor_date=dt.date(2022, 7, 10), source_case=case)).id

    ids = [start(p, "BL-A") for p in (mother, child, father, a1, a2)] + [start(b1, "BL-B"), start(extra, "BL-B")]
    got = allocate_rooms(actor=hq, stay_ids=ids)
    rooms = {Stay.objects.get(id=p.stay_id).person.name: (p.floor, p.number) for p in got.placed}
    assert rooms == {"孩子": (3, "302"), "母亲": (3, "302"), "父亲": (3, "301"), "甲案0": (3, "303"),
                     "甲案1": (2, "201"), "乙案1": (4, "401")}  # the staff's capacity (1 x 6) stops the seventh
    assert got.unplaced == [{"stay_id": ids[-1], "reason": "no_room"}]
    with pytest.raises(DomainError) as partial:
        allocate_rooms(actor=hq, stay_ids=ids, apply=True)
    assert partial.value.code == "not_all_placed"
    done = allocate_rooms(actor=hq, stay_ids=ids[:-1], apply=True)
    assert (len(done.placed), Stay.objects.filter(room__isnull=False).count()) == (6, 6)
    reserved = StayChange.objects.get(stay_id=ids[0], kind="moved")
    assert (reserved.reason, reserved.after["room"]) == (f"预留 {site.name} 302",
                                                         Room.objects.get(site=site, number="302").id)
    stay_admit(actor=hq, stay_id=ids[0], room_id=Room.objects.get(site=site, number="302").id)  # as reserved
    (occ,) = occupancy(hq)
    assert (occ.rooms, occ.places, occ.occupied, occ.free_rooms, occ.cleaning) == (7, 8, 6, 2, 0)


def test_a_transfer_runs_point_to_point_within_the_policy_limit_and_is_checked_closed_loop(county, settings, site,
                                                                                           monkeypatch):
    from shouwang.core import clock
    from shouwang.quarantine.selectors import transfers_overdue
    from shouwang.quarantine.services import transfer_arrive, transfer_pickup, transfer_request

    hq = county.hq
    site_set_state(actor=hq, site_id=site.id, state="activating")
    site_check(actor=hq, site_id=site.id, items=dict.fromkeys(CHECKLIST, True))
    site_set_state(actor=hq, site_id=site.id, state="active")
    people = [county.person(name=f"转运{i}", seq=60 + i) for i in range(2)]
    ids = [stay_start(actor=hq, data=StayInput(person_id=p.id, category="close_contact",
                                               anchor_date=dt.date(2022, 7, 10))).id for p in people]
    with pytest.raises(DomainError) as bad:
        transfer_request(actor=hq, stay_ids=ids, site_id=site.id, pickup_address=" ", vehicle="bus")
    assert bad.value.field == "pickup_address"
    moment = {"now": timezone.make_aware(dt.datetime(2022, 7, 11, 9))}
    monkeypatch.setattr(clock, "now", lambda: moment["now"])
    run = transfer_request(actor=hq, stay_ids=ids, site_id=site.id, pickup_address="幸福小区1号楼", vehicle="bus",
                           plate="晋L·12345", driver="王师傅")
    assert (run.code, (run.due_at - run.requested_at).total_seconds() / 3600) == ("ZY20220711-001", 12)
    with pytest.raises(DomainError) as twice:
        transfer_request(actor=hq, stay_ids=ids[:1], site_id=site.id, pickup_address="x", vehicle="bus")
    assert twice.value.code == "already_requested"
    # a run not picked up can be cancelled with a reason; its people can then get another run
    from shouwang.quarantine.services import transfer_cancel
    with pytest.raises(DomainError) as no_reason:
        transfer_cancel(actor=hq, transfer_id=run.id, reason="")
    assert no_reason.value.field == "reason"
    transfer_cancel(actor=hq, transfer_id=run.id, reason="车辆故障，改派")
    run = transfer_request(actor=hq, stay_ids=ids, site_id=site.id, pickup_address="幸福小区1号楼", vehicle="bus",
                           plate="晋L·12345", driver="王师傅")
    assert run.code == "ZY20220711-002"
    assert transfers_overdue(hq, now=run.requested_at + dt.timedelta(hours=12, minutes=1)) == [run]
    moment["now"] = run.requested_at + dt.timedelta(hours=2)
    transfer_pickup(actor=hq, transfer_id=run.id, at=run.requested_at + dt.timedelta(hours=1))
    assert set(Stay.objects.filter(id__in=ids).values_list("state", flat=True)) == {"in_transfer"}
    with pytest.raises(DomainError) as backwards:
        transfer_arrive(actor=hq, transfer_id=run.id, at=run.requested_at + dt.timedelta(minutes=30))
    assert (backwards.value.code, backwards.value.field) == ("before_departure", "arrived_at")
    done = transfer_arrive(actor=hq, transfer_id=run.id, at=run.requested_at + dt.timedelta(hours=1, minutes=40))
    assert (done.state, done.closed_loop) == ("arrived", False)  # no escort recorded: not closed-loop
    stay_admit(actor=hq, stay_id=ids[0], room_id=Room.objects.get(site=site, number="301").id)
    assert Stay.objects.get(id=ids[0]).state == "active"


def test_a_site_gets_its_manager_and_doctor_from_logins_that_cover_it(county, site):
    manager = county.user("quarantine_manager", county.township_a)
    doctor = county.user("quarantine_manager", county.village_a, username="doctor_a")
    elsewhere = county.user("quarantine_manager", county.township_b)
    with pytest.raises(DomainError) as far:
        site_staff_set(actor=county.hq, site_id=site.id, manager_id=elsewhere.id, doctor_id=None, staff=12,
                       persons_per_staff=10)
    assert (far.value.field, far.value.code) == ("manager_id", "not_in_jurisdiction")
    done = site_staff_set(actor=county.hq, site_id=site.id, manager_id=manager.id, doctor_id=doctor.id, staff=8,
                          persons_per_staff=12)
    assert (done.manager, done.doctor, done.staff, done.persons_per_staff) == (manager, doctor, 8, 12)
    with pytest.raises(DomainError) as zero:
        site_staff_set(actor=county.hq, site_id=site.id, manager_id=None, doctor_id=None, staff=8,
                       persons_per_staff=0)
    assert zero.value.field == "persons_per_staff"

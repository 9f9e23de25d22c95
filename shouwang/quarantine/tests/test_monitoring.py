"""Daily monitoring: two temperatures filling one row, a fever or a symptom raising one alert per kind and day, the
limits of an entry (temperature range, the stay's days, an active stay, the jurisdiction), the day sheet with the
test due and its outcome from the testing domain, missing entries (computed on read and flagged by the cron job),
alerts handled and needs through their states."""

import datetime as dt
import io
from decimal import Decimal

import pytest
from django.core.management import call_command
from django.utils import timezone

from shouwang.accounts.enums import Role
from shouwang.core.errors import DomainError
from shouwang.core.models import AuditEvent
from shouwang.quarantine.enums import CHECKLIST
from shouwang.quarantine.models import Alert, DailyCheck, Need, Room, Stay
from shouwang.quarantine.monitoring import (
    alert_handle,
    alerts_open,
    check_record,
    day_sheet,
    flag_missing,
    need_add,
    need_update,
    needs_list,
    site_monitoring_summary,
)
from shouwang.quarantine.services import (
    StayInput,
    rooms_add,
    site_check,
    site_create,
    site_set_state,
    stay_admit,
    stay_start,
)
from shouwang.testing.models import Tube, TubeMember
from shouwang.testing.services import RoundInput, lab_create, round_create


def on(settings, day: str) -> None:
    settings.SHOUWANG_TODAY = day


def at(day: int, hour: int, minute: int = 0) -> dt.datetime:
    return timezone.make_aware(dt.datetime(2022, 7, day, hour, minute))


def open_site(county, name="城关宾馆隔离点", rooms=("301", "302", "303")):
    """An active site in grid A with rooms on the third floor (07-11, through the real services)."""
    hq = county.hq
    site = site_create(actor=hq, name=name, kind="hotel", area_id=county.grid_a.id, staff=12)
    rooms_add(actor=hq, site_id=site.id, floors={3: list(rooms)})
    site_set_state(actor=hq, site_id=site.id, state="activating")
    site_check(actor=hq, site_id=site.id, items=dict.fromkeys(CHECKLIST, True))
    site_set_state(actor=hq, site_id=site.id, state="active")
    return site


def admit(county, site, name: str, seq: int, room: str) -> Stay:
    """A V9 close contact (exposure 07-10: days 07-11..07-17, tests on days 1, 2, 3, 5, 7) admitted on 07-11 at
    15:00 (the business clock of the tests)."""
    person = county.person(name=name, seq=seq)
    stay = stay_start(actor=county.hq, data=StayInput(person_id=person.id, category="close_contact",
                                                      anchor_date=dt.date(2022, 7, 10)))
    return stay_admit(actor=county.hq, stay_id=stay.id, room_id=Room.objects.get(site=site, number=room).id)


def tube_for(county, person, day: dt.date, barcode: str, result: str = "negative"):
    """A single tube for the person sampled at 08:00 that day, resulted as given ("" = still at the lab)."""
    when = timezone.make_aware(dt.datetime.combine(day, dt.time(8)))
    rnd = round_create(actor=county.hq, data=RoundInput(name=f"隔离点检测{barcode}", area_ids=[county.grid_a.id],
                                                        starts_at=when, deadline=when + dt.timedelta(hours=12)))
    lab = lab_create(actor=county.hq, name=f"实验室{barcode}", area_id=county.county.id)
    tube = Tube.objects.create(barcode=barcode, round=rnd, pool_mode="single", pool_size=1,
                               state="resulted" if result else "received", opened_at=when, lab=lab, result=result,
                               resulted_at=when if result else None)
    TubeMember.objects.create(tube=tube, round=rnd, person=person, position=1, added_at=when)


@pytest.fixture
def ward(county, settings):
    """城关宾馆隔离点 with 隔离甲 in 301 and 隔离乙 in 302, admitted 07-11 15:00; the site's doctor is a quarantine
    manager of the village."""
    on(settings, "2022-07-11")
    site = open_site(county)
    doctor = county.user(Role.QUARANTINE_MANAGER, county.village_a, username="doctor-a")
    site.doctor = doctor
    site.save(update_fields=["doctor"])
    return {"site": site, "doctor": doctor, "a": admit(county, site, "隔离甲", 1, "301"),
            "b": admit(county, site, "隔离乙", 2, "302")}


def test_a_fever_in_the_afternoon_raises_one_alert_and_the_two_entries_fill_one_row(county, settings, ward):
    on(settings, "2022-07-12")
    doctor, stay = ward["doctor"], ward["a"]
    check_record(actor=doctor, stay_id=stay.id, temp_am="36.5", disinfected=True)
    assert Alert.objects.count() == 0
    check = check_record(actor=doctor, stay_id=stay.id, temp_pm="37.6")  # at 15:00
    assert (check.day, check.temp_am, check.temp_pm, check.disinfected, check.reported) == (
        dt.date(2022, 7, 12), Decimal("36.5"), Decimal("37.6"), True, False)
    alert = Alert.objects.get()
    assert (alert.kind, alert.day, alert.detail, alert.state, alert.site_id, alert.stay_id) == (
        "fever", dt.date(2022, 7, 12), "发热：下午体温37.6℃", "open", ward["site"].id, stay.id)
    assert timezone.localtime(alert.raised_at).strftime("%m-%d %H:%M") == "07-12 15:00"
    audits = AuditEvent.objects.filter(object_type="quarantine.dailycheck").count()
    again = check_record(actor=doctor, stay_id=stay.id, temp_pm=37.6)  # the request retried
    assert (again.id, DailyCheck.objects.count(), Alert.objects.count()) == (check.id, 1, 1)
    assert AuditEvent.objects.filter(object_type="quarantine.dailycheck").count() == audits  # nothing changed
    check_record(actor=doctor, stay_id=stay.id, symptoms=["cough", "sore_throat"])
    assert sorted(Alert.objects.values_list("kind", "detail")) == [
        ("fever", "发热：下午体温37.6℃"), ("symptom", "症状：咳嗽、咽痛")]
    assert DailyCheck.objects.get().temp_pm == Decimal("37.6")  # symptoms alone leave the temperatures


def test_an_entry_out_of_range_or_out_of_the_stay_is_refused(county, settings, ward):
    on(settings, "2022-07-12")
    doctor, stay = ward["doctor"], ward["a"]
    with pytest.raises(DomainError) as hot:
        check_record(actor=doctor, stay_id=stay.id, temp_pm="43.5")
    assert (hot.value.field, hot.value.code, hot.value.message_zh) == (
        "temp_pm", "out_of_range", "体温应在 34.0–43.0℃ 之间，保留一位小数")
    with pytest.raises(DomainError) as two_decimals:
        check_record(actor=doctor, stay_id=stay.id, temp_am="36.55")
    assert (two_decimals.value.field, two_decimals.value.code) == ("temp_am", "out_of_range")
    with pytest.raises(DomainError) as text:
        check_record(actor=doctor, stay_id=stay.id, temp_am="正常")
    assert (text.value.field, text.value.code) == ("temp_am", "invalid")
    with pytest.raises(DomainError) as empty:
        check_record(actor=doctor, stay_id=stay.id, temp_am="", reported=False)
    assert (empty.value.field, empty.value.code) == ("check", "empty")
    with pytest.raises(DomainError) as symptom:
        check_record(actor=doctor, stay_id=stay.id, symptoms=["sneeze"])
    assert symptom.value.field == "symptoms"
    with pytest.raises(DomainError) as future:
        check_record(actor=doctor, stay_id=stay.id, day=dt.date(2022, 7, 13), temp_am="36.5")
    assert (future.value.field, future.value.code) == ("day", "in_future")
    with pytest.raises(DomainError) as before:
        check_record(actor=doctor, stay_id=stay.id, day=dt.date(2022, 7, 10), temp_am="36.5")
    assert (before.value.field, before.value.code) == ("day", "out_of_stay")
    on(settings, "2022-07-19")  # still active two days after its last day (07-17): not released yet
    with pytest.raises(DomainError) as after:
        check_record(actor=doctor, stay_id=stay.id, day=dt.date(2022, 7, 18), temp_am="36.5")
    assert (after.value.field, after.value.code, after.value.message_en) == (
        "day", "out_of_stay", "the day must be within the stay (2022-07-11 to 2022-07-17)")
    assert DailyCheck.objects.count() == 0 and Alert.objects.count() == 0


def test_a_released_stay_and_another_townships_user_cannot_record(county, settings, ward):
    on(settings, "2022-07-12")
    Stay.objects.filter(id=ward["b"].id).update(state="released")
    with pytest.raises(DomainError) as released:
        check_record(actor=ward["doctor"], stay_id=ward["b"].id, temp_am="36.5")
    assert (released.value.code, released.value.status, released.value.field) == (
        "stay_not_active", 409, "stay_id")
    stranger = county.user(Role.TOWNSHIP, county.township_b, username="town-b")
    with pytest.raises(DomainError) as elsewhere:
        check_record(actor=stranger, stay_id=ward["a"].id, temp_am="36.5")
    assert (elsewhere.value.code, elsewhere.value.status) == ("not_found", 404)
    supervisor = county.user(Role.SUPERVISOR, county.county, username="supervisor-1")  # may look, not record
    with pytest.raises(DomainError) as role:
        check_record(actor=supervisor, stay_id=ward["a"].id, temp_am="36.5")
    assert role.value.code == "permission_denied"
    assert DailyCheck.objects.count() == 0


def test_the_day_sheet_shows_the_day_three_test_and_its_outcome(county, settings, ward):
    c = admit(county, ward["site"], "隔离丙", 3, "303")
    on(settings, "2022-07-13")
    tube_for(county, ward["a"].person, dt.date(2022, 7, 13), "Q1")
    tube_for(county, c.person, dt.date(2022, 7, 13), "Q2", result="")  # at the lab
    check_record(actor=ward["doctor"], stay_id=ward["a"].id, temp_am="36.4", temp_pm="36.6")
    rows = day_sheet(ward["doctor"], site_id=ward["site"].id, day=dt.date(2022, 7, 13), now=at(13, 15))
    assert [(r.place, r.name, r.day_no, r.test, r.test_outcome) for r in rows] == [
        ("301", "隔离甲", 3, {"date": "2022-07-13", "day": 3, "kind": "pcr"}, "negative"),
        ("302", "隔离乙", 3, {"date": "2022-07-13", "day": 3, "kind": "pcr"}, "missing"),
        ("303", "隔离丙", 3, {"date": "2022-07-13", "day": 3, "kind": "pcr"}, "pending"),
    ]
    number = rows[0].stay.person.id_number
    assert (rows[0].temp_am, rows[0].temp_pm, rows[0].id_number) == (
        Decimal("36.4"), Decimal("36.6"), number[:4] + "**********" + number[-4:])
    assert [r.missing for r in rows] == [(), ("am",), ("am",)]  # 15:00: the morning is owed, not the afternoon
    summary = site_monitoring_summary(ward["doctor"], ward["site"].id, dt.date(2022, 7, 13))
    assert (summary.people, summary.tests_due, summary.tests_done, summary.tests_pending, summary.tests_missing,
            summary.complete, summary.fevers) == (3, 3, 1, 1, 1, 1, 0)
    on(settings, "2022-07-14")  # day 4: no test
    rows = day_sheet(ward["doctor"], site_id=ward["site"].id, day=dt.date(2022, 7, 14))
    assert [(r.test, r.test_outcome) for r in rows] == [(None, "")] * 3


def test_the_day_sheet_reads_in_a_constant_number_of_queries(county, settings, ward, django_assert_num_queries):
    on(settings, "2022-07-14")  # no test due on day 4
    for stay in (ward["a"], ward["b"]):
        check_record(actor=ward["doctor"], stay_id=stay.id, temp_am="38.1", symptoms=["fatigue"])
    need_add(actor=ward["doctor"], stay_id=ward["a"].id, kind="diet", detail="清真餐")
    with django_assert_num_queries(5):
        two = day_sheet(ward["doctor"], site_id=ward["site"].id, day=dt.date(2022, 7, 14))
    admit(county, ward["site"], "隔离丙", 3, "303")
    with django_assert_num_queries(5):
        three = day_sheet(ward["doctor"], site_id=ward["site"].id, day=dt.date(2022, 7, 14))
    assert (len(two), len(three)) == (2, 3)
    # day 3 (丙 was admitted on the 14th, not there yet): the PCR tests due read in one query, however many
    with django_assert_num_queries(6):
        due = day_sheet(ward["doctor"], site_id=ward["site"].id, day=dt.date(2022, 7, 13))
    assert [r.test["day"] for r in due] == [3, 3]
    assert [([a.kind for a in r.alerts], r.open_needs, r.fever) for r in three] == [
        (["fever", "symptom"], 1, True), (["fever", "symptom"], 0, True), ([], 0, False)]


def test_missing_entries_by_the_clock_and_the_cron_job(county, settings, ward):
    doctor, a, b = ward["doctor"], ward["a"], ward["b"]
    on(settings, "2022-07-12")
    day = dt.date(2022, 7, 12)
    assert flag_missing(day=day, now=at(12, 9, 59)) == 0  # nothing is owed before 10:00
    check_record(actor=doctor, stay_id=a.id, temp_am="36.5")
    assert flag_missing(day=day, now=at(12, 10, 30)) == 1  # b's morning temperature
    assert Alert.objects.get().detail == "漏报：上午体温"
    assert flag_missing(day=day, now=at(12, 10, 45)) == 0  # one alert per stay and day
    rows = day_sheet(doctor, site_id=ward["site"].id, day=day, now=at(12, 18, 30))
    assert [r.missing for r in rows] == [("pm",), ("am", "pm")]
    assert flag_missing(day=day, now=at(12, 18, 30)) == 1  # a's afternoon; b's alert brought up to date
    assert dict(Alert.objects.values_list("stay_id", "detail")) == {a.id: "漏报：下午体温",
                                                                   b.id: "漏报：上午体温、下午体温"}
    # The day before (day 1): admitted at 15:00, so the morning was not owed; the report is owed for a past day.
    assert [r.missing for r in day_sheet(doctor, site_id=ward["site"].id, day=dt.date(2022, 7, 11))] == [
        ("pm", "report"), ("pm", "report")]
    out = io.StringIO()
    call_command("quarantine_flag_missing", "--day", "2022-07-11", stdout=out)
    assert out.getvalue() == "2022-07-11：新增漏报预警 2 条 MISSING alerts raised: 2\n"
    assert Alert.objects.filter(day=dt.date(2022, 7, 11), kind="missing").count() == 2
    check_record(actor=doctor, stay_id=a.id, day=dt.date(2022, 7, 11), temp_pm="36.7", reported=True)
    closed = Alert.objects.get(stay=a, day=dt.date(2022, 7, 11))
    assert (closed.state, closed.outcome, closed.handled_by_id) == ("handled", "已补录", doctor.id)
    assert Alert.objects.get(stay=b, day=dt.date(2022, 7, 11)).state == "open"


def test_the_home_sheet_lists_the_home_stays_of_the_jurisdiction(county, settings, ward):
    on(settings, "2022-07-11")
    person = county.person(name="居家丁", seq=4)
    home = stay_start(actor=county.hq, data=StayInput(person_id=person.id, category="secondary_contact",
                                                      anchor_date=dt.date(2022, 7, 10), home_address="幸福小区1-101"))
    on(settings, "2022-07-14")  # day 4 of 7: a test (tests on days 1, 4, 7)
    village = county.user(Role.VILLAGE, county.village_a, username="village-a")
    check_record(actor=village, stay_id=home.id, temp_am="36.6")
    rows = day_sheet(village, day=dt.date(2022, 7, 14))
    assert [(r.place, r.name, r.day_no, r.test["day"], r.test_outcome, r.temp_am) for r in rows] == [
        ("幸福小区1-101", "居家丁", 4, 4, "missing", Decimal("36.6"))]
    assert day_sheet(county.user(Role.VILLAGE, county.village_b, username="village-b"), day=dt.date(2022, 7, 14)) == []
    with pytest.raises(DomainError) as other_site:
        day_sheet(county.user(Role.VILLAGE, county.village_b, username="village-b"), site_id=ward["site"].id,
                  day=dt.date(2022, 7, 14))
    assert other_site.value.code == "not_found"


def test_the_doctor_handles_an_alert_with_an_outcome(county, settings, ward):
    on(settings, "2022-07-12")
    doctor = ward["doctor"]
    check_record(actor=doctor, stay_id=ward["a"].id, temp_pm="37.8")
    alert = Alert.objects.get()
    assert [x.id for x in alerts_open(doctor)] == [alert.id]
    with pytest.raises(DomainError) as empty:
        alert_handle(actor=doctor, alert_id=alert.id, outcome="  ")
    assert (empty.value.field, empty.value.code) == ("outcome", "required")
    with pytest.raises(DomainError) as elsewhere:
        alert_handle(actor=county.user(Role.TOWNSHIP, county.township_b, username="town-b"), alert_id=alert.id,
                     outcome="x")
    assert elsewhere.value.code == "not_found"
    done = alert_handle(actor=doctor, alert_id=alert.id, outcome="复测36.8，观察")
    assert (done.state, done.outcome, done.handled_by_id) == ("handled", "复测36.8，观察", doctor.id)
    assert alerts_open(doctor) == []
    with pytest.raises(DomainError) as twice:
        alert_handle(actor=doctor, alert_id=alert.id, outcome="again")
    assert twice.value.code == "already_handled"
    check_record(actor=doctor, stay_id=ward["a"].id, temp_pm="37.8")  # the same reading sent again
    assert Alert.objects.get().state == "handled"
    check_record(actor=doctor, stay_id=ward["a"].id, temp_pm="38.2")  # worse: the same alert opens again
    alert.refresh_from_db()
    assert (Alert.objects.count(), alert.state, alert.detail) == (1, "open", "发热：下午体温38.2℃")


def test_a_need_moves_forward_to_its_resolution(county, settings, ward):
    on(settings, "2022-07-12")
    doctor, stay = ward["doctor"], ward["a"]
    with pytest.raises(DomainError) as blank:
        need_add(actor=doctor, stay_id=stay.id, kind="medicine", detail="")
    assert blank.value.field == "detail"
    need = need_add(actor=doctor, stay_id=stay.id, kind="medicine", detail="降压药（硝苯地平）3天量")
    other = need_add(actor=doctor, stay_id=ward["b"].id, kind="psychological", detail="焦虑失眠，请求心理疏导")
    assert (need.state, need.created_by_id) == ("open", doctor.id)
    with pytest.raises(DomainError) as no_resolution:
        need_update(actor=doctor, need_id=need.id, state="resolved")
    assert (no_resolution.value.field, no_resolution.value.code) == ("resolution", "required")
    need_update(actor=doctor, need_id=need.id, state="in_progress")
    with pytest.raises(DomainError) as backwards:
        need_update(actor=doctor, need_id=need.id, state="open")
    assert (backwards.value.code, backwards.value.field) == ("bad_transition", "state")
    done = need_update(actor=doctor, need_id=need.id, state="resolved", resolution="社区医生已送药")
    assert (done.state, done.resolution, done.resolved_by_id, done.resolved_at is not None) == (
        "resolved", "社区医生已送药", doctor.id, True)
    assert [(n.id, n.state) for n in needs_list(doctor)] == [(other.id, "open"), (need.id, "resolved")]
    assert [n.id for n in needs_list(doctor, state="open", site_id=ward["site"].id)] == [other.id]
    assert needs_list(county.user(Role.TOWNSHIP, county.township_b, username="town-b")) == []
    assert Need.objects.count() == 2

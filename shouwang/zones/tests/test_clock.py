"""The zone clock with exact dates: a V9 high-risk zone whose last case is on day 0 (2022-07-11) may become medium
after 7 clean days and a negative round on day 7 (07-18), low 3 days later (07-21); a new case on day 5 restarts
the clock; a case found in central quarantine does not where the policy excludes it; V20 lifts a building after 5
quiet days. Residents' status follows each step."""

import datetime as dt
from io import StringIO

import pytest
from django.core.management import call_command

from shouwang.core.errors import DomainError
from shouwang.status.services import status_get
from shouwang.zones.models import ZoneChange
from shouwang.zones.selectors import hq_daily, zone_clock
from shouwang.zones.services import (
    CaseRef,
    zone_approve,
    zone_case_record,
    zone_case_withdraw,
    zone_downgrade,
    zone_for_case,
    zone_lift,
    zone_propose,
    zones_refresh,
)
from shouwang.zones.tests.conftest import D, on, screening

DAY0 = "2022-07-11"


@pytest.fixture
def high(world, settings):
    """幸福小区 designated high on day 0 for a case found there that day."""
    on(settings, DAY0)
    hq = world.county.hq
    zone = zone_propose(actor=hq, kind="high", area_ids=[world.compound.id], reason="病例住所",
                        cases=[CaseRef("C-0711-01", D(DAY0), "community", world.b1.id)])
    return zone_approve(actor=hq, zone_id=zone.id)


def compound_people(world):
    return [p for name, p in world.people.items() if name not in ("孙外", "周村")]


def steps(clock):
    return [(s.to, s.quiet_from, s.eligible_on, s.round_needed_on, s.state) for s in clock.decision.steps]


def test_v9_high_zone_medium_after_seven_clean_days_and_a_day_7_round_then_low_three_days_later(world, settings, high):
    people = compound_people(world)
    assert status_get(world.people["张一"].id).rule == "K3"  # red: resident of a high-risk zone
    on(settings, "2022-07-18")
    waiting = zone_clock(high)
    assert (waiting.last_counted_case, waiting.next_level, waiting.eligible_on, waiting.state) == (
        D("2022-07-11"), "medium", D("2022-07-18"), "waiting")
    assert any(line["zh"] == "尚无符合要求的阴性筛查记录" for line in waiting.explanation)
    with pytest.raises(DomainError) as early:
        zone_downgrade(actor=world.county.hq, zone_id=high.id)
    assert (early.value.code, early.value.field) == ("not_eligible", "reason")
    assert early.value.message_zh == ("FX20220711-001 尚不符合降级为中风险区的条件（最早 2022-07-18）；提前降级须由指挥部填写理由")

    screening([world.compound], D("2022-07-18"), {p: "negative" for p in people})
    clock = zone_clock(high)
    assert steps(clock) == [
        ("medium", D("2022-07-12"), D("2022-07-18"), (D("2022-07-18"),), "met"),
        ("low", D("2022-07-19"), D("2022-07-21"), (), "waiting"),
    ]
    assert (clock.eligible, clock.next_level, clock.lift_on, clock.lift_eligible) == (True, "medium", D("2022-07-21"),
                                                                                     False)
    daily = hq_daily(world.county.hq)
    assert [(r.zone.code, r.clock.next_level, r.new) for r in daily.eligible] == [("FX20220711-001", "medium", True)]

    zone = zone_downgrade(actor=world.county.hq, zone_id=high.id)
    assert (zone.level_now, zone.state, zone.level_since) == ("medium", "in_force", D("2022-07-18"))
    view = status_get(world.people["张一"].id)
    assert (view.colour, view.rule) == ("yellow", "K5")
    assert "幸福小区由高风险区调整为中风险区" in zone.changes.get(kind="downgraded").announcement_zh
    assert zone.changes.get(kind="downgraded").after["early"] is False

    on(settings, "2022-07-20")
    with pytest.raises(DomainError) as not_yet:
        zone_lift(actor=world.county.hq, zone_id=high.id)
    assert not_yet.value.message_zh.startswith("FX20220711-001 尚不符合解除为低风险区的条件（最早 2022-07-21）")
    on(settings, "2022-07-21")
    lifted = zone_lift(actor=world.county.hq, zone_id=high.id)
    assert (lifted.state, lifted.level_now, lifted.lift_reason) == ("lifted", "low", "")
    assert status_get(world.people["张一"].id).colour == "green"
    text = lifted.changes.get(kind="lifted").announcement_zh
    assert "幸福小区自2022年7月11日以来已连续10天无新增感染者，2022年7月18日区域内全员核酸筛查结果均为阴性，符合调整条件。" in text
    assert "由中风险区调整为低风险区，恢复常态化防控" in text


def test_a_new_case_on_day_5_restarts_the_clock_and_hq_sees_it_moved(world, settings, high):
    on(settings, "2022-07-12")
    zones_refresh()
    high.refresh_from_db()
    assert (high.eligible_on, high.next_level, high.clock_state) == (D("2022-07-18"), "medium", "waiting")
    on(settings, "2022-07-16")  # day 5
    added = zone_case_record(person_area_id=world.unit1.id, case_code="C-0716-01", found_on=D("2022-07-16"),
                             context="community")
    assert [z.code for z in added] == ["FX20220711-001"]
    assert zone_case_record(person_area_id=world.unit1.id, case_code="C-0716-01", found_on=D("2022-07-16"),
                            context="community") == []  # idempotent by case code
    high.refresh_from_db()
    assert (high.eligible_on, high.last_counted_case) == (D("2022-07-23"), D("2022-07-16"))
    clock = zone_clock(high)
    assert [(s.to, s.eligible_on, s.round_needed_on) for s in clock.decision.steps] == [
        ("medium", D("2022-07-23"), (D("2022-07-23"),)), ("low", D("2022-07-26"), ())]
    moved = high.changes.get(kind="clock")
    assert (moved.before["eligible_on"], moved.after["eligible_on"], moved.reason) == (
        "2022-07-18", "2022-07-23", "新增病例 C-0716-01（2022-07-16，社会面）")
    daily = hq_daily(world.county.hq)
    assert [(m.zone.code, m.before, m.after) for m in daily.moved] == [
        ("FX20220711-001", D("2022-07-18"), D("2022-07-23"))]
    assert daily.eligible == [] and [r.clock.eligible_on for r in daily.waiting] == [D("2022-07-23")]
    # a round on the old day 7 no longer helps: the new day 7 is 07-23
    on(settings, "2022-07-18")
    screening([world.compound], D("2022-07-18"), {p: "negative" for p in compound_people(world)})
    assert zone_clock(high).state == "waiting"
    # the case corrected away: the clock goes back, and says so
    zone_case_withdraw(case_code="C-0716-01", reason="复核阴性，原结果更正")
    high.refresh_from_db()
    assert (high.eligible_on, high.clock_state) == (D("2022-07-18"), "met")
    assert list(high.changes.filter(kind="clock").values_list("after__eligible_on", flat=True)) == [
        "2022-07-23", "2022-07-18"]


def test_a_case_found_in_central_quarantine_does_not_restart_the_clock_where_the_policy_excludes_it(
        world, settings, county_exclusions):
    on(settings, DAY0)
    hq = world.county.hq
    zone = zone_approve(actor=hq, zone_id=zone_propose(actor=hq, kind="high", area_ids=[world.compound.id],
                                                       cases=[CaseRef("C-1", D(DAY0))]).id)
    assert zone.policy_version == "141027-Z1"
    on(settings, "2022-07-16")
    zone_case_record(person_area_id=world.b1.id, case_code="C-2", found_on=D("2022-07-16"),
                     context="central_quarantine")
    zone.refresh_from_db()
    clock = zone_clock(zone)
    assert (zone.eligible_on, clock.last_counted_case, clock.decision.ignored_cases) == (
        D("2022-07-18"), D("2022-07-11"), ((D("2022-07-16"), "central_quarantine"),))
    assert "2022-07-16 的病例不计入（集中隔离中发现，隔离点外无传播风险）" in [b["zh"] for b in clock.explanation]
    assert not zone.changes.filter(kind="clock").exists()
    assert zone.changes.filter(kind="case").count() == 1


def test_the_shipped_v9_counts_a_case_found_in_central_quarantine(world, settings, high):
    """V9's own list of uncounted cases was not found (docs/policy.md): without a county's list, it counts."""
    on(settings, "2022-07-16")
    zone_case_record(person_area_id=world.b1.id, case_code="C-2", found_on=D("2022-07-16"),
                     context="central_quarantine")
    assert zone_clock(high).eligible_on == D("2022-07-23")


def test_v20_designates_the_building_and_lifts_it_after_5_quiet_days(world, settings):
    day = on(settings, "2022-11-14")
    proposal = zone_for_case(actor=world.county.hq, person_area_id=world.unit1.id, case_code="C-1114-01",
                             found_on=day, context="community")
    (zone,) = proposal.zones
    assert [u.name for u in proposal.units] == ["2号楼"]
    assert proposal.because[0].zh == "V20 按单元、楼栋，不得随意扩大划定：2号楼"
    assert (zone.kind, zone.state, zone.policy_version) == ("high", "proposed", "V20")
    assert list(zone.cases.values_list("case_code", "cause")) == [("C-1114-01", True)]
    zone = zone_approve(actor=world.county.hq, zone_id=zone.id)
    assert status_get(world.people["王孕"].id).colour == "red"
    assert status_get(world.people["张一"].id).colour == "green"  # building 1 is not in the zone
    on(settings, "2022-11-18")
    clock = zone_clock(zone)
    assert [(s.to, s.quiet_from, s.eligible_on, s.round_needed_on, s.state) for s in clock.decision.steps] == [
        ("low", D("2022-11-15"), D("2022-11-19"), (), "waiting")]
    on(settings, "2022-11-19")
    assert zone_clock(zone).lift_eligible is True
    with pytest.raises(DomainError) as use_lift:
        zone_downgrade(actor=world.county.hq, zone_id=zone.id)
    assert use_lift.value.code == "use_lift"
    zone = zone_lift(actor=world.county.hq, zone_id=zone.id)
    assert (zone.state, zone.level_now) == ("lifted", "low")
    assert status_get(world.people["王孕"].id).colour == "green"
    assert "2号楼由高风险区调整为低风险区" in zone.changes.get(kind="lifted").announcement_zh


def test_v9_proposes_the_compound_or_else_the_village_and_a_second_case_joins(world, settings):
    day = on(settings, DAY0)
    hq = world.county.hq
    first = zone_for_case(actor=hq, person_area_id=world.unit1.id, case_code="C-1", found_on=day,
                          frequent_area_ids=[world.county.building_a.id])
    assert [u.name for u in first.units] == ["城关社区"]  # building A is under the village: the village covers both
    (zone,) = first.zones
    assert [a.area.name for a in zone.areas.all()] == ["城关社区"]
    second = zone_for_case(actor=hq, person_area_id=world.b1.id, case_code="C-2", found_on=day)
    assert second.zones == [zone] and second.because[-1].zh == "幸福小区 已在 FX20220711-001 内"
    assert sorted(zone.cases.values_list("case_code", flat=True)) == ["C-1", "C-2"]
    elsewhere = zone_for_case(actor=hq, person_area_id=world.county.grid_b.id, case_code="C-3", found_on=day)
    assert [u.name for u in elsewhere.units] == ["东村"] and elsewhere.zones[0].code == "FX20220711-002"


def test_v20a_needs_a_round_within_24_hours_and_gives_no_zone_for_an_uncounted_case(world, settings):
    day = on(settings, "2022-11-22")
    hq = world.county.hq
    none = zone_for_case(actor=hq, person_area_id=world.b1.id, case_code="C-Q", found_on=day,
                         context="central_quarantine")
    assert (none.zones, none.because[0].zh) == ([], "集中隔离中发现，隔离点外无传播风险：不作为划定风险区的依据")
    zone = zone_approve(actor=hq, zone_id=zone_for_case(actor=hq, person_area_id=world.b1.id, case_code="C-1",
                                                        found_on=day).zones[0].id)
    on(settings, "2022-11-27")
    assert zone_clock(zone).lift_eligible is False
    screening([world.b1], D("2022-11-26"), {world.people[n]: "negative" for n in ("张一", "张二", "李老")})
    clock = zone_clock(zone)
    assert (clock.lift_on, clock.lift_step.round_needed_on, clock.lift_eligible) == (
        D("2022-11-27"), (D("2022-11-26"), D("2022-11-27")), True)


def test_a_positive_in_the_day_7_round_blocks_the_downgrade(world, settings, high):
    on(settings, "2022-07-18")
    results = {p: "negative" for p in compound_people(world)}
    results[world.people["李老"]] = "positive"
    screening([world.compound], D("2022-07-18"), results)
    clock = zone_clock(high)
    assert (clock.state, clock.eligible) == ("blocked", False)
    assert "筛查有阳性：不能转级" in [b["zh"] for b in clock.explanation]


def test_the_daily_refresh_stores_every_clock_and_records_a_moved_date_once(world, settings, high):
    on(settings, "2022-07-12")
    report = zones_refresh()
    assert (report.zones, report.moved) == (1, [])
    high.refresh_from_db()
    assert (high.clock_on, high.clock_version, high.last_counted_case) == (D("2022-07-12"), "V9", D("2022-07-11"))
    assert zones_refresh().moved == []
    assert ZoneChange.objects.filter(kind="clock").count() == 0
    assert dt.date(2022, 7, 18) == high.eligible_on
    out = StringIO()
    call_command("zones_refresh", "--day", "2022-07-13", stdout=out)  # the cron job
    assert out.getvalue() == "2022-07-13：风险区 1 个，可降级/解除日期变动 0 个 zones: 1, eligible dates moved: 0\n"
    high.refresh_from_db()
    assert high.clock_on == D("2022-07-13")


def test_a_v9_medium_zone_still_in_force_under_v20_may_be_lifted_at_once(world, settings):
    on(settings, "2022-11-08")
    hq = world.county.hq
    zone = zone_approve(actor=hq, zone_id=zone_propose(actor=hq, kind="medium", area_ids=[world.b1.id]).id)
    on(settings, "2022-11-12")
    clock = zone_clock(zone)
    assert (clock.version, clock.kind_retired, clock.lift_eligible, clock.lift_on) == ("V20", True, True,
                                                                                       D("2022-11-11"))
    assert clock.explanation[0]["zh"] == "V20 不再划定中风险区：可即行解除"
    assert zone_lift(actor=hq, zone_id=zone.id).changes.get(kind="lifted").after["early"] is False

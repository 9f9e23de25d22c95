"""Proposals, HQ's decisions and what they refuse (each with nothing changed): overlapping zones of the same kind
(refused naming the zone and the areas, or merged), lifting before the clock (only with HQ's reason), a scope
outside the jurisdiction, an area that does not exist, a township, a kind the policy no longer designates; the
history of every change; the residents' status on approval, scope change, downgrade and lifting; the population
lists; HQ's daily list and the county's status."""

import pytest

from shouwang.accounts.enums import Role
from shouwang.core.errors import DomainError, PermissionDenied
from shouwang.core.models import AuditEvent
from shouwang.status.services import status_get
from shouwang.zones.models import CaseReport, Zone, ZoneArea, ZoneChange
from shouwang.zones.selectors import (
    county_status,
    hq_daily,
    zone_clock,
    zone_get,
    zone_population,
    zones_visible,
)
from shouwang.zones.services import (
    CaseRef,
    zone_announcement_edit,
    zone_approve,
    zone_case_record,
    zone_downgrade,
    zone_kind_change,
    zone_lift,
    zone_propose,
    zone_reject,
    zone_scope_change,
)
from shouwang.zones.tests.conftest import D, on, screening

DAY0 = "2022-07-11"


def counts():
    return (Zone.objects.count(), ZoneArea.objects.count(), ZoneChange.objects.count())


def refused(call, **kwargs) -> DomainError:
    before = counts()
    with pytest.raises(DomainError) as err:
        call(**kwargs)
    assert counts() == before  # nothing changed
    return err.value


@pytest.fixture
def proposed(world, settings):
    on(settings, DAY0)
    return zone_propose(actor=world.county.hq, kind="high", area_ids=[world.b1.id], reason="病例住所",
                        cases=[CaseRef("C-1", D(DAY0), "community", world.b1.id)])


# ---- bad input ---------------------------------------------------------------------------------------------------


def test_an_overlapping_zone_of_the_same_kind_is_refused_naming_the_zone_and_the_areas(world, proposed):
    hq = world.county.hq
    err = refused(zone_propose, actor=hq, kind="high", area_ids=[world.compound.id, world.county.grid_b.id])
    assert (err.code, err.status, err.field) == ("overlap", 409, "area_ids")
    assert err.message_zh == "与同类高风险区重叠：FX20220711-001（待审批）：幸福小区 包含其 1号楼。可合并到该风险区或调整范围"
    assert err.details == [{"zone": "FX20220711-001", "area_id": world.compound.id, "zone_area_id": world.b1.id}]
    inside = refused(zone_propose, actor=hq, kind="high", area_ids=[world.b1.id])
    assert inside.message_zh.startswith("与同类高风险区重叠：FX20220711-001（待审批）：1号楼 已在其中")
    # another kind may overlap (a medium zone around a high one)
    medium = zone_propose(actor=hq, kind="medium", area_ids=[world.compound.id])
    assert medium.code == "FX20220711-002"


def test_merge_adds_the_areas_to_the_overlapped_zone_and_the_wider_area_takes_the_narrower_ones_place(world,
                                                                                                      proposed):
    hq = world.county.hq
    zone = zone_propose(actor=hq, kind="high", area_ids=[world.compound.id, world.county.building_a.id], merge=True,
                        cases=[CaseRef("C-2", D(DAY0))], reason="第二例")
    assert zone.id == proposed.id
    assert sorted(zone.areas.values_list("area__name", flat=True)) == ["幸福小区", "幸福小区1号楼"]
    change = zone.changes.get(kind="scope")
    assert ([a["name"] for a in change.before["areas"]], [a["name"] for a in change.after["areas"]]) == (
        ["1号楼"], ["幸福小区1号楼", "幸福小区"])
    assert change.reason == "合并提议：第二例"
    assert sorted(zone.cases.values_list("case_code", flat=True)) == ["C-1", "C-2"]


def test_lifting_before_the_clock_needs_hq_s_reason_and_records_it(world, settings, proposed):
    hq = world.county.hq
    zone = zone_approve(actor=hq, zone_id=proposed.id)
    on(settings, "2022-07-14")
    err = refused(zone_lift, actor=hq, zone_id=zone.id)
    assert (err.code, err.status) == ("not_eligible", 409)
    assert err.message_en == ("FX20220711-001 may not be lifted to low-risk zone yet (at the earliest 2022-07-21); "
                              "doing it earlier needs HQ's reason")
    assert err.details[0] == {"rule": "Z1", "zh": "高风险区，2022-07-11 划定", "en": "high-risk zone, designated on 2022-07-11"}
    lifted = zone_lift(actor=hq, zone_id=zone.id, reason="经专家组评估，病例为外地输入且已闭环转运")
    assert (lifted.state, lifted.lift_reason) == ("lifted", "经专家组评估，病例为外地输入且已闭环转运")
    row = lifted.changes.get(kind="lifted")
    assert (row.after["early"], row.reason, row.by) == (True, "经专家组评估，病例为外地输入且已闭环转运", hq)
    assert "已连续" not in row.announcement_zh  # no claim of quiet days it did not have
    assert AuditEvent.objects.filter(object_type="zones.zone", summary__contains="提前").count() == 1
    assert refused(zone_lift, actor=hq, zone_id=zone.id).code == "bad_transition"


def test_a_scope_outside_the_jurisdiction_or_an_area_that_does_not_exist_is_not_found(world, proposed):
    task_force = world.county.user(Role.TASK_FORCE, world.county.township_a)
    err = refused(zone_propose, actor=task_force, kind="high", area_ids=[world.county.grid_b.id, world.b2.id])
    assert (err.code, err.status, err.message_zh) == ("not_found", 404,
                                                      f"区域不存在或不在您的辖区内：#{world.county.grid_b.id}")
    ghost = refused(zone_propose, actor=world.county.hq, kind="high", area_ids=[999999])
    assert (ghost.code, ghost.details) == ("not_found", [{"area_id": 999999}])
    add = refused(zone_scope_change, actor=task_force, zone_id=proposed.id, add=[world.county.grid_b.id],
                  reason="扩大")
    assert (add.code, add.field) == ("not_found", "add")
    # a zone reaching outside the jurisdiction is not the township's to manage
    other = zone_propose(actor=world.county.hq, kind="medium", area_ids=[world.county.grid_b.id])
    assert refused(zone_approve, actor=task_force, zone_id=other.id).code == "not_found"


def test_a_township_a_kind_the_policy_no_longer_designates_and_low_are_refused(world, settings):
    on(settings, DAY0)
    hq = world.county.hq
    township = refused(zone_propose, actor=hq, kind="high", area_ids=[world.county.township_a.id])
    assert (township.code, township.message_zh) == ("level_too_high", "风险区最大划到村（社区）：天坛镇为乡镇/街道")
    low = refused(zone_propose, actor=hq, kind="low", area_ids=[world.b1.id])
    assert (low.code, low.message_zh) == ("low_not_designated", "低风险区是县内高、中风险区以外的区域，不单独划定")
    nested = refused(zone_propose, actor=hq, kind="high", area_ids=[world.compound.id, world.unit1.id])
    assert (nested.code, nested.message_zh) == ("overlapping", "范围中的区域相互包含：1单元 在 幸福小区 内")
    on(settings, "2022-11-15")
    medium = refused(zone_propose, actor=hq, kind="medium", area_ids=[world.b1.id])
    assert (medium.code, medium.message_zh) == ("zone_kind_not_used", "V20 不再划定中风险区")
    with pytest.raises(PermissionDenied):
        zone_propose(actor=world.county.user(Role.GRID_WORKER, world.county.grid_a), kind="high",
                     area_ids=[world.b1.id])


def test_scope_changes_are_checked_and_residents_follow(world, settings, proposed):
    hq = world.county.hq
    zone = zone_approve(actor=hq, zone_id=proposed.id)
    a, wang = world.people["张一"], world.people["王孕"]
    assert (status_get(a.id).rule, status_get(wang.id).colour) == ("K3", "green")
    stray = refused(zone_scope_change, actor=hq, zone_id=zone.id, remove=[world.unit1.id], reason="x")
    assert (stray.code, stray.field) == ("not_in_zone", "remove")
    empty = refused(zone_scope_change, actor=hq, zone_id=zone.id, remove=[world.b1.id], reason="x")
    assert empty.code == "empty_scope"
    assert refused(zone_scope_change, actor=hq, zone_id=zone.id, add=[world.unit1.id], reason="").code == "required"
    on(settings, "2022-07-12")
    zone_scope_change(actor=hq, zone_id=zone.id, add=[world.unit1.id], remove=[world.b1.id], reason="流调：病例实为2号楼1单元")
    assert (status_get(a.id).colour, status_get(wang.id).rule) == ("green", "K3")
    assert list(zone.areas.values_list("area__name", flat=True)) == ["1单元"]
    row = zone.changes.filter(kind="scope").last()
    assert ([x["name"] for x in row.before["areas"]], [x["name"] for x in row.after["areas"]], row.reason) == (
        ["1号楼"], ["1单元"], "流调：病例实为2号楼1单元")
    # widening to the building takes the unit's place
    zone_scope_change(actor=hq, zone_id=zone.id, add=[world.b2.id], reason="同楼栋扩大")
    assert list(zone.areas.values_list("area__name", flat=True)) == ["2号楼"]
    assert status_get(world.people["赵独"].id).colour == "red"


def test_the_history_keeps_every_change_in_order(world, settings, proposed):
    hq = world.county.hq
    zone = zone_approve(actor=hq, zone_id=proposed.id, area_ids=[world.compound.id], kind="medium",
                        announcement="关于划定幸福小区为中风险区的通告（人工修订）")
    assert zone.announcement_zh == "关于划定幸福小区为中风险区的通告（人工修订）"
    on(settings, "2022-07-13")
    zone_case_record(person_area_id=world.b1.id, case_code="C-3", found_on=D("2022-07-13"), context="community")
    zone_kind_change(actor=hq, zone_id=zone.id, kind="high", reason="新增病例，一区一策升为高风险区")
    zone_announcement_edit(actor=hq, zone_id=zone.id, text="更正后的通告")
    kinds = list(zone.changes.values_list("kind", "reason"))
    assert kinds == [
        ("created", "病例住所"), ("scope", "审批时调整范围"), ("kind", "审批时调整类型"), ("approved", ""),
        ("case", "病例 C-3（2022-07-13，社会面）"), ("clock", "新增病例 C-3（2022-07-13，社会面）"),
        ("kind", "新增病例，一区一策升为高风险区"), ("announcement", "")]
    kind_row = zone.changes.filter(kind="kind").last()
    assert (kind_row.before["level_now"], kind_row.after["level_now"]) == ("medium", "high")
    assert status_get(world.people["张一"].id).rule == "K3"
    zone.refresh_from_db()
    assert (zone.level_since, zone.eligible_on) == (D("2022-07-13"), D("2022-07-20"))


def test_rejection_needs_a_reason_and_approval_happens_once(world, proposed):
    hq = world.county.hq
    assert refused(zone_reject, actor=hq, zone_id=proposed.id, reason=" ").code == "required"
    zone = zone_reject(actor=hq, zone_id=proposed.id, reason="病例已闭环管理，无社会面活动")
    assert (zone.state, zone.changes.last().kind) == ("rejected", "rejected")
    assert refused(zone_approve, actor=hq, zone_id=zone.id).code == "bad_transition"


def test_approval_refuses_an_overlap_with_a_zone_already_in_force(world, proposed):
    hq = world.county.hq
    zone_approve(actor=hq, zone_id=proposed.id)
    second = Zone.objects.create(code="FX20220711-099", kind="high", level_now="high", state="proposed",
                                 policy_version="V9", proposed_at=proposed.proposed_at)
    ZoneArea.objects.create(zone=second, area=world.compound)
    err = refused(zone_approve, actor=hq, zone_id=second.id)
    assert err.message_zh == "与同类高风险区重叠：FX20220711-001（管控中）：幸福小区 包含其 1号楼。请调整范围"


# ---- lists ---------------------------------------------------------------------------------------------------------


def test_population_households_vulnerable_people_and_needs_per_zone(world, settings):
    on(settings, DAY0)
    hq = world.county.hq
    compound = zone_propose(actor=hq, kind="high", area_ids=[world.compound.id])
    b2 = zone_propose(actor=hq, kind="medium", area_ids=[world.b2.id])
    village_b = zone_propose(actor=hq, kind="medium", area_ids=[world.county.village_b.id])
    pops = zone_population([compound, b2, village_b])
    c = pops[compound.id]
    assert (c.people, c.households, c.no_household, c.elderly) == (7, 4, 1, 3)
    assert (c.elderly_alone, c.disabled, c.pregnant, c.seriously_ill, c.bedridden, c.infant) == (2, 1, 1, 1, 1, 1)
    assert [(n["key"], n["count"]) for n in c.needs] == [
        ("daily_supplies", 4), ("medicine", 1), ("infant_supplies", 1), ("home_care", 2), ("disability_care", 1),
        ("door_sampling", 1), ("prenatal_care", 1)]
    two = pops[b2.id]
    assert (two.people, two.households, two.elderly, two.elderly_alone) == (4, 2, 2, 1)
    assert (pops[village_b.id].people, pops[village_b.id].households, pops[village_b.id].no_household) == (1, 0, 1)


def test_zones_are_seen_within_the_jurisdiction(world, proposed):
    grid_worker = world.county.user(Role.GRID_WORKER, world.county.grid_a)
    assert [z.code for z in zones_visible(grid_worker)] == ["FX20220711-001"]
    east = world.county.user(Role.VILLAGE, world.county.village_b)
    assert list(zones_visible(east)) == []
    with pytest.raises(DomainError):
        zone_get(east, proposed.id)
    with pytest.raises(PermissionDenied):
        zones_visible(world.county.user(Role.LAB, world.county.county))


def test_county_status_days_since_the_last_community_case_zero_and_routine(world, settings, proposed):
    hq = world.county.hq
    status = county_status(hq)
    assert (status.last_community_case, status.zero, status.routine, status.proposed) == (None, True, True, 1)
    zone_case_record(person_area_id=world.b1.id, case_code="C-1", found_on=D(DAY0), context="community")
    zone = zone_approve(actor=hq, zone_id=proposed.id)
    on(settings, "2022-07-12")
    zone_case_record(person_area_id=world.county.grid_b.id, case_code="C-Q", found_on=D("2022-07-12"),
                     context="central_quarantine")  # inside quarantine: not a community case
    status = county_status(hq)
    assert (status.days_since, status.community_yesterday, status.community_today, status.zero) == (1, 1, 0, False)
    assert (status.zones, status.routine) == ({"high": 1}, False)
    assert status.explanation[-1]["zh"] == "管控中：高风险区 1 个；其余区域为低风险区"
    on(settings, "2022-07-13")
    status = county_status(hq)
    assert (status.days_since, status.zero, status.zero_since) == (2, True, D("2022-07-13"))
    assert status.explanation[1]["zh"] == "社会面清零：昨日及今日均无社会面新增，已实现"
    on(settings, "2022-07-21")
    screening([world.b1], D("2022-07-18"), {world.people[n]: "negative" for n in ("张一", "张二", "李老")})
    zone_lift(actor=hq, zone_id=zone.id)
    status = county_status(hq)
    assert (status.days_since, status.routine, status.zones) == (10, True, {})
    assert status.explanation[-1]["zh"] == "高、中风险区已全部解除：全域恢复常态化防控"
    east = county_status(world.county.user(Role.VILLAGE, world.county.village_b))
    assert east.last_community_case is None  # the community case was in township A
    assert CaseReport.objects.count() == 2


def test_hq_daily_lists_zones_eligible_today_and_those_still_waiting_for_hq(world, settings, proposed):
    hq = world.county.hq
    zone = zone_approve(actor=hq, zone_id=proposed.id)
    second = zone_approve(actor=hq, zone_id=zone_propose(actor=hq, kind="medium",
                                                         area_ids=[world.county.grid_b.id]).id)
    screening([world.b1], D("2022-07-18"), {world.people[n]: "negative" for n in ("张一", "张二", "李老")})
    screening([world.county.village_b], D("2022-07-18"), {world.people["周村"]: "negative"})
    on(settings, "2022-07-19")
    daily = hq_daily(hq)
    assert [(r.zone.code, r.clock.next_level, r.clock.eligible_on, r.new) for r in daily.eligible] == [
        (zone.code, "medium", D("2022-07-18"), False), (second.code, "low", D("2022-07-18"), False)]
    assert zone_clock(second).lift_eligible is True
    zone_downgrade(actor=hq, zone_id=zone.id)
    daily = hq_daily(hq)
    assert [(r.zone.code, r.clock.next_level, r.clock.eligible_on) for r in daily.waiting] == [
        (zone.code, "low", D("2022-07-21"))]
    assert daily.moved == []  # a downgrade is not a moved clock


def test_the_response_flow_proposes_for_a_reporter_without_the_capability_and_checks_the_places(world, settings):
    from shouwang.zones.services import zone_for_case

    day = on(settings, DAY0)
    township = world.county.user(Role.TOWNSHIP, world.county.township_a)
    with pytest.raises(PermissionDenied):
        zone_for_case(actor=township, person_area_id=world.b1.id, case_code="C-1", found_on=day)
    err = refused(zone_for_case, actor=world.county.hq, person_area_id=world.b1.id, case_code="C-1", found_on=day,
                  frequent_area_ids=[999999])
    assert (err.code, err.field) == ("not_found", "frequent_area_ids")
    assert not CaseReport.objects.exists()  # the case record went back with the refusal
    proposal = zone_for_case(actor=township, person_area_id=world.b1.id, case_code="C-1", found_on=day,
                             checked=True)
    assert [(z.code, z.state, z.proposed_by) for z in proposal.zones] == [("FX20220711-001", "proposed", township)]
    assert [a.area.name for a in proposal.zones[0].areas.all()] == ["幸福小区"]

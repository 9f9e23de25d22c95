"""The demo county's risk zones (shouwang/demo/zones.py): HQ's decisions between the outbreak's case reports — chain 1's
compound downgraded after its day-7 round and eligible for lifting on the demo day, the rest of its grid lifted,
the co-worker's proposal turned down, chain 2's compound and the place the courier visited in force (the housemate
found in quarantine counted under V9), the fresh case's proposal waiting for HQ — the residents' statuses and the
county's status. (The same seed giving the same zones is checked with `fingerprint` below in test_demo_testing.py's
two builds of the county.)"""

import datetime as dt
from collections import Counter

import pytest
from django.utils import timezone

from shouwang.accounts.models import User
from shouwang.demo.generator import generate_county
from shouwang.demo.venues import DEMO_DATE
from shouwang.status.models import PersonStatus, StatusFact
from shouwang.testing.models import Exemption, PersonRound, RoundArea, TestingRound, Tube
from shouwang.testing.selectors import screening_rounds
from shouwang.zones.models import CaseReport, Zone, ZoneChange
from shouwang.zones.selectors import county_status, hq_daily, zone_population, zone_residents, zone_scopes

SEED, PEOPLE = 3, 1500
D = dt.date


@pytest.fixture(autouse=True)
def business_day(settings):
    settings.SHOUWANG_TODAY = DEMO_DATE.isoformat()


def local(value: dt.datetime | None) -> str | None:
    return timezone.localtime(value).strftime("%m-%d %H:%M") if value else None


@pytest.mark.django_db
def test_demo_zones_of_each_kind_one_downgraded_one_eligible_today():
    generate_county(seed=SEED, people=PEOPLE)
    hq = User.objects.get(username="hq")
    zones = {z.code: z for z in Zone.objects.all()}
    scopes = zone_scopes([z.id for z in zones.values()])
    assert {c: (z.kind, z.level_now, z.state, [(a.name, a.level) for a in scopes[z.id]]) for c, z in zones.items()} == {
        "FX20220703-001": ("high", "medium", "in_force", [("永安花园", "compound")]),  # downgraded on 07-12
        "FX20220703-002": ("medium", "low", "lifted", [("新华社区第二网格", "grid")]),
        "FX20220706-001": ("high", "high", "rejected", [("祥和新村", "compound")]),
        "FX20220713-001": ("high", "high", "in_force", [("和平新村", "compound")]),
        "FX20220713-002": ("medium", "medium", "in_force", [("府前社区第二网格", "grid")]),
        "FX20220715-001": ("high", "high", "proposed", [("泰和佳苑", "compound")]),  # the fresh case: HQ decides
    }
    history = {c: [(ch.kind, local(ch.at), ch.by.username if ch.by else None) for ch in z.changes.select_related("by")]
               for c, z in zones.items()}
    assert history["FX20220703-001"] == [
        ("created", "07-03 08:10", "hq"), ("approved", "07-03 10:30", "hq"), ("case", "07-05 09:00", "hq"),
        ("clock", "07-05 09:00", "hq"), ("downgraded", "07-12 18:10", "hq")]
    assert history["FX20220703-002"] == [
        ("created", "07-03 10:40", "hq"), ("approved", "07-03 10:50", "hq"), ("case", "07-05 09:00", "hq"),
        ("clock", "07-05 09:00", "hq"), ("lifted", "07-12 18:00", "hq")]
    assert history["FX20220706-001"] == [("created", "07-06 10:00", "hq"), ("rejected", "07-06 11:00", "hq")]
    assert history["FX20220713-001"] == [("created", "07-13 09:20", "hq"), ("approved", "07-13 11:00", "hq"),
                                         ("case", "07-14 10:00", "hq"), ("clock", "07-14 10:00", "hq")]
    assert history["FX20220713-002"] == [("created", "07-13 11:20", "hq"), ("approved", "07-13 11:30", "hq")]
    assert history["FX20220715-001"] == [("created", "07-15 07:30", "hq")]
    check_chain_one(zones)
    check_chain_two(zones)
    check_the_day_seven_round()
    check_hq_lists(hq, zones)
    check_residents(zones)


def check_chain_one(zones) -> None:
    """The household member found in quarantine on 07-05 counted (V9): the compound downgraded on its day 7 after the
    negative round, eligible for lifting on the demo day; the rest of its grid lifted; the co-worker's home not
    designated."""
    high, grid, coworker = zones["FX20220703-001"], zones["FX20220703-002"], zones["FX20220706-001"]
    assert [(c.case_code, c.found_on, c.context, c.cause) for c in high.cases.all()] == [
        ("BL20220703-001", D(2022, 7, 2), "community", True),
        ("BL20220705-001", D(2022, 7, 5), "central_quarantine", False)]
    moved = high.changes.get(kind="clock")
    assert (moved.before["eligible_on"], moved.after["eligible_on"], moved.reason) == (
        "2022-07-10", "2022-07-12", "新增病例 BL20220705-001（2022-07-05，集中隔离中发现，隔离点外无传播风险）")
    down = high.changes.get(kind="downgraded")
    assert (down.before["level_now"], down.after["level_now"], down.after["early"], down.reason) == (
        "high", "medium", False, "符合条件")
    assert "永安花园自2022年7月5日以来已连续7天无新增感染者，2022年7月12日区域内全员核酸筛查结果均为阴性" in down.announcement_zh
    assert (high.level_since, high.eligible_on, high.next_level, high.clock_state, high.last_counted_case,
            high.clock_on) == (D(2022, 7, 12), D(2022, 7, 15), "low", "met", D(2022, 7, 5), DEMO_DATE)
    assert "关于划定高风险区的通告（FX20220703-001）" in high.announcement_zh
    lifted = grid.changes.get(kind="lifted")
    assert (local(grid.lifted_at), grid.lift_reason, lifted.after["early"]) == ("07-12 18:00", "", False)
    assert lifted.announcement_zh.splitlines()[2] == "关于解除天坛镇新华社区新华社区第二网格中风险区的通告"
    assert "恢复常态化防控" in lifted.announcement_zh
    assert (coworker.rejected_reason, [c.context for c in coworker.cases.all()]) == (
        "病例均在集中隔离期间检出，隔离前已按密接管理，住所无社会面暴露：不划定风险区（一区一策），同住人员按密接、次密接管理",
        ["central_quarantine"])


def check_chain_two(zones) -> None:
    """The courier's compound (high): his housemate found in quarantine on 07-14 is recorded with that context and
    counted under V9 (the date moves a day); the place he visited (medium), with why."""
    high, medium = zones["FX20220713-001"], zones["FX20220713-002"]
    assert [(c.case_code, c.found_on, c.context, c.cause) for c in high.cases.all()] == [
        ("BL20220713-001", D(2022, 7, 12), "community", True),
        ("BL20220714-001", D(2022, 7, 14), "central_quarantine", False)]
    moved = high.changes.get(kind="clock")
    assert (moved.before["eligible_on"], moved.after["eligible_on"]) == ("2022-07-20", "2022-07-21")
    assert "BL20220714-001（2022-07-14，集中隔离中发现" in moved.reason
    assert (high.eligible_on, high.next_level, high.clock_state, high.last_counted_case) == (
        D(2022, 7, 21), "medium", "waiting", D(2022, 7, 14))
    assert medium.reason == "病例7月11日到访华莱士（北环路店）（场所码扫码1次），所在府前社区第二网格划为中风险区"
    assert [(c.case_code, c.cause) for c in medium.cases.all()] == [("BL20220713-001", True)]
    assert (medium.eligible_on, medium.next_level, medium.clock_state) == (D(2022, 7, 20), "low", "waiting")
    fresh = zones["FX20220715-001"]
    assert [(c.case_code, c.found_on, c.context, c.cause) for c in fresh.cases.all()] == [
        ("BL20220715-001", D(2022, 7, 14), "community", True)]
    assert (fresh.designated_at, fresh.announcement_zh, fresh.eligible_on) == (None, "", None)


def check_the_day_seven_round() -> None:
    """The compound's day-7 round through the testing services: household pools, the two cases exempt, everyone
    else negative; done in the zone on 07-12 (the county round that day was not complete there)."""
    (round_,) = TestingRound.objects.filter(name="风险区核酸筛查（7月12日）")
    assert (round_.kind, round_.state, round_.target, local(round_.starts_at), local(round_.created_at)) == (
        "area", "finished", 17, "07-12 07:00", "07-11 20:00")
    assert list(RoundArea.objects.filter(round=round_).values_list("area__name", "setting", "pool_mode")) == [
        ("永安花园", "high_risk_zone", "household")]
    assert Counter(Exemption.objects.filter(round=round_).values_list("reason", "note")) == {
        ("other", "病例，定点医院或方舱医院治疗中"): 2}
    tubes = Tube.objects.filter(round=round_)
    assert Counter(tubes.values_list("pool_mode", "state", "result", "site__name", "lab__name")) == {
        ("household", "resulted", "negative", "县人民医院上门采样队", "县疾控中心实验室"): 5}
    assert Counter(PersonRound.objects.filter(round=round_).values_list("state", flat=True)) == {"negative": 17}
    compound = Zone.objects.get(code="FX20220703-001").areas.get().area
    done = screening_rounds([compound.path], since=D(2022, 7, 3))[compound.path]
    assert sorted(done.values()) == [(D(2022, 7, 12), True)]


def check_hq_lists(hq, zones) -> None:
    daily = hq_daily(hq)
    assert [(r.zone.code, r.new, r.clock.next_level, r.clock.eligible_on) for r in daily.eligible] == [
        ("FX20220703-001", True, "low", DEMO_DATE)]  # eligible today, not acted on
    assert daily.moved == []
    assert [(r.zone.code, r.clock.next_level, r.clock.eligible_on) for r in daily.waiting] == [
        ("FX20220713-002", "low", D(2022, 7, 20)), ("FX20220713-001", "medium", D(2022, 7, 21))]
    status = county_status(hq)
    assert (status.last_community_case, status.days_since, status.community_yesterday, status.community_today,
            status.zero, status.zero_since, status.zones, status.proposed, status.routine) == (
        D(2022, 7, 14), 1, 1, 0, False, None, {"high": 1, "medium": 2}, 1, False)
    assert Counter(CaseReport.objects.values_list("context", flat=True)) == {"community": 3, "central_quarantine": 3}
    population = zone_population([zones[c] for c in ("FX20220703-001", "FX20220713-001", "FX20220713-002")])
    assert [(p.people, p.households) for p in population.values()] == [(19, 5), (18, 6), (10, 4)]


def check_residents(zones) -> None:
    """Residents of the zones in force carry the zone's fact from its level's first day; the lifted grid's and the
    compound's high-risk facts are withdrawn; statuses computed for the demo day."""
    facts = Counter((f.source_id, f.value, f.since, f.withdrawn_at is None)
                    for f in StatusFact.objects.filter(source="zones.zone", source_id__startswith="FX"))
    assert facts == {("FX20220703-001", "high", D(2022, 7, 3), False): 19,
                     ("FX20220703-001", "medium", D(2022, 7, 12), True): 19,
                     ("FX20220703-002", "medium", D(2022, 7, 3), False): 19,
                     ("FX20220713-001", "high", D(2022, 7, 13), True): 18,
                     ("FX20220713-002", "medium", D(2022, 7, 13), True): 10}
    in_force = [zones[c].id for c in ("FX20220703-001", "FX20220713-001", "FX20220713-002")]
    statuses = PersonStatus.objects.filter(person_id__in=zone_residents(in_force))
    assert set(statuses.values_list("computed_for", flat=True)) == {DEMO_DATE}
    # yellow (K5) in the medium zones, red (K3) in the high one; cases (K1) and people in central quarantine (K2)
    # show their own stricter rule
    assert Counter(statuses.values_list("rule", flat=True)) == {"K5": 28, "K3": 5, "K2": 11, "K1": 3}
    assert statuses.count() == 47


def fingerprint() -> dict:
    """The zones by natural keys (codes, area codes, case codes, times), independent of database ids."""
    return {
        "zones": sorted(Zone.objects.values_list("code", "kind", "level_now", "state", "reason", "designated_at",
                                                 "lifted_at", "eligible_on", "announcement_zh")),
        "areas": sorted(Zone.objects.values_list("code", "areas__area__code")),
        "cases": sorted(Zone.objects.values_list("code", "cases__case_code", "cases__context", "cases__cause")),
        "history": sorted(ZoneChange.objects.values_list("zone__code", "kind", "at", "reason", "announcement_zh")),
        "facts": sorted(StatusFact.objects.filter(source="zones.zone").values_list(
            "source_id", "value", "since", "person__id_number")),
    }

"""The demo county's risk zones (issue 8): HQ's decisions on the zones the outbreak's cases propose, taken at the
business moment each happens, between the case reports — all through the zones and testing services.

Every reported case goes through the response flow (shouwang/response/flows.py: zones.services.zone_for_case): the
case is recorded against the zones in force around its home, and a high-risk zone around the home is proposed in
the policy's unit (V9: the compound). HQ's decisions fall between the reports, so a case reported after an approval
is recorded against the zone in force (its clock moved, in the zone's history) as in production: the tracing
generator runs as `ZonedTracing`, which lets this generator take the decisions due before each report
(`ZoneGenerator.until`); `finish()` takes the rest after the outbreak. Its own ``random.Random`` is seeded from the
county's seed: the same seed and size give the same zones, rounds and history.

- Chain 1 (07-03): HQ approves the proposal around the first case's home (the compound, high) at 10:30 and
  designates the compound's grid a medium-risk zone around it (where the case lived and shopped), approved at 10:50
  (zones of different levels may overlap: the residents of the compound carry both facts, the stricter one shows). The
  household member found in quarantine on 07-05 is recorded against both (V9 counts it: their clocks move to
  07-12). The co-worker found in quarantine on 07-06 lives elsewhere: HQ turns that proposal down (found under
  central quarantine since 07-03, no community exposure at home: 一区一策).
- The day-7 round (风险区核酸筛查, 07-12): the zones whose next step needs a round before the demo day get one on
  that day through the testing services — the round areas in the zones' settings (high: household pools, medium:
  10-in-1), cases and people in central quarantine exempt, everyone else sampled door to door by the town
  hospital's team, boxed, received and resulted negative by the CDC lab, reviewed. That evening HQ lifts the medium
  grid (7 quiet days, negative round) and downgrades the compound to medium; on the demo day the compound's 3 more
  quiet days are over: eligible for lifting, on HQ's daily list, not acted on.
- Chain 2 (07-13): HQ approves the proposal around the courier's home (high) at 11:00, and designates the place he
  visited most in the days before (from the scan log; a market or a shop's grid, not his own) a medium-risk zone.
  His household member found in quarantine on 07-14 is recorded against the high zone with its context (V9 counts
  it: the eligible date moves from 07-20 to 07-21).
- The fresh case (07-15 07:30): its proposal stays proposed for HQ (the browser test approves it).
- The daily run (zones_refresh) at 06:00 on the demo day stores every clock; the residents' statuses are computed
  for the demo day.
"""

from __future__ import annotations

import datetime as dt
import heapq
import itertools
import random
from collections import Counter, defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field

from django.db.models import Count, Max, Min
from django.utils import timezone
from faker.providers.person.zh_CN import Provider as ZhPerson

from shouwang.accounts.models import User
from shouwang.areas.enums import AreaLevel
from shouwang.areas.models import Area
from shouwang.core.errors import DomainError
from shouwang.demo.quarantine import LAB, SAMPLERS
from shouwang.demo.testing import business_time
from shouwang.demo.tracing import TracingGenerator
from shouwang.demo.venues import DEMO_DATE
from shouwang.people.models import Person
from shouwang.quarantine.enums import CENTRAL_MEASURES
from shouwang.quarantine.models import Stay
from shouwang.status.models import StatusFact
from shouwang.status.services import status_refresh
from shouwang.testing.enums import POOL_SIZE, PoolMode, RoundKind, RoundState
from shouwang.testing.models import (
    Lab,
    LabResultFile,
    RoundArea,
    SamplingSite,
    TestingRound,
    TransportBatch,
    Tube,
    TubeResult,
)
from shouwang.testing.services import (
    RoundInput,
    batch_pack,
    batch_receive,
    exemption_add,
    results_review,
    results_stage,
    round_create,
    round_set_state,
    tubes_fill_bulk,
)
from shouwang.tracing.models import Case
from shouwang.venues.enums import VenueCategory
from shouwang.venues.models import Scan
from shouwang.zones.enums import SCOPE_LEVELS, ZoneState
from shouwang.zones.models import CaseReport, Zone, ZoneCase
from shouwang.zones.selectors import zone_clocks, zone_scopes
from shouwang.zones.services import (
    CaseRef,
    zone_approve,
    zone_downgrade,
    zone_lift,
    zone_propose,
    zone_reject,
    zones_refresh,
)

ZONE_ROUND = "风险区核酸筛查（{month}月{day}日）"
ZONE_SOURCE = "zones.zone"
SETTING_OF_LEVEL = {"high": "high_risk_zone", "medium": "medium_risk_zone"}
# Where people gather, first: the tie-break between places a case visited as often.
GATHERING = [VenueCategory.MARKET, VenueCategory.SUPERMARKET, VenueCategory.RESTAURANT, VenueCategory.CONVENIENCE,
             VenueCategory.PHARMACY, VenueCategory.BARBER, VenueCategory.BANK]
REJECT_REASON = ("病例均在集中隔离期间检出，隔离前已按密接管理，住所无社会面暴露：不划定风险区（一区一策），"
                 "同住人员按密接、次密接管理")


def _at(day: dt.date, hour: int, minute: int = 0) -> dt.datetime:
    return timezone.make_aware(dt.datetime.combine(day, dt.time(hour, minute)))


def _d(month_day: int) -> dt.date:
    return DEMO_DATE.replace(day=month_day)


@dataclass
class ZonesSummary:
    zones: int = 0
    states: dict[str, int] = field(default_factory=dict)
    rounds: int = 0
    residents: int = 0  # people living in a zone in force (a zone's status fact)


class ZoneGenerator:
    def __init__(self, *, seed: int, log: Callable[[str], None] | None = None):
        self.rng = random.Random(f"shouwang-zones-{seed}")
        self.log = log or (lambda message: None)
        self._steps: list[tuple[dt.datetime, int, Callable[[dt.datetime], None]]] = []
        self._order = itertools.count()
        self.rounds: list[TestingRound] = []

    # --- the schedule -----------------------------------------------------------------------------------------

    def at(self, moment: dt.datetime, step: Callable[[dt.datetime], None]) -> None:
        heapq.heappush(self._steps, (moment, next(self._order), step))

    def until(self, moment: dt.datetime) -> None:
        """Take every decision due at or before `moment` (the tracing generator calls this before each report)."""
        while self._steps and self._steps[0][0] <= moment:
            when, _, step = heapq.heappop(self._steps)
            step(when)

    def setup(self) -> None:
        users = {u.username: u for u in User.objects.filter(username__in=["hq", "sampler", "lab"])}
        self.hq, self.sampler, self.lab_user = users["hq"], users["sampler"], users["lab"]
        self.lab = Lab.objects.get(name=LAB)
        self.team = SamplingSite.objects.get(name=SAMPLERS)  # the town hospital's door-to-door team
        self.at(_at(_d(3), 10, 30), self.first_chain)
        self.at(_at(_d(6), 11), self.turn_down_quarantine_cases)
        self.at(_at(_d(7), 8), self.plan_day_seven_rounds)
        self.at(_at(_d(13), 11), self.second_chain)
        self.at(_at(DEMO_DATE, 6), self.daily_run)

    def finish(self) -> ZonesSummary:
        """The decisions left after the outbreak; every zone resident's status for the demo day."""
        self.until(_at(DEMO_DATE, 14, 59))
        people = sorted(set(StatusFact.objects.filter(source=ZONE_SOURCE, source_id__startswith="FX")
                            .values_list("person_id", flat=True)))
        with business_time(_at(DEMO_DATE, 8)):
            status_refresh(people)
        states = Counter(Zone.objects.values_list("state", flat=True))
        summary = ZonesSummary(zones=sum(states.values()), states=dict(states), rounds=len(self.rounds),
                               residents=StatusFact.objects.filter(source=ZONE_SOURCE, source_id__startswith="FX",
                                                                   withdrawn_at__isnull=True)
                               .values("person_id").distinct().count())
        self.log(f"风险区 {summary.zones} 个（管控中 {states.get(ZoneState.IN_FORCE, 0)}，"
                 f"待审批 {states.get(ZoneState.PROPOSED, 0)}，已解除 {states.get(ZoneState.LIFTED, 0)}，"
                 f"未批准 {states.get(ZoneState.REJECTED, 0)}），风险区内 {summary.residents} 人")
        return summary

    # --- helpers ----------------------------------------------------------------------------------------------

    @staticmethod
    def _proposals(after: dt.datetime | None = None) -> list[Zone]:
        qs = Zone.objects.filter(state=ZoneState.PROPOSED)
        if after is not None:
            qs = qs.filter(proposed_at__gt=after)
        return list(qs.order_by("proposed_at", "code"))

    @staticmethod
    def _causes(zone: Zone) -> list[CaseRef]:
        codes = list(ZoneCase.objects.filter(zone=zone, cause=True).order_by("found_on", "id")
                     .values_list("case_code", flat=True))
        reports = {r.code: r for r in CaseReport.objects.filter(code__in=codes)}
        return [CaseRef(c, reports[c].found_on, reports[c].context, reports[c].area_id) for c in codes if c in reports]

    def _approve(self, zone: Zone, moment: dt.datetime) -> Zone | None:
        with business_time(moment):
            try:
                return zone_approve(actor=self.hq, zone_id=zone.id)
            except DomainError as e:  # (another seed's outbreak may overlap an open zone: left for HQ)
                self.log(f"{zone.code} 未批准：{e.message_zh}")
                return None

    def _medium(self, places: list[tuple[Area, str]], cases: list[CaseRef], moment: dt.datetime) -> Zone | None:
        """A medium-risk zone over the first of the places (area, reason) that overlaps no open medium zone,
        approved ten minutes later."""
        for area, reason in places:
            with business_time(moment):
                try:
                    zone = zone_propose(actor=self.hq, kind="medium", area_ids=[area.id], cases=cases,
                                        reason=reason.format(place=area.name))
                except DomainError as e:
                    if e.code != "overlap":
                        raise
                    continue
            return self._approve(zone, moment + dt.timedelta(minutes=10))
        return None

    # --- HQ's decisions ---------------------------------------------------------------------------------------

    def first_chain(self, moment: dt.datetime) -> None:
        """The first case's compound (high), and its grid around it (medium): where the case lived and shopped."""
        for zone in self._proposals():
            zone = self._approve(zone, moment)
            if zone is None:
                continue
            scope = zone_scopes([zone.id])[zone.id]
            around = list(Area.objects.filter(path__in={p for a in scope for p in Area.ancestor_paths(a.path)},
                                              level__in=[AreaLevel.GRID, AreaLevel.VILLAGE]).order_by("-depth"))
            self._medium([(a, "病例住所所在{place}：病例发病前在周边超市、菜店等处活动") for a in around[:1]],
                         self._causes(zone), moment + dt.timedelta(minutes=10))
            break  # one outbreak's first case

    def turn_down_quarantine_cases(self, moment: dt.datetime) -> None:
        """Proposals whose every case was found under central or home quarantine: turned down (一区一策)."""
        for zone in self._proposals():
            causes = self._causes(zone)
            if causes and all(c.context != "community" for c in causes):
                with business_time(moment):
                    zone_reject(actor=self.hq, zone_id=zone.id, reason=REJECT_REASON)

    def plan_day_seven_rounds(self, moment: dt.datetime) -> None:
        """The zones in force whose next step needs a whole-area round before the demo day: a round on that day,
        HQ's decision that evening."""
        zones = list(Zone.objects.filter(state=ZoneState.IN_FORCE).order_by("code"))
        clocks = zone_clocks(zones, moment.date())
        by_day: dict[dt.date, list[int]] = defaultdict(list)
        for zone in zones:
            step = clocks[zone.id].next_step
            if step is not None and step.round_needed_on and moment.date() < step.round_needed_on[0] < DEMO_DATE:
                by_day[step.round_needed_on[0]].append(zone.id)
        for day, ids in sorted(by_day.items()):
            self.at(_at(day, 7), lambda when, ids=ids: self.screening_round(when, ids))
            self.at(_at(day, 18), lambda when, ids=ids: self.decide(when, ids))

    def decide(self, moment: dt.datetime, zone_ids: list[int]) -> None:
        """The evening of the round: each zone eligible for its next step lifted or downgraded (the liftings
        first, so a downgraded zone never meets an open zone of its new level)."""
        zones = list(Zone.objects.filter(id__in=zone_ids, state=ZoneState.IN_FORCE).order_by("code"))
        clocks = zone_clocks(zones, moment.date())
        ready = [z for z in zones if clocks[z.id].eligible]
        ready.sort(key=lambda z: (clocks[z.id].next_level != "low", z.code))
        for i, zone in enumerate(ready):
            with business_time(moment + dt.timedelta(minutes=10 * i)):
                if clocks[zone.id].next_level == "low":
                    zone_lift(actor=self.hq, zone_id=zone.id)
                else:
                    zone_downgrade(actor=self.hq, zone_id=zone.id)

    def second_chain(self, moment: dt.datetime) -> None:
        """The courier's compound (high), and the place he visited most before his report (medium)."""
        for zone in self._proposals(after=_at(_d(6), 11)):
            zone = self._approve(zone, moment)
            if zone is None:
                continue
            causes = self._causes(zone)
            case = Case.objects.select_related("person__area").filter(code__in=[c.code for c in causes]).order_by(
                "reported_at").first()
            if case is not None:
                self._medium(self._visited(case), causes, moment + dt.timedelta(minutes=20))
            break

    @staticmethod
    def _visited(case: Case) -> list[tuple[Area, str]]:
        """The areas of the venues the case scanned in the four days before the report, most visited first (ties:
        markets and shops before the rest), leaving out the home's own compound and grid; each with the reason."""
        end = case.reported_at
        start = _at(timezone.localdate(end) - dt.timedelta(days=4), 0)
        home = case.person.area.path
        rows = (Scan.objects.filter(person=case.person, scanned_at__gte=start, scanned_at__lt=end)
                .values_list("venue__name", "venue__category", "venue__area")
                .annotate(n=Count("id"), first=Min("scanned_at"), last=Max("scanned_at")).order_by())
        areas = Area.objects.in_bulk({r[2] for r in rows})
        rank = {c: i for i, c in enumerate(GATHERING)}
        best: dict[int, tuple] = {}
        for name, category, area_id, n, first, last in rows:
            area = areas[area_id]
            if area.level not in SCOPE_LEVELS or home.startswith(area.path):
                continue
            key = (-n, rank.get(category, len(rank)), name)
            if area_id not in best or key < best[area_id][0]:
                first, last = timezone.localdate(first), timezone.localdate(last)
                when = (f"{first.month}月{first.day}日" if first == last
                        else f"{first.month}月{first.day}日至{last.day}日")
                best[area_id] = (key, f"病例{when}到访{name}（场所码扫码{n}次），所在{{place}}划为中风险区")
        return [(areas[a], reason) for a, (_, reason) in sorted(best.items(), key=lambda item: item[1][0])]

    def daily_run(self, moment: dt.datetime) -> None:
        with business_time(moment):
            zones_refresh()

    # --- the day-7 round --------------------------------------------------------------------------------------

    def _round_areas(self, zones: list[Zone]) -> list[tuple[Area, str]]:
        """The round's areas in the zones' settings: an area of a zone with a zone of another level inside it is
        split into its children (the inner zone keeps its own setting), unless people live on it directly."""
        scopes = zone_scopes([z.id for z in zones])
        setting: dict[str, tuple[Area, str]] = {}
        for zone in sorted(zones, key=lambda z: z.level_now == "high"):  # the stricter level wins an equal area
            for area in scopes[zone.id]:
                setting[area.path] = (area, SETTING_OF_LEVEL[zone.level_now])
        out: list[tuple[Area, str]] = []

        def split(area: Area, level: str) -> None:
            inner = [p for p in setting if p != area.path and p.startswith(area.path)]
            if not inner or Person.objects.active().filter(area=area).exists():
                out.append((area, level))
                return
            for child in Area.objects.filter(path__startswith=area.path, depth=area.depth + 1).order_by("path"):
                if child.path in setting:
                    split(*setting[child.path])
                elif any(p.startswith(child.path) for p in inner):
                    split(child, level)
                else:
                    out.append((child, level))

        for path in sorted(setting):
            if not any(q != path and path.startswith(q) for q in setting):
                split(*setting[path])
        return out

    def _exempt(self, day: dt.date, people: list[tuple[int, str, str]]) -> dict[int, tuple[str, str]]:
        """Who is not sampled in the zones that day: the cases (in hospital or the fangcang), people in central
        quarantine, and the second file of a likely duplicate (one human, sampled under the first file)."""
        ids = [pid for pid, _, _ in people]
        end = _at(day + dt.timedelta(days=1), 0)
        cases = set(Case.objects.filter(person_id__in=ids, reported_at__lt=end).values_list("person_id", flat=True))
        central = set(Stay.objects.filter(person_id__in=ids, measure__in=list(CENTRAL_MEASURES),
                                          admitted_at__lt=end).exclude(released_at__lt=_at(day, 0))
                      .exclude(state="became_case").values_list("person_id", flat=True))
        seen: dict[tuple[str, str], int] = {}
        out = {}
        for pid, name, mobile in sorted(people):
            if pid in cases:
                out[pid] = ("other", "病例，定点医院或方舱医院治疗中")
            elif pid in central:
                out[pid] = ("in_quarantine", "集中隔离中，由隔离点采样")
            elif mobile and (name, mobile) in seen:
                out[pid] = ("other", "疑似重复档案，已按另一档案采样")
            if mobile:
                seen.setdefault((name, mobile), pid)
        return out

    def _courier(self) -> tuple[str, str]:
        r = self.rng
        name = r.choice(list(ZhPerson.last_names)[:60]) + r.choice(ZhPerson.first_names_male)
        return name, r.choice(("138", "139", "150", "158", "187")) + f"{r.randrange(10**8):08d}"

    def screening_round(self, moment: dt.datetime, zone_ids: list[int]) -> None:
        """A whole-area round in the zones on their day 7, through the testing services: announced the evening
        before, the exemptions, door-to-door sampling (household pools in the high-risk zone, 10-in-1 in the
        medium one), the box to the CDC lab, its results reviewed; finished in the afternoon."""
        zones = list(Zone.objects.filter(id__in=zone_ids, state=ZoneState.IN_FORCE).order_by("code"))
        if not zones:
            return
        day = moment.date()
        areas = self._round_areas(zones)
        announced = _at(day - dt.timedelta(days=1), 20)
        with business_time(announced):
            round_ = round_create(actor=self.hq, data=RoundInput(
                name=ZONE_ROUND.format(month=day.month, day=day.day), kind=RoundKind.AREA,
                area_ids=[a.id for a, _ in areas], starts_at=moment, deadline=_at(day, 20),
                settings={a.id: s for a, s in areas}))
        with business_time(moment):
            round_set_state(actor=self.hq, round_id=round_.id, state=RoundState.SAMPLING)
        modes = sorted(RoundArea.objects.filter(round=round_).values_list("area__path", "pool_mode"))
        people = []
        for path, mode in modes:
            people += [(mode, *row) for row in Person.objects.active().filter(area__path__startswith=path)
                       .order_by("area__path", "household_id", "id")
                       .values_list("id", "name", "mobile", "household_id")]
        exempt = self._exempt(day, [(pid, name, mobile) for _, pid, name, mobile, _ in people])
        with business_time(moment + dt.timedelta(minutes=5)):
            for pid, (reason, note) in sorted(exempt.items()):
                exemption_add(actor=self.hq, round_id=round_.id, person_id=pid, reason=reason, note=note)
        tubes: dict[str, list[list[int]]] = defaultdict(list)
        groups: dict[tuple, list[int]] = defaultdict(list)
        for mode, pid, _, _, household in people:
            if pid in exempt:
                continue
            key = (mode, household or -pid) if mode == PoolMode.HOUSEHOLD else (mode,)
            groups[key].append(pid)
        for key, ids in groups.items():
            size = POOL_SIZE[key[0]]
            tubes[key[0]] += [ids[i:i + size] for i in range(0, len(ids), size)]
        number = itertools.count(1)
        barcodes = []
        for i, mode in enumerate(sorted(tubes, key=lambda m: m != PoolMode.HOUSEHOLD)):
            batch = [(f"FK{day:%y%m%d}{next(number):04d}", ids) for ids in tubes[mode]]
            barcodes += [b for b, _ in batch]
            with business_time(moment + dt.timedelta(minutes=30 + 60 * i)):
                tubes_fill_bulk(actor=self.sampler, round_id=round_.id, tubes=batch, site_id=self.team.id, close=True)
        handed, received = _at(day, 10, 30), _at(day, 11, 10)
        tested, staged_at, reviewed, finished = _at(day, 13, 20), _at(day, 14), _at(day, 14, 30), _at(day, 15)
        courier = self._courier()
        code = f"ZY{day:%y%m%d}-FK-01"
        with business_time(handed):
            box = batch_pack(actor=self.sampler, code=code, lab_id=self.lab.id, barcodes=barcodes,
                             site_id=self.team.id, courier=courier[0], courier_mobile=courier[1])
        with business_time(received):
            batch_receive(actor=self.lab_user, code=code, barcodes=barcodes)
        lines = [(n, {"barcode": b, "result": "阴性", "tested_at": timezone.localtime(tested).isoformat()})
                 for n, b in enumerate(barcodes, start=2)]
        with business_time(staged_at):
            staged = results_stage(actor=self.lab_user, lab_id=self.lab.id, lines=lines,
                                   file_name=f"县疾控实验室_{day:%Y%m%d}_风险区筛查.csv")
        with business_time(reviewed):
            results_review(actor=self.lab_user, file_id=staged.id, accept=True, note="风险区筛查，结果均为阴性")
        with business_time(finished):
            round_set_state(actor=self.hq, round_id=round_.id, state=RoundState.FINISHED)
        # the rows' own timestamps at the business times, as the testing demo keeps them
        TestingRound.objects.filter(pk=round_.pk).update(created_at=announced, updated_at=finished)
        Tube.objects.filter(round=round_).update(created_at=moment, updated_at=reviewed)
        TransportBatch.objects.filter(pk=box.pk).update(created_at=handed, updated_at=received)
        LabResultFile.objects.filter(pk=staged.pk).update(created_at=staged_at, updated_at=reviewed)
        TubeResult.objects.filter(source_file=staged).update(reported_at=reviewed)
        self.rounds.append(round_)
        self.log(f"{round_.name}：{len(areas)} 个区域，采样 {sum(len(g) for g in groups.values())} 人，"
                 f"{len(barcodes)} 管，均阴性")


class ZonedTracing(TracingGenerator):
    """The outbreak (shouwang/demo/tracing.py) with HQ's zone decisions taken, in time, before each case report."""

    def __init__(self, *, zones: ZoneGenerator, **kwargs):
        super().__init__(**kwargs)
        self.zones = zones

    def report(self, person, moment: dt.datetime, **kw) -> Case:
        self.zones.until(moment)
        return super().report(person, moment, **kw)

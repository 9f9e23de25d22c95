"""Reads of the risk zones: the zones a user sees, each zone's clock from the policy (its counted cases and the
screening rounds done inside it), HQ's daily list, the population of every zone at once for the supply and
community teams, and the county's status (days since the last community case, 社会面清零, routine management)."""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from dataclasses import dataclass, field

from django.db.models import Count, Exists, OuterRef, Q
from django.utils import timezone

from shouwang.accounts.enums import Capability
from shouwang.accounts.scoping import NOWHERE, jurisdiction_path, require
from shouwang.areas.enums import AreaLevel
from shouwang.areas.models import Area, subtree_range
from shouwang.areas.selectors import area_code_chains
from shouwang.core import clock
from shouwang.core.db import chunks
from shouwang.core.errors import NotFound
from shouwang.people.enums import PersonTag
from shouwang.people.models import Person, PersonTagging
from shouwang.policy.rules import Because, Ruleset, zone_lift_eligibility
from shouwang.policy.rules.load import in_force
from shouwang.policy.rules.zones import LEVEL_NAMES, LiftStep, ZoneDecision
from shouwang.policy.selectors import policy_rulesets
from shouwang.testing.selectors import screening_rounds
from shouwang.zones.enums import LEVEL_ORDER, ZERO_DAYS, ZoneChangeKind, ZoneState
from shouwang.zones.models import CaseReport, Zone, ZoneArea, ZoneCase, ZoneChange

ELDERLY_AGE = 60  # 老年人: 60 and over (老年人权益保障法)


def _d(day: dt.date | None) -> str:
    return day.isoformat() if day else "—"


# ---- which zones a user sees ---------------------------------------------------------------------------------------


def _in_sight(path: str) -> Q:
    """ZoneArea rows a jurisdiction sees: an area inside it, or one covering it (a grid worker inside a village zone)."""
    return Q(area__path__range=subtree_range(path)) | Q(area__path__in=Area.ancestor_paths(path))


def zones_visible(user, *, states=None):
    """Zones with an area in the user's jurisdiction (or covering it), newest first."""
    require(user, Capability.ZONE_VIEW, "查看风险区", "view risk zones")
    path = jurisdiction_path(user)
    if path == NOWHERE:
        return Zone.objects.none()
    qs = Zone.objects.filter(Exists(ZoneArea.objects.filter(_in_sight(path), zone_id=OuterRef("pk"))))
    if states:
        qs = qs.filter(state__in=list(states))
    return qs.order_by("-proposed_at", "-id")


def zone_get(user, zone_id: int) -> Zone:
    zone = zones_visible(user).filter(id=zone_id).first()
    if zone is None:
        raise NotFound("风险区", "risk zone", field="zone_id")
    return zone


def zone_scopes(zone_ids) -> dict[int, list[Area]]:
    """The areas of each zone's scope, in tree order (one query)."""
    out: dict[int, list[Area]] = {i: [] for i in zone_ids}
    for za in ZoneArea.objects.filter(zone_id__in=list(out)).select_related("area").order_by("area__path"):
        out[za.zone_id].append(za.area)
    return out


def place_names(areas) -> dict[int, str]:
    """How an announcement names each area: its township, village, compound, building and unit names run together
    (天坛镇城关社区幸福小区1号楼), grids left out (they are not addresses). One query."""
    paths = {p for a in areas for p in Area.ancestor_paths(a.path)}
    rows = {path: (name, level) for path, name, level in
            Area.objects.filter(path__in=paths).values_list("path", "name", "level")}
    shown = {AreaLevel.TOWNSHIP, AreaLevel.VILLAGE, AreaLevel.COMPOUND, AreaLevel.BUILDING, AreaLevel.UNIT}
    out = {}
    for a in areas:
        names = [rows[p][0] for p in Area.ancestor_paths(a.path) if p in rows and rows[p][1] in shown]
        out[a.id] = "".join(names) if a.level in shown else "".join(names) + a.name
    return out


def zone_history(zone: Zone) -> list[ZoneChange]:
    return list(zone.changes.select_related("by").order_by("at", "id"))


# ---- the policy's unit around a case's home ------------------------------------------------------------------------

# The unit a version designates a zone around (protocol-rules §4): V9 the compound or village, V20 (and V10 on top
# of it) the building or unit. The last version of a ruleset's chain that names one decides.
ZONE_UNITS = {"V9": "compound_or_village", "V20": "building"}


def zone_unit_mode(rules: Ruleset) -> str:
    return next((ZONE_UNITS[v] for v in reversed(rules.chain) if v in ZONE_UNITS), "compound_or_village")


def zone_unit_for(area: Area, rules: Ruleset) -> tuple[Area, Because]:
    """The area a zone around a home (or a place visited often) takes under the version in force: V9 the compound
    the home is in, else its village (村/社区), else its grid; V20 the building (a home on a unit: the unit's
    building), else the home's own area (no building recorded: HQ narrows it)."""
    chain = list(Area.objects.filter(path__in=Area.ancestor_paths(area.path)).order_by("depth"))
    by_level = {a.level: a for a in chain}  # the deepest of each level wins (a compound inside a compound ...)
    spec = rules.zones.get("high")
    unit_zh, unit_en = (spec.unit_zh, spec.unit_en) if spec else ("", "")
    rule = spec.rule if spec else ""
    if zone_unit_mode(rules) == "building":
        found = by_level.get(AreaLevel.BUILDING)
        if found is not None:
            return found, Because(rule, f"{rules.id} 按{unit_zh}划定：{found.name}",
                                  f"{rules.id} designates by {unit_en}: {found.name}")
        return area, Because(rule, f"{rules.id} 按{unit_zh}划定；未登记楼栋，取住所所在区域 {area.name}，请指挥部结合流调缩小",
                             f"{rules.id} designates by {unit_en}; no building recorded, the home's area {area.name} "
                             "is proposed: HQ narrows it by investigation")
    for level in (AreaLevel.COMPOUND, AreaLevel.VILLAGE, AreaLevel.GRID, AreaLevel.MICRO_GRID):
        found = by_level.get(level)
        if found is not None:
            return found, Because(rule, f"{rules.id} 按{unit_zh}划定：{found.name}（{AreaLevel(level).label}）",
                                  f"{rules.id} designates by {unit_en}: {found.name} ({level})")
    return area, Because(rule, f"{rules.id}：取住所所在区域 {area.name}", f"{rules.id}: the home's area {area.name}")


# ---- the clock -------------------------------------------------------------------------------------------------------


@dataclass
class ZoneClock:
    """When a zone may change, from the policy in force today: the next step below its level now and the step that
    lifts it (to low), each with its date and state (met, waiting, blocked), and the explanation."""

    zone_id: int
    version: str
    designated_on: dt.date
    level_now: str
    cases: list[tuple[dt.date, str, str]]  # (found on, context, case code), not withdrawn
    rounds: list[tuple[dt.date, bool]]  # whole-zone screening rounds (date, all negative)
    decision: ZoneDecision | None = None
    next_step: LiftStep | None = None
    lift_step: LiftStep | None = None
    kind_retired: bool = False  # the version in force no longer designates this kind: it may be lifted now
    retired_on: dt.date | None = None  # ... since that version took effect
    explanation: list[dict] = field(default_factory=list)

    @property
    def last_counted_case(self) -> dt.date | None:
        return self.decision.last_counted_case if self.decision else None

    @property
    def next_level(self) -> str:
        if self.kind_retired:
            return "low"
        return self.next_step.to if self.next_step else ""

    @property
    def eligible_on(self) -> dt.date | None:
        if self.kind_retired:
            return self.retired_on
        return self.next_step.eligible_on if self.next_step else None

    @property
    def state(self) -> str:
        if self.kind_retired:
            return "met"
        return self.next_step.state if self.next_step else ""

    @property
    def eligible(self) -> bool:
        return self.state == "met"

    @property
    def lift_on(self) -> dt.date | None:
        if self.kind_retired:
            return self.retired_on
        return self.lift_step.eligible_on if self.lift_step else None

    @property
    def lift_eligible(self) -> bool:
        return self.kind_retired or bool(self.lift_step and self.lift_step.state == "met")


def designated_on(zone: Zone, today: dt.date) -> dt.date:
    return timezone.localdate(zone.designated_at) if zone.designated_at else today


def _rulesets_for(zones: list[Zone], scopes: dict[int, list[Area]], today: dt.date) -> dict[int, Ruleset]:
    """The version in force today for each zone (its first area's chain: a county override applies), from one
    query of the ancestors' codes and one read of the stored versions."""
    rulesets = policy_rulesets()
    firsts = {z.id: scopes[z.id][0].path for z in zones if scopes.get(z.id)}
    chains = area_code_chains(firsts.values())
    out: dict[int, Ruleset] = {}
    cache: dict[tuple, Ruleset] = {}
    for z in zones:
        chain = chains.get(firsts.get(z.id, ""), ())
        if chain not in cache:
            found = in_force(rulesets, today, chain)
            if found is None:
                raise NotFound("该日期生效的政策版本", "policy version in force on that date", field="today")
            cache[chain] = found
        out[z.id] = cache[chain]
    return out


def zone_clocks(zones, today: dt.date | None = None) -> dict[int, ZoneClock]:
    """The clock of each zone (proposed zones as if designated today; lifted and rejected ones have no next step),
    set-based: the scopes, cases and versions in one query each, the rounds in the testing read's few grouped
    queries, whatever the number of zones."""
    today = today or clock.today()
    zones = list(zones)
    if not zones:
        return {}
    scopes = zone_scopes([z.id for z in zones])
    rules = _rulesets_for(zones, scopes, today)
    cases: dict[int, list[tuple[dt.date, str, str]]] = defaultdict(list)
    for zone_id, found_on, context, code in (ZoneCase.objects.filter(zone_id__in=[z.id for z in zones],
                                                                      withdrawn_at__isnull=True)
                                             .order_by("found_on", "id")
                                             .values_list("zone_id", "found_on", "context", "case_code")):
        cases[zone_id].append((found_on, context, code))
    open_zones = [z for z in zones if z.state in (ZoneState.PROPOSED, ZoneState.IN_FORCE)]
    since = min((designated_on(z, today) for z in open_zones), default=today)
    paths = {a.path for z in open_zones for a in scopes[z.id]}
    per_area = screening_rounds(paths, since=since) if paths else {}
    out = {}
    for z in zones:
        ruleset = rules[z.id]
        start = designated_on(z, today)
        areas = scopes[z.id]
        rounds: list[tuple[dt.date, bool]] = []
        if areas and z.state in (ZoneState.PROPOSED, ZoneState.IN_FORCE):
            common = set.intersection(*(set(per_area.get(a.path, {})) for a in areas))
            for round_id in sorted(common):
                done = [per_area[a.path][round_id] for a in areas]
                rounds.append((max(d for d, _ in done), all(ok for _, ok in done)))
        c = ZoneClock(zone_id=z.id, version=ruleset.id, designated_on=start, level_now=z.level_now,
                      cases=cases.get(z.id, []), rounds=sorted(rounds))
        if z.state in (ZoneState.LIFTED, ZoneState.REJECTED):
            out[z.id] = c
            continue
        if z.kind not in ruleset.zones:
            c.kind_retired, c.retired_on = True, max(start, ruleset.effective_from)
            c.explanation = [Because("", f"{ruleset.id} 不再划定{LEVEL_NAMES[z.kind][0]}：可即行解除",
                                     f"{ruleset.id} no longer designates a {LEVEL_NAMES[z.kind][1]}: it may be "
                                     "lifted now").as_dict()]
            out[z.id] = c
            continue
        decision = zone_lift_eligibility(ruleset, z.kind, start, [(d, ctx) for d, ctx, _ in c.cases], c.rounds, today)
        c.decision = decision
        below = [s for s in decision.steps if LEVEL_ORDER[s.to] < LEVEL_ORDER.get(z.level_now, 0)]
        c.next_step = below[0] if below else None
        c.lift_step = decision.steps[-1] if decision.steps and decision.steps[-1].to == "low" else None
        lines = [b.as_dict() for b in decision.because]
        for step in (c.next_step, c.lift_step):
            if step is not None:
                lines.extend(b.as_dict() for b in step.because if b.as_dict() not in lines)
        if LEVEL_ORDER[decision.level_now] > LEVEL_ORDER.get(z.level_now, 0):
            lines.append(Because(decision.steps[0].rule if decision.steps else "",
                                 f"新增病例后按政策应为{LEVEL_NAMES[decision.level_now][0]}，当前为"
                                 f"{LEVEL_NAMES[z.level_now][0]}：请指挥部研判（一区一策）",
                                 f"after a new case the policy gives {LEVEL_NAMES[decision.level_now][1]}, the zone is "
                                 f"{LEVEL_NAMES[z.level_now][1]}: for HQ to decide").as_dict())
        c.explanation = lines
        out[z.id] = c
    return out


def zone_clock(zone: Zone, today: dt.date | None = None) -> ZoneClock:
    return zone_clocks([zone], today)[zone.id]


# ---- HQ's daily list -----------------------------------------------------------------------------------------------


@dataclass
class DailyRow:
    zone: Zone
    clock: ZoneClock
    areas: list[Area]
    new: bool = False  # eligible from today


@dataclass
class MovedRow:
    zone: Zone
    before: dt.date | None
    after: dt.date | None
    reason: str
    at: dt.datetime


@dataclass
class HqDaily:
    day: dt.date
    eligible: list[DailyRow]  # in force and eligible for their next step (downgrade or lifting)
    moved: list[MovedRow]  # the eligible date moved today (a new case, a scope or kind change)
    waiting: list[DailyRow]  # the rest of the zones in force, by eligible date


def _day_bounds(day: dt.date) -> tuple[dt.datetime, dt.datetime]:
    start = timezone.make_aware(dt.datetime.combine(day, dt.time.min))
    return start, start + dt.timedelta(days=1)


def hq_daily(user, today: dt.date | None = None) -> HqDaily:
    """The zones in force the user sees that are eligible for their next step (newly today or still waiting for
    HQ), those whose eligible date moved today, and the rest by date. Clocks computed now, not read from the
    stored fields, so the list is right without the daily job."""
    today = today or clock.today()
    zones = list(zones_visible(user, states=[ZoneState.IN_FORCE]))
    clocks = zone_clocks(zones, today)
    scopes = zone_scopes([z.id for z in zones])
    eligible, waiting = [], []
    for z in zones:
        c = clocks[z.id]
        row = DailyRow(zone=z, clock=c, areas=scopes[z.id], new=c.eligible_on == today)
        (eligible if c.eligible else waiting).append(row)
    eligible.sort(key=lambda r: (r.clock.eligible_on or today, r.zone.code))
    waiting.sort(key=lambda r: (r.clock.eligible_on or dt.date.max, r.zone.code))
    start, end = _day_bounds(today)
    moved = [MovedRow(zone=ch.zone, before=dt.date.fromisoformat(ch.before["eligible_on"])
                      if ch.before.get("eligible_on") else None,
                      after=dt.date.fromisoformat(ch.after["eligible_on"]) if ch.after.get("eligible_on") else None,
                      reason=ch.reason, at=ch.at)
             for ch in ZoneChange.objects.filter(kind=ZoneChangeKind.CLOCK, at__gte=start, at__lt=end,
                                                 zone__in=[z.id for z in zones]).select_related("zone")
             .order_by("at", "id")]
    return HqDaily(day=today, eligible=eligible, moved=moved, waiting=waiting)


# ---- population, vulnerable people and daily needs ------------------------------------------------------------------

VULNERABLE = (PersonTag.ELDERLY_ALONE, PersonTag.DISABLED, PersonTag.PREGNANT, PersonTag.SERIOUSLY_ILL,
              PersonTag.BEDRIDDEN, PersonTag.INFANT)
# What the supply and community teams prepare, from the counts (key, Chinese, English, the count it reads).
NEEDS = (
    ("daily_supplies", "生活物资保障（户）", "daily supplies (households)", "households"),
    ("medicine", "重病、慢病患者用药保障", "medicine for the seriously ill", "seriously_ill"),
    ("infant_supplies", "婴幼儿用品（奶粉、尿不湿等）", "infant supplies (formula, nappies ...)", "infant"),
    ("home_care", "独居老人包保、上门照看", "looking in on elderly people living alone", "elderly_alone"),
    ("disability_care", "残障人士帮扶", "help for disabled people", "disabled"),
    ("door_sampling", "卧床人员上门采样", "sampling at home for bedridden people", "bedridden"),
    ("prenatal_care", "孕产妇产检、就医保障", "antenatal care and medical visits for pregnant women", "pregnant"),
)


@dataclass
class ZonePopulation:
    zone_id: int
    people: int = 0
    households: int = 0
    elderly: int = 0  # 60 and over, from the birth date
    elderly_alone: int = 0  # tagged 独居老人, or 60+ and the only member of their household
    disabled: int = 0
    pregnant: int = 0
    seriously_ill: int = 0
    bedridden: int = 0
    infant: int = 0
    no_household: int = 0  # people with no household recorded (households and living alone not known for them)

    @property
    def needs(self) -> list[dict]:
        return [{"key": key, "label_zh": zh, "label_en": en, "count": getattr(self, attr)}
                for key, zh, en, attr in NEEDS if getattr(self, attr)]


def _years_before(day: dt.date, years: int) -> dt.date:
    try:
        return day.replace(year=day.year - years)
    except ValueError:  # 29 February
        return day.replace(year=day.year - years, day=28)


def _roots(paths) -> list[str]:
    """The paths not under another one of them (their subtrees cover all the others')."""
    paths = sorted(set(paths))
    out: list[str] = []
    for p in paths:
        if not out or not p.startswith(out[-1]):
            out.append(p)
    return out


def zone_population(zones, today: dt.date | None = None) -> dict[int, ZonePopulation]:
    """People living in each zone (their area in the scope's subtrees; merged files not counted), households,
    people 60 and over, the vulnerable (独居老人 tagged or computed: 60+ with nobody else in their household; disabled,
    pregnant, seriously ill, bedridden, infants from the person tags) and the daily needs that follow. Counted per
    area and added up per zone, for all zones at once (an area in two zones counts in both): the areas in one
    query, then three grouped queries over the people of the scopes (per 400 scope areas), each reading the people
    through their area index (the tags through the tag index, the smaller side)."""
    today = today or clock.today()
    zones = list(zones)
    out = {z.id: ZonePopulation(zone_id=z.id) for z in zones}
    scope_paths: dict[str, list[int]] = defaultdict(list)
    for zone_id, areas in zone_scopes(list(out)).items():
        for a in areas:
            scope_paths[a.path].append(zone_id)
    if not scope_paths:
        return out
    old = _years_before(today, ELDERLY_AGE)
    zones_of: dict[int, list[int]] = {}  # area id -> the zones whose scope holds it
    per_area: dict[int, dict[str, int]] = defaultdict(lambda: defaultdict(int))
    active = Q(merged_into__isnull=True)
    for chunk in chunks(_roots(scope_paths), 400):  # 800 range bounds: under SQLite's oldest limit of 999
        cond = Q()
        for root in chunk:
            cond |= Q(path__range=subtree_range(root))
        for area_id, path in Area.objects.filter(cond).values_list("id", "path"):
            zones_of[area_id] = sorted({z for p in Area.ancestor_paths(path) for z in scope_paths.get(p, ())})
        areas = Area.objects.filter(cond).values("id")
        people = (Person.objects.filter(active, area_id__in=areas).values_list("area_id")
                  .annotate(n=Count("id"), households=Count("household_id", distinct=True),
                            elderly=Count("id", filter=Q(birth_date__lte=old)),
                            no_household=Count("id", filter=Q(household_id__isnull=True))).order_by())
        for area_id, n, households, elderly, no_household in people:
            row = per_area[area_id]
            row["people"] += n
            row["households"] += households
            row["elderly"] += elderly
            row["no_household"] += no_household
        for area_id, tag, n in (PersonTagging.objects.filter(tag__in=list(VULNERABLE), person__area_id__in=areas,
                                                             person__merged_into__isnull=True)
                                .values_list("person__area_id", "tag").annotate(n=Count("id")).order_by()):
            per_area[area_id][tag] += n
        # 60+ with nobody else in their household, not tagged already: one more elderly person living alone
        housemates = (Person.objects.filter(active, household_id=OuterRef("household_id"))
                      .exclude(id=OuterRef("id")))
        tagged = PersonTagging.objects.filter(person_id=OuterRef("id"), tag=PersonTag.ELDERLY_ALONE)
        for area_id, n in (Person.objects.filter(active, area_id__in=areas, birth_date__lte=old,
                                                 household_id__isnull=False)
                           .exclude(Exists(housemates)).exclude(Exists(tagged))
                           .values_list("area_id").annotate(n=Count("id")).order_by()):
            per_area[area_id][PersonTag.ELDERLY_ALONE] += n
    names = ("people", "households", "elderly", "no_household", *VULNERABLE)
    for area_id, counts in per_area.items():
        for zone_id in zones_of.get(area_id, ()):
            pop = out[zone_id]
            for name in names:
                if counts.get(name):
                    setattr(pop, str(name), getattr(pop, str(name)) + counts[name])
    return out


def zone_residents(zone_ids) -> list[int]:
    """Ids of the people living in these zones' scopes (merged files not counted)."""
    paths = [a.path for areas in zone_scopes(zone_ids).values() for a in areas]
    if not paths:
        return []
    cond = Q()
    for path in paths:
        cond |= Q(area__path__range=subtree_range(path))
    return list(Person.objects.active().filter(cond).order_by("id").values_list("id", flat=True))


# ---- the county ------------------------------------------------------------------------------------------------------


@dataclass
class CountyStatus:
    day: dt.date
    last_community_case: dt.date | None
    days_since: int | None  # days since the last community case (None: none recorded)
    community_today: int
    community_yesterday: int
    zero: bool  # 社会面清零
    zero_since: dt.date | None
    zones: dict[str, int]  # level -> zones in force
    proposed: int
    routine: bool  # no zone in force: the county is back to routine management
    explanation: list[dict]


def county_status(user, today: dt.date | None = None) -> CountyStatus:
    """Days since the last community case (社会面: found outside quarantine and control, context "community") in
    the user's jurisdiction; 社会面清零 when none was found on the last complete day nor so far today (ZERO_DAYS);
    the zones in force by level, and routine management once every zone is lifted (protocol-rules §4: all high and
    medium areas lifted → the county returns to routine measures)."""
    require(user, Capability.ZONE_VIEW, "查看风险区", "view risk zones")
    today = today or clock.today()
    path = jurisdiction_path(user)
    cases = CaseReport.objects.filter(area__path__range=subtree_range(path), withdrawn_at__isnull=True,
                                      context="community", found_on__lte=today)
    last = max(cases.values_list("found_on", flat=True), default=None)
    per_day = dict(cases.filter(found_on__gte=today - dt.timedelta(days=1)).values_list("found_on")
                   .annotate(n=Count("id")).order_by())
    zones = zones_visible(user, states=[ZoneState.IN_FORCE, ZoneState.PROPOSED])
    by_state = defaultdict(int)
    levels: dict[str, int] = defaultdict(int)
    for state, level, n in zones.order_by().values_list("state", "level_now").annotate(n=Count("id")):
        by_state[state] += n
        if state == ZoneState.IN_FORCE:
            levels[level] += n
    zero = last is None or last <= today - dt.timedelta(days=ZERO_DAYS)
    zero_since = (last + dt.timedelta(days=ZERO_DAYS)) if (zero and last is not None) else None
    routine = by_state[ZoneState.IN_FORCE] == 0
    lines = []
    if last is None:
        lines.append(Because("", "辖区内未记录社会面病例", "no community case recorded in the jurisdiction"))
    else:
        lines.append(Because("", f"最后一例社会面病例：{_d(last)}，已 {(today - last).days} 天",
                             f"last community case: {_d(last)}, {(today - last).days} days ago"))
    lines.append(Because("", "社会面清零：昨日及今日均无社会面新增" + ("，已实现" if zero else "，尚未实现"),
                         "community-level zero: no community case yesterday or today"
                         + (": reached" if zero else ": not yet")))
    if routine:
        lines.append(Because("Z4", "高、中风险区已全部解除：全域恢复常态化防控",
                             "every high and medium zone is lifted: routine management everywhere"))
    else:
        shown = "、".join(f"{LEVEL_NAMES[k][0]} {n} 个" for k, n in sorted(levels.items(), key=lambda x: -LEVEL_ORDER[x[0]]))
        lines.append(Because("Z4", f"管控中：{shown}；其余区域为低风险区",
                             f"in force: {', '.join(f'{n} {LEVEL_NAMES[k][1]}' for k, n in levels.items())}; "
                             "the rest is low risk"))
    return CountyStatus(day=today, last_community_case=last, days_since=(today - last).days if last else None,
                        community_today=per_day.get(today, 0),
                        community_yesterday=per_day.get(today - dt.timedelta(days=1), 0), zero=zero,
                        zero_since=zero_since, zones=dict(levels), proposed=by_state[ZoneState.PROPOSED],
                        routine=routine, explanation=[b.as_dict() for b in lines])

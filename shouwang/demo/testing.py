"""The demo county's mass testing: sampling sites, two labs, a finished whole-county round and a town round in
progress on the demo day, with one positive pool under recheck.

Runs after the venues and their status facts (generator.CountyGenerator.run), from its own ``random.Random`` seeded
from the county's seed, so the same seed and size always give the same rounds, tubes, boxes and results.

- Sites: a fixed site in every village (the seat village's is its township health centre's) and community, the town
  health centre, temporary sites in the town as many as its population needs, door-to-door teams (two in the town,
  one per rural township) for bedridden people; two labs, the county CDC's and a third-party one.
- 第1轮全员核酸检测 (2022-07-12 06:00 to 07-13 06:00, the whole county, 20-in-1 everywhere): finished. Some people
  are exempt (away working elsewhere, infants under one, the person in central quarantine), bedridden people are
  sampled at home (exemption door_to_door, still counted), about 97% of the target is sampled; every tube went to
  a lab in a box, was received and resulted negative through a reviewed result file.
- 第2轮区域核酸检测 (2022-07-15 06:00 to 07-16 06:00, 天坛镇): in progress at DEMO_NOW. The community of the high-risk
  building is a medium-risk zone (10-in-1, sampled first thing), the rest of the town other areas (20-in-1). About
  60% sampled; each site has an open tube, tubes wait for the courier, boxes are on the road, tubes are in the lab,
  runs are resulted negative, one 10-in-1 pool is positive (its ten members are under recheck: yellow, K6b) and three
  of them were re-swabbed in single tubes now on their way to the lab; one result file waits for review.

The small parts go through the testing services (labs, sites, rounds and their state, the positive run's file and
its review, the recheck tubes and their box, the pending file) with the business clock pinned to the moment they
happen. The big parts (exemptions, tubes, members, people's round states, boxes, files, results) are written with
RowInserter as the services write them: the same rows, fields and states (shouwang/testing/services.py), with the
times of the simulated day. Row timestamps (created_at, updated_at, reported_at) carry those business times too.
"""

from __future__ import annotations

import bisect
import datetime as dt
import hashlib
import itertools
import math
import random
from collections import Counter, defaultdict
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from unittest import mock

from django.db import connection
from django.utils import timezone
from faker.providers.person.zh_CN import Provider as ZhPerson

from shouwang.accounts.models import User
from shouwang.areas.enums import AreaLevel, GridKind
from shouwang.areas.models import Area
from shouwang.core import clock
from shouwang.demo.generator import COUNTY, COUNTY_CODE, TOWN, RowInserter, reset_sequences
from shouwang.people.enums import PersonTag
from shouwang.people.models import Person, PersonTagging
from shouwang.status.models import StatusFact
from shouwang.testing.enums import (
    POOL_SIZE,
    BatchState,
    ExemptReason,
    PersonRoundState,
    PoolMode,
    Result,
    ResultFileState,
    RoundKind,
    RoundState,
    SiteKind,
    TubePurpose,
    TubeState,
)
from shouwang.testing.models import (
    Exemption,
    Lab,
    LabResultFile,
    PersonRound,
    RecheckTask,
    RoundArea,
    SamplingSite,
    TestingRound,
    TransportBatch,
    Tube,
    TubeMember,
    TubeResult,
)
from shouwang.testing.services import (
    RoundInput,
    batch_pack,
    lab_create,
    results_review,
    results_stage,
    round_create,
    round_set_state,
    site_create,
    tube_fill,
)
from shouwang.venues.services import person_code_get_or_issue

FIRST_DAY = dt.date(2022, 7, 12)  # 第1轮: 06:00 on the 12th to 06:00 on the 13th
SECOND_DAY = dt.date(2022, 7, 15)  # 第2轮, the demo's business day (venues.DEMO_DATE)
DEMO_NOW = dt.time(15, 40)  # the time of day the second round stands at
MINUTE, HOUR = 60, 3600
NOW = DEMO_NOW.hour * HOUR + DEMO_NOW.minute * MINUTE  # seconds after midnight of SECOND_DAY

FIRST_ROUND = "第1轮全员核酸检测"
SECOND_ROUND = "第2轮区域核酸检测"
MEDIUM = "medium_risk_zone"  # the other areas keep round_create's default setting, other_area

# When people come to a site (hour: weight): before work, then after work; the medium-risk zone is sampled first
# thing, building by building.
NORMAL_HOURS = {6: 4, 7: 9, 8: 9, 9: 7, 10: 5, 11: 4, 12: 3, 13: 3, 14: 3, 15: 4, 16: 6, 17: 9, 18: 11, 19: 8}
MEDIUM_HOURS = {6: 22, 7: 24, 8: 18, 9: 12, 10: 7, 11: 4, 12: 2, 13: 2, 14: 2, 15: 2, 16: 2, 17: 2, 18: 1, 19: 1}
DOOR_HOURS = (8 * HOUR, 18 * HOUR)  # door-to-door teams visit bedridden people during the day
SEALED_HOURS = (6 * HOUR + 30 * MINUTE, 9 * HOUR + 30 * MINUTE)  # the high-risk building, door to door

AWAY_WORK = ("太原市务工", "外出务工", "临汾市区务工")
AWAY_SHARE = 0.2  # of those who work away, the ones not back home this week
HOUSEHOLD_MISS, PERSON_MISS, BEDRIDDEN_MISS = 0.01, 0.02, 0.02  # not sampled though they should be
TOWN_SITE_DAY = 270 * 12  # people a town site samples in a day of the round

MAX_OPEN = 90 * MINUTE  # a tube not full after this long is sealed when the next person comes (sample stability)
BOX_MAX = 50  # tubes in a transport box
BOX_WINDOW = 2 * HOUR  # a courier comes two hours after the first tube waits, or when a box is full
TRANSIT = {True: (30, 60), False: (40, 70)}  # minutes on the road to the lab (town / townships)
RUN_MAX, RUN_WAIT = 94, 45 * MINUTE  # a PCR plate: 94 samples and two controls; the lab waits at most 45 minutes
TEST_MINUTES, UPLOAD_MINUTES, REVIEW_MINUTES = (150, 270), (5, 20), (10, 40)
RECHECK_LEAD = 100 * MINUTE  # the positive pool is published at least this long before DEMO_NOW
POSITIVE_CT = ("32.41", "30.96")  # ORF1ab and N of the positive pool

LABS = {  # key: (name, tubes per day, short name for file names, where, created)
    "cdc": ("县疾控中心实验室", 4000, "县疾控实验室", "县疾控中心", dt.datetime(2022, 4, 1, 9, 0)),
    "kingmed": ("金域医学检验实验室", 8000, "金域浮山", "", dt.datetime(2022, 7, 11, 10, 0)),
}
# Temporary sites of the county town in order of need (special grid, name); the first serves the dormitories.
TOWN_TEMPORARY = [
    ("工业园区", "工业园区临时采样点"), ("县政府机关", "府前广场临时采样点"), ("浮山中学", "浮山中学临时采样点"),
    ("农贸市场", "农贸市场临时采样点"), ("汽车客运站", "汽车客运站临时采样点"), ("第一小学", "第一小学临时采样点"),
    ("第二中学", "第二中学临时采样点"), ("职业中学", "职业中学临时采样点"), ("快递物流园", "物流园临时采样点"),
]
TOWN_TEAMS = [("县人民医院", "县人民医院上门采样队"), ("县中医院", "县中医院上门采样队")]
SITES_READY = dt.datetime(2022, 7, 11, 15, 0)
FIRST_ANNOUNCED, SECOND_ANNOUNCED = dt.datetime(2022, 7, 11, 20, 0), dt.datetime(2022, 7, 14, 21, 30)
MEDIUM_SITES_READY = dt.datetime(2022, 7, 14, 22, 30)


@dataclass
class SitePlan:
    name: str
    kind: str
    area_id: int
    address: str
    hours: str
    samplers: int
    per_hour: int
    town: bool
    lab: str
    couriers: list[tuple[str, str]]
    number: int = 0
    pk: int = 0
    hub: SitePlan | None = None  # where its tubes are boxed: a village's go to the township health centre


@dataclass
class TubePlan:
    barcode: str
    site: SitePlan
    mode: str
    members: list[tuple[int, int]]  # (second of the round day, person id) in order
    opened: int
    closed: int | None = None
    box: BoxPlan | None = None
    run: RunPlan | None = None
    pk: int = 0


@dataclass
class BoxPlan:
    code: str
    site: SitePlan
    courier: tuple[str, str]
    handed: int
    received: int | None
    tubes: list[TubePlan]
    pk: int = 0


@dataclass
class RunPlan:
    lab: str
    tubes: list[TubePlan]
    tested: int
    uploaded: int
    reviewed: int
    fate: str = "accepted"  # accepted (bulk) / positive (services) / pending (staged) / waiting (no file yet)
    file_name: str = ""
    pk: int = 0


@dataclass
class RoundPlan:
    day: dt.date
    round: TestingRound
    scope: list[int]  # person ids who live in the round's areas
    exempt: dict[int, tuple[str, str]] = field(default_factory=dict)  # person -> (reason, note)
    site_of: dict[int, SitePlan] = field(default_factory=dict)
    mode_of: dict[int, str] = field(default_factory=dict)
    tubes: list[TubePlan] = field(default_factory=list)
    boxes: list[BoxPlan] = field(default_factory=list)
    runs: list[RunPlan] = field(default_factory=list)


@dataclass
class TestingSummary:
    __test__ = False  # not a pytest test class

    rounds: int = 0
    sites: int = 0
    labs: int = 0
    exemptions: int = 0
    tubes: int = 0
    samples: int = 0  # people in round tubes (both rounds)
    boxes: int = 0
    files: int = 0
    rechecks: int = 0
    sampled: dict[str, tuple[int, int]] = field(default_factory=dict)  # round name -> (sampled, target)


def _stamper(day: dt.date) -> Callable[[int | None], object]:
    """second after the day's local midnight -> the value the database driver takes for a DateTimeField (what
    connection.ops.adapt_datetimefield_value answers, without its cost per call); None stays None."""
    midnight = timezone.make_aware(dt.datetime.combine(day, dt.time()))
    if connection.vendor == "sqlite":
        base = timezone.make_naive(midnight, connection.timezone)

        def convert(second: int) -> object:
            return str(base + dt.timedelta(seconds=second))
    else:
        def convert(second: int) -> object:
            return midnight + dt.timedelta(seconds=second)
    cache: dict[int, object] = {}

    def stamp(second: int | None) -> object:
        if second is None:
            return None
        value = cache.get(second)
        if value is None:
            value = cache[second] = convert(second)
        return value

    return stamp


def _aware(day: dt.date, second: int) -> dt.datetime:
    return timezone.make_aware(dt.datetime.combine(day, dt.time())) + dt.timedelta(seconds=second)


@contextmanager
def business_time(moment: dt.datetime) -> Iterator[None]:
    """Run services as if at `moment`: the business clock (shouwang.core.clock) answers it, to the second."""
    with mock.patch.object(clock, "now", lambda: moment), \
            mock.patch.object(clock, "today", lambda: timezone.localdate(moment)):
        yield


def _json(model, name: str, value):
    return model._meta.get_field(name).get_db_prep_save(value, connection)


class TestingGenerator:
    __test__ = False  # not a pytest test class

    def __init__(self, *, seed: int, county_path: str, log: Callable[[str], None] | None = None):
        self.rng = random.Random(f"shouwang-testing-{seed}")
        self.county_path = county_path
        self.log = log or (lambda message: None)
        self.summary = TestingSummary()
        self.sites: list[SitePlan] = []
        self.labs: dict[str, Lab] = {}
        self._couriers: set[str] = set()

    # --- what the county holds -------------------------------------------------------------------------------

    def load(self) -> None:
        users = {u.username: u for u in User.objects.filter(
            username__in=["hq", "taskforce", "township", "sampler", "lab"])}
        self.hq, self.taskforce, self.township_user = users["hq"], users["taskforce"], users["township"]
        self.sampler, self.lab_user = users["sampler"], users["lab"]
        self.areas = {a["id"]: a for a in Area.objects.subtree(self.county_path).order_by("path").values(
            "id", "code", "name", "level", "grid_kind", "path", "address")}
        self.by_code = {a["code"]: a for a in self.areas.values()}
        self.county = next(a for a in self.areas.values() if a["code"] == COUNTY_CODE)
        self.town_code = f"{COUNTY_CODE}100"
        people = list(Person.objects.active().within(self.county_path).order_by("id").values_list(
            "id", "area_id", "household_id", "birth_date", "workplace", "name", "mobile"))
        self.people = [p[0] for p in people]
        self.area_of = {p[0]: p[1] for p in people}
        self.household_of = {p[0]: p[2] or -p[0] for p in people}
        self.birth_of = {p[0]: p[3] for p in people}
        self.grid_of = {}  # person -> code of their grid
        for pid, area_id, *_ in people:
            self.grid_of[pid] = self.areas[area_id]["code"].split("-")[0]
        self.bedridden = set(PersonTagging.objects.filter(tag=PersonTag.BEDRIDDEN).values_list("person_id", flat=True)
                             ) & set(self.people)
        r = self.rng
        self.away = {pid: workplace for pid, _, _, _, workplace, _, _ in people
                     if workplace in AWAY_WORK and r.random() < AWAY_SHARE}
        # The planted likely duplicates (same name and mobile): one human, sampled under the first file only.
        pairs = defaultdict(list)
        for pid, _, _, _, _, name, mobile in people:
            if mobile:
                pairs[(name, mobile)].append(pid)
        twins = [ids for ids in pairs.values() if len(ids) > 1]
        self.copies = {pid for ids in twins for pid in ids[1:]}
        self.twins = {pid for ids in twins for pid in ids}
        # People with status facts (the venues demo): none of them in the positive pool.
        self.facts = defaultdict(list)
        for pid, value, since, until in StatusFact.objects.filter(withdrawn_at__isnull=True).values_list(
                "person_id", "value", "since", "until"):
            self.facts[pid].append((value, since, until))
        sealed = sorted(pid for pid, facts in self.facts.items() if any(v == "high" for v, _, _ in facts))
        self.sealed = set(sealed)
        # The medium-risk zone: the community of the high-risk building, else the first community.
        communities = sorted(a["code"] for a in self.areas.values()
                             if a["level"] == AreaLevel.VILLAGE and a["code"].startswith(self.town_code))
        code = self.grid_of[sealed[0]][:12] if sealed else communities[0]
        self.medium_community = code if code in communities else communities[0]

    def in_quarantine(self, pid: int, day: dt.date) -> bool:
        return any(v == "central_quarantine" and since <= day and (until is None or until >= day)
                   for v, since, until in self.facts.get(pid, []))

    # --- names -----------------------------------------------------------------------------------------------

    def courier(self) -> tuple[str, str]:
        r = self.rng
        while True:
            name = r.choice(list(ZhPerson.last_names)[:60]) + r.choice(ZhPerson.first_names_male)
            mobile = r.choice(("138", "139", "150", "152", "158", "159", "187", "131", "155", "186", "133")) + \
                f"{r.randrange(10**8):08d}"
            if name not in self._couriers:
                self._couriers.add(name)
                return name, mobile

    # --- labs and sites --------------------------------------------------------------------------------------

    def create_labs(self) -> None:
        special = {a["name"].removesuffix("专属网格"): a["id"] for a in self.areas.values()
                   if a["grid_kind"] == GridKind.SPECIAL}
        for key, (name, per_day, _short, where, created) in LABS.items():
            moment = timezone.make_aware(created)
            with business_time(moment):
                lab = lab_create(actor=self.hq, name=name, area_id=special.get(where, self.county["id"]),
                                 tubes_per_day=per_day)
            Lab.objects.filter(pk=lab.pk).update(created_at=moment, updated_at=moment)
            self.labs[key] = lab
        self.summary.labs = len(self.labs)

    def plan_sites(self) -> None:
        """The sites of the first round: villages, communities, the town's health centre, temporary sites and
        door-to-door teams. The second round adds temporary sites in the medium-risk zone (plan_medium_sites)."""
        r = self.rng
        areas = list(self.areas.values())
        grids = [a for a in areas if a["level"] == AreaLevel.GRID]
        special = {a["name"].removesuffix("专属网格"): a for a in grids if a["grid_kind"] == GridKind.SPECIAL}
        communities = [a for a in areas if a["level"] == AreaLevel.VILLAGE and a["code"].startswith(self.town_code)]
        town_couriers = [self.courier() for _ in range(3)]
        self.community_site: dict[str, SitePlan] = {}
        for community in communities:
            first_grid = min((g for g in grids if g["code"].startswith(community["code"])), key=lambda g: g["code"])
            site = self.add_site(f"{community['name']}核酸采样点", SiteKind.FIXED, first_grid["id"],
                                 f"{community['address']}居委会院内", "07:00-11:00, 15:00-19:00", r.randint(4, 6),
                                 r.choice((240, 270, 300)), True, "cdc", town_couriers)
            self.community_site[community["code"]] = site
        second = sorted(communities, key=lambda c: c["code"])[1 % len(communities)]
        second_grid = min((g for g in grids if g["code"].startswith(second["code"])), key=lambda g: g["code"])
        self.health_centre = self.add_site(f"{TOWN}卫生院采样点", SiteKind.FIXED, second_grid["id"],
                                           f"{COUNTY}{TOWN}府前街卫生院门诊楼前", "08:00-12:00, 14:30-17:30",
                                           r.randint(3, 4), r.choice((150, 180, 200)), True, "cdc", town_couriers)
        town_people = sum(1 for pid in self.people if self.grid_of[pid].startswith(self.town_code))
        needed = math.ceil(town_people / TOWN_SITE_DAY) - len(communities) - 1
        self.town_temporary: list[SitePlan] = []
        for key, name in TOWN_TEMPORARY[: min(len(TOWN_TEMPORARY), max(2, needed))]:
            grid = special[key]
            self.town_temporary.append(self.add_site(
                name, SiteKind.TEMPORARY, grid["id"], f"{COUNTY}{TOWN}{key}", "06:00-22:00（全员检测期间）",
                r.randint(3, 6), r.choice((200, 240, 270, 300)), True, "cdc", town_couriers))
        self.town_teams = [self.add_site(name, SiteKind.DOOR_TO_DOOR, special[key]["id"], f"{COUNTY}{TOWN}",
                                         "预约上门（卧床、行动不便人员）", r.randint(2, 4), r.choice((20, 24, 30)), True,
                                         "cdc", town_couriers)
                           for key, name in TOWN_TEAMS]
        # Villages: one site each (the seat village's is the health centre's), a door-to-door team per township.
        self.village_site: dict[str, SitePlan] = {}
        self.township_team: dict[str, SitePlan] = {}
        townships = [a for a in areas if a["level"] == AreaLevel.TOWNSHIP and a["code"] != self.town_code]
        for township in townships:
            villages = sorted((g for g in grids if g["grid_kind"] == GridKind.RURAL
                               and g["code"].startswith(township["code"])), key=lambda g: g["code"])
            if not villages:
                continue
            couriers = [self.courier() for _ in range(r.choice((1, 2)))]
            for index, grid in enumerate(villages):
                village = grid["name"].removesuffix("网格")
                if index == 0:
                    site = self.add_site(f"{township['name']}卫生院采样点", SiteKind.FIXED, grid["id"],
                                         f"{township['address']}卫生院", "08:00-12:00, 14:30-17:30", r.randint(2, 4),
                                         r.choice((150, 180, 200)), False, "kingmed", couriers)
                else:
                    site = self.add_site(f"{village}核酸采样点", SiteKind.FIXED, grid["id"], f"{grid['address']}村委会",
                                         r.choice(("07:00-10:00", "07:00-10:00, 17:00-19:00", "07:30-10:30")),
                                         r.randint(2, 3), r.choice((120, 140, 150, 160)), False, "kingmed", couriers)
                site.hub = self.village_site.get(villages[0]["code"], site)
                self.village_site[grid["code"]] = site
            team = self.add_site(f"{township['name']}卫生院上门采样队", SiteKind.DOOR_TO_DOOR, villages[0]["id"],
                                 f"{township['address']}卫生院", "预约上门（卧床、行动不便人员）", 2, r.choice((20, 24)),
                                 False, "kingmed", couriers)
            team.hub = self.village_site[villages[0]["code"]]
            self.township_team[township["code"]] = team

    def plan_medium_sites(self) -> list[SitePlan]:
        """Temporary sites in the grids of the medium-risk zone, set up the evening before the second round."""
        r = self.rng
        grids = sorted((a for a in self.areas.values() if a["level"] == AreaLevel.GRID
                        and a["code"].startswith(self.medium_community)), key=lambda g: g["code"])
        people = sum(1 for pid in self.people if self.grid_of[pid].startswith(self.medium_community))
        count = max(1, min(len(grids) - 1, round(people / 1500)))
        couriers = self.community_site[self.medium_community].couriers
        return [self.add_site(f"{grid['name']}临时采样点", SiteKind.TEMPORARY, grid["id"], grid["address"],
                              "06:00-22:00（区域核酸期间）", r.randint(3, 5), r.choice((200, 240, 270)), True, "cdc",
                              couriers)
                for grid in grids[1: 1 + count]]

    def add_site(self, name, kind, area_id, address, hours, samplers, per_hour, town, lab, couriers) -> SitePlan:
        site = SitePlan(name=name, kind=kind, area_id=area_id, address=address, hours=hours, samplers=samplers,
                        per_hour=per_hour, town=town, lab=lab, couriers=couriers, number=len(self.sites) + 1)
        self.sites.append(site)
        return site

    def create_sites(self, sites: list[SitePlan], actor, at: dt.datetime) -> None:
        moment = timezone.make_aware(at)
        with business_time(moment):
            for site in sites:
                site.pk = site_create(actor=actor, name=site.name, area_id=site.area_id, kind=site.kind,
                                      address=site.address, opening_hours=site.hours, samplers=site.samplers,
                                      per_hour=site.per_hour).pk
        SamplingSite.objects.filter(pk__in=[s.pk for s in sites]).update(created_at=moment, updated_at=moment)
        self.summary.sites += len(sites)

    # --- who is tested where ---------------------------------------------------------------------------------

    def assign_town_grids(self, grids: list[str], sites_for: Callable[[str], list[SitePlan]]) -> dict[str, SitePlan]:
        """Each grid goes to the least loaded of its candidate sites (load per sampling capacity), largest first."""
        population = Counter(self.grid_of[pid] for pid in self.people)
        load: dict[int, float] = defaultdict(float)
        out = {}
        for grid in sorted(grids, key=lambda g: (-population[g], g)):
            site = min(sites_for(grid), key=lambda s: ((load[s.number] + population[grid]) / s.per_hour, s.number))
            load[site.number] += population[grid]
            out[grid] = site
        return out

    def decide(self, plan: RoundPlan) -> list[int]:
        """Exemptions of the round, and who is (eventually) sampled, in person order."""
        r = self.rng
        day = plan.day
        infant_born_after = day - dt.timedelta(days=365)
        missed_households = set()
        for household in sorted({self.household_of[pid] for pid in plan.scope}):
            if r.random() < HOUSEHOLD_MISS:
                missed_households.add(household)
        sampled = []
        for pid in plan.scope:
            birth = self.birth_of[pid]
            if self.in_quarantine(pid, day):
                plan.exempt[pid] = (ExemptReason.IN_QUARANTINE, "集中隔离医学观察，在隔离点另行检测")
                continue
            if pid in self.away:
                plan.exempt[pid] = (ExemptReason.AWAY, f"{self.away[pid]}，本轮不在本地")
                continue
            if birth is not None and birth > infant_born_after:
                plan.exempt[pid] = (ExemptReason.INFANT, "1岁以下婴儿，按县指挥部通知免检")
                continue
            if pid in self.bedridden:
                plan.exempt[pid] = (ExemptReason.DOOR_TO_DOOR, "长期卧床，由上门采样队入户采样")
                if r.random() >= BEDRIDDEN_MISS:
                    sampled.append(pid)
                continue
            if pid in self.copies or self.household_of[pid] in missed_households or r.random() < PERSON_MISS:
                continue
            sampled.append(pid)
        return sampled

    def sample_times(self, plan: RoundPlan, sampled: list[int], hours_of: Callable[[int], dict[int, int]]) \
            -> dict[tuple[int, str], list[tuple[int, int]]]:
        """(site number, mode) -> [(second, person)] in time order: households come together to their site,
        members swabbed one after another; door-to-door teams go person by person."""
        r = self.rng
        door = {SiteKind.DOOR_TO_DOOR}
        by_household: dict[tuple[int, int], list[int]] = defaultdict(list)
        out: dict[tuple[int, str], list[tuple[int, int]]] = defaultdict(list)
        cums = {}
        for pid in sampled:
            site = plan.site_of[pid]
            if site.kind in door:
                low, high = SEALED_HOURS if pid in self.sealed and plan.day == SECOND_DAY else DOOR_HOURS
                out[(site.number, plan.mode_of[pid])].append((r.randrange(low, high), pid))
            else:
                by_household[(site.number, self.household_of[pid])].append(pid)
        for (number, _household), members in by_household.items():
            weights = hours_of(members[0])
            key = id(weights)
            if key not in cums:
                cums[key] = (list(weights), list(itertools.accumulate(weights.values())))
            hours, cum = cums[key]
            hour = hours[bisect.bisect_right(cum, r.random() * cum[-1])]
            second = hour * HOUR + r.randrange(HOUR)
            for pid in members:
                out[(number, plan.mode_of[pid])].append((second, pid))
                second += r.randint(20, 50)
        for rows in out.values():
            rows.sort()
        return out

    # --- tubes, boxes, runs ----------------------------------------------------------------------------------

    def fill_tubes(self, plan: RoundPlan, samples: dict[tuple[int, str], list[tuple[int, int]]],
                   now: int | None) -> None:
        """Tubes in sampling order per site and mode: a full tube closes at once; one open for MAX_OPEN is sealed
        then (what tube_close writes); the day's last one is sealed when sampling ends (first round) or stays open
        (the round in progress, unless it has waited MAX_OPEN)."""
        r = self.rng
        sites = {s.number: s for s in self.sites}
        sequence: Counter = Counter()
        for (number, mode), rows in sorted(samples.items()):
            if now is not None:
                rows = [row for row in rows if row[0] <= now]
            size = POOL_SIZE[mode]
            site = sites[number]
            tube: TubePlan | None = None
            for second, pid in rows:
                if tube is not None and tube.closed is None and second > tube.opened + MAX_OPEN:
                    tube.closed = tube.opened + MAX_OPEN
                if tube is None or tube.closed is not None:
                    sequence[number] += 1
                    tube = TubePlan(barcode=f"{plan.day:%y%m%d}{number:03d}{sequence[number]:04d}", site=site,
                                    mode=mode, members=[], opened=second)
                    plan.tubes.append(tube)
                tube.members.append((second, pid))
                if len(tube.members) == size:
                    tube.closed = second
            if tube is not None and tube.closed is None:
                if now is None:
                    tube.closed = min(tube.members[-1][0] + r.randint(3, 12) * MINUTE, tube.opened + MAX_OPEN)
                elif now > tube.opened + MAX_OPEN:
                    tube.closed = tube.opened + MAX_OPEN

    def pack_boxes(self, plan: RoundPlan, now: int | None) -> None:
        """Closed tubes go in boxes where they are collected (a town site; a township's health centre for its
        villages): the courier comes two hours after the first tube waits, or when 50 are ready; the day's last box
        leaves when sampling ends. Tubes still waiting at `now` stay unpacked, boxes on the road have no receipt."""
        r = self.rng
        by_site: dict[int, list[TubePlan]] = defaultdict(list)
        for tube in plan.tubes:
            if tube.closed is not None:
                by_site[(tube.site.hub or tube.site).number].append(tube)
        sites = {s.number: s for s in self.sites}
        for number in sorted(by_site):
            tubes = sorted(by_site[number], key=lambda t: (t.closed, t.barcode))
            site = sites[number]
            i, n = 0, len(tubes)
            while i < n:
                pickup = tubes[i].closed + BOX_WINDOW
                j = i
                while j < n and j - i < BOX_MAX and tubes[j].closed <= pickup:
                    j += 1
                if j - i == BOX_MAX:
                    handed = min(pickup, tubes[j - 1].closed + r.randint(5, 15) * MINUTE)
                elif j == n and now is None:
                    handed = min(pickup, tubes[j - 1].closed + r.randint(10, 25) * MINUTE)
                else:
                    handed = pickup
                if now is not None and handed > now:
                    break
                received = handed + r.randint(*TRANSIT[site.town]) * MINUTE
                box = BoxPlan(code=f"ZY{plan.day:%y%m%d}-{number:03d}-{len(plan.boxes) + 1:04d}", site=site,
                              courier=r.choice(site.couriers), handed=handed,
                              received=None if now is not None and received > now else received, tubes=tubes[i:j])
                for tube in box.tubes:
                    tube.box = box
                plan.boxes.append(box)
                i = j

    def plan_runs(self, plan: RoundPlan) -> None:
        """Each lab tests its received tubes in runs of up to a plate, in order of receipt."""
        r = self.rng
        received: dict[str, list[TubePlan]] = defaultdict(list)
        for box in plan.boxes:
            if box.received is not None:
                received[box.site.lab].extend(box.tubes)
        for lab in sorted(received):
            tubes = sorted(received[lab], key=lambda t: (t.box.received, t.barcode))
            i, n = 0, len(tubes)
            while i < n:
                first = tubes[i].box.received
                j = i
                while j < n and j - i < RUN_MAX and tubes[j].box.received <= first + RUN_WAIT:
                    j += 1
                loaded = tubes[j - 1].box.received + 10 * MINUTE if j - i == RUN_MAX else first + RUN_WAIT
                tested = loaded + r.randint(*TEST_MINUTES) * MINUTE
                uploaded = tested + r.randint(*UPLOAD_MINUTES) * MINUTE
                run = RunPlan(lab=lab, tubes=tubes[i:j], tested=tested, uploaded=uploaded,
                              reviewed=uploaded + r.randint(*REVIEW_MINUTES) * MINUTE)
                for tube in run.tubes:
                    tube.run = run
                plan.runs.append(run)
                i = j
        number: Counter = Counter()
        for run in sorted(plan.runs, key=lambda x: (x.uploaded, x.lab)):
            number[run.lab] += 1
            run.file_name = f"{LABS[run.lab][2]}_{plan.day:%Y%m%d}_第{number[run.lab]:03d}批.csv"

    # --- writing what the services write ---------------------------------------------------------------------

    def write(self, plan: RoundPlan, recorder: User) -> None:
        """Exemptions, boxes, accepted files, tubes, members, people's round states and results of the round, as
        the services leave them; tubes of runs not accepted yet stay received without a result."""
        stamp = _stamper(plan.day)
        round_id = plan.round.id
        # Exemptions: recorded by the grid workers' office before the round started.
        exempt_rows = []
        for pid, (reason, note) in sorted(plan.exempt.items()):
            at = stamp(-(self.rng.randint(30, 600)) * MINUTE)
            exempt_rows.append((at, at, round_id, pid, reason, note, recorder.id))
        RowInserter(Exemption, ["created_at", "updated_at", "round", "person", "reason", "note",
                                "recorded_by"]).insert(exempt_rows)
        # Boxes.
        lab_id = {key: lab.id for key, lab in self.labs.items()}
        missing = _json(TransportBatch, "missing", [])
        batch_rows = []
        for box in plan.boxes:
            last = box.received if box.received is not None else box.handed
            batch_rows.append((stamp(box.handed), stamp(last), box.code, box.site.pk, lab_id[box.site.lab],
                               box.courier[0], box.courier[1],
                               BatchState.RECEIVED if box.received is not None else BatchState.IN_TRANSIT,
                               self.sampler.id, stamp(box.handed), stamp(box.received),
                               self.lab_user.id if box.received is not None else None, missing, missing))
        first = RowInserter(TransportBatch, [
            "created_at", "updated_at", "code", "site", "lab", "courier", "courier_mobile", "state", "packed_by",
            "handed_at", "received_at", "received_by", "missing", "extra"]).insert(batch_rows)
        for offset, box in enumerate(plan.boxes):
            box.pk = first + offset
        # Accepted result files: the lab's CSV export, every line good.
        accepted = [run for run in plan.runs if run.fate == "accepted"]
        file_rows = []
        no_errors = _json(LabResultFile, "errors", [])
        for run in accepted:
            tested = _aware(plan.day, run.tested).isoformat()
            lines = [{"line": n, "barcode": t.barcode, "result": Result.NEGATIVE, "ct_orf": None, "ct_n": None,
                      "tested_at": tested} for n, t in enumerate(run.tubes, start=2)]
            content = self.csv(run, plan.day)
            file_rows.append((stamp(run.uploaded), stamp(run.reviewed), lab_id[run.lab], run.file_name,
                              hashlib.sha256(content).hexdigest(), _json(LabResultFile, "rows", lines), no_errors,
                              ResultFileState.ACCEPTED, self.lab_user.id, self.lab_user.id, stamp(run.reviewed), "",
                              _json(LabResultFile, "applied", {
                                  "tubes": len(run.tubes), "negative_people": sum(len(t.members) for t in run.tubes),
                                  "rechecks": 0, "positives": 0})))
        first = RowInserter(LabResultFile, [
            "created_at", "updated_at", "lab", "file_name", "sha256", "rows", "errors", "state", "uploaded_by",
            "reviewed_by", "reviewed_at", "review_note", "applied"]).insert(file_rows)
        for offset, run in enumerate(accepted):
            run.pk = first + offset
        # Tubes.
        tube_rows = []
        for tube in plan.tubes:
            box, run = tube.box, tube.run
            resulted = run is not None and run.fate == "accepted"
            if tube.closed is None:
                state, last = TubeState.OPEN, tube.members[-1][0]
            elif box is None:
                state, last = TubeState.CLOSED, tube.closed
            elif box.received is None:
                state, last = TubeState.IN_TRANSIT, box.handed
            elif resulted:
                state, last = TubeState.RESULTED, run.reviewed
            else:
                state, last = TubeState.RECEIVED, box.received
            received = box is not None and box.received is not None
            tube_rows.append((
                stamp(tube.opened), stamp(last), tube.barcode, round_id, TubePurpose.ROUND, tube.mode,
                POOL_SIZE[tube.mode], tube.site.pk, self.sampler.id, state, stamp(tube.opened), stamp(tube.closed),
                box.pk if box else None, stamp(box.received) if received else None,
                lab_id[tube.site.lab] if received else None, Result.NEGATIVE if resulted else "",
                stamp(run.reviewed) if resulted else None, len(tube.members)))
        first = RowInserter(Tube, [
            "created_at", "updated_at", "barcode", "round", "purpose", "pool_mode", "pool_size", "site", "sampler",
            "state", "opened_at", "closed_at", "batch", "received_at", "lab", "result", "resulted_at",
            "members_count"]).insert(tube_rows)
        for offset, tube in enumerate(plan.tubes):
            tube.pk = first + offset
        # Members, the people's round states, results.
        member_rows, state_rows, result_rows = [], [], []
        for tube in plan.tubes:
            run = tube.run
            resulted = run is not None and run.fate == "accepted"
            for position, (second, pid) in enumerate(tube.members, start=1):
                at = stamp(second)
                member_rows.append((tube.pk, round_id, TubePurpose.ROUND, pid, position, at, ""))
                state_rows.append((round_id, pid, self.area_of[pid],
                                   PersonRoundState.NEGATIVE if resulted else PersonRoundState.SAMPLED, tube.pk, at,
                                   stamp(run.reviewed) if resulted else None))
            if resulted:
                result_rows.append((tube.pk, Result.NEGATIVE, stamp(run.tested), lab_id[run.lab], run.pk, "",
                                    stamp(run.reviewed), self.lab_user.id))
        RowInserter(TubeMember, ["tube", "round", "purpose", "person", "position", "added_at",
                                 "removed_reason"]).insert(member_rows)
        RowInserter(PersonRound, ["round", "person", "area", "state", "tube", "sampled_at",
                                  "resulted_at"]).insert(state_rows)
        RowInserter(TubeResult, ["tube", "result", "tested_at", "lab", "source_file", "reason", "reported_at",
                                 "reviewed_by"]).insert(result_rows)
        reset_sequences([Exemption, TransportBatch, LabResultFile, Tube, TubeMember, PersonRound, TubeResult])
        s = self.summary
        s.exemptions += len(exempt_rows)
        s.tubes += len(tube_rows)
        s.samples += len(member_rows)
        s.boxes += len(batch_rows)
        s.files += len(file_rows)

    @staticmethod
    def csv(run: RunPlan, day: dt.date, results: dict[str, tuple[str, str, str]] | None = None) -> bytes:
        """The lab's export of a run: barcode, result, Ct values (positives only), time tested."""
        tested = _aware(day, run.tested).isoformat()
        lines = ["管码,结果,ORF1ab,N,检测时间"]
        for tube in run.tubes:
            word, ct_orf, ct_n = (results or {}).get(tube.barcode, ("阴性", "", ""))
            lines.append(f"{tube.barcode},{word},{ct_orf},{ct_n},{tested}")
        return ("\n".join(lines) + "\n").encode()

    def set_target(self, plan: RoundPlan) -> None:
        """What exemption_add leaves: the people in the round's areas less those exempt and not sampled at home."""
        exempt = sum(1 for reason, _ in plan.exempt.values() if reason != ExemptReason.DOOR_TO_DOOR)
        plan.round.target = max(0, len(plan.scope) - exempt)
        TestingRound.objects.filter(pk=plan.round.pk).update(target=plan.round.target)

    def round_modes(self, round_: TestingRound) -> dict[int, str]:
        """area id -> the pooling mode the round gives it (the deepest round area above it)."""
        round_areas = sorted(((ra.area.path, ra.pool_mode) for ra in RoundArea.objects.filter(round=round_)
                              .select_related("area")), key=lambda x: len(x[0]), reverse=True)
        out = {}
        for area_id, area in self.areas.items():
            mode = next((m for path, m in round_areas if area["path"].startswith(path)), None)
            if mode is not None:
                out[area_id] = mode
        return out

    # --- the rounds ------------------------------------------------------------------------------------------

    def first_round(self) -> RoundPlan:
        starts = timezone.make_aware(dt.datetime.combine(FIRST_DAY, dt.time(6, 0)))
        with business_time(timezone.make_aware(FIRST_ANNOUNCED)):
            round_ = round_create(actor=self.hq, data=RoundInput(
                name=FIRST_ROUND, kind=RoundKind.WHOLE, area_ids=[self.county["id"]], starts_at=starts,
                deadline=starts + dt.timedelta(days=1)))
        with business_time(starts):
            round_set_state(actor=self.hq, round_id=round_.id, state=RoundState.SAMPLING)
        modes = self.round_modes(round_)
        plan = RoundPlan(day=FIRST_DAY, round=round_, scope=[p for p in self.people if self.area_of[p] in modes])
        plan.mode_of = {pid: modes[self.area_of[pid]] for pid in plan.scope}
        town_grids = sorted({self.grid_of[pid] for pid in plan.scope if self.grid_of[pid].startswith(self.town_code)})
        dorm = next((t for t in self.town_temporary if t.name == TOWN_TEMPORARY[0][1]), None)
        shared = [s for s in self.town_temporary if s is not dorm] + [self.health_centre]

        special = {a["code"] for a in self.areas.values() if a["grid_kind"] == GridKind.SPECIAL}

        def candidates(grid: str) -> list[SitePlan]:
            if grid in special and dorm is not None:  # the dormitories of the industrial park
                return [dorm]
            return [self.community_site[grid[:12]], *shared] if grid[:12] in self.community_site else shared

        self.first_assignment = self.assign_town_grids(town_grids, candidates)
        for pid in plan.scope:
            grid = self.grid_of[pid]
            if grid.startswith(self.town_code):
                if pid in self.bedridden:
                    plan.site_of[pid] = self.town_teams[0 if grid[:12] < self.town_code + "004" else 1]
                else:
                    plan.site_of[pid] = self.first_assignment[grid]
            else:
                plan.site_of[pid] = (self.township_team[grid[:9]] if pid in self.bedridden
                                     else self.village_site[grid])
        sampled = self.decide(plan)
        samples = self.sample_times(plan, sampled, lambda pid: NORMAL_HOURS)
        self.fill_tubes(plan, samples, None)
        self.pack_boxes(plan, None)
        self.plan_runs(plan)
        self.set_target(plan)
        self.write(plan, self.taskforce)
        last = max(run.reviewed for run in plan.runs) if plan.runs else 0
        finished = max(starts + dt.timedelta(days=1), _aware(FIRST_DAY, last + 30 * MINUTE))
        with business_time(finished):
            round_set_state(actor=self.hq, round_id=round_.id, state=RoundState.FINISHED)
        TestingRound.objects.filter(pk=round_.pk).update(created_at=timezone.make_aware(FIRST_ANNOUNCED),
                                                          updated_at=finished)
        self.summary.sampled[FIRST_ROUND] = (len(sampled), round_.target)
        self.log(f"{FIRST_ROUND}：应检 {round_.target} 人，采样 {len(sampled)} 人，{len(plan.tubes)} 管")
        return plan

    def second_round(self, medium_sites: list[SitePlan]) -> RoundPlan:
        starts = timezone.make_aware(dt.datetime.combine(SECOND_DAY, dt.time(6, 0)))
        medium_grids = sorted(a["code"] for a in self.areas.values() if a["level"] == AreaLevel.GRID
                              and a["code"].startswith(self.medium_community))
        others = sorted(a["code"] for a in self.areas.values()
                        if a["code"].startswith(self.town_code) and a["code"] != self.town_code
                        and not a["code"].startswith(self.medium_community)
                        and ((a["level"] == AreaLevel.VILLAGE)
                             or (a["level"] == AreaLevel.GRID and a["grid_kind"] == GridKind.SPECIAL)))
        area_ids = [self.by_code[c]["id"] for c in medium_grids + others]
        with business_time(timezone.make_aware(SECOND_ANNOUNCED)):
            round_ = round_create(actor=self.hq, data=RoundInput(
                name=SECOND_ROUND, kind=RoundKind.AREA, area_ids=area_ids, starts_at=starts,
                deadline=starts + dt.timedelta(days=1), settings={self.by_code[c]["id"]: MEDIUM for c in medium_grids}))
        with business_time(starts):
            round_set_state(actor=self.township_user, round_id=round_.id, state=RoundState.SAMPLING)
        TestingRound.objects.filter(pk=round_.pk).update(created_at=timezone.make_aware(SECOND_ANNOUNCED),
                                                          updated_at=starts)
        modes = self.round_modes(round_)
        plan = RoundPlan(day=SECOND_DAY, round=round_, scope=[p for p in self.people if self.area_of[p] in modes])
        plan.mode_of = {pid: modes[self.area_of[pid]] for pid in plan.scope}
        medium_site = self.community_site[self.medium_community]
        medium_assignment = self.assign_town_grids(medium_grids, lambda grid: [medium_site, *medium_sites])
        for pid in plan.scope:
            grid = self.grid_of[pid]
            medium = grid.startswith(self.medium_community)
            if pid in self.bedridden or pid in self.sealed:
                plan.site_of[pid] = self.town_teams[0 if medium else 1]
            elif medium:
                plan.site_of[pid] = medium_assignment[grid]
            else:
                plan.site_of[pid] = self.first_assignment[grid]
        sampled = self.decide(plan)
        samples = self.sample_times(plan, sampled, lambda pid: (
            MEDIUM_HOURS if self.grid_of[pid].startswith(self.medium_community) else NORMAL_HOURS))
        self.fill_tubes(plan, samples, NOW)
        self.pack_boxes(plan, NOW)
        self.plan_runs(plan)
        positive = self.choose_positive(plan)
        pending = self.choose_pending(plan, positive.run)
        for run in plan.runs:
            if run is positive.run:
                run.fate = "positive"
            elif run is pending:
                run.fate = "pending"
            elif run.reviewed > NOW:
                run.fate = "waiting"
        self.set_target(plan)
        self.write(plan, self.township_user)
        self.publish_positive(plan, positive)
        self.recheck(plan, positive)
        self.stage_pending(plan, pending)
        so_far = sum(len(t.members) for t in plan.tubes)
        self.summary.sampled[SECOND_ROUND] = (so_far, round_.target)
        self.log(f"{SECOND_ROUND}：应检 {round_.target} 人，已采样 {so_far} 人，{len(plan.tubes)} 管")
        return plan

    def eligible(self, tube: TubePlan) -> bool:
        """A full 10-in-1 tube whose members have no other status fact and are not planted duplicates."""
        return (tube.mode == PoolMode.TEN and len(tube.members) == POOL_SIZE[PoolMode.TEN]
                and all(pid not in self.facts and pid not in self.twins for _, pid in tube.members))

    def choose_positive(self, plan: RoundPlan) -> TubePlan:
        """The positive pool: in the latest run published early enough for rechecks to have started; in a small
        county, the earliest run with a candidate, its lab at its quickest."""
        r = self.rng
        runs = [run for run in plan.runs if any(self.eligible(t) for t in run.tubes)]
        if not runs:
            raise RuntimeError("the demo county is too small for a full 10-in-1 pool in the medium-risk zone")
        early = [run for run in runs if run.reviewed <= NOW - RECHECK_LEAD]
        if early:
            run = max(early, key=lambda x: (x.reviewed, x.lab))
        else:
            run = min(runs, key=lambda x: (x.reviewed, x.lab))
            self.quickest(run)
            if run.reviewed > NOW - 45 * MINUTE:
                raise RuntimeError("the demo county is too small: no 10-in-1 pool resulted in time for rechecks")
        return r.choice([t for t in run.tubes if self.eligible(t)])

    def choose_pending(self, plan: RoundPlan, positive: RunPlan) -> RunPlan:
        """The file waiting for review: the last one uploaded before now and not reviewed yet; in a small county
        with few runs, the last reviewed one stands unreviewed, or the first run after the positive one comes
        out of the lab at its quickest."""
        others = [run for run in plan.runs if run is not positive]
        waiting = [run for run in others if run.uploaded <= NOW < run.reviewed]
        if waiting:
            return max(waiting, key=lambda x: (x.uploaded, x.lab))
        done = [run for run in others if run.reviewed <= NOW]
        if done:
            return max(done, key=lambda x: (x.uploaded, x.lab))
        if others:
            run = min(others, key=lambda x: (max(t.box.received for t in x.tubes), x.lab))
            self.quickest(run)
            if run.uploaded <= NOW - 5 * MINUTE:
                return run
        raise RuntimeError("the demo county is too small: no second result file by the afternoon")

    @staticmethod
    def quickest(run: RunPlan) -> None:
        """The run's lab times at their shortest: tested as soon as its last tube is in, uploaded and reviewed at
        once."""
        run.tested = max(t.box.received for t in run.tubes) + 10 * MINUTE + TEST_MINUTES[0] * MINUTE
        run.uploaded = run.tested + UPLOAD_MINUTES[0] * MINUTE
        run.reviewed = run.uploaded + REVIEW_MINUTES[0] * MINUTE

    # --- through the services --------------------------------------------------------------------------------

    def publish_positive(self, plan: RoundPlan, positive: TubePlan) -> None:
        """The positive run goes through results_stage and results_review: the pool's members are put under
        recheck (tasks, round states, the pool_recheck_pending fact)."""
        run = positive.run
        lab = self.labs[run.lab]
        content = self.csv(run, plan.day, {positive.barcode: ("阳性", *POSITIVE_CT)})
        uploaded, reviewed = _aware(plan.day, run.uploaded), _aware(plan.day, run.reviewed)
        with business_time(uploaded):
            staged = results_stage(actor=self.lab_user, lab_id=lab.id, upload=content, file_name=run.file_name)
        with business_time(reviewed):
            staged, report = results_review(actor=self.lab_user, file_id=staged.id, accept=True,
                                            note="混管阳性1管，已通知单管复核")
        if report.rechecks != POOL_SIZE[PoolMode.TEN]:
            raise RuntimeError(f"the positive pool put {report.rechecks} people under recheck, not ten")
        LabResultFile.objects.filter(pk=staged.pk).update(created_at=uploaded, updated_at=reviewed,
                                                          reviewed_at=reviewed)
        TubeResult.objects.filter(source_file=staged).update(reported_at=reviewed)
        Tube.objects.filter(id__in=[t.pk for t in run.tubes]).update(updated_at=reviewed)
        RecheckTask.objects.filter(source_tube_id=positive.pk).update(created_at=reviewed, updated_at=reviewed)
        self.summary.files += 1
        self.summary.rechecks += report.rechecks

    def recheck(self, plan: RoundPlan, positive: TubePlan) -> None:
        """Three members re-swabbed at home in single tubes by the town's door-to-door team, boxed and on the road."""
        r = self.rng
        run = positive.run
        team = self.town_teams[0]
        members = sorted(r.sample([pid for _, pid in positive.members], 3))
        people = {p.id: p for p in Person.objects.filter(id__in=members)}
        second = run.reviewed + 30 * MINUTE
        room = max(0, NOW - 25 * MINUTE - second)  # every recheck done and boxed before now
        barcodes = []
        for index, pid in enumerate(members, start=1):
            at = _aware(plan.day, second + room * index // (len(members) + 1))
            barcode = f"FH{plan.day:%y%m%d}{index:04d}"
            with business_time(at):
                tube = tube_fill(actor=self.sampler, round_id=plan.round.id, barcode=barcode,
                                 people=[{"person_token": person_code_get_or_issue(people[pid]).token}],
                                 site_id=team.pk, purpose=TubePurpose.RECHECK).tube
            Tube.objects.filter(pk=tube.pk).update(created_at=at, updated_at=at)
            RecheckTask.objects.filter(round=plan.round, person_id=pid).update(updated_at=at)
            barcodes.append(barcode)
        handed = _aware(plan.day, second + room)
        courier = r.choice(team.couriers)
        with business_time(handed):
            box = batch_pack(actor=self.sampler, code=f"ZY{plan.day:%y%m%d}-FH-01", lab_id=self.labs[team.lab].id,
                             barcodes=barcodes, site_id=team.pk, courier=courier[0], courier_mobile=courier[1])
        TransportBatch.objects.filter(pk=box.pk).update(created_at=handed, updated_at=handed)
        Tube.objects.filter(barcode__in=barcodes).update(updated_at=handed)
        self.summary.tubes += len(barcodes)
        self.summary.boxes += 1

    def stage_pending(self, plan: RoundPlan, run: RunPlan) -> None:
        uploaded = _aware(plan.day, min(run.uploaded, NOW - 5 * MINUTE))
        with business_time(uploaded):
            staged = results_stage(actor=self.lab_user, lab_id=self.labs[run.lab].id, upload=self.csv(run, plan.day),
                                   file_name=run.file_name)
        LabResultFile.objects.filter(pk=staged.pk).update(created_at=uploaded, updated_at=uploaded)
        self.summary.files += 1

    # --- the whole part --------------------------------------------------------------------------------------

    def run(self) -> TestingSummary:
        self.load()
        self.create_labs()
        self.plan_sites()
        self.create_sites(list(self.sites), self.hq, SITES_READY)
        self.first_round()
        medium_sites = self.plan_medium_sites()
        self.create_sites(medium_sites, self.township_user, MEDIUM_SITES_READY)
        self.second_round(medium_sites)
        self.summary.rounds = 2
        return self.summary


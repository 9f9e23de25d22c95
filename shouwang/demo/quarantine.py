"""The demo county's quarantine (issue 7): the sites, the transfers and stays of the outbreak's contacts, and the
daily life of the people under measure on the demo day — all through the quarantine services with the business
clock pinned to the moment each step happens.

Runs around the outbreak (generator.CountyGenerator.run): `setup()` builds the sites before
shouwang/demo/tracing.py runs; the tracing generator calls `open_hotel`, `move_in` and `serve_out` as its contacts
are identified (the response flow gives each identified contact a stay from the policy's plan, and the stays move
the contacts along: picked up, transferred; admitted or at home, under measure; the plan's last phase released,
released); `daily_life()` runs after it. Its own ``random.Random`` is seeded from the county's seed: the same seed
and size give the same sites, rooms, transfers, stays, tests, checks, alerts, needs and home teams (only the
certificates' verification codes are random, as in production).

- Sites: 县疾控集中隔离点 (fixed, 2 floors x 15 rooms, two family rooms on each), active since 06-21; 天坛宾馆集中隔离点
  (a requisitioned hotel, floors 2-5 x 20 rooms with two family rooms on each), standby until chain 2's first case
  on 07-13, then activated with its whole checklist; both with the "quarantine" user as manager and the "doctor"
  user as the resident doctor. 响水河镇健康驿站 (a health station, 24 rooms) is the reserve: standby, its checklist
  partly ticked.
- Moving in: rooms reserved for a batch by allocate_rooms (households on one floor, a floor per source case, a
  child with a carer in a family room), then one run per household — a bus for two or more, an ambulance (or a
  car) for one — requested, picked up, arrived, and the people admitted to the reserved rooms.
- Chain 1 (07-03): the household and the co-worker go to the fixed site the same day; the two who turn positive
  leave their stays as cases; the others' central quarantine is released on its last day after negative tests
  (days 1, 2, 3, 5, 7), then their home health monitoring (test on its day 3) on 07-13: released. The rooms left
  are disinfected.
- Chain 2: the courier's close contacts go to the hotel on the afternoon of 07-13, the second case's to the fixed
  site on 07-14, so the residents are at different days of their stay on the demo day; the housemate who turns
  positive on 07-14 leaves a room to disinfect. The two contacts notified late on 07-13 have transfers requested
  that evening and never picked up (overdue on HQ's list); the second case's last household is picked up at 14:45
  on the demo day and not yet arrived (in transfer). (With another seed the second case may have fewer than two
  households of close contacts: nobody on the road then, or nobody in the fixed site.)
- Tests: the plans' PCR tests as single tubes, one key-group round a day (隔离管控人员核酸检测), negative a few hours
  later; the demo day's tubes are at the lab without a result.
- Daily monitoring of every resident: both temperatures each day (36.0-36.9), disinfection and the daily report for
  past days, as the monitoring rule owes them (no morning temperature on the afternoon of arrival); one resident
  had 37.6 ℃ yesterday afternoon (a fever alert the doctor handled), one coughs today (an open symptom alert), a
  few have no afternoon temperature yet (the clock is 15:40); needs: psychological support (resolved), a diabetic
  diet (in progress), blood-pressure medicine (open).
- Home quarantine of the secondary contacts: the policy's five responsible people (五包一: the grid's own worker,
  with the "grid" login where it is that grid, a community cadre with the "community" login where it covers the
  home, a doctor, a police officer and a volunteer), door sensors for most and paper seals for some, the team's
  daily visit, temperatures twice a day and the plan's tests at home, one supervisor video check, a delivery asked
  for, and one door sensor that went off this morning (an open seal alert).

Written directly, where no service exists yet (noted where it happens): the single tubes of named people outside an
area round.
"""

from __future__ import annotations

import datetime as dt
import random
from collections.abc import Callable, Iterable
from dataclasses import dataclass

from django.db.models import F
from django.utils import timezone

from shouwang.accounts.models import User
from shouwang.areas.enums import AreaLevel, GridWorkerRole
from shouwang.areas.models import Area, GridWorker
from shouwang.core.errors import DomainError
from shouwang.demo.generator import COUNTY, COUNTY_CODE, MIN_PEOPLE, TOWN, CountyGenerator
from shouwang.demo.testing import business_time
from shouwang.demo.venues import DEMO_DATE
from shouwang.people.enums import Sex
from shouwang.people.models import Person
from shouwang.policy.selectors import ruleset_in_force
from shouwang.quarantine import home, monitoring, services
from shouwang.quarantine.enums import (
    CENTRAL_MEASURES,
    CHECKLIST,
    OPEN_STAY_STATES,
    AlertKind,
    ChangeKind,
    NeedKind,
    NeedState,
    RoomState,
    SealKind,
    SealState,
    SiteKind,
    SiteState,
    StayState,
    Symptom,
    Vehicle,
    VisitKind,
)
from shouwang.quarantine.models import Alert, DailyCheck, Need, Room, Site, Stay, StayChange, Transfer
from shouwang.response.flows import CONTACT_REF
from shouwang.testing.enums import (
    PersonRoundState,
    PoolMode,
    Result,
    RoundKind,
    RoundState,
    TubePurpose,
    TubeState,
)
from shouwang.testing.models import Lab, PersonRound, SamplingSite, TestingRound, Tube, TubeMember

FIXED = "县疾控集中隔离点"
HOTEL = "天坛宾馆集中隔离点"
STATION = "响水河镇健康驿站"
SET_UP = dt.date(2022, 6, 20)  # the sites were prepared in June, after the spring wave
PARTLY_READY = ("clean_zone", "buffer_zone", "contaminated_zone", "single_rooms", "ventilation")
ROUND_NAME = "隔离管控人员核酸检测（{month}月{day}日）"
LAB = "县疾控中心实验室"
SAMPLERS = "县人民医院上门采样队"  # the team that samples the sites and the homes under measure

# Move-in stages: how far a transfer gets.
REQUESTED, PICKED_UP, ADMITTED = "requested", "picked_up", "admitted"


def _at(day: dt.date, hour: int, minute: int = 0) -> dt.datetime:
    return timezone.make_aware(dt.datetime.combine(day, dt.time(hour, minute)))


def contact_ref(contact_id: int) -> str:
    return f"{CONTACT_REF}{contact_id}"  # the source of a stay made for a tracing contact


@dataclass
class QuarantineSummary:
    sites: int = 0
    in_sites: int = 0  # active stays in a room
    at_home: int = 0  # active home stays
    transfers: int = 0
    checks: int = 0
    alerts: int = 0
    needs: int = 0


class QuarantineGenerator:
    def __init__(self, *, seed: int, log: Callable[[str], None] | None = None):
        self.rng = random.Random(f"shouwang-quarantine-{seed}")
        self.log = log or (lambda message: None)
        self.sites: dict[str, Site] = {}
        # names and mobile numbers drawn the way the county's are, from this generator's sequence
        self._people = CountyGenerator(seed=seed, people=MIN_PEOPLE)
        self._people.rng = self.rng
        self._rounds: dict[dt.date, TestingRound] = {}
        self._tubes: dict[dt.date, int] = {}
        self._sampled: set[tuple[int, dt.date]] = set()
        self._grids: dict[str, dict] = {}  # grid path -> its member of the five
        self._busy: set[tuple[str, str]] = set()  # (name, mobile) of the people under a measure

    # --- small draws ----------------------------------------------------------------------------------------

    def _name(self) -> str:
        sex = self.rng.choice((Sex.MALE, Sex.FEMALE))
        return self._people.surname() + self._people.given_name(sex, self.rng.randint(25, 55))

    def _plate(self) -> str:
        return f"晋L·{self.rng.choice('ABCDEFGHJK')}{self.rng.randrange(10000):04d}"

    def _temp(self) -> str:
        return str(self.rng.choice((36.0, 36.1, 36.2, 36.3, 36.3, 36.4, 36.4, 36.5, 36.5, 36.5, 36.6, 36.6, 36.7,
                                    36.7, 36.8, 36.9)))

    def _minutes(self, day: dt.date, start: tuple[int, int], end: tuple[int, int]) -> dt.datetime:
        """A moment of the day between start and end (hour, minute), to the minute."""
        first, last = start[0] * 60 + start[1], end[0] * 60 + end[1]
        return _at(day, 0) + dt.timedelta(minutes=self.rng.randint(first, last))

    # --- the sites (before the outbreak) --------------------------------------------------------------------

    def setup(self) -> None:
        names = ["hq", "taskforce", "township", "community", "grid", "sampler", "quarantine", "doctor", "supervisor"]
        users = {u.username: u for u in User.objects.filter(username__in=names).select_related("jurisdiction")}
        self.users = users
        self.manager, self.doctor, self.supervisor = users["quarantine"], users["doctor"], users["supervisor"]
        self.lab = Lab.objects.get(name=LAB)
        self.samplers = SamplingSite.objects.get(name=SAMPLERS)
        hotel_grid = Area.objects.get(level=AreaLevel.GRID, code=f"{COUNTY_CODE}100002001")  # 府前社区第一网格
        cdc_grid = Area.objects.get(level=AreaLevel.GRID, name="县疾控中心专属网格")
        station_grid = (Area.objects.filter(level=AreaLevel.GRID, code__startswith=f"{COUNTY_CODE}101")
                        .order_by("code").first())  # the first village of 响水河镇
        plans = [
            (FIXED, SiteKind.FIXED, cdc_grid, f"{COUNTY}{TOWN}东关街18号（县疾控中心北楼）", 4,
             {f: [f"{f}{n:02d}" for n in range(1, 16)] for f in (1, 2)}, ("114", "115", "214", "215")),
            (HOTEL, SiteKind.HOTEL, hotel_grid, f"{COUNTY}{TOWN}府前街66号", 12,
             {f: [f"{f}{n:02d}" for n in range(1, 21)] for f in (2, 3, 4, 5)},
             tuple(f"{f}{n}" for f in (2, 3, 4, 5) for n in (19, 20))),
            (STATION, SiteKind.HEALTH_STATION, station_grid, f"{COUNTY}响水河镇{station_grid.name[:-2]}村委会东侧", 0,
             {f: [f"{f}{n:02d}" for n in range(1, 13)] for f in (1, 2)}, ()),
        ]
        with business_time(_at(SET_UP, 9, 30)):
            for name, kind, area, address, staff, floors, family in plans:
                site = services.site_create(actor=self.manager, name=name, kind=kind, area_id=area.id,
                                            address=address, staff=staff, persons_per_staff=10)
                services.rooms_add(actor=self.manager, site_id=site.id, floors=floors, family_rooms=family)
                self.sites[name] = site
        with business_time(_at(SET_UP + dt.timedelta(days=1), 10)):
            fixed = self.sites[FIXED]
            services.site_set_state(actor=self.manager, site_id=fixed.id, state=SiteState.ACTIVATING)
            services.site_check(actor=self.manager, site_id=fixed.id, items=dict.fromkeys(CHECKLIST, True))
            self.sites[FIXED] = services.site_set_state(actor=self.manager, site_id=fixed.id, state=SiteState.ACTIVE)
        with business_time(_at(DEMO_DATE - dt.timedelta(days=1), 16)):
            services.site_check(actor=self.manager, site_id=self.sites[STATION].id,
                                items=dict.fromkeys(PARTLY_READY, True))
        self._staff([FIXED, HOTEL], doctor=True)
        self._staff([STATION], doctor=False)

    def _staff(self, names: list[str], *, doctor: bool) -> None:
        """The manager and the resident doctor of the sites (隔离点长制)."""
        with business_time(_at(SET_UP, 9, 45)):
            for name in names:
                site = self.sites[name]
                self.sites[name] = services.site_staff_set(
                    actor=self.manager, site_id=site.id, manager_id=self.manager.id,
                    doctor_id=self.doctor.id if doctor else None, staff=site.staff,
                    persons_per_staff=site.persons_per_staff)

    def open_hotel(self, moment: dt.datetime) -> None:
        """The requisitioned hotel opens: activating, its checklist ticked, active an hour later."""
        hotel = self.sites[HOTEL]
        with business_time(moment):
            services.site_set_state(actor=self.manager, site_id=hotel.id, state=SiteState.ACTIVATING,
                                    reason="第二条传播链，启用征用酒店")
        with business_time(moment + dt.timedelta(minutes=40)):
            services.site_check(actor=self.manager, site_id=hotel.id, items=dict.fromkeys(CHECKLIST, True))
        with business_time(moment + dt.timedelta(minutes=70)):
            self.sites[HOTEL] = services.site_set_state(actor=self.manager, site_id=hotel.id, state=SiteState.ACTIVE)

    # --- transfers and admission (called by the tracing generator) ------------------------------------------

    def _waiting(self, contacts: Iterable) -> list[Stay]:
        refs = [contact_ref(c.id) for c in contacts]
        return list(Stay.objects.filter(source_ref__in=refs, state=StayState.AWAITING_TRANSFER)
                    .select_related("person__area").order_by("id"))

    @staticmethod
    def households(items: list, person=lambda x: x.person) -> list[list]:
        """Contacts (or stays) by household, in the order of their first member; someone without one alone."""
        groups: dict[int, list] = {}
        for item in items:
            p = person(item)
            groups.setdefault(p.household_id or -p.id, []).append(item)
        return list(groups.values())

    def move_in(self, contacts: Iterable, *, site: str, start: dt.datetime, stage: str = ADMITTED) -> list[Transfer]:
        """The contacts' stays awaiting transfer: rooms reserved for all of them (allocate_rooms: at `site`, or at
        any active site if it cannot take them all), then one run per household from `start` — a bus for two or
        more, an ambulance (or a car) for one — picked up, arrived and admitted to the reserved rooms, or stopped at
        `stage`."""
        ids = [s.id for s in self._waiting(contacts)]
        if not ids:
            return []
        with business_time(start):
            try:
                services.allocate_rooms(actor=self.manager, stay_ids=ids, site_ids=[self.sites[site].id], apply=True)
            except DomainError as e:
                if e.code != "not_all_placed":
                    raise
                services.allocate_rooms(actor=self.manager, stay_ids=ids, apply=True)
        stays = list(Stay.objects.filter(id__in=ids).select_related("person__area", "site").order_by("id"))
        return [self._run(group, start + dt.timedelta(minutes=10 + 15 * i), stage)
                for i, group in enumerate(self.households(stays))]

    def _run(self, group: list[Stay], requested: dt.datetime, stage: str) -> Transfer:
        person, site = group[0].person, group[0].site  # where the household's rooms are reserved
        vehicle = (Vehicle.BUS if len(group) > 1
                   else self.rng.choice((Vehicle.AMBULANCE, Vehicle.AMBULANCE, Vehicle.CAR)))
        with business_time(requested):
            run = services.transfer_request(actor=self.manager, stay_ids=[s.id for s in group], site_id=site.id,
                                            pickup_address=person.current_address or person.area.name,
                                            vehicle=vehicle, plate=self._plate(), driver=self._name(),
                                            escort=self._name())
        if stage == REQUESTED:
            return run
        picked = requested + dt.timedelta(minutes=60 if stage == PICKED_UP else self.rng.randint(45, 90))
        with business_time(picked):
            run = services.transfer_pickup(actor=self.manager, transfer_id=run.id, at=picked)
        if stage == PICKED_UP:
            return run
        arrived = picked + dt.timedelta(minutes=self.rng.randint(20, 40))
        with business_time(arrived):
            run = services.transfer_arrive(actor=self.manager, transfer_id=run.id, at=arrived)
        for j, stay in enumerate(group):
            with business_time(arrived + dt.timedelta(minutes=8 + 4 * j)):
                services.stay_admit(actor=self.manager, stay_id=stay.id, room_id=stay.room_id)
        return run

    # --- tests and release ----------------------------------------------------------------------------------

    def _round(self, day: dt.date) -> TestingRound:
        """The day's key-group round holding the single tubes of the people under measure."""
        if day not in self._rounds:
            self._rounds[day] = TestingRound.objects.create(
                name=ROUND_NAME.format(month=day.month, day=day.day), kind=RoundKind.KEY_GROUPS,
                starts_at=_at(day, 6), deadline=_at(day, 12), state=RoundState.FINISHED,
                policy_version=ruleset_in_force(day).id, created_by=self.users["hq"])
        return self._rounds[day]

    def _tube(self, person, when: dt.datetime) -> None:
        """One single-tube PCR sample of the person, as the testing flow leaves it: resulted negative a few hours
        later, or (sampled on the demo day) received by the lab and waiting for its result. (The testing domain
        has no service for named people's samples outside an area round: written here as test_stays' tubes.)"""
        day = timezone.localdate(when)
        round_ = self._round(day)
        self._tubes[day] = number = self._tubes.get(day, 0) + 1
        done = day < DEMO_DATE
        resulted = when + dt.timedelta(hours=3, minutes=self.rng.randint(0, 90)) if done else None
        tube = Tube.objects.create(
            barcode=f"QG{day:%y%m%d}{number:04d}", round=round_, purpose=TubePurpose.ROUND, pool_mode=PoolMode.SINGLE,
            pool_size=1, site=self.samplers, sampler=self.users["sampler"],
            state=TubeState.RESULTED if done else TubeState.RECEIVED, opened_at=when,
            closed_at=when + dt.timedelta(minutes=1), received_at=when + dt.timedelta(minutes=80), lab=self.lab,
            result=Result.NEGATIVE if done else "", resulted_at=resulted, members_count=1)
        TubeMember.objects.create(tube=tube, round=round_, purpose=TubePurpose.ROUND, person=person, position=1,
                                  added_at=when)
        PersonRound.objects.create(round=round_, person=person, area_id=person.area_id, tube=tube, sampled_at=when,
                                   state=PersonRoundState.NEGATIVE if done else PersonRoundState.SAMPLED,
                                   resulted_at=resulted)
        TestingRound.objects.filter(id=round_.id).update(target=F("target") + 1)
        self._sampled.add((person.id, day))

    @staticmethod
    def _decided(stay: Stay) -> dt.datetime:
        """When the stay was decided (its history's first entry, at the business time of the decision)."""
        return timezone.localtime(StayChange.objects.filter(stay=stay, kind=ChangeKind.CREATED)
                                  .values_list("at", flat=True).get())

    def sample(self, stay: Stay, *, through: dt.date, before: dt.date | None = None) -> None:
        """The stay's planned tests up to `through` (and before `before`): at the site from the admission (right
        after it on the day of arrival), at home in the morning (or an hour after the decision, that day)."""
        admitted = timezone.localtime(stay.admitted_at) if stay.admitted_at else None
        for test in stay.test_days:
            day = dt.date.fromisoformat(test["date"])
            if test["kind"] != "pcr" or day > through or (before and day >= before):
                continue
            if (stay.person_id, day) in self._sampled:
                continue
            if stay.measure in CENTRAL_MEASURES:
                if admitted is None or admitted.date() > day:
                    continue  # not at the site yet: no test that day
                when = self._minutes(day, (6, 30), (7, 30))
                if admitted.date() == day:
                    when = max(when, admitted + dt.timedelta(minutes=30))
            else:
                when = max(self._minutes(day, (7, 30), (9, 30)),
                           self._decided(stay) + dt.timedelta(minutes=self.rng.randint(60, 150)))
            self._tube(stay.person, when)

    def serve_out(self, contacts: Iterable) -> int:
        """The contacts' stays whose days are served by the demo day: tested negative on their test days and
        released on their last day (the plan's next phase starts at once and is served out too); the stays of those
        who became cases keep their negative tests before. The rooms they left are disinfected the day after the
        last of them left. Answers the releases."""
        refs = [contact_ref(c.id) for c in contacts]
        released, left = 0, []
        while True:
            due = list(Stay.objects.filter(source_ref__in=refs, state=StayState.ACTIVE, ends_on__lte=DEMO_DATE)
                       .select_related("person").order_by("ends_on", "id"))
            if not due:
                break
            for stay in due:
                self.sample(stay, through=stay.ends_on)
                with business_time(_at(stay.ends_on, 11)):  # the morning's results are out
                    services.stay_release(actor=self.manager, stay_id=stay.id)
                released += 1
                if stay.room_id:
                    left.append(_at(stay.ends_on, 11))
        for stay in (Stay.objects.filter(source_ref__in=refs, state=StayState.BECAME_CASE).select_related("person")
                     .order_by("id")):  # a fixed order: the draws below follow it (PostgreSQL's order varies)
            closed = timezone.localtime(StayChange.objects.filter(stay=stay, kind=ChangeKind.STATE)
                                        .order_by("-at").values_list("at", flat=True).first())
            self.sample(stay, through=DEMO_DATE, before=closed.date())
            left.append(closed)
        if left:
            self._disinfect(_at(max(left).date() + dt.timedelta(days=1), 10))
        return released

    def _disinfect(self, moment: dt.datetime) -> None:
        """终末消毒 of the rooms left to clean: free again."""
        for site in self.sites.values():
            rooms = list(Room.objects.filter(site=site, state=RoomState.CLEANING).values_list("id", flat=True))
            if rooms:
                with business_time(moment):
                    services.rooms_set_state(actor=self.manager, site_id=site.id, room_ids=rooms,
                                             state=RoomState.FREE, reason="终末消毒完成")

    # --- the demo day's life (after the outbreak) -----------------------------------------------------------

    def _covering(self, area: Area, *usernames: str) -> User:
        """The first of the users whose jurisdiction covers the area."""
        for name in usernames:
            user = self.users[name]
            if user.jurisdiction and area.path.startswith(user.jurisdiction.path):
                return user
        raise LookupError(f"no user covers {area.name}")

    def daily_life(self) -> QuarantineSummary:
        in_sites = list(Stay.objects.filter(state=StayState.ACTIVE, site__isnull=False)
                        .select_related("person", "room").order_by("id"))
        at_home = list(Stay.objects.filter(state=StayState.ACTIVE, site__isnull=True)
                       .exclude(measure__in=list(CENTRAL_MEASURES)).select_related("person", "area").order_by("id"))
        for stay in in_sites + at_home:
            self.sample(stay, through=DEMO_DATE)
        self.site_monitoring(in_sites)
        self.home_quarantine(at_home)
        summary = QuarantineSummary(
            sites=len(self.sites), in_sites=len(in_sites), at_home=len(at_home), transfers=Transfer.objects.count(),
            checks=DailyCheck.objects.count(), alerts=Alert.objects.count(), needs=Need.objects.count())
        self.log(f"隔离点 {summary.sites} 个，集中隔离 {summary.in_sites} 人，居家隔离 {summary.at_home} 人，"
                 f"转运 {summary.transfers} 次，健康监测 {summary.checks} 条")
        return summary

    def _record(self, actor, stay: Stay, when: dt.datetime, **values) -> None:
        with business_time(when):
            monitoring.check_record(actor=actor, stay_id=stay.id, day=timezone.localdate(when), **values)

    def _days(self, stay: Stay, actor, *, skip_pm_today: bool = False, fever_on: dt.date | None = None,
              cough_today: bool = False) -> None:
        """The stay's entries, day by day up to the demo day: each slot the monitoring rule owes (a resident owes
        the morning temperature only if admitted before 10:00 that day ...), the daily report for past days. At home
        the measure's first day may be the day of the decision: its morning entry is filled in once the team is
        there."""
        central = stay.measure in CENTRAL_MEASURES
        since = timezone.localtime(stay.admitted_at) if central else self._decided(stay)
        day = max(stay.starts_on, since.date())
        while day <= DEMO_DATE:
            past = day < DEMO_DATE
            owed = monitoring.due_slots(stay, day, _at(day + dt.timedelta(days=1), 0, 1) if past
                                        else _at(day, 18, 1))
            earliest = since + dt.timedelta(minutes=15 if central else 90) if since.date() == day else _at(day, 0)
            if "am" in owed:
                values = {"temp_am": self._temp(), "disinfected": True}
                if cough_today and not past:
                    values.update(symptoms=[Symptom.COUGH], symptom_note="干咳，咽部发痒，无发热")
                when = max(self._minutes(day, (7, 30), (9, 30)), earliest)
                self._record(actor, stay, when, **values)
                earliest = max(earliest, when + dt.timedelta(minutes=30))
            if "pm" in owed and not (skip_pm_today and not past):
                temp = "37.6" if day == fever_on else self._temp()
                self._record(actor, stay, max(self._minutes(day, (14, 0), (14, 50)), earliest), temp_pm=temp,
                             reported=True if past else None)
            elif "report" in owed:
                self._record(actor, stay, max(self._minutes(day, (20, 0), (20, 40)), earliest), reported=True)
            day += dt.timedelta(days=1)

    def site_monitoring(self, stays: list[Stay]) -> None:
        """Every resident's days; one fever yesterday afternoon (handled by the doctor), one cough today (open), a
        few afternoon temperatures not taken yet; three needs."""
        if not stays:
            return
        yesterday = DEMO_DATE - dt.timedelta(days=1)
        settled = [s for s in stays if timezone.localtime(s.admitted_at) < _at(yesterday, 9)]  # here since 07-13
        fever = self.rng.choice(settled or stays)
        cough = self.rng.choice([s for s in stays if s is not fever] or stays)
        late = set(self.rng.sample([s.id for s in stays if s not in (fever, cough)] or [s.id for s in stays],
                                   min(3, max(1, len(stays) // 3))))
        for stay in stays:
            self._days(stay, self.doctor, skip_pm_today=stay.id in late,
                       fever_on=yesterday if stay is fever else None, cough_today=stay is cough)
        alert = Alert.objects.filter(stay=fever, day=yesterday, kind=AlertKind.FEVER).first()
        if alert is not None:
            with business_time(self._minutes(yesterday, (15, 5), (15, 25))):
                monitoring.alert_handle(actor=self.doctor, alert_id=alert.id,
                                        outcome="复测腋温36.9℃，无咳嗽、咽痛等症状，继续观察，次日晨起复测")
        pool = settled or stays
        calm, diet = self.rng.choice(pool), self.rng.choice(pool)
        with business_time(self._minutes(yesterday, (9, 10), (9, 50))):
            need = monitoring.need_add(actor=self.manager, stay_id=calm.id, kind=NeedKind.PSYCHOLOGICAL,
                                       detail="隔离第二天情绪低落、失眠，希望有人聊聊")
        with business_time(self._minutes(yesterday, (16, 0), (16, 40))):
            monitoring.need_update(actor=self.manager, need_id=need.id, state=NeedState.RESOLVED,
                                   resolution="县心理援助热线咨询师电话疏导40分钟，情绪平稳，已告知24小时求助电话")
        with business_time(self._minutes(yesterday, (18, 30), (18, 50))):
            need = monitoring.need_add(actor=self.manager, stay_id=diet.id, kind=NeedKind.DIET,
                                       detail="2型糖尿病，需要低糖饮食")
        with business_time(self._minutes(yesterday, (19, 10), (19, 40))):
            monitoring.need_update(actor=self.manager, need_id=need.id, state=NeedState.IN_PROGRESS,
                                   resolution="已联系配餐单位调整食谱，次日起试行糖尿病餐")
        with business_time(self._minutes(DEMO_DATE, (10, 10), (10, 50))):
            monitoring.need_add(actor=self.manager, stay_id=self.rng.choice(stays).id, kind=NeedKind.MEDICINE,
                                detail="高血压，自带的降压药（硝苯地平缓释片）只剩2天用量，请协助购药")

    def _grid_member(self, stay: Stay) -> dict:
        """The grid's own worker (full-time or rural grid worker, else an assistant; one who is not under a measure
        now — the county's grid workers are residents of their grids), or one named here, the same for the grid."""
        grid = next((p for p in reversed(Area.ancestor_paths(stay.area.path)) if p in self._grids), None)
        if grid is None:
            workers = list(GridWorker.objects.filter(area__path__in=Area.ancestor_paths(stay.area.path),
                                                     area__level=AreaLevel.GRID).select_related("area")
                           .order_by("role", "id"))
            rank = {GridWorkerRole.FULL_TIME: 0, GridWorkerRole.GRID_WORKER: 0, GridWorkerRole.ASSISTANT: 1}
            free = sorted((w for w in workers if w.role in rank and w.mobile and (w.name, w.mobile) not in self._busy),
                          key=lambda w: (rank[w.role], w.id))
            grid = workers[0].area.path if workers else stay.area.path
            self._grids[grid] = ({"name": free[0].name, "phone": free[0].mobile, "user_id": free[0].user_id} if free
                                 else {"name": self._name(), "phone": self._people.mobile(), "user_id": None})
        return self._grids[grid]

    def _team(self, stay: Stay) -> list[dict]:
        """The policy's five for the person's home: the grid's worker (their login where they have one), a
        community cadre (the "community" login where it covers the home), the rest named here."""
        community = self.users["community"]
        members = []
        for role in home.responsible_roles(stay.area, day=DEMO_DATE):
            member = {"role": role, "name": self._name(), "phone": self._people.mobile(), "user_id": None}
            if role == "grid_worker":
                member.update(self._grid_member(stay))
            elif role == "village_cadre" and stay.area.path.startswith(community.jurisdiction.path):
                if not community.mobile:
                    community.mobile = self._people.mobile()  # (the demo account has none: one for the team list)
                member.update(name=str(community), phone=community.mobile, user_id=community.id)
            members.append(member)
        return members

    def home_quarantine(self, stays: list[Stay]) -> None:
        """Each home stay: the five, the seal, the team's visit and the temperatures every day; one supervisor video
        check and one delivery asked for; one door sensor went off this morning."""
        if not stays:
            return
        self._busy = set(Person.objects.filter(quarantine_stays__state__in=list(OPEN_STAY_STATES))
                         .values_list("name", "mobile"))
        kinds = [SealKind.PAPER_SEAL if i % 4 == 3 else SealKind.DOOR_SENSOR for i in range(len(stays))]
        self.rng.shuffle(kinds)
        sensors = [s for s, k in zip(stays, kinds, strict=True) if k == SealKind.DOOR_SENSOR]
        alarm = self.rng.choice(sensors) if sensors else None
        checked = self.rng.choice(stays)
        delivery = self.rng.choice(stays)
        for stay, kind in zip(stays, kinds, strict=True):
            cadre = self._covering(stay.area, "township", "taskforce")
            decided = self._decided(stay)
            team = self._team(stay)
            with business_time(decided + dt.timedelta(minutes=self.rng.randint(60, 120))):
                home.team_assign(actor=cadre, stay_id=stay.id, members=team)
            sealed = decided + dt.timedelta(minutes=self.rng.randint(150, 240))
            with business_time(sealed):
                home.seal_set(actor=cadre, stay_id=stay.id, kind=kind, state=SealState.INTACT)
            if stay is alarm:
                with business_time(_at(DEMO_DATE, 6, 14)):
                    home.seal_set(actor=cadre, stay_id=stay.id, state=SealState.OPENED,
                                  reason="门磁报警：6:12开门约2分钟")
            self._days(stay, cadre)
            logins = {m["user_id"] for m in team}
            visitor = next((self.users[n] for n in ("grid", "community") if self.users[n].id in logins),
                           cadre)  # a member of the five with a login visits under it
            day = stay.starts_on
            while day <= DEMO_DATE:
                when = max(self._minutes(day, (9, 0), (11, 30)), sealed + dt.timedelta(minutes=10))
                broken = stay is alarm and day == DEMO_DATE
                with business_time(when):
                    home.visit_record(
                        actor=visitor, stay_id=stay.id, kind=VisitKind.DAILY, person_present=True,
                        seal_intact=not broken, at=when,
                        deliveries_needed="大米、青菜、鸡蛋" if stay is delivery and day == stay.starts_on else "",
                        note="门磁报警属实：本人开门取门口的早餐，已批评教育，待重新安装" if broken else "")
                day += dt.timedelta(days=1)
        when = self._minutes(DEMO_DATE, (10, 30), (11, 30))
        with business_time(when):
            home.visit_record(actor=self.supervisor, stay_id=checked.id, kind=VisitKind.SUPERVISOR_VIDEO,
                              person_present=True, seal_intact=checked is not alarm, at=when,
                              note="视频连线抽查：本人在家，门磁/封条可见")


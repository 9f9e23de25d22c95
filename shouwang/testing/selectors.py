"""Reads of mass testing: rounds in a jurisdiction, coverage per area ("miss no one", 应检尽检), the people not
sampled yet, the chain's timings, rechecks due; sampling sites, the labs' capacity and queues, and the numbers the
planning aid starts from."""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from dataclasses import dataclass, field

from django.db.models import Avg, Count, Exists, F, Max, Min, OuterRef, Q, Sum
from django.db.models.functions import Coalesce
from django.utils import timezone

from shouwang.accounts.scoping import NOWHERE, jurisdiction_path
from shouwang.areas.models import Area, subtree_range
from shouwang.areas.selectors import grid_names
from shouwang.core import clock
from shouwang.core.db import chunks
from shouwang.core.errors import NotFound
from shouwang.people.models import Person
from shouwang.testing.enums import (
    EXEMPT_NOT_SAMPLED,
    BatchState,
    PersonRoundState,
    RecheckState,
    Result,
    RoundState,
    TubePurpose,
    TubeState,
)
from shouwang.testing.models import (
    AntigenResult,
    Exemption,
    Lab,
    PersonRound,
    RecheckTask,
    RoundArea,
    SamplingSite,
    TestingRound,
    Tube,
    TubeMember,
    TubeResult,
)


def rounds_visible(user) -> list[TestingRound]:
    """Rounds with an area in the user's jurisdiction or covering it, newest first."""
    path = jurisdiction_path(user)
    out = []
    for r in TestingRound.objects.order_by("-starts_at", "-id").prefetch_related("areas__area"):
        if any(ra.area.path.startswith(path) or path.startswith(ra.area.path) for ra in r.areas.all()):
            out.append(r)
    return out


@dataclass
class Coverage:
    area: Area
    target: int = 0  # people living there who must be tested (exempt ones not counted)
    exempt: int = 0
    sampled: int = 0
    resulted: int = 0
    negative: int = 0
    recheck: int = 0
    positive: int = 0

    @property
    def unsampled(self) -> int:
        return max(0, self.target - self.sampled)

    @property
    def percent(self) -> float:
        return round(100.0 * self.sampled / self.target, 1) if self.target else 100.0


@dataclass
class CoverageTable:
    round: TestingRound
    parent: Area
    rows: list[Coverage] = field(default_factory=list)
    total: Coverage | None = None


def _scope_paths(round_: TestingRound) -> list[str]:
    return [ra.area.path for ra in round_.areas.select_related("area")]


def coverage(*, round_: TestingRound, parent: Area) -> CoverageTable:
    """Target, exempt, sampled, resulted, negative, recheck and positive for each child of `parent` (and the
    total), counting only people inside the round's areas. Grouped counts per area, rolled up to the children by
    their paths, each read from an index: the areas under the parent inside the round (one range of the path
    index), the people per area (their area's index; merged files, which are not counted, from their own partial
    index) and the round states per area (PersonRound's (round, area, state) index). A village's table takes
    milliseconds at a million people, the county's a fraction of a second (benchmarks/testing_round.py)."""
    scope = [p for p in _scope_paths(round_) if p.startswith(parent.path) or parent.path.startswith(p)]
    children = list(Area.objects.get_children(parent)) or [parent]
    child_len = len(children[0].path)
    table = CoverageTable(round=round_, parent=parent, rows=[Coverage(area=c) for c in children])
    by_path = {c.path: row for c, row in zip(children, table.rows, strict=True)}
    total = Coverage(area=parent)
    if not scope:
        table.total = total
        return table
    roots = sorted({max(path, parent.path, key=len) for path in scope})  # the deeper of each scope area and parent
    in_roots = Q()
    for root in roots:
        in_roots |= Q(path__range=subtree_range(root))
    row_of: dict[int, Coverage] = {}  # every area inside the round under the parent -> the child row it counts in
    for area_id, path in Area.objects.filter(in_roots).values_list("id", "path"):
        row = by_path.get(path[:child_len])
        if row is not None:
            row_of[area_id] = row
    areas = Area.objects.filter(in_roots).values("id")

    people = Person.objects.filter(area__in=areas).values_list("area_id").annotate(n=Count("id")).order_by()
    for area_id, n in people:
        if area_id in row_of:
            row_of[area_id].target += n
    # not grouped in SQL: a GROUP BY would lure SQLite into scanning the area index instead of the partial one
    for area_id in Person.objects.filter(merged_into__isnull=False).values_list("area_id", flat=True):
        if area_id in row_of:
            row_of[area_id].target -= 1
    exempt = (Exemption.objects.filter(round=round_, reason__in=list(EXEMPT_NOT_SAMPLED))
              .values_list("person__area_id").annotate(n=Count("id")).order_by())
    for area_id, n in exempt:
        if area_id in row_of:
            row_of[area_id].exempt += n
            row_of[area_id].target -= n
    states = (PersonRound.objects.filter(round=round_, area__in=areas).values_list("area_id", "state")
              .annotate(n=Count("id")).order_by())
    for area_id, state, n in states:
        row = row_of.get(area_id)
        if row is None:
            continue
        row.sampled += n
        if state != PersonRoundState.SAMPLED:
            row.resulted += n
        if state == PersonRoundState.NEGATIVE:
            row.negative += n
        elif state == PersonRoundState.RECHECK:
            row.recheck += n
        elif state == PersonRoundState.POSITIVE:
            row.positive += n
    for row in table.rows:
        for name in ("target", "exempt", "sampled", "resulted", "negative", "recheck", "positive"):
            setattr(total, name, getattr(total, name) + getattr(row, name))
    table.total = total
    return table


def unsampled_people(*, round_: TestingRound, area: Area, limit: int | None = 500):
    """People of `area` inside the round who must be tested and have no sample yet (door-to-door exemptions
    included: they are sampled at home), by building and household, for grid workers to knock on doors."""
    scope = [p for p in _scope_paths(round_) if p.startswith(area.path) or area.path.startswith(p)]
    if not scope:
        return Person.objects.none()
    in_scope = Q()
    for path in scope:  # the deeper of the two; a range of the path index, as Area.objects.subtree
        in_scope |= Q(area__path__range=subtree_range(max(path, area.path, key=len)))
    # NOT EXISTS probes the (round, person) index per person of the area; NOT IN (...) would first list the whole
    # round (a million rows for a county)
    sampled = Exists(PersonRound.objects.filter(round=round_, person_id=OuterRef("pk")))
    excused = Exemption.objects.filter(round=round_, reason__in=list(EXEMPT_NOT_SAMPLED)).values("person_id")
    qs = (Person.objects.active().filter(in_scope).exclude(sampled).exclude(id__in=excused)
          .select_related("area", "household").order_by("area__path", "household_id", "id"))
    return qs[:limit] if limit else qs


def rechecks_due(*, round_: TestingRound, user) -> list[RecheckTask]:
    path = jurisdiction_path(user)
    return list(RecheckTask.objects.filter(round=round_, area__path__startswith=path)
                .exclude(state__in=[RecheckState.NEGATIVE, RecheckState.POSITIVE])
                .select_related("person", "person__household", "area", "source_tube", "tube")
                .order_by("due_at", "id"))


@dataclass
class ChainTimes:
    """Average hours of each step of 采送检报 for a round's tubes, and the slowest step."""

    sampled_to_received: float | None
    received_to_resulted: float | None
    tubes_resulted: int
    slowest: str | None


def chain_times(round_: TestingRound) -> ChainTimes:
    tubes = Tube.objects.filter(round=round_, purpose=TubePurpose.ROUND)
    stats = tubes.filter(received_at__isnull=False, closed_at__isnull=False).aggregate(
        to_lab=Avg(F("received_at") - F("closed_at")))
    lab = tubes.filter(resulted_at__isnull=False, received_at__isnull=False).aggregate(
        in_lab=Avg(F("resulted_at") - F("received_at")), n=Count("id"))

    def hours(value) -> float | None:
        if value is None:
            return None
        seconds = value.total_seconds() if isinstance(value, dt.timedelta) else float(value) / 1e6
        return round(seconds / 3600, 1)

    to_lab, in_lab = hours(stats["to_lab"]), hours(lab["in_lab"])
    steps = {"sampled_to_received": to_lab, "received_to_resulted": in_lab}
    known = {k: v for k, v in steps.items() if v is not None}
    slowest = max(known, key=known.get) if known else None
    if len(known) == 2 and len(set(known.values())) == 1:
        slowest = None  # two equal steps: neither is the slow one
    return ChainTimes(to_lab, in_lab, lab["n"], slowest)


def round_progress(round_: TestingRound) -> dict:
    """Totals for the round's dashboard: tubes by state, people by state, rechecks, first sample."""
    tubes = dict(Tube.objects.filter(round=round_).values_list("state").annotate(n=Count("id")))
    people: dict[str, int] = defaultdict(int)
    # grouped by (area, state), the order of the (round, area, state) index: no sort of a million entries
    for _, state, n in (PersonRound.objects.filter(round=round_).values_list("area_id", "state")
                        .annotate(n=Count("id")).order_by()):
        people[state] += n
    people = dict(people)
    rechecks = defaultdict(int, RecheckTask.objects.filter(round=round_).values_list("state").annotate(n=Count("id")))
    first = PersonRound.objects.filter(round=round_).aggregate(first=Min("sampled_at"))["first"]
    return {"tubes": tubes, "people": people, "rechecks": dict(rechecks), "sampled": sum(people.values()),
            "first_sample": first}


# ---- sampling sites, labs and the planning aid's starting numbers -------------------------------------------------


@dataclass
class SiteRow:
    site: SamplingSite
    grid: str  # the grid (and micro-grid) the site is in; "" for a site registered above the grids


def sites_visible(user, *, kind: str | None = None) -> list[SiteRow]:
    """Sampling sites (door-to-door teams included: kind door_to_door) in the user's jurisdiction, active ones
    first, by name; `kind` narrows to one kind."""
    qs = SamplingSite.objects.filter(area__path__range=subtree_range(jurisdiction_path(user))).select_related("area")
    if kind:
        qs = qs.filter(kind=kind)
    sites = list(qs.order_by("-active", "name", "id"))
    grids = grid_names(list({s.area_id: s.area for s in sites}.values()))
    return [SiteRow(site=s, grid=grids.get(s.area_id, "")) for s in sites]


def labs_visible(user):
    """Labs in the user's jurisdiction or serving it (a county lab serves the townships under it), by name."""
    path = jurisdiction_path(user)
    if path == NOWHERE:
        return Lab.objects.none()
    return (Lab.objects.filter(Q(area__path__range=subtree_range(path)) | Q(area__path__in=Area.ancestor_paths(path)))
            .select_related("area").order_by("name"))


@dataclass
class LabQueue:
    """A lab's capacity and what waits for it. Counts are the lab's whole queue (a county lab serving a township
    counts every township's tubes): the capacity is the lab's, not the jurisdiction's."""

    lab: Lab
    tubes_per_day: int
    waiting: int = 0  # received, no result yet (state received; an invalid result moves a tube to resulted)
    resulted_today: int = 0  # results reported on the business day (invalid ones included: the lab ran them)
    in_transit: int = 0  # packed in a box for this lab that is not received yet

    @property
    def days(self) -> float | None:
        """The queue in days of the lab's capacity, one decimal (None for a lab with no capacity recorded)."""
        return round(self.waiting / self.tubes_per_day, 1) if self.tubes_per_day else None

    @property
    def over_capacity(self) -> bool:
        """More waiting than the lab tests in a day."""
        return self.waiting > self.tubes_per_day


def _business_day() -> tuple[dt.datetime, dt.datetime]:
    day = clock.today()
    return (timezone.make_aware(dt.datetime.combine(day, dt.time.min)),
            timezone.make_aware(dt.datetime.combine(day + dt.timedelta(days=1), dt.time.min)))


def lab_queues(user) -> list[LabQueue]:
    """Each lab serving the user's jurisdiction with its daily capacity and its queue: tubes received and waiting
    for a result, tubes resulted today (the business day) and tubes on their way (in a box packed or handed to a
    courier, not received yet). One grouped query over the tubes of all the labs at once: a tube belongs to the
    lab that received it, or, on its way, to its box's lab."""
    labs = list(labs_visible(user))
    rows = {lab.id: LabQueue(lab=lab, tubes_per_day=lab.tubes_per_day) for lab in labs}
    if not rows:
        return []
    ids = list(rows)
    start, end = _business_day()
    waiting = Q(lab_id__in=ids, state=TubeState.RECEIVED)
    resulted = Q(lab_id__in=ids, resulted_at__gte=start, resulted_at__lt=end)
    on_way = Q(received_at__isnull=True, batch__lab_id__in=ids, batch__state__in=[BatchState.PACKED,
                                                                                    BatchState.IN_TRANSIT])
    counts = (Tube.objects.filter(waiting | resulted | on_way).annotate(dest=Coalesce("lab_id", "batch__lab_id"))
              .values("dest").annotate(waiting=Count("id", filter=waiting), resulted=Count("id", filter=resulted),
                                       on_way=Count("id", filter=on_way)).order_by())
    for row in counts:
        queue = rows.get(row["dest"])
        if queue is not None:
            queue.waiting, queue.resulted_today, queue.in_transit = row["waiting"], row["resulted"], row["on_way"]
    return list(rows.values())


@dataclass
class PlanDefaults:
    """What the planning form starts from: the people of the jurisdiction, its active sampling sites and the labs
    serving it."""

    people: int
    sites: int
    samplers: int
    site_per_hour: int  # people swabbed per hour at all the active sites together
    labs: int
    lab_tubes_per_day: int

    @property
    def per_sampler_hour(self) -> int | None:
        """People one sampler swabs in an hour at these sites (rounded; None without samplers)."""
        return max(1, round(self.site_per_hour / self.samplers)) if self.samplers else None


def plan_defaults(user) -> PlanDefaults:
    path = jurisdiction_path(user)
    people = Person.objects.active().within(path).count() if path != NOWHERE else 0
    sites = (SamplingSite.objects.filter(area__path__range=subtree_range(path), active=True)
             .aggregate(n=Count("id"), samplers=Sum("samplers"), per_hour=Sum("per_hour")))
    labs = labs_visible(user).aggregate(n=Count("id"), per_day=Sum("tubes_per_day"))
    return PlanDefaults(people=people, sites=sites["n"], samplers=sites["samplers"] or 0,
                        site_per_hour=sites["per_hour"] or 0, labs=labs["n"], lab_tubes_per_day=labs["per_day"] or 0)


# ---- the work pages: exemptions, rechecks, one tube --------------------------------------------------------------


def exemptions_visible(*, round_: TestingRound, user):
    """The round's exemptions of people registered in the user's jurisdiction, the latest recorded first."""
    return (Exemption.objects.filter(round=round_,
                                     person__area__in=Area.objects.subtree(jurisdiction_path(user)).values("id"))
            .select_related("person", "person__area", "person__household", "recorded_by")
            .order_by("-updated_at", "-id"))


def exemption_counts(*, round_: TestingRound, user) -> dict[str, int]:
    """How many of exemptions_visible give each reason."""
    return dict(exemptions_visible(round_=round_, user=user).order_by().values_list("reason")
                .annotate(n=Count("id")))


def person_by_id_number(*, user, id_number: str) -> Person:
    """The active person registered in the user's jurisdiction with this ID number. Someone registered elsewhere
    answers "not found", as an unknown number does."""
    person = (Person.objects.active().within(jurisdiction_path(user)).filter(id_number=id_number.strip().upper())
              .select_related("area").order_by("id").first())
    if person is None:
        raise NotFound("人员", "person", field="id_number")
    return person


def recheck_task_visible(*, round_: TestingRound, user, task_id: int) -> RecheckTask:
    """A recheck task of the round in the user's jurisdiction (one rechecks_due lists, or a finished one)."""
    task = (RecheckTask.objects.filter(id=task_id, round=round_, area__path__startswith=jurisdiction_path(user))
            .select_related("person", "person__household", "area", "source_tube", "tube").first())
    if task is None:
        raise NotFound("复核任务", "recheck task", field="task_id")
    return task


def tube_visible(*, user, barcode: str) -> Tube:
    """A tube the user may open: its round has an area in the user's jurisdiction or covering it (the rule of
    services._visible_tube), and the tube concerns the jurisdiction: someone put in it (also one taken out) is
    registered there, or it was sampled at a site there. Any other tube answers "not found", as a missing one: a
    township sees the pools of its own people in a county-wide round, not its neighbours'."""
    path = jurisdiction_path(user)
    tube = (Tube.objects.filter(barcode=str(barcode or "").strip())
            .select_related("round", "site", "site__area", "sampler", "batch", "batch__lab", "lab").first())
    if tube is None or path == NOWHERE:
        raise NotFound("采样管", "tube", field="barcode")
    round_paths = Area.objects.filter(id__in=RoundArea.objects.filter(round_id=tube.round_id).values("area_id")) \
        .values_list("path", flat=True)
    in_round = any(p.startswith(path) or path.startswith(p) for p in round_paths)
    ours = (tube.site is not None and tube.site.area.path.startswith(path)) or TubeMember.objects.filter(
        tube=tube, person__area__in=Area.objects.subtree(path).values("id")).exists()
    if not (in_round and ours):
        raise NotFound("采样管", "tube", field="barcode")
    return tube


@dataclass
class TubeDetail:
    tube: Tube
    members: list[TubeMember]  # in order, those taken out too, with their person (area, household) and remover
    results: list[TubeResult]  # every reported result, oldest first (a correction supersedes an earlier row)
    states: dict[int, str]  # person -> their state in the round (the members of a round tube)
    rechecks: dict[int, RecheckTask]  # person -> their recheck task, for the members of a positive pool
    source: RecheckTask | None  # a recheck tube: the task it samples (its pool is source.source_tube)


def tube_detail(tube: Tube) -> TubeDetail:
    members = list(tube.members.select_related("person", "person__area", "person__household", "removed_by")
                   .order_by("position", "id"))
    results = list(tube.results.select_related("lab", "source_file", "reviewed_by").order_by("id"))
    states = dict(PersonRound.objects.filter(tube=tube).values_list("person_id", "state"))
    rechecks = {t.person_id: t for t in RecheckTask.objects.filter(source_tube=tube).select_related("tube")}
    source = None
    if tube.purpose == TubePurpose.RECHECK:
        source = (RecheckTask.objects.filter(round_id=tube.round_id, person_id__in=[m.person_id for m in members])
                  .select_related("source_tube").order_by("id").first())
    return TubeDetail(tube=tube, members=members, results=results, states=states, rechecks=rechecks, source=source)


@dataclass(frozen=True)
class Sample:
    member_id: int
    taken_at: dt.datetime
    barcode: str
    site_name: str  # "" for a door-to-door sample


def person_samples_between(*, person_id: int, start: dt.datetime, end: dt.datetime) -> list[Sample]:
    """A person's samples (tube memberships not removed) in [start, end), oldest first (a case's itinerary)."""
    rows = (TubeMember.objects.filter(person_id=person_id, added_at__gte=start, added_at__lt=end,
                                      removed_at__isnull=True)
            .order_by("added_at", "id").values_list("id", "added_at", "tube__barcode", "tube__site__name"))
    return [Sample(mid, at, barcode, site or "") for mid, at, barcode, site in rows]


def outcome_on(person_id: int, day: dt.date, kind: str) -> str:
    """What the person's test of that day says: negative, positive, pending (sampled, no result) or missing. A PCR
    counts in any tube (pooled or single) sampled that day; an antigen test by its time."""
    return outcomes_on([person_id], day, kind)[person_id]


def outcomes_on(person_ids, day: dt.date, kind: str) -> dict[int, str]:
    """outcome_on for many people in one query (a site's day sheet)."""
    start = timezone.make_aware(dt.datetime.combine(day, dt.time()))
    end = start + dt.timedelta(days=1)
    ids = list(person_ids)
    if kind == "antigen":
        rows = AntigenResult.objects.filter(person_id__in=ids, taken_at__gte=start, taken_at__lt=end).values_list(
            "person_id", "result")
    else:
        rows = TubeMember.objects.filter(person_id__in=ids, added_at__gte=start, added_at__lt=end,
                                         removed_at__isnull=True).values_list("person_id", "tube__result")
    results: dict[int, set] = {i: set() for i in ids}
    for person_id, result in rows:
        results[person_id].add(result)
    out = {}
    for person_id, found in results.items():
        out[person_id] = ("positive" if Result.POSITIVE in found else "negative" if Result.NEGATIVE in found
                          else "pending" if found else "missing")
    return out


# ---- the zone clock's rounds --------------------------------------------------------------------------------------

SCREENING_KINDS = ("whole", "area")  # key-group rounds test some people, never a whole area


def screening_rounds(area_paths, *, since: dt.date | None = None) -> dict[str, dict[int, tuple[dt.date, bool]]]:
    """The whole-area PCR screening rounds done in each of these areas (the area and everything under it), for the
    risk-zone clock: {area path: {round id: (date, all negative)}}.

    A round counts for an area when it is a whole or area round (not key groups), not cancelled, reaching `since`
    (its deadline on or after that day), and one of its areas is the area, above it, or under it. It is "done" in the
    area when everyone who must be tested there has a result: the people living in the subtree (merged files not
    counted) less the round's exemptions that are not sampled (away, infants ...; bedridden people are sampled at
    home and count) all negative → (date, True); any positive member (a positive single tube or a positive recheck)
    → (date, False) at once. A round still sampling there, with results pending, a positive pool awaiting its
    single-tube recheck, a tube to resample, or people not sampled (a round over only part of the area) is not done
    and is left out. The date is the business day of the last sample taken in the area for that round (the day the
    area completed it). Set-based: the round areas in one query; then, for the asked areas a round may cover, their
    subtrees, people, exemptions and round states each in one grouped query (per 400 asked areas, the areas given
    as ranges of the path index), whatever the number of areas asked about."""
    paths = sorted({p for p in area_paths if p})
    out: dict[str, dict[int, tuple[dt.date, bool]]] = {p: {} for p in paths}
    if not paths:
        return out
    rounds = TestingRound.objects.exclude(state=RoundState.CANCELLED).filter(kind__in=SCREENING_KINDS)
    if since is not None:
        rounds = rounds.filter(deadline__gte=timezone.make_aware(dt.datetime.combine(since, dt.time.min)))
    round_paths: dict[int, list[str]] = defaultdict(list)
    for round_id, path in RoundArea.objects.filter(round__in=rounds).values_list("round_id", "area__path"):
        round_paths[round_id].append(path)
    candidates: dict[str, set[int]] = {
        p: {r for r, rps in round_paths.items() if any(p.startswith(rp) or rp.startswith(p) for rp in rps)}
        for p in paths}
    wanted = sorted(set().union(*candidates.values()))
    if not wanted:
        return out
    asked = {p for p in paths if candidates[p]}
    roots = [p for p in sorted(asked) if not any(q != p and q in asked for q in Area.ancestor_paths(p))]
    within: dict[int, list[str]] = {}  # every area under an asked path -> the asked paths it lies under
    target: dict[int, int] = defaultdict(int)
    exempt: dict[tuple[int, int], int] = defaultdict(int)
    states: dict[tuple[int, int], dict[str, int]] = defaultdict(lambda: defaultdict(int))
    last: dict[tuple[int, int], dt.datetime] = {}
    for chunk in chunks(roots, 400):  # 800 range bounds: under SQLite's oldest limit of 999 variables
        in_roots = Q()
        for root in chunk:
            in_roots |= Q(path__range=subtree_range(root))
        for area_id, path in Area.objects.filter(in_roots).values_list("id", "path"):
            within[area_id] = [q for q in Area.ancestor_paths(path) if q in asked]
        areas = Area.objects.filter(in_roots).values("id")
        for area_id, n in Person.objects.filter(area_id__in=areas).values_list("area_id").annotate(
                n=Count("id")).order_by():
            target[area_id] += n
        for round_id, area_id, n in (Exemption.objects.filter(round_id__in=wanted, reason__in=list(EXEMPT_NOT_SAMPLED),
                                                              person__area_id__in=areas)
                                     .values_list("round_id", "person__area_id").annotate(n=Count("id")).order_by()):
            exempt[(round_id, area_id)] += n
        for round_id, area_id, state, n, at in (
                PersonRound.objects.filter(round_id__in=wanted, area_id__in=areas)
                .values_list("round_id", "area_id", "state").annotate(n=Count("id"), at=Max("sampled_at"))
                .order_by()):
            states[(round_id, area_id)][state] += n
            if (round_id, area_id) not in last or at > last[(round_id, area_id)]:
                last[(round_id, area_id)] = at
    # merged files are not counted: few rows, read from their own partial index (as coverage() does)
    for area_id in Person.objects.filter(merged_into__isnull=False).values_list("area_id", flat=True):
        if area_id in within:
            target[area_id] -= 1
    # roll the areas up to each asked path, per candidate round
    must: dict[tuple[str, int], int] = defaultdict(int)
    got: dict[tuple[str, int], dict[str, int]] = defaultdict(lambda: defaultdict(int))
    ended: dict[tuple[str, int], dt.datetime] = {}
    for area_id, tops in within.items():
        for top in tops:
            for round_id in candidates[top]:
                key = (top, round_id)
                must[key] += target.get(area_id, 0) - exempt.get((round_id, area_id), 0)
                for state, n in states.get((round_id, area_id), {}).items():
                    got[key][state] += n
                at = last.get((round_id, area_id))
                if at is not None and (key not in ended or at > ended[key]):
                    ended[key] = at
    for (top, round_id), at in ended.items():
        counts = got[(top, round_id)]
        day = timezone.localdate(at)
        if counts.get(PersonRoundState.POSITIVE):
            out[top][round_id] = (day, False)
        elif (counts.get(PersonRoundState.NEGATIVE, 0) >= must[(top, round_id)] > 0
              and sum(counts.values()) == counts.get(PersonRoundState.NEGATIVE, 0)):
            out[top][round_id] = (day, True)
    return out

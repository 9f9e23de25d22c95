"""Reads of mass testing: rounds in a jurisdiction, coverage per area ("miss no one", 应检尽检), the people not
sampled yet, the chain's timings, rechecks due."""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from dataclasses import dataclass, field

from django.db.models import Avg, Count, Exists, F, Min, OuterRef, Q

from shouwang.accounts.scoping import jurisdiction_path
from shouwang.areas.models import Area, subtree_range
from shouwang.people.models import Person
from shouwang.testing.enums import EXEMPT_NOT_SAMPLED, PersonRoundState, RecheckState, TubePurpose
from shouwang.testing.models import Exemption, PersonRound, RecheckTask, TestingRound, Tube


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
                .select_related("person", "area", "source_tube").order_by("due_at", "id"))


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

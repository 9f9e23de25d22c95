"""Reads of mass testing: rounds in a jurisdiction, coverage per area ("miss no one", 应检尽检), the people not
sampled yet, the chain's timings, rechecks due."""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from dataclasses import dataclass, field

from django.db.models import Avg, Count, F, Min, Q

from shouwang.accounts.scoping import jurisdiction_path
from shouwang.areas.models import Area
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
    total), counting only people inside the round's areas. Two grouped queries over the whole parent (people per
    area, round states per area), rolled up to the children by their paths."""
    scope = [p for p in _scope_paths(round_) if p.startswith(parent.path) or parent.path.startswith(p)]
    children = list(Area.objects.get_children(parent)) or [parent]
    child_len = len(children[0].path)
    table = CoverageTable(round=round_, parent=parent, rows=[Coverage(area=c) for c in children])
    by_path = {c.path: row for c, row in zip(children, table.rows, strict=True)}
    total = Coverage(area=parent)
    if not scope:
        table.total = total
        return table
    roots = [max(path, parent.path, key=len) for path in scope]  # the deeper of each scope area and the parent
    in_scope = Q()
    for root in roots:
        in_scope |= Q(area__path__startswith=root)
    area_paths = dict(Area.objects.filter(path__startswith=parent.path).values_list("id", "path"))

    def row_of(area_id: int) -> Coverage | None:
        path = area_paths.get(area_id)
        if path is None or not any(path.startswith(root) for root in roots):
            return None
        return by_path.get(path[:child_len])

    people = Person.objects.active().filter(in_scope).values("area_id").annotate(n=Count("id"))
    for r in people:
        row = row_of(r["area_id"])
        if row is not None:
            row.target += r["n"]
    exempt = (Exemption.objects.filter(round=round_).filter(reason__in=list(EXEMPT_NOT_SAMPLED))
              .values("person__area_id").annotate(n=Count("id")))
    for r in exempt:
        row = row_of(r["person__area_id"])
        if row is not None:
            row.exempt += r["n"]
            row.target -= r["n"]
    states = PersonRound.objects.filter(round=round_).values("area_id", "state").annotate(n=Count("id"))
    for r in states:
        row = row_of(r["area_id"])
        if row is None:
            continue
        row.sampled += r["n"]
        if r["state"] != PersonRoundState.SAMPLED:
            row.resulted += r["n"]
        if r["state"] == PersonRoundState.NEGATIVE:
            row.negative += r["n"]
        elif r["state"] == PersonRoundState.RECHECK:
            row.recheck += r["n"]
        elif r["state"] == PersonRoundState.POSITIVE:
            row.positive += r["n"]
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
    for path in scope:
        in_scope |= Q(area__path__startswith=max(path, area.path, key=len))  # the deeper of the two
    sampled = PersonRound.objects.filter(round=round_).values("person_id")
    excused = Exemption.objects.filter(round=round_, reason__in=list(EXEMPT_NOT_SAMPLED)).values("person_id")
    qs = (Person.objects.active().filter(in_scope).exclude(id__in=sampled).exclude(id__in=excused)
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
    return ChainTimes(to_lab, in_lab, lab["n"], max(known, key=known.get) if known else None)


def round_progress(round_: TestingRound) -> dict:
    """Totals for the round's dashboard: tubes by state, people by state, rechecks, first sample."""
    tubes = dict(Tube.objects.filter(round=round_).values_list("state").annotate(n=Count("id")))
    people = dict(PersonRound.objects.filter(round=round_).values_list("state").annotate(n=Count("id")))
    rechecks = defaultdict(int, RecheckTask.objects.filter(round=round_).values_list("state").annotate(n=Count("id")))
    first = PersonRound.objects.filter(round=round_).aggregate(first=Min("sampled_at"))["first"]
    return {"tubes": tubes, "people": people, "rechecks": dict(rechecks), "sampled": sum(people.values()),
            "first_sample": first}

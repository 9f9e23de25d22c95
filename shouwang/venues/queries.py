"""Reads for the venue pages (registry, door scans, inspection), scoped to the user's jurisdiction.

Callers check the capability; every read here starts from the user's jurisdiction, so a venue or a grid outside it
answers as if it did not exist.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from dataclasses import dataclass, field

from django.db.models import Count, Exists, OuterRef, Q, QuerySet
from django.db.models.functions import ExtractHour
from django.utils import timezone

from shouwang.accounts.scoping import jurisdiction_path
from shouwang.areas.enums import AreaLevel, GridKind
from shouwang.areas.models import Area
from shouwang.areas.selectors import grid_names as area_grid_names
from shouwang.venues.enums import VenueCategory, VenueStatus
from shouwang.venues.models import Scan, Venue, VenueCode

GRID_LEVELS = (AreaLevel.GRID, AreaLevel.MICRO_GRID)
ZOMBIE_DAYS = 7  # an active code nobody scanned in this many days (the day itself included) is a "zombie" code
# What every grid of a kind should have a code for; each entry is a set of alternatives (any one will do).
EXPECTED_CATEGORIES: dict[str, list[tuple[str, ...]]] = {
    GridKind.COMMUNITY: [(VenueCategory.COMPOUND,), (VenueCategory.CONVENIENCE, VenueCategory.SUPERMARKET)],
    GridKind.RURAL: [(VenueCategory.CLINIC,), (VenueCategory.CONVENIENCE, VenueCategory.SUPERMARKET)],
}
# "Many" red or yellow entries at one venue on one day: at least this many, or at least this share of its scans.
ALERT_COUNT, ALERT_SHARE = 3, 0.05


def day_bounds(day: dt.date) -> tuple[dt.datetime, dt.datetime]:
    """[start, end) of a local calendar day."""
    start = timezone.make_aware(dt.datetime.combine(day, dt.time()))
    return start, timezone.make_aware(dt.datetime.combine(day + dt.timedelta(days=1), dt.time()))


def areas_in(user, area_id: int | None = None) -> QuerySet[Area]:
    """The user's jurisdiction, or the subtree of one area in it (none if the area is outside)."""
    areas = Area.objects.subtree(jurisdiction_path(user))
    if area_id:
        area = areas.filter(id=area_id).first()
        return Area.objects.subtree(area.path) if area else Area.objects.none()
    return areas


def venues_in(user, area_id: int | None = None) -> QuerySet[Venue]:
    return Venue.objects.filter(area__in=areas_in(user, area_id).values("id"))


def venue_search(user, *, area_id: int | None = None, category: str = "", q: str = "", status: str = ""
                 ) -> QuerySet[Venue]:
    qs = venues_in(user, area_id)
    if category:
        qs = qs.filter(category=category)
    if status:
        qs = qs.filter(status=status)
    q = q.strip()
    if q:
        qs = qs.filter(Q(name__contains=q) | Q(address__contains=q) | Q(manager_name=q))
    return qs.select_related("area").order_by("name", "id")


def grid_options(user) -> list[Area]:
    """Grids and micro-grids in the jurisdiction, in tree order (for filters and the venue form)."""
    return list(areas_in(user).filter(level__in=GRID_LEVELS))


def venue_area_options(user) -> list[Area]:
    """Where a new venue can be registered: the grids, and their compounds when the user works in one grid."""
    jurisdiction = user.jurisdiction
    levels = list(GRID_LEVELS)
    if jurisdiction is not None and jurisdiction.level in (*GRID_LEVELS, AreaLevel.COMPOUND):
        levels.append(AreaLevel.COMPOUND)
    return list(areas_in(user).filter(level__in=levels))


def grid_names(areas) -> dict[int, str]:
    """The grid each area lies in (by area id); an area above the grids keeps its own name."""
    names = area_grid_names(areas)
    return {a.id: names[a.id] or a.name for a in areas}


def scan_counts(venue_ids, start: dt.datetime, end: dt.datetime) -> dict[int, dict]:
    """Scans per venue in [start, end), with how many showed red and yellow."""
    rows = (Scan.objects.filter(venue_id__in=list(venue_ids), scanned_at__gte=start, scanned_at__lt=end)
            .values("venue_id").annotate(total=Count("id"), red=Count("id", filter=Q(colour="red")),
                                         yellow=Count("id", filter=Q(colour="yellow"))))
    return {r["venue_id"]: r for r in rows}


def venue_days(venue_id: int, day: dt.date, days: int = 7) -> list[dict]:
    """Scans per day at one venue for the days up to `day`, newest first (days without scans included)."""
    start, _ = day_bounds(day - dt.timedelta(days=days - 1))
    _, end = day_bounds(day)
    rows = {}
    for when, colour in Scan.objects.filter(venue_id=venue_id, scanned_at__gte=start, scanned_at__lt=end
                                            ).values_list("scanned_at", "colour").iterator():
        row = rows.setdefault(timezone.localdate(when), {"total": 0, "red": 0, "yellow": 0})
        row["total"] += 1
        if colour in ("red", "yellow"):
            row[colour] += 1
    out = []
    for i in range(days):
        d = day - dt.timedelta(days=i)
        out.append({"day": d, **rows.get(d, {"total": 0, "red": 0, "yellow": 0})})
    return out


def person_scans(person_id: int, since: dt.datetime, limit: int = 100) -> list[Scan]:
    """A person's scans since a time, newest first (the caller has checked the person is visible)."""
    return list(Scan.objects.filter(person_id=person_id, scanned_at__gte=since).select_related("venue", "venue__area")
                .order_by("-scanned_at", "-id")[:limit])


# ---- inspection (查验后台) ------------------------------------------------------------------------------------


@dataclass
class GridGaps:
    grid: Area
    zombies: list[Venue] = field(default_factory=list)
    closed: list[Venue] = field(default_factory=list)
    no_code: list[Venue] = field(default_factory=list)
    missing: list[tuple[str, ...]] = field(default_factory=list)


@dataclass
class Inspection:
    day: dt.date
    active: int = 0
    closed: int = 0
    scanned_venues: int = 0
    scans: int = 0
    red: int = 0
    yellow: int = 0
    silent: list[Venue] = field(default_factory=list)  # active venues without a scan on the day
    admitted: list[dict] = field(default_factory=list)  # venues that let red or yellow codes in
    hours: list[int] = field(default_factory=list)
    by_hour: dict[str, list[int]] = field(default_factory=dict)  # colour -> scans per hour (0-23)
    busiest: list[dict] = field(default_factory=list)  # venue, total, per hour (aligned with `hours`)
    gaps: list[GridGaps] = field(default_factory=list)
    grid_names: dict[int, str] = field(default_factory=dict)


def inspection(user, *, day: dt.date, area_id: int | None = None, busiest: int = 15) -> Inspection:
    """What an inspector checks for a day: venues without scans, red and yellow codes let in, scans per hour, and
    per grid the codes nobody uses, closed venues and the kinds of venue the grid should have but has not."""
    report = Inspection(day=day)
    start, end = day_bounds(day)
    zombie_start, _ = day_bounds(day - dt.timedelta(days=ZOMBIE_DAYS - 1))
    venues = list(venues_in(user, area_id).select_related("area").annotate(
        recent=Exists(Scan.objects.filter(venue=OuterRef("pk"), scanned_at__gte=zombie_start, scanned_at__lt=end)),
        has_code=Exists(VenueCode.objects.filter(venue=OuterRef("pk"), revoked_at__isnull=True)),
    ).order_by("area__path", "name"))
    by_id = {v.id: v for v in venues}
    report.grid_names = grid_names([v.area for v in venues])
    active = [v for v in venues if v.status == VenueStatus.ACTIVE]
    report.active, report.closed = len(active), len(venues) - len(active)
    scans = Scan.objects.filter(venue__in=venues_in(user, area_id), scanned_at__gte=start, scanned_at__lt=end)
    rows = list(scans.annotate(hour=ExtractHour("scanned_at")).values("venue_id", "hour", "colour")
                .annotate(n=Count("id")))
    per_venue: dict[int, dict] = defaultdict(lambda: {"total": 0, "red": 0, "yellow": 0, "hours": defaultdict(int)})
    report.by_hour = {c: [0] * 24 for c in ("green", "yellow", "red")}
    for r in rows:
        v = per_venue[r["venue_id"]]
        v["total"] += r["n"]
        v["hours"][r["hour"]] += r["n"]
        colour = r["colour"] if r["colour"] in ("red", "yellow") else "green"
        if colour != "green":
            v[colour] += r["n"]
        report.by_hour[colour][r["hour"]] += r["n"]
    report.scans = sum(v["total"] for v in per_venue.values())
    report.red = sum(v["red"] for v in per_venue.values())
    report.yellow = sum(v["yellow"] for v in per_venue.values())
    report.scanned_venues = len(per_venue)
    report.silent = [v for v in active if v.id not in per_venue]
    for venue_id, v in per_venue.items():
        flagged = v["red"] + v["yellow"]
        if flagged and venue_id in by_id:
            share = flagged / v["total"]
            report.admitted.append({"venue": by_id[venue_id], "total": v["total"], "red": v["red"],
                                    "yellow": v["yellow"], "flagged": flagged, "share": share,
                                    "alert": flagged >= ALERT_COUNT or share >= ALERT_SHARE})
    report.admitted.sort(key=lambda a: (-a["flagged"], -a["share"], a["venue"].name))
    used = [h for h in range(24) if any(report.by_hour[c][h] for c in report.by_hour)]
    report.hours = list(range(min(used), max(used) + 1)) if used else []
    top = sorted(per_venue.items(), key=lambda kv: (-kv[1]["total"], kv[0]))[:busiest]
    report.busiest = [{"venue": by_id[vid], "total": v["total"], "hours": [v["hours"].get(h, 0) for h in report.hours],
                       "peak": max(v["hours"].values())} for vid, v in top if vid in by_id]
    report.gaps = _grid_gaps(user, area_id, venues)
    return report


def _grid_gaps(user, area_id: int | None, venues: list[Venue]) -> list[GridGaps]:
    grids = {g.path: g for g in areas_in(user, area_id).filter(level__in=GRID_LEVELS)}
    if not grids:
        # The scope lies inside one grid (a grid worker at a compound): judge that grid alone.
        return []
    step = Area.steplen
    gaps = {path: GridGaps(grid=g) for path, g in grids.items()}
    present: dict[str, set[str]] = defaultdict(set)
    for v in venues:
        path = v.area.path
        grid_path = next((path[: i * step] for i in range(len(path) // step, 0, -1) if path[: i * step] in grids),
                         None)
        if grid_path is None:
            continue
        g = gaps[grid_path]
        if v.status != VenueStatus.ACTIVE:
            g.closed.append(v)
            continue
        present[grid_path].add(v.category)
        if not v.has_code:
            g.no_code.append(v)
        elif not v.recent:
            g.zombies.append(v)
    for path, g in gaps.items():
        for alternatives in EXPECTED_CATEGORIES.get(g.grid.grid_kind, []):
            if not present[path] & set(alternatives):
                g.missing.append(alternatives)
    return [g for path, g in sorted(gaps.items()) if g.zombies or g.closed or g.no_code or g.missing]


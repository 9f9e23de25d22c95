"""Reads of the area tree."""

from __future__ import annotations

import csv
from functools import cache
from pathlib import Path

from django.db.models import Count, Q
from django.db.models.functions import Substr

from shouwang.areas.models import Area, Household

GB2260_CSV = Path(__file__).resolve().parent / "data" / "gb2260_cpca_0.5.5.csv"


@cache
def gb2260_names() -> dict[str, str]:
    """Current province/city/county codes and names shipped with the package."""
    with GB2260_CSV.open(encoding="utf-8") as f:
        return {row["code6"]: row["name"] for row in csv.DictReader(f)}


def area_children(area: Area | None) -> list[Area]:
    if area is None:
        return list(Area.get_root_nodes())
    return list(Area.objects.get_children(area))


def area_children_with_counts(*, area: Area, person_model) -> list[dict]:
    """Children of an area with the number of people and households under each, in two grouped queries."""
    children = list(Area.objects.get_children(area))
    if not children:
        return []
    width = (area.depth + 1) * Area.steplen
    lo, hi = area.subtree_bounds
    people = dict(
        person_model.objects.filter(area__path__range=(lo, hi), merged_into__isnull=True)
        .annotate(prefix=Substr("area__path", 1, width))
        .values("prefix").annotate(n=Count("id")).values_list("prefix", "n")
    )
    households = dict(
        Household.objects.filter(area__path__range=(lo, hi))
        .annotate(prefix=Substr("area__path", 1, width))
        .values("prefix").annotate(n=Count("id")).values_list("prefix", "n")
    )
    return [
        {"area": child, "people": people.get(child.path, 0), "households": households.get(child.path, 0)}
        for child in children
    ]


def area_search(*, within_path: str, q: str, limit: int = 20) -> list[Area]:
    return list(Area.objects.subtree(within_path).filter(Q(name__contains=q) | Q(code=q)).order_by("depth")[:limit])


GRID_LEVELS = ("grid", "micro_grid")


def grid_names(areas, *, separator: str = " / ") -> dict[int, str]:
    """The grid (and micro-grid) each area lies in, by area id, in one query; "" for an area above the grids."""
    paths = {p for a in areas for p in Area.ancestor_paths(a.path)}
    grids = dict(Area.objects.filter(path__in=paths, level__in=GRID_LEVELS).values_list("path", "name"))
    return {a.id: separator.join(grids[p] for p in Area.ancestor_paths(a.path) if p in grids) for a in areas}


def area_codes_chain(area) -> tuple[str, ...]:
    """The codes of an area and of every area above it (for rules a county sets for its whole subtree)."""
    if area is None:
        return ()
    return tuple(Area.objects.filter(path__in=Area.ancestor_paths(area.path)).order_by("depth")
                 .values_list("code", flat=True))

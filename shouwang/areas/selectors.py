"""Reads of the area tree."""

from __future__ import annotations

import csv
from functools import cache
from pathlib import Path

from django.db.models import Count, Q
from django.db.models.functions import Substr

from shouwang.areas.enums import AreaLevel
from shouwang.areas.models import Area, Household
from shouwang.areas.shapes import geometry_bbox
from shouwang.core.errors import NotFound, ValidationFailed

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


def area_code_chains(paths) -> dict[str, tuple[str, ...]]:
    """area_codes_chain for many areas at once, by path: one query for the codes above them all."""
    paths = set(paths)
    codes = dict(Area.objects.filter(path__in={p for path in paths for p in Area.ancestor_paths(path)})
                 .values_list("path", "code"))
    return {path: tuple(codes[p] for p in Area.ancestor_paths(path) if p in codes) for path in paths}


def _jurisdiction(user) -> Area | None:
    """The user's area (accounts.scoping.jurisdiction_path's rule; areas sits below accounts)."""
    if user is None or not user.is_authenticated or not user.is_active:
        return None
    return user.jurisdiction


def area_shapes(user, *, root_id: int | None = None, level: str | None = None, person_model) -> dict:
    """A GeoJSON FeatureCollection of the areas under a root the user may see: the root's children, or with
    `level` every area of that level under it. Properties: id, code, name, level, level_label, people (active
    files living in the area's subtree), has_children. Areas with no shape are listed in `missing` (id, code, name,
    people), and the root itself in `root` (with its people and geometry), so a page can draw its outline and say what is not
    drawn. The root defaults to the user's jurisdiction; a root outside it is "not found". Three queries (four with
    the jurisdiction not loaded yet), whatever the number of areas: the root, the areas, the people grouped by the
    path of their area (person_model is people.Person, passed in as areas sits below people)."""
    if level is not None and level not in AreaLevel.values:
        raise ValidationFailed(field="level", code="invalid_choice", message_zh=f"层级“{level}”不存在",
                               message_en=f"level '{level}' does not exist")
    top = _jurisdiction(user)
    if top is None:
        raise NotFound("区域", "area", field="root_id")
    root = Area.objects.subtree(top.path).filter(id=root_id if root_id is not None else top.id).first()
    if root is None:
        raise NotFound("区域", "area", field="root_id")
    areas = Area.objects.subtree(root.path).exclude(id=root.id)
    areas = areas.filter(level=level) if level is not None else areas.filter(depth=root.depth + 1)
    areas = list(areas.only("id", "code", "name", "level", "path", "depth", "numchild", "shape"))
    by_path = {a.path: a for a in areas}
    widths = sorted({len(a.path) for a in areas})
    people = dict.fromkeys(by_path, 0)
    total = 0
    rows = (person_model.objects.filter(merged_into__isnull=True, area__path__range=root.subtree_bounds)
            .values_list("area__path").annotate(n=Count("id")).order_by())
    for path, n in rows:
        total += n
        for width in widths:
            if path[:width] in by_path:
                people[path[:width]] += n
                break
    features, missing = [], []
    for a in areas:
        properties = {"id": a.id, "code": a.code, "name": a.name, "level": a.level,
                      "level_label": str(AreaLevel(a.level).label), "people": people[a.path],
                      "has_children": a.numchild > 0}
        if a.shape:
            features.append({"type": "Feature", "id": a.id, "geometry": a.shape, "properties": properties})
        else:
            missing.append({k: properties[k] for k in ("id", "code", "name", "people")})
    return {
        "type": "FeatureCollection",
        "bbox": geometry_bbox([f["geometry"] for f in features] or [root.shape]),
        "features": features,
        "root": {"id": root.id, "code": root.code, "name": root.name, "level": root.level,
                 "level_label": str(AreaLevel(root.level).label), "people": total, "geometry": root.shape},
        "missing": missing,
    }

"""The demo county's boundaries: every township, village, grid, compound and building has a clean shape around
浮山县's place, each inside its parent, siblings that tile their parent (townships, villages) not overlapping; the
same seed draws the same shapes, and drawing them does not change the people a seed gives."""

import math
from collections import defaultdict

import pytest

from shouwang.areas.enums import AreaLevel
from shouwang.areas.models import Area
from shouwang.areas.shapes import geometry_clean, geometry_contains, polygons
from shouwang.demo.generator import generate_county

SEED, PEOPLE = 11, 1500
SHAPED = {AreaLevel.COUNTY, AreaLevel.TOWNSHIP, AreaLevel.VILLAGE, AreaLevel.GRID, AreaLevel.COMPOUND,
          AreaLevel.BUILDING}
TOLERANCE = 2e-5  # degrees (~2 m): a child's point on its parent's border may sit just off the parent's chord


def _near_border(geometry: dict, x: float, y: float) -> bool:
    for polygon in polygons(geometry):
        for ring in polygon:
            for (x1, y1), (x2, y2) in zip(ring, ring[1:], strict=False):
                dx, dy = x2 - x1, y2 - y1
                t = max(0.0, min(1.0, ((x - x1) * dx + (y - y1) * dy) / (dx * dx + dy * dy or 1)))
                if math.hypot(x - x1 - t * dx, y - y1 - t * dy) < TOLERANCE:
                    return True
    return False


def _inside(parent: dict, child: dict) -> bool:
    return all(geometry_contains(parent, x, y) or _near_border(parent, x, y)
               for polygon in polygons(child) for x, y in polygon[0])


@pytest.mark.django_db
def test_every_area_down_to_the_buildings_has_a_clean_nested_shape():
    generate_county(seed=SEED, people=PEOPLE, venues=False)
    areas = list(Area.objects.all())
    by_path = {a.path: a for a in areas}
    missing = [a.code for a in areas if a.level in SHAPED and a.shape is None]
    assert missing == []
    assert {a.level for a in areas if a.shape is None} == {AreaLevel.PROVINCE, AreaLevel.CITY, AreaLevel.UNIT}
    county = next(a for a in areas if a.level == AreaLevel.COUNTY)
    west, south = county.centre
    assert abs(west - 111.85) < 0.05 and abs(south - 35.97) < 0.05
    children = defaultdict(list)
    for area in areas:
        if area.shape is None:
            continue
        assert geometry_clean(area.shape) == area.shape, area.code
        assert geometry_contains(area.shape, *area.centre), area.code
        parent = by_path.get(area.path[:-Area.steplen])
        if parent is not None and parent.shape is not None:
            assert _inside(parent.shape, area.shape), f"{area.code} is not inside {parent.code}"
            children[parent.path].append(area)
    # Townships tile the county and villages their township: no village's centre lies in a sibling.
    for path, kids in children.items():
        if by_path[path].level not in (AreaLevel.COUNTY, AreaLevel.TOWNSHIP):
            continue
        for kid in kids:
            assert [k.code for k in kids if geometry_contains(k.shape, *kid.centre)] == [kid.code]
    # A village's one rural grid is the whole village.
    grid = next(a for a in areas if a.grid_kind == "rural")
    assert grid.shape == by_path[grid.path[:-Area.steplen]].shape

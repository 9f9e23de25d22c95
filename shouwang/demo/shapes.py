"""Boundaries for the demo county: every township, village, grid, compound and building gets a plausible shape,
nested inside its parent, around 浮山县's real place (lon 111.85, lat 35.97). The layout of the townships is
plausible, not surveyed; a county loads its real boundaries with `manage.py area_shapes_load` (docs/areas.md).

Each area's shape is drawn from its own random stream, seeded by the demo seed and the area's code, so it does not
depend on the order areas are made in, and the generator's main stream (the people) is not touched: a seed gives
the same county with or without shapes. All levels are cut in plane kilometres, then one warp bends them all alike
(shouwang.areas.shapes.Warp) before they are projected to lon/lat.
"""

from __future__ import annotations

import math
import random
from typing import Protocol

from shouwang.areas.enums import AreaLevel
from shouwang.areas.shapes import (
    Plane,
    Ring,
    Warp,
    blob,
    blocks,
    centroid,
    densify,
    footprints,
    geometry_centre,
    partition,
    points_inside,
    rectangle,
    ring_contains,
    shrink,
    to_geometry,
)

CENTRE = (111.85, 35.97)  # 浮山县's county town, lon/lat
COUNTY_RADIUS_KM = 17.3  # ~940 km², as the real county
# Where each township's middle lies from the county town: bearing in degrees clockwise from north, km.
TOWNSHIP_LAYOUT = {
    "天坛镇": (0, 0.0), "北王乡": (350, 10.5), "响水河镇": (75, 11.0), "东张乡": (135, 10.5), "张庄乡": (195, 10.5),
    "寨圪塔乡": (250, 10.0), "槐埝乡": (300, 10.5),
}
TOWN_CORE_KM = 1.6  # radius of the county town's built-up core, cut into its communities
# Special grids of the county town (hospitals, schools, the industrial park...) as blocks around the core:
# (length, depth) in km by the grid's name; the others are 0.25 × 0.2.
SPECIAL_SIZES = {"县人民医院": (0.35, 0.25), "浮山中学": (0.4, 0.3), "工业园区": (1.6, 1.0), "快递物流园": (0.5, 0.35),
                 "县疾控中心": (0.15, 0.12), "汽车客运站": (0.22, 0.15), "农贸市场": (0.2, 0.15)}
# Points are added along edges every so many km before the warp bends them. A child's border along its parent's
# keeps the parent's points (same step or coarser): points added on a parent's chord would bend off it.
STEP_KM = {AreaLevel.COUNTY: 0.15, AreaLevel.TOWNSHIP: 0.15, AreaLevel.VILLAGE: 0.15, "community": 0.06,
           AreaLevel.GRID: 0.06}


class ShapedNode(Protocol):
    """What the generator's Node offers (shouwang.demo.generator.Node)."""

    code: str
    name: str
    level: str
    grid_kind: str
    children: list
    shape: dict | None
    centre: list | None


class DemoShapes:
    def __init__(self, seed: int):
        self.seed = seed
        self.plane = Plane(*CENTRE)
        self.warp = Warp(random.Random(f"shapes:{seed}:warp"))
        self.rings: dict[str, Ring] = {}  # rings in the plane by area code, for the children cut later

    def rng(self, code: str) -> random.Random:
        return random.Random(f"shapes:{self.seed}:{code}")

    def _set(self, node: ShapedNode, ring: Ring) -> None:
        self.rings[node.code] = ring
        node.shape = to_geometry(ring, self.plane, self.warp)
        node.centre = geometry_centre(node.shape)

    def county(self, code: str) -> tuple[dict, list[float]]:
        ring = densify(blob(self.rng(code), COUNTY_RADIUS_KM, vertices=120, roughness=0.3), STEP_KM[AreaLevel.COUNTY])
        self.rings[code] = ring
        shape = to_geometry(ring, self.plane, self.warp)
        return shape, geometry_centre(shape)

    def tree(self, county_code: str, townships: list[ShapedNode]) -> None:
        """Townships, villages, communities and grids (what build_tree makes); compounds come with their grid."""
        county = self.rings[county_code]
        seeds = []
        for t in townships:
            bearing, distance = TOWNSHIP_LAYOUT.get(t.name, (360 * len(seeds) / len(townships), 10.0))
            jitter = self.rng(t.code)
            angle = math.radians(bearing + jitter.uniform(-8, 8))
            distance += jitter.uniform(-1.0, 1.0) if distance else 0
            seeds.append((distance * math.sin(angle), distance * math.cos(angle)))
        cells = partition(self.rng(county_code), county, len(townships), seeds=seeds, rounds=0)
        for township, cell in zip(townships, cells, strict=True):
            self._set(township, densify(cell, STEP_KM[AreaLevel.TOWNSHIP]))
            villages = [c for c in township.children if c.level == AreaLevel.VILLAGE]
            if any(c.level == AreaLevel.GRID for c in township.children):
                self._county_town(township, villages, [c for c in township.children if c.level == AreaLevel.GRID])
            else:
                ring = self.rings[township.code]
                for village, piece in zip(villages, partition(self.rng(township.code), ring, len(villages)),
                                          strict=True):
                    self._set(village, densify(piece, STEP_KM[AreaLevel.VILLAGE]))
                    for grid in village.children:  # a village's one rural grid is the whole village
                        self.rings[grid.code] = self.rings[village.code]
                        grid.shape, grid.centre = village.shape, village.centre

    def _county_town(self, town: ShapedNode, communities: list[ShapedNode], special: list[ShapedNode]) -> None:
        """The built-up core cut into the communities and their grids; the special grids as blocks around it."""
        ring = self.rings[town.code]
        rng = self.rng(town.code)
        middle = centroid(ring)
        core = blob(rng, TOWN_CORE_KM, centre=middle, vertices=64, roughness=0.12)
        while not all(ring_contains(ring, x, y) for x, y in core):
            core = shrink(core, 0.9)
        for community, piece in zip(communities, partition(rng, core, len(communities)), strict=True):
            self._set(community, densify(piece, STEP_KM["community"]))
            grids = community.children
            for grid, cell in zip(grids, partition(self.rng(community.code), self.rings[community.code], len(grids)),
                                  strict=True):
                self._set(grid, densify(cell, STEP_KM[AreaLevel.GRID]))
        placed: list[tuple[float, float, float]] = [(middle[0], middle[1], TOWN_CORE_KM * 1.2)]
        for grid in special:
            g = self.rng(grid.code)
            length, depth = next((size for key, size in SPECIAL_SIZES.items() if key in grid.name), (0.25, 0.2))
            reach = math.hypot(length, depth) / 2
            box = rectangle(*middle, length, depth, 0.0)
            for attempt in range(1000):  # the nearer the core the better: the band widens as attempts fail
                x, y = points_inside(g, ring, 1)[0]
                box = rectangle(x, y, length, depth, g.uniform(-0.5, 0.5))
                near = math.hypot(x - middle[0], y - middle[1]) < TOWN_CORE_KM * 1.3 + 2 + attempt * 0.01
                if near and all(math.hypot(x - px, y - py) > reach + pr + 0.1 for px, py, pr in placed) and all(
                        ring_contains(ring, bx, by) for bx, by in box):
                    break
            placed.append((x, y, reach))
            self._set(grid, box)

    def grid_children(self, grid: ShapedNode) -> None:
        """Compounds inside a grid and the buildings inside them, or a grid's buildings straight under it."""
        ring = self.rings[grid.code]
        rng = self.rng(grid.code)
        compounds = [c for c in grid.children if c.level == AreaLevel.COMPOUND]
        buildings = [c for c in grid.children if c.level == AreaLevel.BUILDING]
        for compound, piece in zip(compounds, blocks(rng, ring, len(compounds)), strict=True):
            self._set(compound, piece)
            self._buildings(compound, compound.children)
        if buildings:
            self._buildings(grid, buildings, length=0.07)

    def _buildings(self, parent: ShapedNode, buildings: list[ShapedNode], length: float | None = None) -> None:
        if not buildings:
            return
        units = max(len(b.children) for b in buildings) or 1
        size = (length or 0.012 + 0.016 * units, 0.013)
        for building, box in zip(buildings, footprints(self.rng(parent.code), self.rings[parent.code], len(buildings),
                                                       size=size, gap=0.018), strict=True):
            building.shape = to_geometry(box, self.plane, self.warp)
            building.centre = geometry_centre(building.shape)

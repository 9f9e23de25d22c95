"""Area shapes: GeoJSON geometries (Polygon, MultiPolygon; WGS 84 lon/lat), their validation, and a generator of
plausible nested shapes for synthetic areas. Pure: no Django, no ORM (docs/areas.md).

Validation (`geometry_clean`) accepts what a county exports from its GIS (a geometry, or a Feature holding one):
closed rings of at least four positions, lon in [-180, 180], lat in [-90, 90], at most MAX_POSITIONS positions.
It answers a normalised copy: coordinates rounded to 6 decimals (~0.1 m), a third number (height) dropped, outer
rings counter-clockwise and holes clockwise (RFC 7946 §3.1.6), a ring's repeated consecutive positions removed.

The generator works in kilometres on a local plane (`Plane`) and turns rings into geometries at the end:
- `blob`: an irregular outline (the demo county);
- `voronoi_cells`: a polygon cut into the Voronoi cells of seed points, so siblings share their borders and
  cover their parent exactly (townships in a county, villages in a township, grids in a community);
- `blocks` and `footprints`: pieces inside a polygon with gaps between them (compounds in a grid, buildings in a
  compound);
- `Warp`: one smooth displacement of the plane applied to every ring of every level before projecting, so
  straight Voronoi borders become curved like real ones while shared borders stay shared and children stay inside
  their parents (the warp moves a point and its neighbours alike: it is continuous and, with its gradient kept
  small, one-to-one).
"""

from __future__ import annotations

import math
import random
from collections.abc import Iterable, Iterator, Sequence

from shouwang.core.errors import ValidationFailed

Point = tuple[float, float]
Ring = list[Point]  # open: the first point is not repeated at the end

GEOMETRY_TYPES = ("Polygon", "MultiPolygon")
MAX_POSITIONS = 20_000  # a county's township, simplified for a map, needs a few thousand at most
PRECISION = 6  # decimals of a degree kept: ~0.1 m


# --- validation ---------------------------------------------------------------------------------------------------


def _invalid(code: str, zh: str, en: str) -> ValidationFailed:
    return ValidationFailed(field="geometry", code=code, message_zh=zh, message_en=en)


def _number(value) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)


def _signed_area(ring: Sequence[Sequence[float]]) -> float:
    """Twice the signed area of a ring (open or closed): positive when counter-clockwise. Measured from the first
    point, so a building's few metres at lon 111 keep their precision."""
    total = 0.0
    n = len(ring)
    ox, oy = ring[0][0], ring[0][1]
    for i in range(n):
        x1, y1 = ring[i][0] - ox, ring[i][1] - oy
        x2, y2 = ring[(i + 1) % n][0] - ox, ring[(i + 1) % n][1] - oy
        total += x1 * y2 - x2 * y1
    return total


def _clean_ring(ring, *, outer: bool, where: tuple[str, str]) -> list[list[float]]:
    zh, en = where
    if not isinstance(ring, list) or len(ring) < 4:
        raise _invalid("shape_ring", f"{zh}的环至少要有4个坐标（首尾相同）",
                       f"{en}: a ring needs at least 4 positions (the first repeated last)")
    out: list[list[float]] = []
    for position in ring:
        if not isinstance(position, list) or len(position) not in (2, 3) or not all(map(_number, position)):
            raise _invalid("shape_position", f"{zh}有坐标不是[经度, 纬度]", f"{en}: a position is not [lon, lat]")
        lon, lat = float(position[0]), float(position[1])
        if not (-180 <= lon <= 180 and -90 <= lat <= 90):
            raise _invalid("shape_position", f"{zh}的坐标[{lon}, {lat}]超出经纬度范围（应为[经度, 纬度]）",
                           f"{en}: position [{lon}, {lat}] is outside lon/lat ranges (expected [lon, lat])")
        point = [round(lon, PRECISION), round(lat, PRECISION)]
        if not out or point != out[-1]:
            out.append(point)
    if out[0] != out[-1]:
        raise _invalid("shape_ring", f"{zh}的环没有闭合（首尾坐标应相同）",
                       f"{en}: a ring is not closed (the first and last positions must be equal)")
    if len(out) < 4 or _signed_area(out[:-1]) == 0:
        raise _invalid("shape_ring", f"{zh}的环面积为零", f"{en}: a ring has no area")
    if (_signed_area(out[:-1]) > 0) != outer:
        out.reverse()
    return out


def _clean_polygon(rings, where: tuple[str, str]) -> list[list[list[float]]]:
    if not isinstance(rings, list) or not rings:
        raise _invalid("shape_ring", f"{where[0]}没有环", f"{where[1]}: a polygon has no ring")
    return [_clean_ring(ring, outer=i == 0, where=where) for i, ring in enumerate(rings)]


def geometry_clean(geometry) -> dict:
    """Check a GeoJSON Polygon or MultiPolygon (or a Feature holding one) and answer its normalised copy; raise
    ValidationFailed (field "geometry") naming what is wrong."""
    if isinstance(geometry, dict) and geometry.get("type") == "Feature":
        geometry = geometry.get("geometry")
    if not isinstance(geometry, dict) or geometry.get("type") not in GEOMETRY_TYPES:
        kind = geometry.get("type") if isinstance(geometry, dict) else type(geometry).__name__
        raise _invalid("shape_type", f"边界应为GeoJSON的Polygon或MultiPolygon，不是{kind}",
                       f"a boundary must be a GeoJSON Polygon or MultiPolygon, not {kind}")
    coordinates = geometry.get("coordinates")
    count = sum(1 for _ in _raw_positions(coordinates))
    if count > MAX_POSITIONS:
        raise _invalid("shape_size", f"边界有{count}个坐标，超过上限{MAX_POSITIONS}：请先简化",
                       f"the boundary has {count} positions, more than {MAX_POSITIONS}: simplify it first")
    if geometry["type"] == "Polygon":
        return {"type": "Polygon", "coordinates": _clean_polygon(coordinates, ("边界", "boundary"))}
    if not isinstance(coordinates, list) or not coordinates:
        raise _invalid("shape_ring", "MultiPolygon没有多边形", "a MultiPolygon has no polygon")
    return {"type": "MultiPolygon",
            "coordinates": [_clean_polygon(p, (f"第{i}个多边形", f"polygon {i}")) for i, p in enumerate(coordinates, start=1)]}


def _raw_positions(value) -> Iterator:
    """Positions of unchecked nested lists (for the size limit before anything else is looked at)."""
    if isinstance(value, list):
        if value and not isinstance(value[0], list):
            yield value
        else:
            for item in value:
                yield from _raw_positions(item)


# --- reading a clean geometry --------------------------------------------------------------------------------------


def polygons(geometry: dict) -> list[list[list[list[float]]]]:
    return [geometry["coordinates"]] if geometry["type"] == "Polygon" else list(geometry["coordinates"])


def positions(geometry: dict) -> Iterator[list[float]]:
    for polygon in polygons(geometry):
        for ring in polygon:
            yield from ring


def position_count(geometry: dict | None) -> int:
    return 0 if geometry is None else sum(1 for _ in positions(geometry))


def geometry_bbox(geometries: Iterable[dict | None]) -> list[float] | None:
    """[west, south, east, north] of the geometries (None when there is none)."""
    lons, lats = [], []
    for g in geometries:
        if g:
            for lon, lat in positions(g):
                lons.append(lon)
                lats.append(lat)
    return [min(lons), min(lats), max(lons), max(lats)] if lons else None


def ring_contains(ring: Sequence[Sequence[float]], x: float, y: float) -> bool:
    """Even-odd rule; the ring may be open or closed."""
    inside = False
    n = len(ring)
    j = n - 1
    for i in range(n):
        xi, yi = ring[i][0], ring[i][1]
        xj, yj = ring[j][0], ring[j][1]
        if (yi > y) != (yj > y) and x < (xj - xi) * (y - yi) / (yj - yi) + xi:
            inside = not inside
        j = i
    return inside


def geometry_contains(geometry: dict, lon: float, lat: float) -> bool:
    for polygon in polygons(geometry):
        if ring_contains(polygon[0], lon, lat) and not any(ring_contains(h, lon, lat) for h in polygon[1:]):
            return True
    return False


def _centroid(ring: Sequence[Sequence[float]]) -> Point:
    a = cx = cy = 0.0
    n = len(ring)
    ox, oy = ring[0][0], ring[0][1]  # measured from the first point, as _signed_area
    for i in range(n):
        x1, y1 = ring[i][0] - ox, ring[i][1] - oy
        x2, y2 = ring[(i + 1) % n][0] - ox, ring[(i + 1) % n][1] - oy
        cross = x1 * y2 - x2 * y1
        a += cross
        cx += (x1 + x2) * cross
        cy += (y1 + y2) * cross
    if a == 0:
        return sum(p[0] for p in ring) / n, sum(p[1] for p in ring) / n
    return ox + cx / (3 * a), oy + cy / (3 * a)


def geometry_centre(geometry: dict) -> list[float]:
    """A point inside the geometry for a label or a marker: the centroid of its largest polygon when that lies
    inside, else the middle of the widest stretch of the polygon on the centroid's parallel."""
    polygon = max(polygons(geometry), key=lambda p: abs(_signed_area(p[0])))
    x, y = _centroid(polygon[0][:-1])
    if not geometry_contains({"type": "Polygon", "coordinates": polygon}, x, y):
        crossings = []
        for ring in polygon:
            for (x1, y1), (x2, y2) in zip(ring, ring[1:], strict=False):
                if (y1 > y) != (y2 > y):
                    crossings.append(x1 + (y - y1) * (x2 - x1) / (y2 - y1))
        crossings.sort()
        spans = [(crossings[i + 1] - crossings[i], crossings[i]) for i in range(0, len(crossings) - 1, 2)]
        if spans:
            width, start = max(spans)
            x = start + width / 2
        else:  # the centroid's parallel misses the polygon (cannot happen for a real ring): any vertex will do
            x, y = polygon[0][0]
    return [round(x, PRECISION), round(y, PRECISION)]


# --- the generator: plane geometry in kilometres -------------------------------------------------------------------


class Plane:
    """A local plane around (lon0, lat0) in kilometres: x east, y north (an equirectangular projection, fine for
    a county)."""

    KM_PER_DEGREE_LAT = 110.574

    def __init__(self, lon0: float, lat0: float):
        self.lon0, self.lat0 = lon0, lat0
        self.km_per_degree_lon = 111.320 * math.cos(math.radians(lat0))

    def lonlat(self, x: float, y: float) -> list[float]:
        return [round(self.lon0 + x / self.km_per_degree_lon, PRECISION),
                round(self.lat0 + y / self.KM_PER_DEGREE_LAT, PRECISION)]

    def xy(self, lon: float, lat: float) -> Point:
        return (lon - self.lon0) * self.km_per_degree_lon, (lat - self.lat0) * self.KM_PER_DEGREE_LAT


class Warp:
    """A smooth displacement of the plane: sums of sine waves at a few wavelengths in random directions.

    Each wave's slope (2π·amplitude/wavelength) is `slope`; with a dozen waves in random directions the map
    stays one-to-one in practice, so borders bend without crossing."""

    def __init__(self, rng: random.Random, *, wavelengths: Sequence[float] = (14.0, 6.0, 2.5),
                 waves: int = 4, slope: float = 0.12):
        self.terms = []
        for wavelength in wavelengths:
            amplitude = slope * wavelength / (2 * math.pi)
            for _ in range(waves):
                direction = rng.uniform(0, 2 * math.pi)
                push = rng.uniform(0, 2 * math.pi)
                self.terms.append((2 * math.pi / wavelength * math.cos(direction),
                                   2 * math.pi / wavelength * math.sin(direction), rng.uniform(0, 2 * math.pi),
                                   amplitude * math.cos(push), amplitude * math.sin(push)))

    def __call__(self, x: float, y: float) -> Point:
        dx = dy = 0.0
        for kx, ky, phase, ax, ay in self.terms:
            s = math.sin(kx * x + ky * y + phase)
            dx += ax * s
            dy += ay * s
        return x + dx, y + dy


def area(ring: Ring) -> float:
    return abs(_signed_area(ring)) / 2


def centroid(ring: Ring) -> Point:
    return _centroid(ring)


def ccw(ring: Ring) -> Ring:
    return ring if _signed_area(ring) > 0 else ring[::-1]


def blob(rng: random.Random, radius: float, *, centre: Point = (0.0, 0.0), vertices: int = 96,
         roughness: float = 0.22) -> Ring:
    """An irregular closed outline of about the given mean radius (a few low harmonics of the radius)."""
    harmonics = [(k, rng.uniform(0.3, 1.0) * roughness / k, rng.uniform(0, 2 * math.pi)) for k in range(2, 7)]
    ring = []
    for i in range(vertices):
        t = 2 * math.pi * i / vertices
        r = radius * (1 + sum(a * math.cos(k * t + phase) for k, a, phase in harmonics))
        ring.append((centre[0] + r * math.cos(t), centre[1] + r * math.sin(t)))
    return ring


def rectangle(cx: float, cy: float, width: float, height: float, angle: float) -> Ring:
    c, s = math.cos(angle), math.sin(angle)
    corners = [(-width / 2, -height / 2), (width / 2, -height / 2), (width / 2, height / 2), (-width / 2, height / 2)]
    return [(cx + x * c - y * s, cy + x * s + y * c) for x, y in corners]


def densify(ring: Ring, step: float) -> Ring:
    """Extra points on every edge longer than step, so the warp can bend it."""
    out: Ring = []
    n = len(ring)
    for i in range(n):
        (x1, y1), (x2, y2) = ring[i], ring[(i + 1) % n]
        out.append((x1, y1))
        pieces = int(math.hypot(x2 - x1, y2 - y1) / step)
        for k in range(1, pieces + 1):
            t = k / (pieces + 1)
            out.append((x1 + (x2 - x1) * t, y1 + (y2 - y1) * t))
    return out


def _clip(ring: Ring, a: float, b: float, c: float) -> Ring:
    """The part of the ring where a·x + b·y <= c (Sutherland–Hodgman against one half-plane)."""
    out: Ring = []
    n = len(ring)
    for i in range(n):
        p, q = ring[i], ring[(i + 1) % n]
        fp, fq = a * p[0] + b * p[1] - c, a * q[0] + b * q[1] - c
        if fp <= 0:
            out.append(p)
        if (fp < 0 < fq) or (fq < 0 < fp):
            t = fp / (fp - fq)
            out.append((p[0] + (q[0] - p[0]) * t, p[1] + (q[1] - p[1]) * t))
    return out


def voronoi_cells(ring: Ring, seeds: Sequence[Point]) -> list[Ring]:
    """The Voronoi cells of the seeds clipped to the ring, one per seed (a seed's cell may be empty when the seed
    lies outside). Cells of a non-convex ring are cut exactly, though one may come out as two pieces joined by a
    zero-width seam."""
    cells = []
    for i, (px, py) in enumerate(seeds):
        others = sorted((j for j in range(len(seeds)) if j != i),
                        key=lambda j: (seeds[j][0] - px) ** 2 + (seeds[j][1] - py) ** 2)
        cell = ring
        for j in others:
            qx, qy = seeds[j]
            # Closer to p than to q: (q - p)·x <= (|q|² - |p|²) / 2.
            a, b = qx - px, qy - py
            c = (qx * qx + qy * qy - px * px - py * py) / 2
            reach = max((a * x + b * y) for x, y in cell) if cell else 0
            if reach <= c:
                continue  # the whole cell is already on p's side
            cell = _clip(cell, a, b, c)
            if not cell:
                break
        cells.append(cell)
    return cells


def points_inside(rng: random.Random, ring: Ring, count: int, *, margin: float = 0.0) -> list[Point]:
    """Random points inside the ring (rejection sampling in its bounding box), at least margin from its bbox."""
    xs, ys = [p[0] for p in ring], [p[1] for p in ring]
    west, east, south, north = min(xs) + margin, max(xs) - margin, min(ys) + margin, max(ys) - margin
    out: list[Point] = []
    tries = 0
    while len(out) < count:
        tries += 1
        x, y = rng.uniform(west, east), rng.uniform(south, north)
        if ring_contains(ring, x, y) or tries > 10_000 * count:
            out.append((x, y))
    return out


def relax(ring: Ring, seeds: Sequence[Point], rounds: int = 1) -> list[Point]:
    """Lloyd's relaxation: move each seed to the centroid of its cell, so cells come out of even-ish size."""
    seeds = list(seeds)
    for _ in range(rounds):
        seeds = [centroid(cell) if len(cell) >= 3 else seed for cell, seed in zip(voronoi_cells(ring, seeds), seeds,
                                                                                    strict=True)]
    return seeds


def partition(rng: random.Random, ring: Ring, count: int, *, rounds: int = 2,
              seeds: Sequence[Point] | None = None) -> list[Ring]:
    """The ring cut into count cells of even-ish size (seeds in the order given, else random)."""
    if count == 1:
        return [list(ring)]
    seeds = list(seeds) if seeds is not None else points_inside(rng, ring, count)
    return [ccw(cell) for cell in voronoi_cells(ring, relax(ring, seeds, rounds))]


def shrink(ring: Ring, factor: float) -> Ring:
    """The ring scaled towards its centroid."""
    cx, cy = centroid(ring)
    return [(cx + (x - cx) * factor, cy + (y - cy) * factor) for x, y in ring]


def blocks(rng: random.Random, ring: Ring, count: int, *, factor: float = 0.78) -> list[Ring]:
    """count pieces inside the ring with streets between them: its Voronoi cells shrunk towards their centroids,
    each kept inside the ring (a cell of a non-convex ring may need more shrinking)."""
    out = []
    for cell in partition(rng, ring, count):
        if len(cell) < 3:
            cell = rectangle(*centroid(ring), 0.01, 0.01, 0.0)
        piece = shrink(cell, factor)
        scale = factor
        while not all(ring_contains(ring, x, y) for x, y in piece) and scale > 0.1:
            scale *= 0.8
            piece = shrink(cell, scale)
        out.append(piece)
    return out


def footprints(rng: random.Random, ring: Ring, count: int, *, size: tuple[float, float],
               gap: float) -> list[Ring]:
    """count rectangles of about size (length, depth in km) in rows inside the ring (buildings in a compound),
    in a block round the middle; smaller when they do not fit."""
    cx, cy = centroid(ring)
    angle = rng.uniform(-0.35, 0.35)
    c, s = math.cos(angle), math.sin(angle)
    local = [((x - cx) * c + (y - cy) * s, -(x - cx) * s + (y - cy) * c) for x, y in ring]
    length, depth = size
    for _ in range(12):
        step_x, step_y = length + gap, depth + gap * 2
        xs, ys = [p[0] for p in local], [p[1] for p in local]
        spots = []
        row = math.floor(min(ys) / step_y)
        while row * step_y <= max(ys):
            col = math.floor(min(xs) / step_x)
            while col * step_x <= max(xs):
                x, y = col * step_x, row * step_y
                box = rectangle(x, y, length, depth, 0.0)
                if all(ring_contains(local, bx, by) for bx, by in box):
                    spots.append((x, y))
                col += 1
            row += 1
        if len(spots) >= count:
            spots.sort(key=lambda p: (max(abs(p[0]) / step_x, abs(p[1]) / step_y), abs(p[1]), p[0]))
            chosen = sorted(spots[:count], key=lambda p: (-p[1], p[0]))  # numbered row by row, top left first
            return [[(cx + x * c - y * s, cy + x * s + y * c) for x, y in rectangle(px, py, length, depth, 0.0)]
                    for px, py in chosen]
        length, depth, gap = length * 0.8, depth * 0.8, gap * 0.8
    # Still no room (a sliver of a compound): tiny boxes along the middle.
    return [rectangle(cx + (i - count / 2) * 0.002, cy, 0.0015, 0.0015, angle) for i in range(count)]


def to_geometry(ring: Ring, plane: Plane, warp: Warp | None = None) -> dict:
    """A clean GeoJSON Polygon from a ring in the plane, warped then projected."""
    points = [plane.lonlat(*(warp(x, y) if warp else (x, y))) for x, y in ccw(ring)]
    deduped = [p for i, p in enumerate(points) if i == 0 or p != points[i - 1]]
    if deduped[0] == deduped[-1]:
        deduped.pop()
    return {"type": "Polygon", "coordinates": [[*deduped, deduped[0]]]}

"""Area shapes: the GeoJSON check and its normal form, the centre, the plane generator (cells that tile their parent,
blocks and footprints inside it, the warp), the selector (a FeatureCollection with people counts in three queries,
scoped to the jurisdiction) and the service (capability, jurisdiction, audit), and the load command."""

import io
import json
import math
import random

import pytest
from django.apps import apps
from django.core.management import CommandError, call_command

from shouwang.areas.models import Area
from shouwang.areas.selectors import area_shapes
from shouwang.areas.services import AREA_EDIT, area_shape_set, area_shapes_load
from shouwang.areas.shapes import (
    MAX_POSITIONS,
    Plane,
    Warp,
    area,
    blob,
    blocks,
    centroid,
    densify,
    footprints,
    geometry_centre,
    geometry_clean,
    geometry_contains,
    partition,
    ring_contains,
    to_geometry,
    voronoi_cells,
)
from shouwang.core.errors import NotFound, PermissionDenied, ValidationFailed
from shouwang.core.models import AuditEvent


def box(west, south, east, north):
    """A closed counter-clockwise rectangle ring."""
    return [[west, south], [east, south], [east, north], [west, north], [west, south]]


def polygon(west, south, east, north):
    return {"type": "Polygon", "coordinates": [box(west, south, east, north)]}


# --- the check ------------------------------------------------------------------------------------------------------


def test_clean_rounds_drops_heights_and_repeats_and_turns_rings_the_rfc_way():
    clockwise = [[111.8, 35.9, 812.0], [111.8, 36.0], [111.8, 36.0], [111.9, 36.0], [111.90000004, 35.9],
                 [111.8, 35.9]]
    hole_ccw = box(111.82, 35.92, 111.84, 35.94)
    clean = geometry_clean({"type": "Feature", "properties": {}, "geometry": {"type": "Polygon",
                                                                              "coordinates": [clockwise, hole_ccw]}})
    assert clean == {"type": "Polygon", "coordinates": [
        [[111.8, 35.9], [111.9, 35.9], [111.9, 36.0], [111.8, 36.0], [111.8, 35.9]],  # outer: counter-clockwise
        [[111.82, 35.92], [111.82, 35.94], [111.84, 35.94], [111.84, 35.92], [111.82, 35.92]],  # hole: clockwise
    ]}


def test_clean_keeps_a_multipolygon():
    geometry = {"type": "MultiPolygon", "coordinates": [[box(111.8, 35.9, 111.85, 35.95)],
                                                        [box(111.86, 35.9, 111.9, 35.95)]]}
    assert geometry_clean(geometry) == geometry


@pytest.mark.parametrize(("geometry", "code", "message_en"), [
    ({"type": "Point", "coordinates": [111.8, 35.9]}, "shape_type",
     "a boundary must be a GeoJSON Polygon or MultiPolygon, not Point"),
    ("POLYGON((0 0, 1 0, 1 1, 0 0))", "shape_type", "a boundary must be a GeoJSON Polygon or MultiPolygon, not str"),
    ({"type": "Polygon", "coordinates": [[[111.8, 35.9], [111.9, 35.9], [111.9, 36.0], [111.8, 36.0]]]},
     "shape_ring", "boundary: a ring is not closed (the first and last positions must be equal)"),
    ({"type": "Polygon", "coordinates": [[[111.8, 35.9], [111.9, 35.9], [111.8, 35.9]]]},
     "shape_ring", "boundary: a ring needs at least 4 positions (the first repeated last)"),
    ({"type": "Polygon", "coordinates": [[[111.8, 35.9], [111.9, 35.9], [111.95, 35.9], [111.8, 35.9]]]},
     "shape_ring", "boundary: a ring has no area"),
    ({"type": "Polygon", "coordinates": [[[35.9, 111.8], [35.9, 111.9], [36.0, 111.9], [35.9, 111.8]]]},
     "shape_position", "boundary: position [35.9, 111.8] is outside lon/lat ranges (expected [lon, lat])"),
    ({"type": "Polygon", "coordinates": [[[111.8, "35.9"], [111.9, 35.9], [111.9, 36.0], [111.8, 35.9]]]},
     "shape_position", "boundary: a position is not [lon, lat]"),
    ({"type": "Polygon", "coordinates": [[[111.8, math.nan], [111.9, 35.9], [111.9, 36.0], [111.8, 35.9]]]},
     "shape_position", "boundary: a position is not [lon, lat]"),
    ({"type": "Polygon", "coordinates": []}, "shape_ring", "boundary: a polygon has no ring"),
    ({"type": "MultiPolygon", "coordinates": [[box(111.8, 35.9, 111.9, 36.0)], [[[111.8, 35.9], [111.9, 35.9]]]]},
     "shape_ring", "polygon 2: a ring needs at least 4 positions (the first repeated last)"),
])
def test_clean_refuses_what_is_not_a_lon_lat_area(geometry, code, message_en):
    with pytest.raises(ValidationFailed) as exc:
        geometry_clean(geometry)
    assert (exc.value.field, exc.value.code, exc.value.message_en) == ("geometry", code, message_en)


def test_clean_refuses_a_boundary_over_the_size_limit():
    ring = [[111.8 + 0.1 * math.cos(2 * math.pi * i / MAX_POSITIONS), 35.9 + 0.1 * math.sin(2 * math.pi * i / MAX_POSITIONS)]
            for i in range(MAX_POSITIONS)]
    with pytest.raises(ValidationFailed) as exc:
        geometry_clean({"type": "Polygon", "coordinates": [[*ring, ring[0]]]})
    assert exc.value.code == "shape_size"
    assert exc.value.message_en == f"the boundary has {MAX_POSITIONS + 1} positions, more than {MAX_POSITIONS}: simplify it first"
    assert len(geometry_clean({"type": "Polygon", "coordinates": [[*ring[:-1], ring[0]]]})["coordinates"][0]) == MAX_POSITIONS


def test_centre_is_the_centroid_or_a_point_inside_a_hollow_shape():
    assert geometry_centre(polygon(111.8, 35.9, 111.9, 36.0)) == [111.85, 35.95]
    # A U open to the north, its right arm wider: the centroid (111.853, 35.943) falls in the gap, so the centre
    # moves to the middle of the widest stretch of the U on that parallel (the right arm, 111.87-111.9).
    u = {"type": "Polygon", "coordinates": [[[111.8, 35.9], [111.9, 35.9], [111.9, 36.0], [111.87, 36.0],
                                             [111.87, 35.92], [111.82, 35.92], [111.82, 36.0], [111.8, 36.0],
                                             [111.8, 35.9]]]}
    centre = geometry_centre(u)
    assert centre == [111.885, 35.943333]
    assert geometry_contains(u, *centre)
    assert not geometry_contains(u, 111.853, 35.943)


# --- the generator --------------------------------------------------------------------------------------------------


def test_voronoi_cells_tile_the_ring_and_hold_their_seeds():
    ring = densify(blob(random.Random(1), 10.0), 0.5)
    seeds = [(0.0, 0.0), (5.0, 1.0), (-4.0, 3.0), (1.0, -6.0), (-3.0, -4.0), (2.0, 5.0)]
    cells = voronoi_cells(ring, seeds)
    assert len(cells) == 6
    assert sum(area(c) for c in cells) == pytest.approx(area(ring), rel=1e-9)
    for seed, cell in zip(seeds, cells, strict=True):
        assert ring_contains(cell, *seed)
        assert all(ring_contains(c, *seed) is False for c in cells if c is not cell)


def test_partition_is_even_ish_and_seed_stable():
    ring = blob(random.Random(2), 8.0)
    cells = partition(random.Random(3), ring, 20)
    assert cells == partition(random.Random(3), ring, 20)
    assert sum(area(c) for c in cells) == pytest.approx(area(ring), rel=1e-9)
    sizes = sorted(area(c) for c in cells)
    assert sizes[-1] / sizes[0] < 4  # relaxed cells: no sliver next to a giant


def test_blocks_and_footprints_lie_inside_their_parent():
    ring = blob(random.Random(4), 0.4, vertices=40)
    compounds = blocks(random.Random(5), ring, 5)
    assert len(compounds) == 5
    for compound in compounds:
        assert all(ring_contains(ring, x, y) for x, y in compound)
        buildings = footprints(random.Random(6), compound, 4, size=(0.06, 0.013), gap=0.018)
        assert len(buildings) == 4
        for b in buildings:
            assert all(ring_contains(compound, x, y) for x, y in b)
            assert area(b) <= 0.06 * 0.013 + 1e-12


def test_the_warp_is_smooth_and_projection_lands_in_the_county():
    warp = Warp(random.Random(7))
    assert warp(1.0, 2.0) == Warp(random.Random(7))(1.0, 2.0)
    moved = [math.dist(warp(x, y), (x, y)) for x in range(-20, 21, 4) for y in range(-20, 21, 4)]
    assert 0 < max(moved) < 1.0  # km
    # Neighbours 10 m apart stay about 10 m apart (a slope well under 1: the warp does not fold).
    stretch = max(math.dist(warp(x, y), warp(x + 0.01, y)) / 0.01 for x in range(-20, 21) for y in range(-20, 21, 5))
    assert stretch < 1.6
    plane = Plane(111.85, 35.97)
    geometry = to_geometry([(-1.0, -1.0), (1.0, -1.0), (1.0, 1.0), (-1.0, 1.0)], plane)
    assert geometry == {"type": "Polygon", "coordinates": [[
        [111.8389, 35.960956], [111.8611, 35.960956], [111.8611, 35.979044], [111.8389, 35.979044],
        [111.8389, 35.960956]]]}  # 2 km: 0.0222° of longitude and 0.0181° of latitude at 36° N
    assert geometry_clean(geometry) == geometry
    assert centroid([(0.0, 0.0), (2.0, 0.0), (2.0, 2.0), (0.0, 2.0)]) == (1.0, 1.0)


# --- selector and service -------------------------------------------------------------------------------------------


@pytest.fixture
def shaped(county):
    """The county fixture with boundaries: the county a 0.1° square, township A its west half, B its east half,
    village A and grid A inside A, village B inside B (grid B and the building have none); people: two in grid A,
    one in the building under it, one in grid B, and a merged file in grid B that does not count."""
    hq = county.hq
    area_shape_set(actor=hq, area_id=county.county.id, geometry=polygon(111.8, 35.9, 111.9, 36.0))
    area_shape_set(actor=hq, area_id=county.township_a.id, geometry=polygon(111.8, 35.9, 111.85, 36.0))
    area_shape_set(actor=hq, area_id=county.township_b.id, geometry=polygon(111.85, 35.9, 111.9, 36.0))
    area_shape_set(actor=hq, area_id=county.village_a.id, geometry=polygon(111.81, 35.91, 111.84, 35.95))
    area_shape_set(actor=hq, area_id=county.grid_a.id, geometry=polygon(111.81, 35.91, 111.83, 35.93))
    area_shape_set(actor=hq, area_id=county.village_b.id, geometry=polygon(111.86, 35.91, 111.89, 35.95))
    county.person(name="甲", area=county.grid_a)
    county.person(name="乙", area=county.grid_a)
    county.person(name="丙", area=county.building_a)
    kept = county.person(name="丁", area=county.grid_b)
    merged = county.person(name="丁丁", area=county.grid_b)
    apps.get_model("people", "Person").objects.filter(id=merged.id).update(merged_into=kept)
    return county


def person_model():
    return apps.get_model("people", "Person")


def test_area_shapes_answers_the_roots_children_with_people_in_three_queries(shaped, django_assert_num_queries):
    hq = shaped.hq
    with django_assert_num_queries(3):
        fc = area_shapes(hq, person_model=person_model())
    assert fc["type"] == "FeatureCollection"
    assert fc["bbox"] == [111.8, 35.9, 111.9, 36.0]
    assert [(f["id"], f["properties"]) for f in fc["features"]] == [
        (shaped.township_a.id, {"id": shaped.township_a.id, "code": "141027100", "name": "天坛镇", "level": "township",
                                "level_label": "乡镇/街道", "people": 3, "has_children": True}),
        (shaped.township_b.id, {"id": shaped.township_b.id, "code": "141027101", "name": "响水河镇", "level": "township",
                                "level_label": "乡镇/街道", "people": 1, "has_children": True}),
    ]
    assert fc["features"][0]["geometry"] == polygon(111.8, 35.9, 111.85, 36.0)
    assert fc["root"] == {"id": shaped.county.id, "code": "141027", "name": "浮山县", "level": "county",
                          "level_label": "县/区", "people": 4, "geometry": polygon(111.8, 35.9, 111.9, 36.0)}
    assert fc["missing"] == []
    json.dumps(fc)  # the page embeds it as JSON


def test_area_shapes_by_level_lists_the_areas_without_a_shape(shaped, django_assert_num_queries):
    with django_assert_num_queries(3):
        fc = area_shapes(shaped.hq, level="grid", person_model=person_model())
    assert [(f["properties"]["code"], f["properties"]["people"]) for f in fc["features"]] == [("141027100001001", 3)]
    assert fc["missing"] == [{"id": shaped.grid_b.id, "code": "141027101001001", "name": "东村网格", "people": 1}]
    assert fc["bbox"] == [111.81, 35.91, 111.83, 35.93]
    fc = area_shapes(shaped.hq, root_id=shaped.township_a.id, person_model=person_model())
    assert [f["properties"]["name"] for f in fc["features"]] == ["城关社区"]
    assert fc["root"]["people"] == 3


def test_area_shapes_keeps_to_the_jurisdiction(shaped):
    village = shaped.user("village", shaped.village_b)
    fc = area_shapes(village, person_model=person_model())
    assert fc["root"]["name"] == "东村"
    assert fc["features"] == []
    assert fc["missing"] == [{"id": shaped.grid_b.id, "code": "141027101001001", "name": "东村网格", "people": 1}]
    assert fc["bbox"] == [111.86, 35.91, 111.89, 35.95]  # the root's own extent when no child is drawn
    for root_id in (shaped.township_a.id, shaped.county.id, 999_999):
        with pytest.raises(NotFound):
            area_shapes(village, root_id=root_id, person_model=person_model())
    nobody = shaped.user("village", shaped.village_b, username="nobody")
    nobody.jurisdiction = None
    with pytest.raises(NotFound):
        area_shapes(nobody, person_model=person_model())
    with pytest.raises(ValidationFailed) as exc:
        area_shapes(shaped.hq, level="street", person_model=person_model())
    assert exc.value.field == "level"


def test_shape_set_is_cleaned_audited_and_can_be_cleared(county):
    hq = county.hq
    clockwise = box(111.8, 35.9, 111.85, 36.0)[::-1]
    area = area_shape_set(actor=hq, area_id=county.township_a.id, geometry={"type": "Polygon", "coordinates": [clockwise]})
    area.refresh_from_db()
    assert area.shape == polygon(111.8, 35.9, 111.85, 36.0)
    assert area.centre == [111.825, 35.95]
    event = AuditEvent.objects.filter(object_type="areas.area", object_id=str(area.id)).latest("id")
    assert (event.action, event.summary) == ("update", "更新乡镇/街道边界 天坛镇")
    assert event.changes == {"shape": [None, {"type": "Polygon", "positions": 5, "bbox": [111.8, 35.9, 111.85, 36.0]}]}
    assert area.history.count() == 1  # created; a boundary is kept out of the row history
    before = AuditEvent.objects.count()
    area_shape_set(actor=hq, area_id=area.id, geometry=polygon(111.8, 35.9, 111.85, 36.0))
    assert AuditEvent.objects.count() == before  # the same boundary again changes nothing
    area_shape_set(actor=hq, area_id=area.id, geometry=None)
    area.refresh_from_db()
    assert (area.shape, area.centre) == (None, None)
    event = AuditEvent.objects.latest("id")
    assert event.summary == "清除乡镇/街道边界 天坛镇"
    assert event.changes["shape"][1] is None


def test_shape_set_needs_area_edit_over_the_area_and_a_good_shape(county):
    assert AREA_EDIT == "area.edit"
    grid_worker = county.user("grid_worker", county.grid_a)
    with pytest.raises(PermissionDenied):
        area_shape_set(actor=grid_worker, area_id=county.grid_a.id, geometry=polygon(111.8, 35.9, 111.81, 35.91))
    village = county.user("village", county.village_a)
    with pytest.raises(NotFound):
        area_shape_set(actor=village, area_id=county.village_b.id, geometry=polygon(111.8, 35.9, 111.81, 35.91))
    with pytest.raises(ValidationFailed) as exc:
        area_shape_set(actor=village, area_id=county.grid_a.id, geometry={"type": "Point", "coordinates": [1, 2]})
    assert exc.value.code == "shape_type"
    area_shape_set(actor=village, area_id=county.grid_a.id, geometry=polygon(111.8, 35.9, 111.81, 35.91))
    assert Area.objects.filter(shape__isnull=False).count() == 1


def test_load_matches_codes_in_the_jurisdiction_all_or_nothing(county):
    township = county.user("township", county.township_a)
    features = [
        {"type": "Feature", "properties": {"code": "141027100001", "name": "城关社区"},
         "geometry": polygon(111.81, 35.91, 111.84, 35.95)},
        {"type": "Feature", "id": "141027100001001", "properties": {}, "geometry": polygon(111.81, 35.91, 111.83, 35.93)},
        {"type": "Feature", "properties": {"code": "141027101001"}, "geometry": polygon(111.86, 35.91, 111.89, 35.95)},
    ]
    report = area_shapes_load(actor=township, features=features)
    assert report.matched == ["141027100001", "141027100001001"]
    assert report.changed == 2
    assert report.unmatched == ["141027101001"]  # 东村 is outside 天坛镇
    assert report.without_shape == []
    assert Area.objects.get(code="141027100001").shape == polygon(111.81, 35.91, 111.84, 35.95)
    assert Area.objects.get(code="141027101001").shape is None

    bad = [{"type": "Feature", "properties": {"code": "141027100"}, "geometry": polygon(111.8, 35.9, 111.85, 36.0)},
           {"type": "Feature", "properties": {"code": "141027100001"}, "geometry": {"type": "Point", "coordinates": [0, 0]}}]
    with pytest.raises(ValidationFailed) as exc:
        area_shapes_load(actor=township, features=bad)
    assert exc.value.message_en == "feature 2 (141027100001): a boundary must be a GeoJSON Polygon or MultiPolygon, not Point"
    assert Area.objects.get(code="141027100").shape is None  # nothing of a failed load is kept
    with pytest.raises(ValidationFailed) as exc:
        area_shapes_load(actor=township, features=[bad[0], bad[0]])
    assert exc.value.message_en == "feature 2: code 141027100 appears twice"


def test_load_command(county, tmp_path):
    hq = county.hq.username
    path = tmp_path / "fushan.geojson"
    path.write_text(json.dumps({"type": "FeatureCollection", "features": [
        {"type": "Feature", "properties": {"区划代码": "141027100"}, "geometry": polygon(111.8, 35.9, 111.85, 36.0)},
        {"type": "Feature", "properties": {"区划代码": "141027101"}, "geometry": polygon(111.85, 35.9, 111.9, 36.0)},
    ]}), encoding="utf-8")
    out = io.StringIO()
    call_command("area_shapes_load", str(path), user=hq, code_property="区划代码", stdout=out)
    assert out.getvalue().splitlines() == ["匹配 matched: 2，更新 changed: 2"]
    assert Area.objects.get(code="141027101").centre == [111.875, 35.95]
    assert AuditEvent.objects.latest("id").summary == "更新乡镇/街道边界 响水河镇（fushan.geojson）"
    with pytest.raises(CommandError, match="no active account ghost"):
        call_command("area_shapes_load", str(path), user="ghost")
    path.write_text(json.dumps({"type": "Polygon", "coordinates": []}), encoding="utf-8")
    with pytest.raises(CommandError, match="not a GeoJSON FeatureCollection"):
        call_command("area_shapes_load", str(path), user=hq)


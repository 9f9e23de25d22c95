"""The area map page through the test client: the jurisdiction's children as GeoJSON in the page with their people,
a click going one level down (not below the buildings), the breadcrumb, areas without a boundary named under the
map, another jurisdiction "not found", the tile setting off by default, and the partial's config for other pages."""

import json
import re
from html import unescape

import pytest

from shouwang.accounts.enums import Capability, Role
from shouwang.areas.services import AREA_EDIT, area_shape_set
from shouwang.web.views_map import area_map_config

URL = "/areas/map/"


def polygon(west, south, east, north):
    return {"type": "Polygon", "coordinates": [[[west, south], [east, south], [east, north], [west, north],
                                                [west, south]]]}


def map_data(response) -> dict:
    match = re.search(r'<script id="area-map-data" type="application/json">(.*?)</script>', response.content.decode(), re.S)
    assert match, "no map data in the page"
    return json.loads(match.group(1))


@pytest.fixture
def shaped(county):
    hq = county.hq
    for area, geometry in [(county.county, polygon(111.8, 35.9, 111.9, 36.0)),
                           (county.township_a, polygon(111.8, 35.9, 111.85, 36.0)),
                           (county.township_b, polygon(111.85, 35.9, 111.9, 36.0)),
                           (county.village_a, polygon(111.81, 35.91, 111.84, 35.95)),
                           (county.grid_a, polygon(111.81, 35.91, 111.83, 35.93)),
                           (county.building_a, polygon(111.815, 35.915, 111.816, 35.9155))]:
        area_shape_set(actor=hq, area_id=area.id, geometry=geometry)
    county.person(name="甲", area=county.grid_a)
    county.person(name="乙", area=county.building_a)
    county.person(name="丙", area=county.grid_b)
    return county


def test_the_county_map_shows_the_townships_with_their_people(shaped, client_for):
    response = client_for(shaped.hq).get(URL)
    assert response.status_code == 200
    data = map_data(response)
    assert data["link"] == "/areas/map/?area={id}"
    assert data["link_when"] == "drill"
    assert data["colour_by"] == "people"
    assert data["legend_title"] == "人员"
    assert data["tiles"] == ""  # nothing is loaded from outside unless SHOUWANG_MAP_TILES says so
    assert [(f["properties"]["name"], f["properties"]["people"], f["properties"]["drill"])
            for f in data["shapes"]["features"]] == [("天坛镇", 2, True), ("响水河镇", 1, True)]
    assert data["shapes"]["root"]["geometry"] == polygon(111.8, 35.9, 111.9, 36.0)
    html = unescape(response.content.decode())
    assert "vendor/echarts.min.js" in html
    assert "区划地图 · 浮山县" in html
    rows = re.findall(r'data-testid="map-row" data-code="(\d+)"', html)
    assert rows == ["141027100", "141027101"]  # most people first
    assert f'<a href="/areas/map/?area={shaped.township_a.id}">天坛镇</a>' in html


def test_drilling_down_to_the_buildings_and_no_further(shaped, client_for):
    client = client_for(shaped.hq)
    response = client.get(URL, {"area": shaped.village_a.id})
    data = map_data(response)
    assert [f["properties"]["code"] for f in data["shapes"]["features"]] == ["141027100001001"]
    html = unescape(response.content.decode())
    # The breadcrumb: province and city as text (above the jurisdiction), then links down to the village.
    assert re.findall(r'<li><span class="muted">(\w+)</span>', html) == ["山西省", "临汾市"]
    assert re.findall(r'<li><a href="/areas/map/\?area=(\d+)"', html) == [
        str(a.id) for a in (shaped.county, shaped.township_a, shaped.village_a)]
    response = client.get(URL, {"area": shaped.grid_a.id})
    features = map_data(response)["shapes"]["features"]
    assert [(f["properties"]["name"], f["properties"]["people"], f["properties"]["has_children"],
             f["properties"]["drill"]) for f in features] == [("幸福小区1号楼", 1, False, False)]
    assert f'?area={shaped.building_a.id}"' not in unescape(response.content.decode())


def test_areas_without_a_boundary_are_named_and_an_empty_level_says_so(shaped, client_for):
    client = client_for(shaped.hq)
    response = client.get(URL, {"area": shaped.township_b.id})
    html = unescape(response.content.decode())
    assert 'data-testid="map-empty"' in html
    assert "东村（1）" in html
    assert "area-map-data" not in html


def test_another_jurisdiction_is_not_found(shaped, client_for):
    village = shaped.user(Role.VILLAGE, shaped.village_b)
    response = client_for(village).get(URL, {"area": shaped.township_a.id})
    assert response.status_code == 404
    response = client_for(village).get(URL)
    assert response.status_code == 200
    assert "区划地图 · 东村" in unescape(response.content.decode())


def test_the_map_needs_a_login(shaped, client):
    response = client.get(URL)
    assert response.status_code == 302
    assert response["Location"].startswith("/login/")


def test_the_tile_setting_and_the_partials_config(shaped, settings):
    settings.SHOUWANG_MAP_TILES = "https://tiles.county.example/{z}/{x}/{y}.png"
    config = area_map_config({"type": "FeatureCollection", "features": []}, colour_by="kind",
                             categories=[{"value": "high", "label": "高风险区", "colour": "#c62828"}],
                             points=[{"lon": 111.82, "lat": 35.92, "name": "病例1"}], dom_id="zones-map")
    assert config == {
        "dom_id": "zones-map", "data_id": "zones-map-data", "height": "",
        "shapes": {"type": "FeatureCollection", "features": []}, "colour_by": "kind",
        "categories": [{"value": "high", "label": "高风险区", "colour": "#c62828"}],
        "points": [{"lon": 111.82, "lat": 35.92, "name": "病例1"}], "link": "", "link_when": "has_children",
        "tooltip": None, "legend_title": "", "tiles": "https://tiles.county.example/{z}/{x}/{y}.png",
    }


def test_area_edit_is_the_accounts_capability():
    assert AREA_EDIT == Capability.AREA_EDIT

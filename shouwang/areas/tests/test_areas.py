import pytest

from shouwang.areas.models import Area
from shouwang.areas.services import area_create, area_ensure_gb2260_chain
from shouwang.core.errors import ValidationFailed


def test_gb2260_chain_uses_real_codes_and_names(db):
    county = area_ensure_gb2260_chain("141027")
    chain = list(Area.objects.filter(depth__lte=3).values_list("code", "name", "level"))
    assert chain == [("140000", "山西省", "province"), ("141000", "临汾市", "city"), ("141027", "浮山县", "county")]
    assert area_ensure_gb2260_chain("141027") == county


def test_subtree_is_one_query_and_includes_the_node(county, django_assert_num_queries):
    with django_assert_num_queries(1):
        names = list(Area.objects.subtree(county.township_a.path).values_list("name", flat=True))
    assert names == ["天坛镇", "城关社区", "第一网格", "幸福小区1号楼"]


@pytest.mark.parametrize(
    ("parent_attr", "level", "code", "grid_kind", "error_code", "message_zh"),
    [
        ("county", "village", "141027100009", "", "area_parent", "县/区下不能建村/社区"),
        ("county", "township", "14102710", "", "area_code", "乡镇/街道代码格式不对"),
        ("county", "township", "141028100", "", "area_code", "代码应以上级区划代码开头"),
        ("village_a", "grid", "141027100001009", "", "required", "网格须指明类型（农村、社区或专属）"),
    ],
)
def test_bad_children_are_refused(county, parent_attr, level, code, grid_kind, error_code, message_zh):
    with pytest.raises(ValidationFailed) as info:
        area_create(parent=getattr(county, parent_attr), level=level, code=code, name="新区域", grid_kind=grid_kind)
    assert (info.value.code, info.value.message_zh) == (error_code, message_zh)


def test_children_endpoint_counts_people_and_households(county, client_for):
    county.person(area=county.building_a, household=county.household_a)
    county.person(area=county.grid_a)
    county.person(area=county.grid_b)
    body = client_for(county.hq).get(f"/api/v1/areas/{county.county.id}/children").json()
    assert [(r["name"], r["people"], r["households"]) for r in body] == [("天坛镇", 2, 1), ("响水河镇", 1, 0)]


def test_grid_worker_cannot_open_an_area_outside_their_grid(county, client_for):
    worker = county.user("grid_worker", county.grid_a)
    client = client_for(worker)
    assert client.get(f"/api/v1/areas/{county.grid_b.id}").status_code == 404
    assert client.get(f"/api/v1/areas/{county.county.id}").status_code == 404
    assert client.get("/api/v1/areas/root").json()["name"] == "第一网格"

"""A user of grid A cannot read, list, export or merge a person of grid B through any page or endpoint."""

import io

import openpyxl
import pytest

from shouwang.core.models import AuditEvent
from shouwang.people.models import Person


@pytest.fixture
def world(county):
    a = county.person(name="甲网格居民", area=county.grid_a, mobile="13800000001")
    b = county.person(name="乙网格居民", area=county.grid_b, mobile="13800000002")
    b_twin = county.person(name="乙网格居民", area=county.grid_b, mobile="13800000002")
    worker_a = county.user("grid_worker", county.grid_a)
    return county, a, b, b_twin, worker_a


def _not_found_json(response):
    assert response.status_code == 404
    body = response.json()
    assert body["code"] == "not_found"
    assert body["messages"] == {"zh-hans": "人员不存在或不在您的辖区内", "en": "person not found or outside your jurisdiction"}


def test_api_read_of_another_grids_person_answers_not_found(world, client_for):
    county, a, b, _, worker_a = world
    client = client_for(worker_a)
    _not_found_json(client.get(f"/api/v1/people/{b.id}"))
    _not_found_json(client.get(f"/api/v1/people/{b.id}?full=true"))
    # The same answer as for an id that does not exist at all.
    _not_found_json(client.get("/api/v1/people/999999"))
    assert client.get(f"/api/v1/people/{a.id}").status_code == 200


def test_api_update_of_another_grids_person_answers_not_found_and_changes_nothing(world, client_for):
    county, a, b, _, worker_a = world
    response = client_for(worker_a).patch(f"/api/v1/people/{b.id}", {"notes": "x"}, content_type="application/json")
    _not_found_json(response)
    assert Person.objects.get(id=b.id).notes == ""


def test_api_list_and_search_show_only_own_grid(world, client_for):
    county, a, b, _, worker_a = world
    client = client_for(worker_a)
    assert [p["id"] for p in client.get("/api/v1/people").json()["items"]] == [a.id]
    assert client.get("/api/v1/people", {"q": "乙网格"}).json()["count"] == 0
    assert client.get("/api/v1/people", {"q": b.id_number}).json()["count"] == 0
    assert client.get("/api/v1/people", {"q": "13800000002"}).json()["count"] == 0
    response = client.get("/api/v1/people", {"area_id": county.grid_b.id})
    assert response.status_code == 404
    assert response.json()["code"] == "not_found"


def test_api_merge_across_grids_answers_not_found(world, client_for):
    county, a, b, b_twin, worker_a = world
    response = client_for(worker_a).post("/api/v1/people/merge", {"keep_id": b.id, "merge_id": b_twin.id},
                                         content_type="application/json")
    assert response.status_code in (403, 404)
    assert Person.objects.get(id=b_twin.id).merged_into_id is None


def test_api_duplicates_and_vaccination_of_another_grid_answer_not_found(world, client_for):
    county, a, b, _, worker_a = world
    client = client_for(worker_a)
    _not_found_json(client.get(f"/api/v1/people/{b.id}/duplicates"))
    _not_found_json(client.post(f"/api/v1/people/{b.id}/vaccinations",
                                {"dose_number": 1, "given_on": "2021-05-01"}, content_type="application/json"))


def test_pages_do_not_show_another_grids_person(world, client_for):
    county, a, b, b_twin, worker_a = world
    client = client_for(worker_a)
    page = client.get(f"/people/{b.id}/")
    assert page.status_code == 404
    assert "人员不存在或不在您的辖区内" in page.content.decode()
    listing = client.get("/people/").content.decode()
    assert "甲网格居民" in listing and "乙网格居民" not in listing
    assert client.get(f"/areas/{county.grid_b.id}/").status_code == 404
    merge = client.post(f"/people/{b.id}/merge/", {"merge_id": b_twin.id})
    assert merge.status_code in (403, 404)
    assert Person.objects.get(id=b_twin.id).merged_into_id is None


def test_export_contains_only_own_grid(world, client_for):
    county, a, b, _, worker_a = world
    response = client_for(worker_a).get("/people/export.xlsx")
    assert response.status_code == 200
    book = openpyxl.load_workbook(io.BytesIO(b"".join(response.streaming_content) if response.streaming
                                             else response.content), read_only=True)
    text = " ".join(str(c) for row in book.active.iter_rows(values_only=True) for c in row if c is not None)
    assert "甲网格居民" in text and "乙网格居民" not in text


def test_failed_reads_leave_no_view_entry_for_the_other_grids_person(world, client_for):
    county, a, b, _, worker_a = world
    client_for(worker_a).get(f"/api/v1/people/{b.id}")
    assert not AuditEvent.objects.filter(action="view", object_id=str(b.id), actor=worker_a).exists()


def test_township_staff_see_every_grid_below_them_and_nothing_beside(world, client_for):
    county, a, b, _, _ = world
    township_a = county.user("township", county.township_a)
    ids = [p["id"] for p in client_for(township_a).get("/api/v1/people").json()["items"]]
    assert ids == [a.id]
    hq_ids = sorted(p["id"] for p in client_for(county.hq).get("/api/v1/people").json()["items"])
    assert len(hq_ids) == 3

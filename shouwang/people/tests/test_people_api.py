import datetime as dt

import pytest

from shouwang.core.models import AuditEvent
from shouwang.people.identifiers import make_resident_id
from shouwang.people.models import Person

ID_1985 = make_resident_id("141027", dt.date(1985, 3, 14), 123)


def _payload(county, **extra):
    return {"name": "赵敏", "id_number": ID_1985, "area_id": county.building_a.id, "mobile": "139 1234 5678",
            "household_id": county.household_a.id, "relation_to_head": "户主", "tags": ["teacher"], **extra}


def test_create_derives_sex_and_birth_from_the_id_and_masks_in_the_answer(county, client_for):
    response = client_for(county.hq).post("/api/v1/people", _payload(county), content_type="application/json")
    assert response.status_code == 201
    body = response.json()
    assert (body["name"], body["sex"], body["birth_date"]) == ("赵敏", "male", "1985-03-14")
    assert body["id_number"] == ID_1985[:4] + "*" * 10 + ID_1985[-4:]
    assert body["mobile"] == "139****5678"
    assert body["tags"] == ["teacher"]
    assert body["area_path"] == ["山西省", "临汾市", "浮山县", "天坛镇", "城关社区", "第一网格", "幸福小区1号楼"]
    person = Person.objects.get(id=body["id"])
    assert (person.mobile, person.id_number) == ("13912345678", ID_1985)


def test_bad_id_is_refused_with_field_and_reason_and_nothing_is_saved(county, client_for):
    bad = ID_1985[:17] + ("0" if ID_1985[17] != "0" else "1")
    response = client_for(county.hq).post("/api/v1/people", _payload(county, id_number=bad),
                                          content_type="application/json")
    assert response.status_code == 422
    assert response.json()["code"] == "id_number_checksum"
    assert response.json()["field"] == "id_number"
    assert response.json()["messages"]["en"] == f"ID number check character is wrong (expected {ID_1985[17]})"
    assert Person.objects.count() == 0


def test_english_speakers_get_the_english_message(county, client_for):
    response = client_for(county.hq).post("/api/v1/people", _payload(county, mobile="12345"),
                                          content_type="application/json", HTTP_ACCEPT_LANGUAGE="en")
    assert response.json()["message"] == "mobile number must be 11 digits"


def test_missing_field_names_the_field(county, client_for):
    response = client_for(county.hq).post("/api/v1/people", {"name": "x"}, content_type="application/json")
    assert response.status_code == 422
    assert response.json()["code"] == "invalid"
    assert response.json()["field"] == "id_number"


def test_same_id_number_is_one_person(county, client_for):
    client = client_for(county.hq)
    first = client.post("/api/v1/people", _payload(county), content_type="application/json").json()
    again = client.post("/api/v1/people", _payload(county, name="赵敏二"), content_type="application/json")
    assert again.status_code == 409
    assert again.json()["code"] == "person_exists"
    assert again.json()["details"] == [{"person_id": first["id"]}]
    assert Person.objects.count() == 1


def test_a_retried_request_with_the_same_idempotency_key_creates_one_person(county, client_for):
    client = client_for(county.hq)
    first = client.post("/api/v1/people", _payload(county), content_type="application/json",
                        HTTP_IDEMPOTENCY_KEY="phone-7-req-1")
    retry = client.post("/api/v1/people", _payload(county), content_type="application/json",
                        HTTP_IDEMPOTENCY_KEY="phone-7-req-1")
    assert (first.status_code, retry.status_code) == (201, 201)
    assert first.json() == retry.json()
    assert Person.objects.count() == 1
    assert AuditEvent.objects.filter(action="create", object_type="people.person").count() == 1


def test_update_is_audited_with_old_and_new_values(county, client_for):
    person = county.person(name="钱多", mobile="13800001111")
    response = client_for(county.hq).patch(f"/api/v1/people/{person.id}",
                                           {"mobile": "15900002222", "tags": ["courier", "elderly_alone"]},
                                           content_type="application/json")
    assert response.status_code == 200
    event = AuditEvent.objects.filter(action="update", object_id=str(person.id)).get()
    assert event.changes == {"mobile": ["13800001111", "15900002222"], "tags": [[], ["courier", "elderly_alone"]]}
    assert event.actor == county.hq


def test_search_by_name_prefix_id_mobile_and_building(county, client_for):
    p1 = county.person(name="王芳", mobile="13811112222", area=county.building_a)
    p2 = county.person(name="王小明", area=county.grid_a)
    county.person(name="李雷", area=county.grid_b)
    client = client_for(county.hq)

    def ids(q):
        return [r["id"] for r in client.get("/api/v1/people", {"q": q}).json()["items"]]

    assert ids("王") == [p2.id, p1.id]  # ordered by name: 王小明 < 王芳 by code point
    assert ids(p1.id_number) == [p1.id]
    assert ids("13811112222") == [p1.id]
    assert ids("幸福小区") == [p1.id]
    assert ids("幸福") == [p1.id]
    assert ids("东村") == []  # a village is picked with the area filter; its name does not list its people
    outsider = client_for(county.user("grid_worker", county.grid_b))
    assert outsider.get("/api/v1/people", {"q": "幸福"}).json()["items"] == []


def test_full_identifiers_only_for_roles_that_may_see_them_and_logged(county, client_for):
    person = county.person(name="孙丽", mobile="13800003333")
    full = client_for(county.hq).get(f"/api/v1/people/{person.id}?full=true").json()
    assert (full["id_number"], full["mobile"], full["identifiers_masked"]) == (person.id_number, "13800003333", False)
    sampler = county.user("sampler", county.township_a)
    masked = client_for(sampler).get(f"/api/v1/people/{person.id}?full=true").json()
    assert (masked["mobile"], masked["identifiers_masked"]) == ("138****3333", True)
    actions = list(AuditEvent.objects.filter(object_id=str(person.id), action__in=["view", "view_full"])
                   .order_by("id").values_list("actor__username", "action"))
    assert actions == [(county.hq.username, "view_full"), (sampler.username, "view")]


def test_sampler_may_not_register_people(county, client_for):
    sampler = county.user("sampler", county.township_a)
    response = client_for(sampler).post("/api/v1/people", _payload(county), content_type="application/json")
    assert response.status_code == 403
    assert response.json()["code"] == "permission_denied"


def test_merge_moves_tags_and_vaccinations_and_keeps_the_duplicate_as_history(county, client_for):
    keep = county.person(name="周强", mobile="13800004444", household=county.household_a,
                         area=county.building_a, tags=["teacher"])
    dup = county.person(name="周强", mobile="13800004444", tags=["courier", "teacher"], workplace="县邮政局")
    client = client_for(county.hq)
    client.post(f"/api/v1/people/{dup.id}/vaccinations", {"dose_number": 1, "given_on": "2021-06-01"},
                content_type="application/json")
    dupes = client.get(f"/api/v1/people/{keep.id}/duplicates").json()
    assert [d["id"] for d in dupes] == [dup.id]
    merged = client.post("/api/v1/people/merge", {"keep_id": keep.id, "merge_id": dup.id},
                         content_type="application/json").json()
    assert merged["tags"] == ["courier", "teacher"]
    assert merged["vaccinations"] == [{"dose_number": 1, "given_on": "2021-06-01", "product": ""}]
    assert merged["workplace"] == "县邮政局"
    assert Person.objects.get(id=dup.id).merged_into_id == keep.id
    assert client.get("/api/v1/people", {"q": "周强"}).json()["count"] == 1
    assert client.get(f"/api/v1/people/{dup.id}").status_code == 404
    assert Person.history.filter(id=dup.id).count() == 2
    event = AuditEvent.objects.get(action="merge")
    assert event.changes["merged_person_id"] == [None, dup.id]


def test_openapi_schema_is_served(client):
    schema = client.get("/api/v1/openapi.json").json()
    assert schema["info"]["title"] == "守望 Shouwang API"
    assert "/api/v1/people" in schema["paths"]


def test_unauthenticated_requests_get_401_with_code(client, db):
    response = client.get("/api/v1/people")
    assert response.status_code == 401
    assert response.json()["code"] == "unauthenticated"


@pytest.mark.parametrize("role", ["sampler", "lab", "checkpoint", "supervisor"])
def test_read_only_roles_cannot_change_people(county, client_for, role):
    person = county.person(name="吴刚")
    response = client_for(county.user(role)).patch(f"/api/v1/people/{person.id}", {"notes": "x"},
                                                   content_type="application/json")
    assert response.status_code == 403

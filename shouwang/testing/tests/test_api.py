"""The testing API through the HTTP client: a sampler's phone with a device token, a lab's file and its review,
coverage and the masked list of people not sampled, errors naming the item and the field."""

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client

from shouwang.accounts.enums import Role
from shouwang.accounts.services import api_token_issue
from shouwang.testing.models import LabResultFile, PersonRound, Tube
from shouwang.venues.services import person_code_get_or_issue


@pytest.fixture(autouse=True)
def business_day(settings):
    settings.SHOUWANG_TODAY = "2022-07-15"


def bearer(user, name="设备"):
    _, raw = api_token_issue(user=user, name=name)
    return Client(HTTP_AUTHORIZATION=f"Bearer {raw}")


@pytest.fixture
def setup(county):
    hq = bearer(county.hq, "指挥部")
    people = [county.person(name=f"居民{i:02d}", seq=i) for i in range(12)]
    round_ = hq.post("/api/v1/testing/rounds", {
        "name": "第1轮全员核酸", "area_ids": [county.grid_a.id], "starts_at": "2022-07-15T06:00:00+08:00",
        "deadline": "2022-07-16T06:00:00+08:00", "kind": "whole", "settings": {str(county.grid_a.id): "medium_risk_zone"},
    }, content_type="application/json")
    assert round_.status_code == 201, round_.json()
    lab = hq.post("/api/v1/testing/labs", {"name": "县疾控实验室", "area_id": county.county.id},
                  content_type="application/json").json()
    sampler = bearer(county.user(Role.SAMPLER, county.grid_a, username="sampler-9"), "采样手机")
    labc = bearer(county.user(Role.LAB, county.county, username="lab-9"), "实验室")
    return {"hq": hq, "round": round_.json(), "lab": lab, "sampler": sampler, "labc": labc, "people": people,
            "county": county}


def tokens(people):
    return [{"person_token": person_code_get_or_issue(p).token} for p in people]


def test_a_round_answers_its_pooling_and_target(setup):
    r = setup["round"]
    assert (r["target"], r["state"], r["policy_version"]) == (12, "sampling", "V9")
    assert [(a["area_name"], a["pool_mode"], a["rule"]) for a in r["areas"]] == [("第一网格", "10in1", "T4")]


def test_the_sampler_fills_a_tube_and_a_retry_with_the_same_key_answers_the_same(setup):
    body = {"round_id": setup["round"]["id"], "barcode": "F0000001", "people": tokens(setup["people"][:10])}
    first = setup["sampler"].post("/api/v1/testing/tubes", body, content_type="application/json",
                                  HTTP_IDEMPOTENCY_KEY="phone-1-0001")
    assert first.status_code == 200, first.json()
    assert (first.json()["state"], first.json()["members_count"], len(first.json()["added"])) == ("closed", 10, 10)
    again = setup["sampler"].post("/api/v1/testing/tubes", body, content_type="application/json",
                                  HTTP_IDEMPOTENCY_KEY="phone-1-0001")
    assert again.json() == first.json()
    assert PersonRound.objects.count() == 10


def test_a_bad_person_refuses_the_tube_naming_the_item_in_both_languages(setup):
    people = tokens(setup["people"][:2]) + [{"person_token": "nope"}]
    response = setup["sampler"].post("/api/v1/testing/tubes", {"round_id": setup["round"]["id"], "barcode": "F2",
                                                               "people": people}, content_type="application/json")
    assert response.status_code == 422
    body = response.json()
    assert (body["code"], body["field"]) == ("invalid_items", "person")
    assert body["details"] == [{"index": 2, "code": "unknown_person", "field": "person",
                                "zh": "查无此人（个人码或证件号无效）",
                                "en": "no such person (unknown code or ID number)"}]
    assert not Tube.objects.exists()


def test_a_lab_role_cannot_sample_and_a_sampler_cannot_review(setup):
    refused = setup["labc"].post("/api/v1/testing/tubes", {"round_id": setup["round"]["id"], "barcode": "F3",
                                                           "people": tokens(setup["people"][:1])},
                                 content_type="application/json")
    assert (refused.status_code, refused.json()["code"]) == (403, "permission_denied")
    assert setup["sampler"].post("/api/v1/testing/results/1/review", {"accept": True},
                                 content_type="application/json").status_code == 403


def test_send_receive_import_review_and_coverage(setup):
    s, labc, lab = setup["sampler"], setup["labc"], setup["lab"]
    rid = setup["round"]["id"]
    s.post("/api/v1/testing/tubes", {"round_id": rid, "barcode": "F1", "people": tokens(setup["people"][:10])},
           content_type="application/json")
    s.post("/api/v1/testing/tubes", {"round_id": rid, "barcode": "F2", "people": tokens(setup["people"][10:11]),
                                     "close": True}, content_type="application/json")
    box = s.post("/api/v1/testing/batches", {"code": "BOX-9", "lab_id": lab["id"], "barcodes": ["F1", "F2"],
                                             "courier": "李师傅"}, content_type="application/json")
    assert (box.status_code, box.json()["tubes"], box.json()["state"]) == (201, 2, "in_transit")
    got = labc.post("/api/v1/testing/batches/BOX-9/receive", {"barcodes": ["F1", "F2"]},
                    content_type="application/json").json()
    assert (got["state"], got["missing"], got["extra"]) == ("received", [], [])
    upload = SimpleUploadedFile("结果.csv", "管码,结果,ORF1ab,N\nF1,阳性,31.2,33\nF2,阴性,,\nF2,阴性,,\n".encode(),
                                content_type="text/csv")
    staged = labc.post(f"/api/v1/testing/results/import?lab_id={lab['id']}", {"file": upload})
    assert staged.status_code == 201, staged.json()
    assert (staged.json()["rows"], [e["code"] for e in staged.json()["errors"]]) == (2, ["duplicate_line"])
    reviewed = setup["hq"].post(f"/api/v1/testing/results/{staged.json()['id']}/review", {"accept": True},
                                content_type="application/json").json()
    assert reviewed["state"] == "accepted"
    assert reviewed["applied"] == {"tubes": 2, "negative_people": 1, "rechecks": 10, "positives": 0}
    assert LabResultFile.objects.get(id=staged.json()["id"]).applied == reviewed["applied"]  # kept for the lab page
    county = setup["county"]
    cov = setup["hq"].get(f"/api/v1/testing/rounds/{rid}/coverage?area_id={county.village_a.id}").json()
    assert [(r["area_name"], r["target"], r["sampled"], r["negative"], r["recheck"], r["unsampled"])
            for r in cov["rows"]] == [("第一网格", 12, 11, 1, 10, 1)]
    missing = setup["hq"].get(f"/api/v1/testing/rounds/{rid}/unsampled").json()
    assert [(m["name"], m["id_number"][:4], "*" in m["id_number"]) for m in missing] == [("居**1", "1410", True)]
    detail = setup["hq"].get(f"/api/v1/testing/rounds/{rid}").json()
    assert detail["progress"]["people"] == {"negative": 1, "recheck": 10}
    assert detail["progress"]["rechecks"] == {"open": 10}


def test_an_instrument_batch_is_staged_for_review(setup):
    response = setup["labc"].post("/api/v1/testing/results", {"lab_id": setup["lab"]["id"], "lines": [
        {"barcode": "NOPE", "result": "阴性"}, {"barcode": "X", "result": "阴性", "ct_orf": "abc"}]},
        content_type="application/json")
    assert response.status_code == 201
    assert [(e["line"], e["code"]) for e in response.json()["errors"]] == [(1, "unknown_barcode"),
                                                                           (2, "unknown_barcode")]
    assert response.json()["state"] == "pending"


def test_overlapping_areas_and_a_deadline_before_the_start_are_refused(setup):
    county = setup["county"]
    overlap = setup["hq"].post("/api/v1/testing/rounds", {
        "name": "重叠", "area_ids": [county.village_a.id, county.grid_a.id], "starts_at": "2022-07-15T06:00:00+08:00",
        "deadline": "2022-07-16T06:00:00+08:00"}, content_type="application/json")
    assert (overlap.status_code, overlap.json()["code"]) == (422, "overlapping")
    backwards = setup["hq"].post("/api/v1/testing/rounds", {
        "name": "倒序", "area_ids": [county.grid_b.id], "starts_at": "2022-07-16T06:00:00+08:00",
        "deadline": "2022-07-15T06:00:00+08:00"}, content_type="application/json")
    assert (backwards.status_code, backwards.json()["field"]) == (422, "deadline")
